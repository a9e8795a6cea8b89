import { Annotations, Duration, type RemovalPolicy } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cw_actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct, type IConstruct } from 'constructs';
import { DLQ_OVERFLOW_PREFIX, ESM_ON_FAILURE_PREFIX } from './contract';
import { Phoenix, StatefulKind } from './phoenix';
import { expiringAfter, loggedBucket, useBucketPolicyForAccessLogs } from './private/buckets';
import { validationError } from './private/errors';
import { acknowledge } from './private/nag';
import { countAgainstResourceBudget } from './private/resource-budget';
import { checkRange, checkSeconds } from './private/validate';

/**
 * A dead-letter destination that keeps the failed payloads so they can be replayed:
 * an SQS queue of DLQ messages (DLQ message v1) and a bucket for payloads too large for a message
 * and for the event source mapping's on-failure records.
 */
export interface IDlqWithReplay extends IConstruct {
  /** The queue of DLQ messages. */
  readonly queue: sqs.IQueue;

  /** The bucket holding payloads above `maxMessageBytes` and the event source mapping's on-failure records. */
  readonly overflowBucket: s3.IBucket;

  /**
   * Largest DLQ message, in bytes, the writer sends to the queue; larger messages keep their payload in
   * `overflowBucket` and carry a `payloadRef`.
   */
  readonly maxMessageBytes: number;

  /**
   * Key prefix (ending in `/`) under which writers store overflow payloads in `overflowBucket`.
   */
  readonly overflowPrefix: string;

  /**
   * Grants what a writer of DLQ messages needs: `sqs:SendMessage` (and `sqs:GetQueueAttributes`, `sqs:GetQueueUrl`)
   * on the queue, `kms:Encrypt`/`kms:GenerateDataKey*` on a customer key, and `s3:PutObject` on
   * `overflowPrefix` of the overflow bucket.
   */
  grantSend(grantee: iam.IGrantable): iam.Grant;

  /**
   * Grants what a replay tool needs: `sqs:ReceiveMessage`, `sqs:ChangeMessageVisibility`, `sqs:DeleteMessage`
   * (and `sqs:GetQueueAttributes`, `sqs:GetQueueUrl`) on the queue, `kms:Decrypt` on a customer key, and read
   * access (`s3:GetObject*`, `s3:GetBucket*`, `s3:List*`) to the overflow bucket.
   */
  grantConsume(grantee: iam.IGrantable): iam.Grant;
}

/**
 * Properties of a {@link DlqWithReplay}.
 */
export interface DlqWithReplayProps {
  /**
   * Customer managed KMS key for the queue and the overflow bucket.
   *
   * @default - the AWS managed keys `alias/aws/sqs` (queue) and `alias/aws/s3` (bucket)
   */
  readonly encryptionKey?: kms.IKey;

  /**
   * How long SQS keeps a DLQ message. Allowed: 1 minute to 14 days.
   *
   * @default Duration.days(14)
   */
  readonly retentionPeriod?: Duration;

  /**
   * Largest DLQ message sent to the queue, in bytes; larger messages keep their payload in the overflow bucket.
   * Also the queue's `MaximumMessageSize`. Allowed: 4,096 to 1,048,576.
   *
   * @default 262144
   */
  readonly maxMessageBytes?: number;

  /**
   * How long objects (overflow payloads and on-failure records) stay in the overflow bucket.
   * Must be at least `retentionPeriod`, so that no message outlives its payload.
   *
   * @default Duration.days(30)
   */
  readonly overflowExpiration?: Duration;

  /**
   * Removal policy of the queue and the buckets. With `RemovalPolicy.DESTROY` the buckets are emptied on
   * deletion (`autoDeleteObjects`).
   *
   * @default - `Phoenix.removalPolicyFor(scope, StatefulKind.DEAD_LETTERS)`: RemovalPolicy.DESTROY in both Phoenix
   * modes (the archive keeps every record, dead-lettered ones included); drain or replay the dead letters before
   * a teardown, or set RemovalPolicy.RETAIN to keep them
   */
  readonly removalPolicy?: RemovalPolicy;

  /**
   * The depth alarm fires when this many messages (or more) are visible in the queue.
   *
   * @default 1 - any dead letter
   */
  readonly depthAlarmThreshold?: number;

