import { CfnOutput, Stack } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import type { IDlqWithReplay } from './dlq-with-replay';
import { IngestSink } from './ingest-sink';
import { IngestStage, type IngestStageOptions } from './ingest-stage';
import type { IMonitorablePipeline, IMonitorableStage } from './monitoring/pipeline';
import { type FunctionNetwork, Phoenix, PhoenixMode } from './phoenix';
import { validationError } from './private/errors';
import { countAgainstResourceBudget } from './private/resource-budget';
import { checkName } from './private/validate';
import { QualityProfiler, type QualityProfilerOptions } from './quality-profiler';
import { FailureNormalizer } from './replay/failure-normalizer';
import { RawArchive } from './replay/raw-archive';
import { ReplayFunction } from './replay/replay-function';


/**
 * Properties of a {@link DataPipeline}. The network (`vpc`, `vpcSubnets`, `securityGroups`) is that of every Lambda
 * function of the pipeline (ingest processor, failure normalizer, archive framer, replay function, profiler); a
 * stage's own function options (`ingest.vpc`, `quality.vpc`) win.
 */
export interface DataPipelineProps extends FunctionNetwork {
  /**
   * Pipeline name: seeds the record id namespace and is the `Pipeline` metric dimension.
   * 1-64 characters of `[A-Za-z0-9_-]`. Renaming a pipeline changes every record id.
   */
  readonly pipelineName: string;

  /**
   * Options of the ingest stage (stream, schema, key fields, function, event source mapping, dead letters).
   *
   * @default - the {@link IngestStage} defaults
   */
  readonly ingest?: IngestStageOptions;

  /**
   * SNS topic notified by the pipeline's alarms (dead-letter depth and age, and the {@link failureAlarms} of the
   * failure normalizer and the archive). Not allowed together with `ingest.deadLetterProps.alarmTopic` or
   * `ingest.deadLetters`.
   *
   * @default - alarms without actions: add the pipeline to a CorrelatedMonitor, whose pipeline-health composite
   * alarm notifies (else a synth warning names each alarm that notifies nobody)
   */
  readonly alarmTopic?: sns.ITopic;

  /**
   * Where the pipeline writes its envelopes.
   *
   * @default IngestSink.dynamoDb() - a created table (partition key `pk`, on-demand, PITR; retained in
   * PhoenixMode.PRODUCTION unless `retainSinks` is false)
   */
  readonly sink?: IngestSink;

  /**
   * Keep a raw archive of the ingest stream (Firehose to an encrypted, date-partitioned S3 bucket, kept in
   * PhoenixMode.PRODUCTION): the source of truth the sinks are rebuilt from by `phoenix replay --from archive`.
   *
   * @default true
   */
  readonly archive?: boolean;

  /**
   * Deploy the in-cloud replay function (replays dead letters, and the archive when there is one, without local
   * credentials to the stream).
   *
   * @default true
   */
  readonly replayFunction?: boolean;

  /**
   * Data-quality profiling of the ingest stream: a {@link QualityProfiler} with these rules and options. The
   * profiler's schema defaults to the ingest stage's, its alarm topic to `alarmTopic`.
   *
   * @default - no profiler
   */
  readonly quality?: QualityProfilerOptions;

  /**
   * What `cdk destroy` leaves behind: the removal policy of every stateful resource the pipeline and its
   * children create (stream, dead-letter queue and buckets, log groups, the created sink, and the archive,
   * profile history and keys of the stages attached to it). A `removalPolicy` set on a resource's own props wins.
   *
   * - `PhoenixMode.EPHEMERAL`: nothing is left (DESTROY everywhere, buckets emptied, the archive included).
   * - `PhoenixMode.PRODUCTION`: the archive is retained, and the sinks unless `retainSinks` is false;
   *   everything else is destroyed and recreated by the next deploy.
   *
   * PRODUCTION is the default because the two possible mistakes are not symmetric: a test pipeline deployed
   * without the setting leaves an archive and a table to delete by hand after `cdk destroy`, while a production
   * pipeline deployed with a destroying default would lose the archive every sink is rebuilt from.
   *
   * @default - the mode of the nearest enclosing scope configured with `Phoenix.configure`, else the CDK context
   * value `phoenix:mode`, else PhoenixMode.PRODUCTION
   */
  readonly phoenixMode?: PhoenixMode;

