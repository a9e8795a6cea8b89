import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kinesis from 'aws-cdk-lib/aws-kinesis';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { ENV } from '../contract';
import type { IDlqWithReplay } from '../dlq-with-replay';
import type { PipelineFunctionOptions } from '../function-options';
import { routeAlarms } from '../monitoring/private/alarm-coverage';
import { handlerAssetCode, handlerAssetDir } from '../private/asset';
import { validationError } from '../private/errors';
import { logLevelEnvironment, pipelineFunction, REPLAY_TOOL_REASONS, resolveFunctionOptions } from '../private/function';
import { acknowledge, wildcardResourceFinding } from '../private/nag';
import { countAgainstResourceBudget } from '../private/resource-budget';
import { checkRange } from '../private/validate';

/**
 * Properties of a {@link ReplayFunction}. Function settings: {@link PipelineFunctionOptions} (memory 1024 MiB,
 * timeout 15 minutes by default; allowed timeout 30 seconds to 15 minutes, and a replay stops starting work 10
 * seconds before it: invoke again to continue).
 */
export interface ReplayFunctionProps extends PipelineFunctionOptions {
  /**
   * Streams the function may put records on: the streams dead letters and archived records came from (replays go
   * back to the record's own stream by default) and any `targetStream` the event may name.
   */
  readonly streams: kinesis.IStream[];

  /**
   * Dead letters to replay (`{"from": "dlq"}`).
   *
   * @default - no DLQ replay
   */
  readonly deadLetters?: IDlqWithReplay;

  /**
   * Archive bucket to replay from (`{"from": "archive"}`), e.g. `RawArchive.bucket`.
   *
   * @default - no archive replay
   */
  readonly archiveBucket?: s3.IBucket;

  /**
   * Key prefix of the archived objects.
   *
   * @default 'raw/'
   */
  readonly archivePrefix?: string;

  /**
   * Stream archived records are put on when the event names none: the pipeline's current ingest stream (the stream
   * recorded in an archived record is gone after a rebuild). With `pipelineName`, records another pipeline archived
   * are skipped and counted.
   *
   * @default - the record's own stream
   */
  readonly archiveTargetStream?: kinesis.IStream;

  /**
   * The pipeline replayed into (`PHX_PIPELINE`): archived records framed for another pipeline are skipped.
   *
   * @default - records are not checked for their pipeline
   */
  readonly pipelineName?: string;

  /**
   * Records per second when the event sets no `rate`. Allowed: 1-100,000.
   *
   * @default 500
   */
  readonly defaultRate?: number;

  /**
   * Topic notified by the function's alarm (`ErrorsAlarm`: an invocation failed, for example a link of a chained
   * archive replay after Lambda's two retries).
   *
   * @default - no action: the alarm joins a CorrelatedMonitor's pipeline health (through `DataPipeline.failureAlarms`),
   * else a synth warning names it
   */
  readonly alarmTopic?: sns.ITopic;
}

/**
 * The in-cloud replay: a function that takes the `phoenix replay` filter as its event
 * (`{"from":"dlq","reason":["schema"],"since":"2h","limit":1000,"dryRun":true}`), re-puts the matching records at a
 * bounded rate and returns (and logs) the summary. It has exactly what it needs: consume the DLQ, read the DLQ
 * overflow payloads (`dlq/*`), read the archive prefix, put on the given streams. One replay at a time (reserved
 * concurrency 1), so two operators cannot interleave on one queue.
 *
 * An archive replay longer than one invocation either resumes at the `cursor` each invocation returns (the next
 * event's `resume`), or, with `"continueUntilDone": true`, continues by itself: an invocation that stops before its
 * timeout invokes the function again, asynchronously, at its cursor (at most `maxChainLinks` invocations, default
 * 1,000), each logging its cursor.
 *
 * @example
 * const replay = new ReplayFunction(this, 'Replay', { streams: [pipeline.ingest.stream], deadLetters: pipeline.deadLetters });
 */
export class ReplayFunction extends Construct {
  /** The replay function. */
  public readonly lambdaFunction: lambda.IFunction;
  /** The function's log group (each replay's summary is logged there). */
  public readonly logGroup: logs.ILogGroup;
  /** `ErrorsAlarm`: failed invocations. */
  public readonly alarms: cloudwatch.Alarm[];

