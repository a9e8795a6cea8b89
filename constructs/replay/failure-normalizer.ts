import { Duration, Stack, type RemovalPolicy } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kinesis from 'aws-cdk-lib/aws-kinesis';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as s3n from 'aws-cdk-lib/aws-s3-notifications';
import type * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct, type IConstruct } from 'constructs';
import { ENV, ESM_ON_FAILURE_PREFIX, onFailurePrefixOf } from '../contract';
import type { IDlqWithReplay } from '../dlq-with-replay';
import { routeAlarms } from '../monitoring/private/alarm-coverage';
import { Phoenix, StatefulKind } from '../phoenix';
import { handlerAssetCode, handlerAssetDir } from '../private/asset';
import { validationError } from '../private/errors';
import { pipelineFunction, REPLAY_TOOL_REASONS } from '../private/function';
import { acknowledge, wildcardResourceFinding } from '../private/nag';
import { countAgainstResourceBudget } from '../private/resource-budget';
import { checkName } from '../private/validate';

const FAILED_EVENTS_RETENTION = Duration.days(14);
/** Half the retention: time left to redrive before the events expire. */
const FAILED_EVENTS_AGE_ALARM = Duration.days(7);

/**
 * Properties of a {@link FailureNormalizer}.
 */
export interface FailureNormalizerProps {
  /** The dead letters: on-failure objects are read from its overflow bucket and DLQ messages sent to its queue. */
  readonly deadLetters: IDlqWithReplay;

  /** The stream the failed batches came from (read back when an on-failure record carries metadata only). */
  readonly stream: kinesis.IStream;

  /** Pipeline name (seeds the record id namespace, as in the ingest stage). */
  readonly pipelineName: string;

  /**
   * Stage name written into the DLQ messages.
   *
   * @default 'ingest'
   */
  readonly stageName?: string;

  /**
   * The ingest stage's natural-key fields. When set, the DLQ messages get the record ids the stage would have
   * computed (so `phoenix replay --id` finds them); they must be exactly the stage's `keyFields`.
   *
   * @default - no ids: the messages have `id: null`, and the replay lets the stage compute them
   */
  readonly keyFields?: string[];

  /**
   * Id (UUID) of the event source mapping whose on-failure captures this normalizer takes
   * (`IngestStage.eventSourceMappingId`). The normalizer is then notified only for `aws/lambda/<id>/`, where Lambda's
   * S3 on-failure destination writes that mapping's captures, and leaves any other capture alone: pipelines that share
   * dead letters each normalize their own captures with their own `pipelineName` and `keyFields`.
   *
   * @default - every capture under `aws/lambda/` of the overflow bucket (one normalizer for the whole bucket)
   */
  readonly eventSourceMappingId?: string;

  /**
   * The function whose event source mapping writes the on-failure objects (the ingest processor): its
   * `DestinationDeliveryFailures` are alarmed (a failed batch that reached neither S3 nor the dead letters).
   *
   * @default - no alarm on destination delivery
   */
  readonly processor?: lambda.IFunction;

  /**
   * Topic notified by the normalizer's alarms.
   *
   * @default - no action: the alarms join a CorrelatedMonitor's pipeline health (through `DataPipeline.failureAlarms`),
   * else a synth warning names them
   */
  readonly alarmTopic?: sns.ITopic;

  /**
   * Removal policy of the `failedEvents` queue (S3 events the function could not process).
   *
   * @default - `Phoenix.removalPolicyFor(this, StatefulKind.DEAD_LETTERS)`: RemovalPolicy.DESTROY in both Phoenix modes
   */
  readonly removalPolicy?: RemovalPolicy;

  /**
   * Removal policy of the function's log group.
   *
   * @default - `Phoenix.removalPolicyFor(this, StatefulKind.LOGS)`: RemovalPolicy.DESTROY in both Phoenix modes
   */
  readonly logRemovalPolicy?: RemovalPolicy;
}