  /**
   * Keep the created sinks (the `IngestSink.dynamoDb()` table) when the stack is deleted. Only with
   * PhoenixMode.PRODUCTION (an ephemeral pipeline keeps nothing). With false, a rebuilt pipeline refills its
   * sink from the archive by replay.
   *
   * @default true in PhoenixMode.PRODUCTION (or the value configured on an enclosing scope)
   */
  readonly retainSinks?: boolean;

  /**
   * The deployment this copy's custom metrics belong to: the `Deployment` dimension of every metric its handlers emit
   * and of every alarm and dashboard widget on them, so that two copies of one pipeline in an account (dev and test,
   * blue and green) never feed or trip each other's alarms. 1-128 characters of `[A-Za-z0-9_.-]`.
   *
   * @default - `Phoenix.deploymentIdOf(this)`: the value configured on an enclosing scope, else `<stackName>-<region>`
   */
  readonly deploymentId?: string;

  /**
   * Retention of every log group of the pipeline (its functions' and the archive's delivery errors). A stage's own
   * `logRetention` (`ingest.logRetention`, `quality.logRetention`) wins. AWS Control Tower's CT.CLOUDWATCH.PR.2 asks
   * for at least one year.
   *
   * @default - `Phoenix.logRetentionOf(this)`: the value configured on an enclosing scope, else three months
   */
  readonly logRetention?: logs.RetentionDays;

  /**
   * Customer managed KMS key encrypting every log group of the pipeline. Its key policy must allow the CloudWatch Logs
   * service principal (`logs.<region>.amazonaws.com`) to use it. AWS Control Tower's CT.CLOUDWATCH.PR.3 asks for one.
   *
   * @default - `Phoenix.logEncryptionKeyOf(this)`: the key configured on an enclosing scope, else CloudWatch Logs'
   * service-managed encryption
   */
  readonly logEncryptionKey?: kms.IKey;
}

/** Pipelines of each stack by pipeline name (construct paths): two pipelines of one name would share ids and metrics. */
const pipelinesOfStack = new WeakMap<Stack, Map<string, string>>();

/**
 * A Phoenix data pipeline: an {@link IngestStage} (stream, processor, dead letters with replay) writing to a sink,
 * a {@link FailureNormalizer} (failed batches become dead letters like failed records), by default a
 * {@link RawArchive} of the stream and an in-cloud {@link ReplayFunction}, and with `quality` a
 * {@link QualityProfiler}; plus stack outputs for tooling (the `phoenix` CLI reads them): `StreamName`, `StreamArn`,
 * `ProcessorName`, `DlqUrl`, `DlqOverflowBucket`, `FailedEventsUrl`, `FailureNormalizerConfig`, `SinkKind`, `SinkTarget`, `ArchiveBucket`, `ArchivePrefix`,
 * `ReplayFunctionName`, `ProfileHistoryBucket` (each when the resource exists).
 *
 * The pipeline is an {@link IMonitorablePipeline}: pass it to a {@link CorrelatedMonitor} or a {@link SyntheticCanary}.
 *
 * @example
 * const pipeline = new DataPipeline(this, 'Clickstream', {
 *   pipelineName: 'clickstream',
 *   ingest: { schema: clickSchema, keyFields: ['userId', 'sessionId', 'seq'] },
 * });
 * pipeline.ingest.grantWrite(producer);
 * new CorrelatedMonitor(this, 'Monitor', { pipeline });
 */