  /**
   * The age alarm fires when the oldest message is at least this old. Allowed: 1 minute up to `retentionPeriod`.
   *
   * @default Duration.days(1)
   */
  readonly oldestMessageAgeAlarmThreshold?: Duration;

  /**
   * SNS topic notified when an alarm goes into ALARM.
   *
   * @default - no alarm action
   */
  readonly alarmTopic?: sns.ITopic;

  /**
   * Bucket receiving the server access logs of the overflow bucket.
   *
   * @default - a bucket is created (SSE-S3, the only encryption S3 log delivery supports)
   */
  readonly serverAccessLogsBucket?: s3.IBucket;
}

/**
 * Attributes of existing dead letters, for {@link DlqWithReplay.fromDlqAttributes}.
 */
export interface DlqWithReplayAttributes {
  /** The queue of DLQ messages. */
  readonly queue: sqs.IQueue;

  /** The overflow bucket (the handler writes under `dlq-payloads/`, the event source mapping under `aws/lambda/`). */
  readonly overflowBucket: s3.IBucket;

  /**
   * Largest DLQ message sent to the queue, in bytes; at most the queue's `MaximumMessageSize`. Allowed: 4,096 to 1,048,576.
   *
   * @default 262144
   */
  readonly maxMessageBytes?: number;
}

const DEFAULT_MAX_MESSAGE_BYTES = 262_144;

/** What the overflow bucket is, for its access logs and acknowledgements. */
const OVERFLOW_BUCKET = {
  of: 'the overflow bucket',
  serverAccessLogsPrefix: 'overflow/',
  residency: 'Dead letters are short-lived working data (lifecycle expiry) kept in the pipeline\'s region',
};

/**
 * A dead-letter queue with replay support: an encrypted SQS queue (TLS enforced) for DLQ messages,
 * an encrypted, private, versioned overflow bucket for large payloads and event source mapping
 * on-failure records (server access logs, lifecycle expiry), and alarms on depth and oldest message age.
 *
 * @example
 * const dlq = new DlqWithReplay(this, 'DeadLetters', { alarmTopic: topic });
 * dlq.grantConsume(replayRole);
 */
export class DlqWithReplay extends Construct implements IDlqWithReplay {
  /** Key prefix of overflow payloads in the overflow bucket. */
  public static readonly OVERFLOW_PREFIX = DLQ_OVERFLOW_PREFIX;

  /** Key prefix under which Lambda writes event source mapping on-failure records (set by AWS). */
  public static readonly ON_FAILURE_PREFIX = ESM_ON_FAILURE_PREFIX;

  /**
   * Dead letters created elsewhere (another stack or app), for example to share one DLQ between pipelines.
   *
   * @param scope the scope of the imported construct
   * @param id its id
   * @param attrs the queue and the overflow bucket
   */
  public static fromDlqAttributes(scope: Construct, id: string, attrs: DlqWithReplayAttributes): IDlqWithReplay {
    class ImportedDlqWithReplay extends Construct implements IDlqWithReplay {
      public readonly queue = attrs.queue;
      public readonly overflowBucket = attrs.overflowBucket;
      public readonly maxMessageBytes = attrs.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
      public readonly overflowPrefix = DlqWithReplay.OVERFLOW_PREFIX;
      public grantSend(grantee: iam.IGrantable): iam.Grant {
        return grantSend(this, grantee);
      }
      public grantConsume(grantee: iam.IGrantable): iam.Grant {
        return grantConsume(this, grantee);
      }
    }
    const imported = new ImportedDlqWithReplay(scope, id);
    checkRange(imported, 'maxMessageBytes', imported.maxMessageBytes, 4_096, 1_048_576);
    return imported;
  }

  /** The queue of DLQ messages. */
  public readonly queue: sqs.IQueue;
  /** The overflow bucket. */
  public readonly overflowBucket: s3.IBucket;
  /** The bucket receiving the overflow bucket's server access logs. */
  public readonly serverAccessLogsBucket: s3.IBucket;
  /** Largest DLQ message sent to the queue, in bytes. */
  public readonly maxMessageBytes: number;
  /** Key prefix of overflow payloads (`dlq-payloads/`). */
  public readonly overflowPrefix: string = DlqWithReplay.OVERFLOW_PREFIX;
  /** Alarm on the number of visible messages. */
  public readonly depthAlarm: cloudwatch.Alarm;
  /** Alarm on the age of the oldest message. */
  public readonly oldestMessageAgeAlarm: cloudwatch.Alarm;

