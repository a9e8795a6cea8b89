import { RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import type { Construct } from 'constructs';
import { clickEventKeyFields, clickEventSchema } from './schema';
import { DataPipeline, IngestSink } from '../../constructs';

/**
 * The clickstream pipeline: web and app SDKs put click events on a Kinesis stream; the ingest stage validates
 * them against the click schema, derives ids from (userId, sessionId, seq) and writes them idempotently to a
 * DynamoDB table. Invalid and failed events land in the dead letters with their payload, ready for replay.
 */
export class ClickstreamStack extends Stack {
  /** The pipeline. */
  public readonly pipeline: DataPipeline;
  /** Topic notified by the pipeline's alarms (subscribe the on-call channel to it). */
  public readonly alarmTopic: sns.Topic;

  constructor(scope: Construct, id: string, props?: StackProps) {
    super(scope, id, {
      description: 'Phoenix clickstream pipeline (cdk-phoenix-pipelines example)',
      ...props,
    });

    // On-call notifications. CloudWatch alarms can only publish to an encrypted topic whose key lets
    // cloudwatch.amazonaws.com use it, hence a customer managed key (the AWS managed alias/aws/sns key would not do).
    const alarmKey = new kms.Key(this, 'AlarmTopicKey', {
      description: 'Encrypts the clickstream alarm topic',
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    alarmKey.grant(new iam.ServicePrincipal('cloudwatch.amazonaws.com'), 'kms:Decrypt', 'kms:GenerateDataKey*');
    this.alarmTopic = new sns.Topic(this, 'AlarmTopic', {
      displayName: 'Clickstream pipeline alarms',
      masterKey: alarmKey,
      enforceSSL: true,
    });

    this.pipeline = new DataPipeline(this, 'Clickstream', {
      pipelineName: 'clickstream',
      alarmTopic: this.alarmTopic,
      ingest: {
        schema: clickEventSchema,
        keyFields: clickEventKeyFields,
        // the click's own time: the sink keeps the newest version of a click, replays never overwrite newer data
        eventTimeField: 'ts',
        // a session's clicks share a partition key (sessionId): 10 keys in flight keeps per-session order
        recordConcurrency: 10,
      },
      sink: IngestSink.dynamoDb(),
    });
  }
}