export class DataPipeline extends Construct implements IMonitorablePipeline {
  /** Pipeline name. */
  public readonly pipelineName: string;
  /** Deployment id (`Deployment` metric dimension of every metric of the pipeline). */
  public readonly deploymentId: string;
  /** The ingest stage. */
  public readonly ingest: IngestStage;
  /** The ingest stage's dead letters. */
  public readonly deadLetters: IDlqWithReplay;
  /** The sink. */
  public readonly sink: IngestSink;
  /** The topic the pipeline's alarms notify, if any. */
  public readonly alarmTopic?: sns.ITopic;
  /** The Phoenix mode in effect for the pipeline's resources. */
  public readonly phoenixMode: PhoenixMode;
  /** The stages in flow order (for CorrelatedMonitor and SyntheticCanary). */
  public readonly stages: IMonitorableStage[];
  /**
   * Turns the event source mapping's on-failure captures into DLQ messages (one format for every failure). It takes
   * only the captures of this pipeline's mapping (`aws/lambda/<ESM UUID>/` of the overflow bucket), with this
   * pipeline's `pipelineName` and `keyFields`, also when the dead letters are shared (`ingest.deadLetters`).
   */
  public readonly failureNormalizer: FailureNormalizer;
  /** The raw archive, unless `archive: false`. */
  public readonly archive?: RawArchive;
  /** The in-cloud replay function, unless `replayFunction: false`. */
  public readonly replay?: ReplayFunction;
  /** The data-quality profiler, when `quality` is given. */
  public readonly profiler?: QualityProfiler;
  /** Alarms of the failure normalizer and the raw archive (a CorrelatedMonitor adds them to its pipeline health). */
  public readonly failureAlarms?: cloudwatch.IAlarm[];