/**
 * One dead-letter format for every failure: a function triggered by the on-failure objects the event source mapping
 * writes under `aws/lambda/<ESM UUID>/` of the dead letters' overflow bucket (with `eventSourceMappingId`; else every
 * capture under `aws/lambda/`), turning each failed batch into one DLQ message v1
 * per record (reason class `esm-exhausted`, with the original data), so that `phoenix dlq` and `phoenix replay` see
 * batch failures like record failures. Records not carried by the on-failure record are read back from the stream
 * while it retains them; otherwise an `expired: ...` message (payload null) records the loss.
 *
 * Failed asynchronous invocations (after Lambda's two retries) go to the `failedEvents` queue; the on-failure object
 * itself stays in the bucket.
 *
 * @example
 * new FailureNormalizer(this, 'Normalizer', {
 *   deadLetters: pipeline.deadLetters, stream: pipeline.ingest.stream, pipelineName: 'clickstream',
 *   keyFields: ['userId', 'sessionId', 'seq'], eventSourceMappingId: pipeline.ingest.eventSourceMappingId,
 * });
 */
export class FailureNormalizer extends Construct {
  /** The normalizer function. */
  public readonly lambdaFunction: lambda.IFunction;
  /** Queue of S3 events the function failed to process (after Lambda's retries). */
  public readonly failedEvents: sqs.IQueue;
  /** The function's log group. */
  public readonly logGroup: logs.ILogGroup;
  /**
   * The function's Phoenix configuration (`PHX_*` variables: pipeline, stage, key fields, DLQ, capture prefix): what
   * `phoenix dlq redrive-failures` normalizes the failed events with (DataPipeline outputs it as `FailureNormalizerConfig`).
   */
  public readonly settings: { [key: string]: string };
  /**
   * Alarms on the normalizer's failure paths: failed events waiting (and their age), function errors, events that
   * could not be put on `failedEvents` (DeadLetterErrors), and with `processor` its DestinationDeliveryFailures.
   */
  public readonly alarms: cloudwatch.Alarm[];

  constructor(scope: Construct, id: string, props: FailureNormalizerProps) {
    super(scope, id);
    countAgainstResourceBudget(this);
    checkName(this, 'pipelineName', props.pipelineName);
    const stageName = props.stageName ?? 'ingest';
    checkName(this, 'stageName', stageName);
    const dl = props.deadLetters;
    const prefix = props.eventSourceMappingId === undefined ? ESM_ON_FAILURE_PREFIX : onFailurePrefixOf(props.eventSourceMappingId);
    checkSameStack(this, dl);
    claimCapturePrefix(this, dl, prefix);

    const failed = new sqs.Queue(this, 'FailedEvents', {
      encryption: sqs.QueueEncryption.KMS_MANAGED,
      enforceSSL: true,
      retentionPeriod: FAILED_EVENTS_RETENTION,
      removalPolicy: props.removalPolicy ?? Phoenix.removalPolicyFor(this, StatefulKind.DEAD_LETTERS),
    });
    this.failedEvents = failed;
    acknowledge(failed,
      'This queue is itself the dead-letter queue of the normalizer\'s asynchronous invocations; it has no dead-letter queue of its own.',
      'AwsSolutions-SQS3', 'Serverless-SQSRedrivePolicy');

    const environment: Record<string, string> = {
      [ENV.pipeline]: props.pipelineName,
      [ENV.stage]: stageName,
      [ENV.dlqUrl]: dl.queue.queueUrl,
      [ENV.dlqOverflowBucket]: dl.overflowBucket.bucketName,
      [ENV.dlqMaxMessageBytes]: String(dl.maxMessageBytes),
      [ENV.onFailurePrefix]: prefix,
      POWERTOOLS_SERVICE_NAME: props.pipelineName,
    };
    if (props.keyFields !== undefined) environment[ENV.keyFields] = JSON.stringify(props.keyFields);
    this.settings = Object.fromEntries(Object.entries(environment).filter(([k]) => k.startsWith('PHX_')));

    const description = `Phoenix failure normalizer of pipeline '${props.pipelineName}': on-failure batches to DLQ messages v1`;
    const { fn, role, logGroup } = pipelineFunction(this, 'Function', {
      owner: this,
      code: handlerAssetCode(this, handlerAssetDir('failureNormalizer')),
      description,
      roleDescription: `${description} (${this.node.path})`,
      timeout: Duration.minutes(5),
      memorySize: 512,
      environment,
      deadLetterQueue: failed,
      logRemovalPolicy: props.logRemovalPolicy ?? Phoenix.removalPolicyFor(this, StatefulKind.LOGS),
      noVpcReason: REPLAY_TOOL_REASONS.noVpc,
      noReservedConcurrencyReason: REPLAY_TOOL_REASONS.noReservedConcurrency,
      bundle: '',
    });
    this.lambdaFunction = fn;
    this.logGroup = logGroup;

    // Writes DLQ messages (and oversize payloads under dlq/); reads on-failure objects; reads the stream back.
    dl.grantSend(fn);
    iam.Grant.addToPrincipal({ grantee: fn, actions: ['s3:GetObject'], resourceArns: [dl.overflowBucket.arnForObjects(`${prefix}*`)] });
    dl.overflowBucket.encryptionKey?.grantDecrypt(fn);
    props.stream.grantRead(fn);

    dl.overflowBucket.addEventNotification(s3.EventType.OBJECT_CREATED, new s3n.LambdaDestination(fn), { prefix });

    acknowledge(role,
      `The function reads the on-failure objects Lambda writes under ${props.eventSourceMappingId === undefined ? ESM_ON_FAILURE_PREFIX : `${ESM_ON_FAILURE_PREFIX}<mapping UUID>/`} and writes oversize payloads under ${dl.overflowPrefix}: object keys are generated, so the grants are scoped to those prefixes.`,
      wildcardResourceFinding(this, dl.overflowBucket.arnForObjects(`${prefix}*`)),
      wildcardResourceFinding(this, dl.overflowBucket.arnForObjects(`${dl.overflowPrefix}*`)));
    acknowledgeNotificationsHandler(this);
    this.alarms = this.createAlarms(props);
    routeAlarms(this, this.alarms, props.alarmTopic);
    const notifications = dl.overflowBucket.node.tryFindChild('Notifications');
    if (notifications) {
      acknowledge(notifications,
        'CDK (aws-cdk-lib) attaches s3:PutBucketNotification on this bucket to its BucketNotificationsHandler role as an inline policy.',
        'NIST.800.53.R5-IAMNoInlinePolicy', 'HIPAA.Security-IAMNoInlinePolicy', 'PCI.DSS.321-IAMNoInlinePolicy');
    }
  }