  constructor(scope: Construct, id: string, props: ReplayFunctionProps) {
    super(scope, id);
    countAgainstResourceBudget(this);
    const fnOptions = resolveFunctionOptions(this, props, { memorySize: 1024, timeout: Duration.minutes(15), timeoutSeconds: [30, 900] });
    const rate = props.defaultRate ?? 500;
    checkRange(this, 'defaultRate', rate, 1, 100_000);
    if (props.streams.length === 0) throw validationError(this, 'streams must name at least one stream to put records on (given none)');
    if (!props.deadLetters && !props.archiveBucket) throw validationError(this, 'needs deadLetters or archiveBucket: there is nothing to replay from (given neither)');
    const prefix = props.archivePrefix ?? 'raw/';

    const environment: Record<string, string> = { PHX_REPLAY_RATE: String(rate), ...logLevelEnvironment(fnOptions.logLevel) };
    if (props.deadLetters) environment.PHX_REPLAY_QUEUE_URL = props.deadLetters.queue.queueUrl;
    if (props.archiveBucket) {
      environment.PHX_REPLAY_ARCHIVE_BUCKET = props.archiveBucket.bucketName;
      environment.PHX_REPLAY_ARCHIVE_PREFIX = prefix;
    }
    if (props.archiveTargetStream) environment.PHX_REPLAY_TARGET_STREAM = props.archiveTargetStream.streamArn;
    if (props.pipelineName) environment[ENV.pipeline] = props.pipelineName;

    const description = 'Phoenix replay: re-puts dead letters or archived records (event: the phoenix replay filter)';
    const { fn, role, logGroup } = pipelineFunction(this, 'Function', {
      owner: this,
      code: handlerAssetCode(this, handlerAssetDir('replay')),
      description,
      roleDescription: `${description} (${this.node.path})`,
      ...fnOptions,
      environment,
      reservedConcurrentExecutions: 1,
      noVpcReason: REPLAY_TOOL_REASONS.noVpc,
      noDlqReason: 'An operator invokes the function synchronously and gets the result or the error; the links of a chained archive replay invoke it asynchronously, carrying their cursor in the event and the log, and a failed link raises ErrorsAlarm: a DLQ would hold nothing the log does not.',
      bundle: '',
    });
    this.lambdaFunction = fn;
    this.logGroup = logGroup;

    const wildcards: string[] = [];
    if (props.deadLetters) {
      const dl = props.deadLetters;
      dl.queue.grantConsumeMessages(fn);
      iam.Grant.addToPrincipal({ grantee: fn, actions: ['s3:GetObject'], resourceArns: [dl.overflowBucket.arnForObjects(`${dl.overflowPrefix}*`)] });
      dl.overflowBucket.encryptionKey?.grantDecrypt(fn);
      wildcards.push(wildcardResourceFinding(this, dl.overflowBucket.arnForObjects(`${dl.overflowPrefix}*`)));
    }
    if (props.archiveBucket) {
      const b = props.archiveBucket;
      iam.Grant.addToPrincipal({ grantee: fn, actions: ['s3:GetObject'], resourceArns: [b.arnForObjects(`${prefix}*`)] });
      iam.Grant.addToPrincipal({ grantee: fn, actions: ['s3:ListBucket'], resourceArns: [b.bucketArn], conditions: { StringLike: { 's3:prefix': [`${prefix}*`] } } });
      b.encryptionKey?.grantDecrypt(fn);
      wildcards.push(wildcardResourceFinding(this, b.arnForObjects(`${prefix}*`)));
    }
    // A chained archive replay invokes the function itself, by the ARN it was invoked with (qualified when through an
    // alias or version). A policy of its own: in the role's default policy, which the function depends on, the
    // function's ARN would be a dependency cycle.
    const invokeSelf = new iam.Policy(this, 'InvokeSelf', {
      roles: [role],
      statements: [new iam.PolicyStatement({ actions: ['lambda:InvokeFunction'], resources: [fn.functionArn, `${fn.functionArn}:*`] })],
    });
    acknowledge(invokeSelf,
      'The policy belongs to this function\'s own role and grants it only to invoke itself (a chained archive replay); as a managed policy it could be attached elsewhere.',
      'NIST.800.53.R5-IAMNoInlinePolicy', 'HIPAA.Security-IAMNoInlinePolicy', 'PCI.DSS.321-IAMNoInlinePolicy');
    acknowledge(invokeSelf,
      'The wildcard is the qualifier (version or alias) of this one function, by which it may have been invoked.',
      wildcardResourceFinding(this, `${fn.functionArn}:*`));
    this.alarms = [fn.metricErrors({ statistic: cloudwatch.Stats.SUM, period: Duration.minutes(5) }).createAlarm(this, 'ErrorsAlarm', {
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      alarmDescription: `A replay invocation of ${this.node.path} failed (a chained archive replay stops there). Its log has the error and the last cursor: invoke the function with that cursor as "resume" to go on.`,
    })];
    routeAlarms(this, this.alarms, props.alarmTopic);
    for (const s of props.streams) {
      s.grant(fn, 'kinesis:PutRecords', 'kinesis:DescribeStreamSummary');
      s.encryptionKey?.grantEncrypt(fn);
    }
    if (wildcards.length > 0) {
      acknowledge(role,
        'The function reads generated object keys: dead-letter payloads under the overflow prefix and archived objects under the archive prefix; the grants are scoped to those prefixes.',
        ...wildcards);
    }
    if (props.streams.some((s) => s.encryptionKey) || props.deadLetters?.overflowBucket.encryptionKey || props.archiveBucket?.encryptionKey) {
      acknowledge(role,
        'KMS grants of CDK (grantEncrypt/grantDecrypt) use the action wildcards kms:GenerateDataKey* and kms:ReEncrypt* on the named keys only.',
        'AwsSolutions-IAM5[Action::kms:GenerateDataKey*]', 'AwsSolutions-IAM5[Action::kms:ReEncrypt*]');
    }
  }
}