  constructor(scope: Construct, id: string, props: DataPipelineProps) {
    super(scope, id);
    countAgainstResourceBudget(this);
    checkName(this, 'pipelineName', props.pipelineName);
    this.pipelineName = props.pipelineName;
    claimPipelineName(this, props.pipelineName);
    if (props.retainSinks === true && (props.phoenixMode ?? Phoenix.modeOf(this)) === PhoenixMode.EPHEMERAL) {
      throw validationError(this, `retainSinks applies to PhoenixMode.PRODUCTION only: an ephemeral pipeline keeps nothing (given retainSinks true with phoenixMode EPHEMERAL${props.phoenixMode ? '' : ' inherited'})`);
    }
    // Before any child: every stateful child asks Phoenix.removalPolicyFor(itself, kind).
    Phoenix.configure(this, {
      mode: props.phoenixMode,
      retainSinks: props.retainSinks,
      deploymentId: props.deploymentId,
      logRetention: props.logRetention,
      logEncryptionKey: props.logEncryptionKey,
      vpc: props.vpc,
      vpcSubnets: props.vpcSubnets,
      securityGroups: props.securityGroups,
    });
    this.phoenixMode = Phoenix.modeOf(this);
    this.deploymentId = Phoenix.deploymentIdOf(this);
    this.sink = props.sink ?? IngestSink.dynamoDb();

    const ingest = props.ingest ?? {};
    if (props.alarmTopic && (ingest.deadLetters || ingest.deadLetterProps?.alarmTopic)) {
      throw validationError(this, `alarmTopic cannot be combined with ${ingest.deadLetters ? 'ingest.deadLetters' : 'ingest.deadLetterProps.alarmTopic'} (given both)`);
    }
    this.alarmTopic = props.alarmTopic;

    this.ingest = new IngestStage(this, 'Ingest', {
      ...ingest,
      deadLetterProps: props.alarmTopic ? { ...ingest.deadLetterProps, alarmTopic: props.alarmTopic } : ingest.deadLetterProps,
      pipelineName: props.pipelineName,
      sink: this.sink,
    });
    this.deadLetters = this.ingest.deadLetters;
    this.stages = [this.ingest];

    // One DLQ format for every failure: the event source mapping's S3 on-failure objects become DLQ v1 messages.
    // Each pipeline's normalizer takes only its own mapping's captures (aws/lambda/<ESM UUID>/), so that dead letters
    // shared by several pipelines get each pipeline's ids (namespace and key fields).
    this.failureNormalizer = new FailureNormalizer(this, 'FailureNormalizer', {
      deadLetters: this.deadLetters,
      stream: this.ingest.stream,
      pipelineName: props.pipelineName,
      stageName: this.ingest.stageName,
      keyFields: this.ingest.keyFields,
      eventSourceMappingId: this.ingest.eventSourceMappingId,
      processor: this.ingest.processor,
      alarmTopic: props.alarmTopic,
    });
    if (props.archive ?? true) {
      this.archive = new RawArchive(this, 'Archive', { stream: this.ingest.stream, pipelineName: props.pipelineName, alarmTopic: props.alarmTopic });
    }
    if (props.replayFunction ?? true) {
      this.replay = new ReplayFunction(this, 'Replay', {
        streams: [this.ingest.stream],
        deadLetters: this.deadLetters,
        archiveBucket: this.archive?.bucket,
        archivePrefix: this.archive?.prefix,
        // Archived records go onto the ingest stream as it exists now, whatever stream they were recorded from.
        archiveTargetStream: this.archive ? this.ingest.stream : undefined,
        pipelineName: props.pipelineName,
        alarmTopic: props.alarmTopic,
      });
      this.output('ReplayFunctionName', this.replay.lambdaFunction.functionName, 'In-cloud replay function (event: the phoenix replay filter)');
    }
    this.failureAlarms = [...this.failureNormalizer.alarms, ...this.archive?.alarms ?? [], ...this.replay?.alarms ?? []];
    if (props.quality) {
      this.profiler = new QualityProfiler(this, 'Profiler', {
        ...props.quality,
        stream: this.ingest.stream,
        pipelineName: props.pipelineName,
        schema: props.quality.schema ?? ingest.schema,
        alarmTopic: props.quality.alarmTopic ?? props.alarmTopic,
      });
      this.output('ProfileHistoryBucket', this.profiler.historyBucket.bucketName, 'Bucket of data-quality profiles and rule results (profiles/<window>/)');
    }

    // Extension point: a monitor (CorrelatedMonitor, SyntheticCanary) takes this pipeline as IMonitorablePipeline;
    // further stages are appended to `stages`. Stateful children take their removal policy from
    // Phoenix.removalPolicyFor(child, StatefulKind.ARCHIVE | PROFILE_HISTORY | KEY | LOGS).

    this.output('PipelineName', props.pipelineName, 'Pipeline name (the archive replay target: its current StreamArn)');
    this.output('StreamName', this.ingest.stream.streamName, 'Kinesis stream producers write to');
    this.output('StreamArn', this.ingest.stream.streamArn, 'ARN of the Kinesis stream producers write to');
    this.output('ProcessorName', this.ingest.processor.functionName, 'Ingest processor function');
    this.output('DlqUrl', this.deadLetters.queue.queueUrl, 'Dead-letter queue URL (DLQ message v1)');
    this.output('DlqOverflowBucket', this.deadLetters.overflowBucket.bucketName, 'Bucket of oversize dead-letter payloads and on-failure batches');
    this.output('FailedEventsUrl', this.failureNormalizer.failedEvents.queueUrl, 'Queue of S3 events the failure normalizer could not process (phoenix dlq redrive-failures)');
    this.output('FailureNormalizerConfig', Stack.of(this).toJsonString(this.failureNormalizer.settings), 'Configuration of the failure normalizer (PHX_* variables)');
    this.output('SinkKind', this.ingest.sinkConfig.kind, 'Sink kind: dynamodb, s3, kinesis or none');
    if (this.ingest.sinkConfig.target !== '') {
      this.output('SinkTarget', this.ingest.sinkConfig.target, 'Sink table name, bucket[/prefix] or stream ARN');
    }
  }

  private output(id: string, value: string, what: string): void {
    new CfnOutput(this, id, { value, description: `${what} (pipeline ${this.pipelineName})` });
  }
}

/** Registers `pipeline` under its name in its stack; a second pipeline of that name is a synth-time error naming both. */
function claimPipelineName(pipeline: DataPipeline, name: string): void {
  const stack = Stack.of(pipeline);
  const names = pipelinesOfStack.get(stack) ?? new Map<string, string>();
  pipelinesOfStack.set(stack, names);
  const other = names.get(name);
  if (other !== undefined) {
    throw validationError(pipeline, `pipelineName '${name}' is already the name of pipeline ${other} in stack ${stack.stackName}: `
      + `two pipelines of one stack would share record ids, metrics and resource names (given '${name}' at ${pipeline.node.path} too; allowed: a name no other pipeline of the stack has)`);
  }
  names.set(name, pipeline.node.path);
}