  constructor(scope: Construct, id: string, props: DlqWithReplayProps = {}) {
    super(scope, id);
    countAgainstResourceBudget(this);
    useBucketPolicyForAccessLogs(this);
    const retentionPeriod = props.retentionPeriod ?? Duration.days(14);
    const overflowExpiration = props.overflowExpiration ?? Duration.days(30);
    const ageThreshold = props.oldestMessageAgeAlarmThreshold ?? Duration.days(1);
    const depthThreshold = props.depthAlarmThreshold ?? 1;
    this.maxMessageBytes = props.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    const removalPolicy = props.removalPolicy ?? Phoenix.removalPolicyFor(this, StatefulKind.DEAD_LETTERS);
    this.checkProps({ retentionPeriod, overflowExpiration, ageThreshold, depthThreshold });

    const queue = new sqs.Queue(this, 'Queue', {
      encryption: props.encryptionKey ? sqs.QueueEncryption.KMS : sqs.QueueEncryption.KMS_MANAGED,
      encryptionMasterKey: props.encryptionKey,
      enforceSSL: true,
      retentionPeriod,
      maxMessageSizeBytes: this.maxMessageBytes,
      removalPolicy,
    });
    this.queue = queue;
    acknowledge(queue,
      'This queue is itself the dead-letter queue: the ingest handler writes DLQ messages to it, so it has no dead-letter queue of its own.',
      'AwsSolutions-SQS3', 'Serverless-SQSRedrivePolicy');

    const overflow = loggedBucket(this, 'Overflow', props, { ...OVERFLOW_BUCKET, lifecycleRules: expiringAfter(overflowExpiration), removalPolicy });
    this.overflowBucket = overflow.bucket;
    this.serverAccessLogsBucket = overflow.serverAccessLogsBucket;

    this.depthAlarm = this.metricDepth().createAlarm(this, 'DepthAlarm', {
      alarmDescription: `Dead letters waiting in ${queue.node.path}: inspect and replay them (threshold ${depthThreshold} visible messages).`,
      threshold: depthThreshold,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    this.oldestMessageAgeAlarm = this.metricOldestAge().createAlarm(this, 'OldestMessageAgeAlarm', {
      alarmDescription: `The oldest dead letter in ${queue.node.path} is older than ${ageThreshold.toHumanString()}; messages expire after ${retentionPeriod.toHumanString()}.`,
      threshold: ageThreshold.toSeconds(),
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    this.addAlarmActions(props.alarmTopic);
  }

  /**
   * Grants what a writer of DLQ messages needs: `sqs:SendMessage`, `sqs:GetQueueAttributes`, `sqs:GetQueueUrl`
   * on the queue (plus `kms:Encrypt`, `kms:ReEncrypt*`, `kms:GenerateDataKey*`, `kms:Decrypt` on a customer key),
   * and `s3:PutObject` on `dlq-payloads/*` of the overflow bucket (plus `kms:GenerateDataKey*`/`kms:Encrypt` on a customer key).
   */
  public grantSend(grantee: iam.IGrantable): iam.Grant {
    return grantSend(this, grantee);
  }

  /**
   * Grants what a replay tool needs: `sqs:ReceiveMessage`, `sqs:ChangeMessageVisibility`, `sqs:DeleteMessage`,
   * `sqs:GetQueueAttributes`, `sqs:GetQueueUrl` on the queue, and `s3:GetObject*`, `s3:GetBucket*`, `s3:List*`
   * on the overflow bucket (overflow payloads and on-failure records), plus `kms:Decrypt` on a customer key.
   */
  public grantConsume(grantee: iam.IGrantable): iam.Grant {
    return grantConsume(this, grantee);
  }

  /**
   * Number of messages visible in the queue (`AWS/SQS` `ApproximateNumberOfMessagesVisible`).
   *
   * @default - statistic Maximum, period 1 minute
   */
  public metricDepth(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.queue.metricApproximateNumberOfMessagesVisible({ statistic: cloudwatch.Stats.MAXIMUM, period: Duration.minutes(1), ...props });
  }

  /**
   * Age of the oldest message in the queue, in seconds (`AWS/SQS` `ApproximateAgeOfOldestMessage`).
   *
   * @default - statistic Maximum, period 1 minute
   */
  public metricOldestAge(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.queue.metricApproximateAgeOfOldestMessage({ statistic: cloudwatch.Stats.MAXIMUM, period: Duration.minutes(1), ...props });
  }

  private checkProps(p: { retentionPeriod: Duration; overflowExpiration: Duration; ageThreshold: Duration; depthThreshold: number }): void {
    checkSeconds(this, 'retentionPeriod', p.retentionPeriod, 60, 1_209_600);
    checkRange(this, 'maxMessageBytes', this.maxMessageBytes, 4_096, 1_048_576);
    checkRange(this, 'depthAlarmThreshold', p.depthThreshold, 1, 1_000_000_000);
    checkSeconds(this, 'oldestMessageAgeAlarmThreshold', p.ageThreshold, 60, 1_209_600);
    const { retentionPeriod, overflowExpiration, ageThreshold } = p;
    if (!overflowExpiration.isUnresolved() && !retentionPeriod.isUnresolved()) {
      const days = overflowExpiration.toDays({ integral: false });
      if (!Number.isInteger(days) || days < 1) {
        throw validationError(this, `overflowExpiration must be a whole number of days, at least 1 (given ${overflowExpiration.toHumanString()})`);
      }
      if (overflowExpiration.toSeconds() < retentionPeriod.toSeconds()) {
        throw validationError(this, `overflowExpiration must be at least the queue retentionPeriod, or messages outlive their payloads (given ${overflowExpiration.toHumanString()}, retentionPeriod ${retentionPeriod.toHumanString()})`);
      }
    }
    if (!ageThreshold.isUnresolved() && !retentionPeriod.isUnresolved() && ageThreshold.toSeconds() > retentionPeriod.toSeconds()) {
      throw validationError(this, `oldestMessageAgeAlarmThreshold must not exceed retentionPeriod, or the alarm can never fire (given ${ageThreshold.toHumanString()}, retentionPeriod ${retentionPeriod.toHumanString()})`);
    }
  }

  /** Notifies the topic; without one, the alarms stay for dashboards and a monitor, and a synth warning says so. */
  private addAlarmActions(alarmTopic: sns.ITopic | undefined): void {
    if (alarmTopic) {
      const action = new cw_actions.SnsAction(alarmTopic);
      this.depthAlarm.addAlarmAction(action);
      this.oldestMessageAgeAlarm.addAlarmAction(action);
      return;
    }
    for (const alarm of [this.depthAlarm, this.oldestMessageAgeAlarm]) {
      acknowledge(alarm,
        'No alarmTopic was given: the alarm is for dashboards, a CorrelatedMonitor\'s pipeline-health alarm or an action the team adds (a synth warning says so).',
        'NIST.800.53.R5-CloudWatchAlarmAction', 'HIPAA.Security-CloudWatchAlarmAction');
    }
    Annotations.of(this).addWarningV2('cdk-phoenix-pipelines:dlqAlarmsWithoutAction',
      'DlqWithReplay has no alarmTopic: its depth and oldest-age alarms notify nobody. Pass alarmTopic (DataPipeline: alarmTopic), '
      + 'or watch the pipeline with a CorrelatedMonitor that notifies.');
  }
}

function grantSend(dlq: IDlqWithReplay, grantee: iam.IGrantable): iam.Grant {
  const send = dlq.queue.grantSendMessages(grantee);
  const put = iam.Grant.addToPrincipal({
    grantee,
    actions: ['s3:PutObject'],
    resourceArns: [dlq.overflowBucket.arnForObjects(`${dlq.overflowPrefix}*`)],
  });
  dlq.overflowBucket.encryptionKey?.grantEncrypt(grantee);
  return send.combine(put);
}

function grantConsume(dlq: IDlqWithReplay, grantee: iam.IGrantable): iam.Grant {
  return dlq.queue.grantConsumeMessages(grantee).combine(dlq.overflowBucket.grantRead(grantee));
}
