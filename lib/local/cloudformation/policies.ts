/**
 * DeletionPolicy / UpdateReplacePolicy values and the properties whose change makes CloudFormation replace a resource
 * ("Update requires: Replacement" in each type's CloudFormation reference page).
 */
import { PhoenixError } from '../../core/errors';
import type { CfnResource } from '../template/types';

export type DeletionPolicy = 'Delete' | 'Retain' | 'RetainExceptOnCreate' | 'Snapshot';
export type UpdateReplacePolicy = 'Delete' | 'Retain' | 'Snapshot';

/** Types that support `Snapshot` (aws-attribute-deletionpolicy.html); the others reject it at template validation. */
export const SNAPSHOT_TYPES: ReadonlySet<string> = new Set([
  'AWS::EC2::Volume', 'AWS::ElastiCache::CacheCluster', 'AWS::ElastiCache::ReplicationGroup', 'AWS::Neptune::DBCluster',
  'AWS::RDS::DBCluster', 'AWS::RDS::DBInstance', 'AWS::Redshift::Cluster', 'AWS::DocDB::DBCluster',
]);

const DELETION: readonly DeletionPolicy[] = ['Delete', 'Retain', 'RetainExceptOnCreate', 'Snapshot'];
const REPLACE: readonly UpdateReplacePolicy[] = ['Delete', 'Retain', 'Snapshot'];

/** A template CloudFormation refuses before touching any resource. */
export class TemplateValidationError extends PhoenixError {
  constructor(message: string) {
    super('CFN_TEMPLATE_INVALID', message);
  }
}

/** The resource's policies, defaulted as CloudFormation defaults them (Delete; Snapshot for RDS clusters/instances). */
export function policiesOf(logicalId: string, r: CfnResource): { deletion: DeletionPolicy; replace: UpdateReplacePolicy } {
  const rdsDefault = r.Type === 'AWS::RDS::DBCluster' || (r.Type === 'AWS::RDS::DBInstance' && r.Properties?.DBClusterIdentifier === undefined);
  const deletion = (r.DeletionPolicy ?? (rdsDefault ? 'Snapshot' : 'Delete')) as DeletionPolicy;
  const replace = (r.UpdateReplacePolicy ?? (rdsDefault ? 'Snapshot' : 'Delete')) as UpdateReplacePolicy;
  if (!DELETION.includes(deletion)) {
    throw new TemplateValidationError(`resource ${logicalId}: DeletionPolicy ${String(deletion)} is not one of ${DELETION.join(', ')}`);
  }
  if (!REPLACE.includes(replace)) {
    throw new TemplateValidationError(`resource ${logicalId}: UpdateReplacePolicy ${String(replace)} is not one of ${REPLACE.join(', ')}`);
  }
  for (const [attr, value] of [['DeletionPolicy', deletion], ['UpdateReplacePolicy', replace]] as const) {
    if (value === 'Snapshot' && !SNAPSHOT_TYPES.has(r.Type)) {
      throw new TemplateValidationError(`resource ${logicalId}: ${attr} Snapshot is not supported for ${r.Type} (types with snapshots: ${[...SNAPSHOT_TYPES].join(', ')})`);
    }
  }
  return { deletion, replace };
}

/** Properties of the template's types whose change replaces the resource (a new physical resource, a new name). */
const REPLACE_ON: Readonly<Record<string, readonly string[]>> = {
  'AWS::Kinesis::Stream': ['Name'],
  'AWS::Kinesis::StreamConsumer': ['ConsumerName', 'StreamARN'],
  'AWS::DynamoDB::Table': ['TableName', 'KeySchema', 'LocalSecondaryIndexes'],
  'AWS::S3::Bucket': ['BucketName', 'ObjectLockEnabled'],
  'AWS::SQS::Queue': ['QueueName', 'FifoQueue'],
  'AWS::SNS::Topic': ['TopicName', 'FifoTopic'],
  'AWS::Lambda::Function': ['FunctionName', 'PackageType'],
  'AWS::Lambda::EventSourceMapping': ['EventSourceArn', 'StartingPosition', 'StartingPositionTimestamp'],
  'AWS::IAM::Role': ['RoleName', 'Path'],
  'AWS::IAM::ManagedPolicy': ['ManagedPolicyName', 'Path'],
  'AWS::Logs::LogGroup': ['LogGroupName'],
  'AWS::KinesisFirehose::DeliveryStream': ['DeliveryStreamName', 'DeliveryStreamType', 'KinesisStreamSourceConfiguration'],
  'AWS::CloudWatch::Alarm': ['AlarmName'],
  'AWS::CloudWatch::Dashboard': ['DashboardName'],
  'AWS::Scheduler::Schedule': ['Name', 'GroupName'],
  'AWS::Events::Rule': ['Name', 'EventBusName'],
  'AWS::KMS::Key': ['KeySpec'],
  'AWS::S3::BucketPolicy': ['Bucket'],
  'Custom::S3AutoDeleteObjects': ['ServiceToken'],
};

/** The properties whose (resolved) values differ between two versions and force a replacement; empty = update in place. */
export function replacementCauses(type: string, before: Readonly<Record<string, unknown>>, after: Readonly<Record<string, unknown>>): string[] {
  return (REPLACE_ON[type] ?? []).filter((p) => JSON.stringify(before[p]) !== JSON.stringify(after[p]));
}