  private createAlarms(props: FailureNormalizerProps): cloudwatch.Alarm[] {
    const where = `the failure normalizer of pipeline '${props.pipelineName}'`;
    const redrive = `Fix the cause in its log, then run \`phoenix dlq redrive-failures --stack <stack>\` (normalizes each failed event again, deleting it once done); the on-failure objects stay under ${ESM_ON_FAILURE_PREFIX} of the overflow bucket until it expires them.`;
    const any = {
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    };
    const minute = { statistic: cloudwatch.Stats.MAXIMUM, period: Duration.minutes(1) };
    const sum5 = { statistic: cloudwatch.Stats.SUM, period: Duration.minutes(5) };
    const alarms = [
      this.failedEvents.metricApproximateNumberOfMessagesVisible(minute).createAlarm(this, 'FailedEventsAlarm', {
        ...any, alarmDescription: `Failed batches were not turned into dead letters by ${where} (events on its failedEvents queue). ${redrive}`,
      }),
      this.failedEvents.metricApproximateAgeOfOldestMessage(minute).createAlarm(this, 'FailedEventsAgeAlarm', {
        ...any,
        threshold: FAILED_EVENTS_AGE_ALARM.toSeconds(),
        alarmDescription: `An event on the failedEvents queue of ${where} is older than ${FAILED_EVENTS_AGE_ALARM.toHumanString()} (kept ${FAILED_EVENTS_RETENTION.toHumanString()}). ${redrive}`,
      }),
      this.lambdaFunction.metricErrors(sum5).createAlarm(this, 'ErrorsAlarm', {
        ...any, alarmDescription: `Invocations of ${where} failed (Lambda retries twice, then the event goes to failedEvents). Look for ERROR lines in its log group.`,
      }),
      this.lambdaFunction.metric('DeadLetterErrors', sum5).createAlarm(this, 'DeadLetterErrorsAlarm', {
        ...any, alarmDescription: `Lambda could not put failed events of ${where} on its failedEvents queue: those batches are only in the overflow bucket under ${ESM_ON_FAILURE_PREFIX}. ${redrive}`,
      }),
    ];
    if (props.processor) {
      alarms.push(props.processor.metric('DestinationDeliveryFailures', sum5).createAlarm(this, 'DestinationDeliveryFailuresAlarm', {
        ...any, alarmDescription: `The event source mapping of pipeline '${props.pipelineName}' could not write failed batches to its S3 on-failure destination: those records reached no dead letter. Check the processor role's s3:PutObject on ${ESM_ON_FAILURE_PREFIX} of the overflow bucket.`,
      }));
    }
    return alarms;
  }
}

