/**
 * AWS-owned policy documents the templates refer to but do not contain: AWS managed IAM policies (as published in
 * the AWS Managed Policy Reference) and the key policy AWS gives its managed KMS keys (`alias/aws/<service>`).
 */
import { localUuid } from '../template/stack';

const LOGS = ['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents'];

/** AWS managed IAM policies by name (the part after `arn:aws:iam::aws:policy/`). */
export const AWS_MANAGED_POLICIES: Readonly<Record<string, unknown>> = {
  'service-role/AWSLambdaBasicExecutionRole': {
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Action: LOGS, Resource: '*' }],
  },
  'AWSXRayDaemonWriteAccess': {
    Version: '2012-10-17',
    Statement: [{
      Effect: 'Allow',
      Action: ['xray:PutTraceSegments', 'xray:PutTelemetryRecords', 'xray:GetSamplingRules', 'xray:GetSamplingTargets', 'xray:GetSamplingStatisticSummaries'],
      Resource: ['*'],
    }],
  },
  'service-role/AWSLambdaKinesisExecutionRole': {
    Version: '2012-10-17',
    Statement: [{
      Effect: 'Allow',
      Action: ['kinesis:DescribeStream', 'kinesis:DescribeStreamSummary', 'kinesis:GetRecords', 'kinesis:GetShardIterator', 'kinesis:ListShards', 'kinesis:ListStreams', 'kinesis:SubscribeToShard', ...LOGS],
      Resource: '*',
    }],
  },
  'service-role/AWSLambdaSQSQueueExecutionRole': {
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Action: ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes', ...LOGS], Resource: '*' }],
  },
};

/** Services whose AWS managed key (`alias/aws/<service>`) the templates may use. */
const MANAGED_KEY_SERVICES = ['kinesis', 'sqs', 'sns', 's3', 'dynamodb', 'firehose', 'lambda', 'logs'];

/** The local key ARN standing for `alias/aws/<service>`, or undefined when `service` has no AWS managed key here. */
export function awsManagedKeyArn(service: string, region: string, account: string): string | undefined {
  if (!MANAGED_KEY_SERVICES.includes(service)) return undefined;
  return `arn:aws:kms:${region}:${account}:key/${localUuid('aws-managed-key', service)}`;
}

/** The key policy of an AWS managed key: any principal of the account, through the service only (kms:ViaService). */
export function awsManagedKeyPolicy(service: string, region: string, account: string): unknown {
  return {
    Version: '2012-10-17',
    Id: `auto-${service}`,
    Statement: [
      {
        Sid: `Allow access through ${service} for all principals in the account that are authorized to use ${service}`,
        Effect: 'Allow',
        Principal: { AWS: '*' },
        Action: ['kms:Encrypt', 'kms:Decrypt', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:CreateGrant', 'kms:DescribeKey'],
        Resource: '*',
        Condition: { StringEquals: { 'kms:CallerAccount': account, 'kms:ViaService': `${service}.${region}.amazonaws.com` } },
      },
      {
        Sid: 'Allow direct access to key metadata to the account',
        Effect: 'Allow',
        Principal: { AWS: `arn:aws:iam::${account}:root` },
        Action: ['kms:Describe*', 'kms:Get*', 'kms:List*', 'kms:RevokeGrant'],
        Resource: '*',
      },
    ],
  };
}