/**
 * The overflow bucket's notification references the normalizer function, and the normalizer references the dead
 * letters: across two stacks that is a cyclic dependency, refused here with what to change.
 */
function checkSameStack(normalizer: FailureNormalizer, dl: IDlqWithReplay): void {
  const own = Stack.of(normalizer);
  const bucketStack = Stack.of(dl.overflowBucket);
  if (bucketStack === own) return;
  throw validationError(normalizer, `its dead letters' overflow bucket (${dl.overflowBucket.node.path}) is in stack ${bucketStack.node.path}, `
    + `another stack than ${own.node.path}: the bucket's S3 notification to this normalizer would make each stack depend on the other `
    + '(given dead letters of another stack; allowed: dead letters of the same stack, or one DlqWithReplay per stack)');
}

/** Capture prefixes notified per overflow bucket (construct path by prefix): S3 refuses overlapping prefixes. */
const capturePrefixes = new WeakMap<IConstruct, Map<string, string>>();

/**
 * Registers `prefix` of the dead letters' overflow bucket for `normalizer`; a prefix that overlaps one of another
 * normalizer (S3 rejects overlapping prefixes for one event type at deploy time) is a synth-time error naming both.
 */
function claimCapturePrefix(normalizer: FailureNormalizer, dl: IDlqWithReplay, prefix: string): void {
  const claimed = capturePrefixes.get(dl.overflowBucket) ?? new Map<string, string>();
  capturePrefixes.set(dl.overflowBucket, claimed);
  for (const [other, path] of claimed) {
    if (!other.startsWith(prefix) && !prefix.startsWith(other)) continue;
    throw validationError(normalizer, `the on-failure captures of its dead letters are already normalized by ${path}: `
      + `S3 allows one notification per key prefix, and prefixes may not overlap (given ${describePrefix(prefix)}, overlapping ${describePrefix(other)}; `
      + 'allowed: eventSourceMappingId set on every normalizer of the bucket, one per event source mapping)');
  }
  claimed.set(prefix, normalizer.node.path);
}

function describePrefix(prefix: string): string {
  return prefix === ESM_ON_FAILURE_PREFIX ? `'${ESM_ON_FAILURE_PREFIX}' (no eventSourceMappingId)` : `'${ESM_ON_FAILURE_PREFIX}<eventSourceMappingId>/'`;
}

/**
 * S3 event notifications are configured by CDK's stack-wide BucketNotificationsHandler singleton (a custom resource
 * function with the AWSLambdaBasicExecutionRole managed policy and `s3:PutBucketNotification` on `*`); its findings
 * are inherent to aws-cdk-lib and acknowledged with that cause.
 */
function acknowledgeNotificationsHandler(scope: IConstruct): void {
  const stack = scope.node.scopes.find((s) => (s as { templateOptions?: unknown }).templateOptions !== undefined);
  const handler = stack?.node.tryFindChild('BucketNotificationsHandler050a0587b7544547bf325f094a3db834');
  if (!handler) return;
  acknowledge(handler,
    'CDK\'s BucketNotificationsHandler custom resource (aws-cdk-lib) configures S3 event notifications at deploy time: it uses the AWSLambdaBasicExecutionRole managed policy, s3:PutBucketNotification on "*", an inline policy, and runs only during deployments.',
    'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]', 'AwsSolutions-IAM5[Resource::*]',
    'NIST.800.53.R5-IAMNoInlinePolicy', 'HIPAA.Security-IAMNoInlinePolicy', 'PCI.DSS.321-IAMNoInlinePolicy',
    'NIST.800.53.R5-LambdaDLQ', 'HIPAA.Security-LambdaDLQ', 'Serverless-LambdaDLQ',
    'NIST.800.53.R5-LambdaInsideVPC', 'HIPAA.Security-LambdaInsideVPC', 'PCI.DSS.321-LambdaInsideVPC',
    'NIST.800.53.R5-LambdaConcurrency', 'HIPAA.Security-LambdaConcurrency',
    'AwsSolutions-L1', 'Serverless-LambdaLatestVersion', 'Serverless-LambdaTracing', 'Serverless-LambdaDefaultMemorySize',
    'NIST.800.53.R5-LambdaFunctionPublicAccessProhibited');
}
