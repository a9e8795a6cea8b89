import { Duration, type RemovalPolicy, Token, Tokenization } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kinesis from 'aws-cdk-lib/aws-kinesis';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { ENV, ESM_ON_FAILURE_PREFIX, EVENT_TIME_MAX_MS, EVENT_TIME_MIN_MS, METRIC, METRICS_NAMESPACE, SCHEMA_VALIDATOR_FILE } from './contract';
import { DlqWithReplay, type DlqWithReplayProps, type IDlqWithReplay } from './dlq-with-replay';
import { LogLevel, type PipelineFunctionOptions } from './function-options';
import { IngestSink, type IngestSinkConfig } from './ingest-sink';
import type { IMonitorableStage } from './monitoring/pipeline';
import { stageMetric } from './monitoring/private/metrics';
import { Phoenix, StatefulKind } from './phoenix';
import { handlerAssetCode, handlerAssetDir, ingestCodeWithSchema } from './private/asset';
import { validationError } from './private/errors';
import { checkEnvironmentSize, pipelineFunction, resolveFunctionOptions } from './private/function';
import { acknowledge, wildcardResourceFinding } from './private/nag';
import { registerStageChain } from './private/next-stage';
import { countAgainstResourceBudget } from './private/resource-budget';
import { checkFieldPath, checkKeyFields, checkSchema } from './private/schema';
import { checkMillis, checkName, checkRange, checkSeconds } from './private/validate';

/** Settings of the stage resolved against their defaults. */
interface StageSettings {
  readonly batchSize: number;
  readonly maxBatchingWindow: Duration;
  readonly retryAttempts: number;
  readonly maxRecordAge: Duration;
  readonly parallelizationFactor: number;
  readonly startingPosition: lambda.StartingPosition;
  readonly maxRecordSizeBytes: number;
  readonly recordConcurrency: number;
  readonly retryBaseDelay: Duration;
  readonly retryMaxDelay: Duration;
  readonly retryMaxAttempts: number;
  readonly retryBudget: Duration;
  readonly schemaText: string;
}

/** DynamoDB's item size limit (400 KB), attribute names included. */
const DYNAMODB_ITEM_BYTES = 409_600;
/**
 * What a DynamoDB sink item holds besides the payload's JSON: pk, eventTime, contentHash, correlationId and source
 * attributes and the envelope members around the payload; measured at most 1,294 bytes (64-character stage name,
 * 128-character source, 256-character correlation id, a replay mark), rounded up (test/constructs/ingest-stage.test.ts).
 */
const DYNAMODB_ENVELOPE_OVERHEAD_BYTES = 2_048;

/** How far below the stream's retention maxRecordAge must stay: the mapping needs time to capture an expired record. */
const MAX_RECORD_AGE_MARGIN = Duration.hours(1);

/**
 * Options of an ingest stage: everything but the pipeline name and the sink
 * (what {@link DataPipeline} passes through). Function settings: {@link PipelineFunctionOptions} (memory 512 MiB,
 * timeout 1 minute, log level INFO by default).
 */
export interface IngestStageOptions extends PipelineFunctionOptions {
  /**
   * Stage name: the value of `PHX_STAGE`, the `Stage` metric dimension and the hop name in envelopes.
   * 1-64 characters of `[A-Za-z0-9_-]`.
   *
   * @default 'ingest'
   */
  readonly stageName?: string;

  // ----- stream -----

  /**
   * An existing stream to consume. Cannot be combined with `streamMode`, `shardCount`, `retentionPeriod`,
   * `encryptionKey` or `removalPolicy`, which describe a created stream.
   *
   * @default - a stream is created
   */
  readonly stream?: kinesis.IStream;

  /**
   * Capacity mode of the created stream.
   *
   * @default kinesis.StreamMode.ON_DEMAND
   */
  readonly streamMode?: kinesis.StreamMode;

  /**
   * Number of shards of the created stream; only with `streamMode: StreamMode.PROVISIONED`. Allowed: 1-10,000.
   *
   * @default 1 with PROVISIONED; not set with ON_DEMAND
   */
  readonly shardCount?: number;

  /**
   * Customer managed KMS key encrypting the created stream.
   *
   * @default - the AWS managed key `alias/aws/kinesis`
   */
  readonly encryptionKey?: kms.IKey;

  /**
   * How long the created stream keeps records (so that failed batches can be read back).
   * Allowed: 24 hours to 8,760 hours (365 days).
   *
   * @default Duration.days(7)
   */
  readonly retentionPeriod?: Duration;

  /**
   * Removal policy of the created stream.
   *
   * @default - `Phoenix.removalPolicyFor(scope, StatefulKind.STREAM)`: RemovalPolicy.DESTROY in both Phoenix modes
   * (streams are recreated freely; records are replayed from the archive or their producers)
   */
  readonly removalPolicy?: RemovalPolicy;

  // ----- records -----

  /**
   * JSON Schema (draft 2020-12 / draft-07) the payload of every record must satisfy; records that do not go to
   * the dead letters with reason `schema`. The top-level `type` must be `object`. Checked structurally at synth
   * and compiled by the handler at cold start; passed as `PHX_SCHEMA`, so it counts towards Lambda's 4 KB
   * environment limit.
   *
   * @default - no validation
   */
  readonly schema?: { [key: string]: any };

  /**
   * Natural-key fields (dot paths into the payload, e.g. `user.id`) from which record ids are derived.
   * With a `schema`, every path must be declared in its (nested) `properties`.
   *
   * @default [] - the id is derived from the whole canonical payload
   */
  readonly keyFields?: string[];

  /**
   * Dot path of the payload field that holds the event time (ISO-8601 with a time zone, or epoch milliseconds). The
   * sink keeps the version of a record with the newest event time, so replays and out-of-order arrivals never
   * overwrite newer data. With a `schema`, the path must be declared in its (nested) `properties`.
   *
   * @default - the payload's `eventTime`, else `timestamp`, else the record's arrival time on the stream
   */
  readonly eventTimeField?: string;

  /**
   * How far an event time may be ahead of the later of the record's arrival and the stage's clock. A record further
   * ahead goes to the dead letters with reason `event-time`: since the newest version of a key wins, one record
   * with a far-future time would otherwise block every later correction of its key. Allowed: 0 to 366 days.
   *
   * @default Duration.minutes(5)
   */
  readonly maxFutureSkew?: Duration;

  /**
   * The earliest event time accepted; an earlier one goes to the dead letters with reason `event-time` (years
   * such as 0000 are clock or encoding bugs). Allowed: a valid date of years 0000-9999.
   *
   * @default - 1970-01-01T00:00:00Z (the Unix epoch)
   */
  readonly minEventTime?: Date;

  /**
   * Replays of one record allowed (the replay mark counts them). A record replayed more often goes to the dead
   * letters with reason `replay-exhausted` and is not replayed again unless asked for by that reason, so a record
   * cannot cycle DLQ -> replay -> DLQ unnoticed. Allowed: 0 to 1,000.
   *
   * @default 3
   */
  readonly replayMaxCount?: number;

  /**
   * Decoded payloads larger than this go to the dead letters with reason `oversize`. Allowed: 1 to 10,485,760
   * (the Kinesis record limit); with a DynamoDB sink at most {@link IngestStage.MAX_DYNAMODB_RECORD_BYTES} (a 400 KB
   * item holds the payload and its envelope): larger records need the S3 sink, the large-record path. A transform
   * that enlarges the payload, or numbers written short (`1e9` is stored as `1000000000`), can still exceed the item.
   *
   * @default - IngestStage.MAX_DYNAMODB_RECORD_BYTES (407,552) with a DynamoDB sink, else 1048576 (1 MiB)
   */
  readonly maxRecordSizeBytes?: number;

  /**
   * Records of different partition keys processed at once within a batch (order is kept per key). Allowed: 1-100.
   * Set 1 for strictly sequential processing in sequence-number order across keys.
   *
   * @default 100 - each record waits for one sink round trip, so one shard's backlog drains at the sink's latency
   * only with many keys in flight (docs/scaling.md, measured by `npm run bench -- shard`)
   */
  readonly recordConcurrency?: number;

  // ----- in-process retries -----

  /**
   * Time the handler may spend retrying transient failures of one batch before it reports the batch item
   * failure and lets Lambda redeliver. Must be shorter than `timeout`.
   *
   * @default - 10 seconds, or half of `timeout` when that is shorter
   */
  readonly retryBudget?: Duration;

  /**
   * Base delay of the full-jitter exponential backoff between in-process retries. Allowed: 1 ms to 60 s.
   *
   * @default Duration.millis(50)
   */
  readonly retryBaseDelay?: Duration;

  /**
   * Cap of the backoff delay between in-process retries; at least `retryBaseDelay`. Allowed: up to 5 minutes.
   *
   * @default Duration.seconds(2)
   */
  readonly retryMaxDelay?: Duration;

  /**
   * Attempts per record for transient failures, the first one included (1 = no in-process retry). Allowed: 1-100.
   *
   * @default 6
   */
  readonly retryMaxAttempts?: number;

  // ----- function -----

  /**
   * Code of a team's own function (built with `createIngestHandler` from `cdk-phoenix-pipelines/runtime`)
   * to run instead of the default processor. It gets the same environment and permissions.
   *
   * @default - the library's pre-bundled ingest handler
   */
  readonly code?: lambda.Code;

  /**
   * Handler of `code`, `<file>.<export>`. Only with `code`.
   *
   * @default 'index.handler'
   */
  readonly handler?: string;

  // ----- event source mapping -----

  /**
   * Records per invocation. Allowed: 1-10,000 (within Lambda's 6 MB invocation payload; Lambda sends fewer records
   * when they would exceed it).
   *
   * @default 1000 - a batch ends with its slowest write and each invocation costs an invoke round trip: larger
   * batches amortize both, and coalesce more versions of a key (docs/scaling.md, `npm run bench -- shard`)
   */
  readonly batchSize?: number;

  /**
   * How long Lambda gathers records before invoking. Allowed: 0-300 seconds.
   *
   * @default Duration.seconds(1) - amortizes invocations at low traffic for at most one second of latency
   */
  readonly maxBatchingWindow?: Duration;

  /**
   * Split a failed batch in two and retry each half (does not consume retry attempts).
   *
   * @default true
   */
  readonly bisectBatchOnError?: boolean;

  /**
   * Retries of a failed batch before it goes to the on-failure destination (the overflow bucket).
   * Allowed: 0-10,000; unbounded retries (-1) are not allowed, one poison batch would block its shard.
   *
   * @default 10
   */
  readonly retryAttempts?: number;

  /**
   * Records older than this are not processed but sent to the on-failure destination. Allowed: 60 seconds
   * to 604,800 seconds (7 days), and at least 1 hour below the created stream's `retentionPeriod` (a record the
   * stream trims before it ages out is lost without a capture). With an imported `stream`, keep the same margin.
   *
   * @default Duration.hours(24) - a backlog of a day still drains through the function rather than to the dead letters
   */
  readonly maxRecordAge?: Duration;

  /**
   * Concurrent batches per shard (order is kept per partition key). Allowed: 1-10.
   *
   * @default 1
   */
  readonly parallelizationFactor?: number;

  /**
   * Read the stream through an enhanced fan-out consumer (`AWS::Kinesis::StreamConsumer`, registered as
   * `<stream>-<stageName>`): the stage gets its own 2 MiB/s per shard, pushed, instead of sharing 5 GetRecords/s and
   * 2 MiB/s per shard with every other standard consumer of the stream (the quality profiler and the raw archive's
   * Firehose read it too: at a shard's full write rate of 1 MiB/s, three standard consumers need 3 MiB/s). The cost:
   * enhanced fan-out is billed per consumer-shard hour and per GB delivered (see Kinesis pricing), on top of the stream.
   * On by default: measured on the local environment at the scaled write rate of one shard, the stage's iterator age
   * stayed bounded through its consumer and grew as a standard consumer (docs/scaling.md, "Reading a shard at its
   * full write rate"). Set `false` to read as a standard consumer (no enhanced fan-out charges).
   *
   * @default true
   */
  readonly enhancedFanOut?: boolean;

  /**
   * Where to start reading a new stream.
   *
   * @default lambda.StartingPosition.TRIM_HORIZON
   */
  readonly startingPosition?: lambda.StartingPosition;

  /**
   * Start time, in Unix seconds; required with `StartingPosition.AT_TIMESTAMP`, not allowed otherwise.
   *
   * @default - none
   */
  readonly startingPositionTimestamp?: number;

  // ----- dead letters -----

  /**
   * Dead letters to use (for example one shared by several stages).
   *
   * @default - a {@link DlqWithReplay} is created with `deadLetterProps`
   */
  readonly deadLetters?: IDlqWithReplay;

  /**
   * Properties of the created dead letters. Not allowed with `deadLetters`.
   *
   * @default - the {@link DlqWithReplay} defaults
   */
  readonly deadLetterProps?: DlqWithReplayProps;
}

/**
 * Properties of an {@link IngestStage}.
 */
export interface IngestStageProps extends IngestStageOptions {
  /**
   * Pipeline name: the value of `PHX_PIPELINE` (also the seed of the record id namespace) and the `Pipeline`
   * metric dimension. 1-64 characters of `[A-Za-z0-9_-]`.
   */
  readonly pipelineName: string;

  /**
   * Where the stage writes its envelopes.
   *
   * @default IngestSink.dynamoDb() - a created table
   */
  readonly sink?: IngestSink;
}

/**
 * An ingest stage: a KMS-encrypted Kinesis stream consumed by a processor function (the library's ingest handler
 * or a team's own) that decodes, validates, assigns deterministic ids and writes idempotently to a sink.
 * Failed records go to dead letters that keep their payload: the handler writes DLQ messages, and batches the
 * event source mapping gives up on go, with their records, to the dead letters' overflow bucket.
 *
 * @example
 * const stage = new IngestStage(this, 'Ingest', {
 *   pipelineName: 'clickstream',
 *   schema: { type: 'object', properties: { userId: { type: 'string' } }, required: ['userId'] },
 *   keyFields: ['userId'],
 *   sink: IngestSink.dynamoDb(),
 * });
 * stage.grantWrite(producerRole);
 */
export class IngestStage extends Construct implements IMonitorableStage {
  /**
   * Largest `maxRecordSizeBytes` with a DynamoDB sink (and its default there): a 400 KB item less the envelope's
   * overhead. Larger records need the S3 sink (objects up to 5 TB).
   */
  public static readonly MAX_DYNAMODB_RECORD_BYTES = DYNAMODB_ITEM_BYTES - DYNAMODB_ENVELOPE_OVERHEAD_BYTES;

  /** The stream the stage consumes. */
  public readonly stream: kinesis.IStream;
  /** The processor function. */
  public readonly processor: lambda.IFunction;
  /** The dead letters of the stage. */
  public readonly deadLetters: IDlqWithReplay;
  /** The sink. */
  public readonly sink: IngestSink;
  /** The bound sink: kind, target and resource. */
  public readonly sinkConfig: IngestSinkConfig;
  /** The processor's log group. */
  public readonly logGroup: logs.ILogGroup;
  /** The event source mapping from the stream to the processor. */
  public readonly eventSourceMapping: lambda.IEventSourceMapping;
  /** Id (UUID) of the event source mapping; it names the on-failure objects `aws/lambda/<id>/...`. */
  public readonly eventSourceMappingId: string;
  /** The enhanced fan-out consumer the stage reads through (`enhancedFanOut`), if any. */
  public readonly streamConsumer?: kinesis.IStreamConsumer;
  /** Pipeline name (`Pipeline` metric dimension). */
  public readonly pipelineName: string;
  /** Stage name (`Stage` metric dimension). */
  public readonly stageName: string;
  /** Deployment id (`Deployment` metric dimension): `Phoenix.deploymentIdOf(this)`, always set (optional only as in IMonitorableStage). */
  public readonly deploymentId?: string;
  /** Natural-key fields record ids are derived from (`[]` = the whole canonical payload). */
  public readonly keyFields: string[];

  constructor(scope: Construct, id: string, props: IngestStageProps) {
    super(scope, id);
    countAgainstResourceBudget(this);
    this.pipelineName = props.pipelineName;
    this.stageName = props.stageName ?? 'ingest';
    this.deploymentId = Phoenix.deploymentIdOf(this);
    this.keyFields = [...(props.keyFields ?? [])];
    checkName(this, 'pipelineName', this.pipelineName);
    checkName(this, 'stageName', this.stageName);
    const fnOptions = resolveFunctionOptions(this, props, { memorySize: 512, timeout: Duration.minutes(1) });
    const settings = this.resolveSettings(props, fnOptions.timeout);

    this.stream = this.createOrUseStream(props, settings.maxRecordAge);
    this.deadLetters = props.deadLetters ?? new DlqWithReplay(this, 'DeadLetters', props.deadLetterProps);

    const { fn, role, logGroup } = pipelineFunction(this, 'Processor', {
      owner: this,
      // The default processor validates with a module compiled here from the schema (no ajv in the function);
      // a team's own code (createIngestHandler) compiles PHX_SCHEMA with ajv at cold start.
      code: props.code ?? (props.schema === undefined ? handlerAssetCode(this, handlerAssetDir('ingest')) : ingestCodeWithSchema(this, props.schema)),
      handler: props.handler,
      description: `Phoenix ingest stage '${this.stageName}' of pipeline '${this.pipelineName}'`,
      roleDescription: `Processor of ${this.node.path}`,
      ...fnOptions,
      noVpcReason: 'The function is a Kinesis stream consumer reaching only AWS service endpoints (Kinesis, SQS, S3, DynamoDB); it needs no VPC resources.',
      noReservedConcurrencyReason: 'Concurrency is bounded by the event source mapping (shards x parallelizationFactor); reserved concurrency would only add throttling.',
      noDlqReason: 'The function is invoked synchronously by the Kinesis event source mapping: failed batches go to the mapping\'s on-failure destination (the overflow bucket), failed records to the DLQ queue; an asynchronous-invocation DLQ would never receive anything.',
      bundle: props.code ? false : 'ingest',
    });
    this.processor = fn;
    this.logGroup = logGroup;

    this.sink = props.sink ?? IngestSink.dynamoDb();
    this.sinkConfig = this.sink.bind(this, { grantee: fn });
    // Chained stages (a Kinesis sink feeding another stage of the app) must derive ids alike: checked at synth.
    registerStageChain(this, { pipelineName: this.pipelineName, keyFields: this.keyFields, customCode: props.code !== undefined },
      this.stream, this.sinkConfig.kind === 'kinesis' ? this.sinkConfig.stream : undefined);
    this.deadLetters.grantSend(fn);
    const maxRecordSizeBytes = this.recordSizeForSink(props.maxRecordSizeBytes, settings.maxRecordSizeBytes);
    this.addEnvironment(fn, props, { ...settings, maxRecordSizeBytes }, fnOptions.logLevel ?? LogLevel.INFO);

    this.stream.grantRead(fn);
    if (props.enhancedFanOut ?? true) {
      const consumer = new kinesis.StreamConsumer(this, 'StreamConsumer', { stream: this.stream, streamConsumerName: `${this.stream.streamName}-${this.stageName}` });
      consumer.grantRead(fn);
      this.streamConsumer = consumer;
    }
    const mapping = new lambda.EventSourceMapping(this, 'StreamMapping', {
      target: fn,
      eventSourceArn: this.streamConsumer?.streamConsumerArn ?? this.stream.streamArn,
      startingPosition: settings.startingPosition,
      startingPositionTimestamp: props.startingPositionTimestamp,
      batchSize: settings.batchSize,
      maxBatchingWindow: settings.maxBatchingWindow,
      bisectBatchOnError: props.bisectBatchOnError ?? true,
      retryAttempts: settings.retryAttempts,
      maxRecordAge: settings.maxRecordAge,
      parallelizationFactor: settings.parallelizationFactor,
      reportBatchItemFailures: true,
      onFailure: new OverflowBucketOnFailure(this.deadLetters.overflowBucket),
      supportS3OnFailureDestination: true,
    });
    this.eventSourceMapping = mapping;
    this.eventSourceMappingId = mapping.eventSourceMappingId;
    this.acknowledgeDesignFindings(role, props);
  }

  /**
   * Grants a producer the right to put records into the stage's stream: `kinesis:PutRecord`, `kinesis:PutRecords`,
   * `kinesis:ListShards`, and `kms:Encrypt`/`kms:GenerateDataKey*` on a customer key.
   */
  public grantWrite(grantee: iam.IGrantable): iam.Grant {
    return this.stream.grantWrite(grantee);
  }

  /**
   * Grants reading the stage's stream (for example to read failed batches back): `kinesis:DescribeStreamSummary`,
   * `kinesis:GetRecords`, `kinesis:GetShardIterator`, `kinesis:ListShards`, `kinesis:SubscribeToShard`,
   * `kinesis:DescribeStream`, `kinesis:ListStreams`, `kinesis:DescribeStreamConsumer`, and `kms:Decrypt` on a customer key.
   */
  public grantRead(grantee: iam.IGrantable): iam.Grant {
    return this.stream.grantRead(grantee);
  }

  /**
   * A metric the stage's handler emits (namespace `PhoenixPipelines`, dimensions `{ Pipeline, Stage }`).
   *
   * @param metricName one of the names of the ARCHITECTURE metrics contract, e.g. `RecordsIn`
   * @default - statistic Sum, period 5 minutes
   */
  public metric(metricName: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return stageMetric(this, metricName, props);
  }

  /**
   * Records read from the stream (`RecordsIn`).
   *
   * @default - statistic Sum, period 5 minutes
   */
  public metricRecordsIn(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric(METRIC.recordsIn, props);
  }

  /**
   * Records written to the sink (`RecordsWritten`; duplicates and stale versions are counted separately).
   *
   * @default - statistic Sum, period 5 minutes
   */
  public metricRecordsWritten(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric(METRIC.recordsWritten, props);
  }

  /**
   * Records sent to the dead letters (`RecordsDeadLettered`).
   *
   * @default - statistic Sum, period 5 minutes
   */
  public metricRecordsDeadLettered(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric(METRIC.recordsDeadLettered, props);
  }

  /**
   * Per-record processing latency in milliseconds, hop in to out (`ProcessingLatencyMs`).
   *
   * @default - statistic p99, period 5 minutes
   */
  public metricProcessingLatency(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric(METRIC.processingLatencyMs, { statistic: cloudwatch.Stats.p(99), ...props });
  }

  /**
   * Age of the last record read from the stream, in milliseconds (`AWS/Lambda` `IteratorAge` of the processor).
   *
   * @default - statistic Maximum, period 5 minutes
   */
  public metricIteratorAge(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.processor.metric('IteratorAge', { statistic: cloudwatch.Stats.MAXIMUM, period: Duration.minutes(5), ...props });
  }

  /** Resolves the stage's settings against their defaults and checks every prop (tokens are skipped). */
  private resolveSettings(props: IngestStageProps, timeout: Duration): StageSettings {
    const settings: StageSettings = {
      batchSize: props.batchSize ?? 1000,
      maxBatchingWindow: props.maxBatchingWindow ?? Duration.seconds(1),
      retryAttempts: props.retryAttempts ?? 10,
      maxRecordAge: props.maxRecordAge ?? Duration.hours(24),
      parallelizationFactor: props.parallelizationFactor ?? 1,
      startingPosition: props.startingPosition ?? lambda.StartingPosition.TRIM_HORIZON,
      maxRecordSizeBytes: props.maxRecordSizeBytes ?? 1_048_576,
      recordConcurrency: props.recordConcurrency ?? 100,
      retryBaseDelay: props.retryBaseDelay ?? Duration.millis(50),
      retryMaxDelay: props.retryMaxDelay ?? Duration.seconds(2),
      retryMaxAttempts: props.retryMaxAttempts ?? 6,
      retryBudget: props.retryBudget ?? (timeout.isUnresolved()
        ? Duration.seconds(10)
        : Duration.millis(Math.min(10_000, Math.floor(timeout.toMilliseconds() / 2)))),
      schemaText: '',
    };
    checkRange(this, 'batchSize', settings.batchSize, 1, 10_000);
    checkSeconds(this, 'maxBatchingWindow', settings.maxBatchingWindow, 0, 300);
    checkRange(this, 'retryAttempts', settings.retryAttempts, 0, 10_000);
    checkSeconds(this, 'maxRecordAge', settings.maxRecordAge, 60, 604_800);
    checkRange(this, 'parallelizationFactor', settings.parallelizationFactor, 1, 10);
    checkRange(this, 'maxRecordSizeBytes', settings.maxRecordSizeBytes, 1, 10_485_760);
    checkRange(this, 'recordConcurrency', settings.recordConcurrency, 1, 100);
    this.checkEventTimeRules(props);
    this.checkRetries(settings, timeout);
    this.checkCombinations(props, settings.startingPosition);
    const schemaText = props.schema === undefined ? '' : checkSchema(this, props.schema);
    checkKeyFields(this, this.keyFields, props.schema);
    if (props.eventTimeField !== undefined) {
      checkFieldPath(this, 'eventTimeField', props.eventTimeField, props.schema);
    }
    return { ...settings, schemaText };
  }

  /**
   * With a DynamoDB sink, records must fit a 400 KB item with their envelope: the default is lowered to
   * MAX_DYNAMODB_RECORD_BYTES and a larger given value is refused (such records could never be written, nor replayed).
   */
  private recordSizeForSink(given: number | undefined, resolved: number): number {
    if (this.sinkConfig.kind !== 'dynamodb') return resolved;
    const max = IngestStage.MAX_DYNAMODB_RECORD_BYTES;
    if (given === undefined) return max;
    if (!Token.isUnresolved(given) && given > max) {
      throw validationError(this, `maxRecordSizeBytes must be at most ${max} with a DynamoDB sink, a 400 KB item less ${DYNAMODB_ENVELOPE_OVERHEAD_BYTES} bytes of envelope `
        + `(given ${given}); records up to 10 MiB need the S3 sink (IngestSink.s3)`);
    }
    return given;
  }

  /** maxFutureSkew, minEventTime and replayMaxCount (sent to the handler only when given: its defaults are the same). */
  private checkEventTimeRules(props: IngestStageProps): void {
    checkMillis(this, 'maxFutureSkew', props.maxFutureSkew, 0, 366 * 86_400_000);
    checkRange(this, 'replayMaxCount', props.replayMaxCount, 0, 1_000);
    const min = props.minEventTime;
    if (min !== undefined && (!(min instanceof Date) || !(min.getTime() >= EVENT_TIME_MIN_MS && min.getTime() <= EVENT_TIME_MAX_MS))) {
      throw validationError(this, `minEventTime must be a valid date of years 0000-9999 (given ${min instanceof Date ? String(min) : typeof min})`);
    }
  }

  private checkRetries(s: StageSettings, timeout: Duration): void {
    checkMillis(this, 'retryBaseDelay', s.retryBaseDelay, 1, 60_000);
    checkMillis(this, 'retryMaxDelay', s.retryMaxDelay, 1, 300_000);
    checkRange(this, 'retryMaxAttempts', s.retryMaxAttempts, 1, 100);
    if (!s.retryBaseDelay.isUnresolved() && !s.retryMaxDelay.isUnresolved() && s.retryMaxDelay.toMilliseconds() < s.retryBaseDelay.toMilliseconds()) {
      throw validationError(this, `retryMaxDelay must be at least retryBaseDelay (given ${s.retryMaxDelay.toHumanString()}, retryBaseDelay ${s.retryBaseDelay.toHumanString()})`);
    }
    const budget = s.retryBudget;
    if (!budget.isUnresolved() && !timeout.isUnresolved() && (budget.toMilliseconds() < 0 || budget.toMilliseconds() >= timeout.toMilliseconds())) {
      throw validationError(this, `retryBudget must be shorter than timeout, or the function times out while retrying (given ${budget.toHumanString()}, timeout ${timeout.toHumanString()})`);
    }
  }

  private checkCombinations(props: IngestStageProps, startingPosition: lambda.StartingPosition): void {
    if (props.handler !== undefined && props.code === undefined) {
      throw validationError(this, `handler can only be set together with code (given handler '${props.handler}' and no code)`);
    }
    if ((startingPosition === lambda.StartingPosition.AT_TIMESTAMP) !== (props.startingPositionTimestamp !== undefined)) {
      throw validationError(this, `startingPositionTimestamp is required with StartingPosition.AT_TIMESTAMP and not allowed otherwise (given startingPosition ${startingPosition}, startingPositionTimestamp ${props.startingPositionTimestamp ?? 'unset'})`);
    }
    if (props.deadLetters && props.deadLetterProps) {
      throw validationError(this, 'deadLetterProps describe created dead letters and cannot be combined with deadLetters (given both)');
    }
  }

  /** The handler's configuration (ARCHITECTURE: handler configuration), checked against Lambda's 4 KB limit. */
  private addEnvironment(fn: lambda.Function, props: IngestStageProps, s: StageSettings, logLevel: LogLevel): void {
    const environment: Record<string, string> = {
      [ENV.pipeline]: this.pipelineName,
      [ENV.deployment]: Phoenix.deploymentIdOf(this),
      [ENV.stage]: this.stageName,
      [ENV.keyFields]: JSON.stringify(this.keyFields),
      ...(props.eventTimeField !== undefined ? { [ENV.eventTimeField]: props.eventTimeField } : {}),
      [ENV.schema]: s.schemaText,
      ...(props.schema !== undefined && props.code === undefined ? { [ENV.schemaModule]: SCHEMA_VALIDATOR_FILE } : {}),
      [ENV.maxRecordBytes]: Tokenization.stringifyNumber(s.maxRecordSizeBytes),
      [ENV.sinkKind]: this.sinkConfig.kind,
      [ENV.sinkTarget]: this.sinkConfig.target,
      [ENV.dlqUrl]: this.deadLetters.queue.queueUrl,
      [ENV.dlqOverflowBucket]: this.deadLetters.overflowBucket.bucketName,
      [ENV.dlqMaxMessageBytes]: Tokenization.stringifyNumber(this.deadLetters.maxMessageBytes),
      [ENV.retryBudgetMs]: Tokenization.stringifyNumber(s.retryBudget.toMilliseconds()),
      [ENV.retryBaseMs]: Tokenization.stringifyNumber(s.retryBaseDelay.toMilliseconds()),
      [ENV.retryCapMs]: Tokenization.stringifyNumber(s.retryMaxDelay.toMilliseconds()),
      [ENV.retryMaxAttempts]: Tokenization.stringifyNumber(s.retryMaxAttempts),
      [ENV.recordConcurrency]: Tokenization.stringifyNumber(s.recordConcurrency),
      ...(props.maxFutureSkew !== undefined ? { [ENV.maxFutureSkewMs]: Tokenization.stringifyNumber(props.maxFutureSkew.toMilliseconds()) } : {}),
      ...(props.minEventTime !== undefined ? { [ENV.minEventTimeMs]: String(props.minEventTime.getTime()) } : {}),
      ...(props.replayMaxCount !== undefined ? { [ENV.replayMaxCount]: Tokenization.stringifyNumber(props.replayMaxCount) } : {}),
      POWERTOOLS_SERVICE_NAME: this.pipelineName,
      POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
      POWERTOOLS_LOG_LEVEL: logLevel,
    };
    checkEnvironmentSize(this, environment,
      `${ENV.schema} alone is ${Buffer.byteLength(s.schemaText)} bytes: shorten the schema (drop descriptions, examples) or validate fewer fields`);
    for (const [k, v] of Object.entries(environment)) {
      fn.addEnvironment(k, v);
    }
  }

  private createOrUseStream(props: IngestStageProps, maxRecordAge: Duration): kinesis.IStream {
    if (props.stream) {
      const conflicting = (['streamMode', 'shardCount', 'retentionPeriod', 'encryptionKey', 'removalPolicy'] as const)
        .filter((k) => props[k] !== undefined);
      if (conflicting.length > 0) {
        throw validationError(this, `${conflicting.join(', ')} describe a created stream and cannot be combined with stream (given ${conflicting.join(', ')} and stream)`);
      }
      return props.stream;
    }
    const streamMode = props.streamMode ?? kinesis.StreamMode.ON_DEMAND;
    const retentionPeriod = props.retentionPeriod ?? Duration.days(7);
    if (streamMode === kinesis.StreamMode.ON_DEMAND && props.shardCount !== undefined) {
      throw validationError(this, `shardCount requires streamMode PROVISIONED (given shardCount ${props.shardCount} with ON_DEMAND)`);
    }
    checkRange(this, 'shardCount', props.shardCount, 1, 10_000);
    if (!retentionPeriod.isUnresolved()) {
      const hours = retentionPeriod.toHours({ integral: false });
      if (!Number.isInteger(hours) || hours < 24 || hours > 8_760) {
        throw validationError(this, `retentionPeriod must be a whole number of hours between 24 and 8760 (given ${retentionPeriod.toHumanString()})`);
      }
      const latest = retentionPeriod.toSeconds() - MAX_RECORD_AGE_MARGIN.toSeconds();
      if (!maxRecordAge.isUnresolved() && maxRecordAge.toSeconds() > latest) {
        throw validationError(this, `maxRecordAge must be at least ${MAX_RECORD_AGE_MARGIN.toHumanString()} below the stream retentionPeriod, `
          + 'so that an old record goes to the on-failure destination before Kinesis trims it '
          + `(given ${maxRecordAge.toHumanString()}, retentionPeriod ${retentionPeriod.toHumanString()}: allowed up to ${Duration.seconds(latest).toHumanString()})`);
      }
    }
    return new kinesis.Stream(this, 'Stream', {
      streamMode,
      shardCount: streamMode === kinesis.StreamMode.PROVISIONED ? props.shardCount ?? 1 : undefined,
      retentionPeriod,
      encryption: props.encryptionKey ? kinesis.StreamEncryption.KMS : kinesis.StreamEncryption.MANAGED,
      encryptionKey: props.encryptionKey,
      removalPolicy: props.removalPolicy ?? Phoenix.removalPolicyFor(this, StatefulKind.STREAM),
    });
  }

  /** Acknowledges the findings inherent to the stage's design (the function's own: {@link pipelineFunction}). */
  private acknowledgeDesignFindings(role: iam.Role, props: IngestStageProps): void {
    if (!props.stream && !props.encryptionKey) {
      acknowledge(this.stream,
        'The stream is encrypted with the AWS managed key alias/aws/kinesis by default; pass encryptionKey to use a customer managed key.',
        'AwsSolutions-KDS3');
    }
    const overflow = this.deadLetters.overflowBucket;
    acknowledge(role,
      `The handler writes oversize dead-letter payloads under ${this.deadLetters.overflowPrefix} and the event source mapping writes on-failure records under ${ESM_ON_FAILURE_PREFIX} of the overflow bucket: object keys are generated, so the grants are scoped to those prefixes.`,
      wildcardResourceFinding(this, overflow.arnForObjects(`${this.deadLetters.overflowPrefix}*`)),
      wildcardResourceFinding(this, overflow.arnForObjects(`${ESM_ON_FAILURE_PREFIX}*`)));
    if (this.sinkConfig.kind === 's3' && this.sinkConfig.bucket) {
      acknowledge(role,
        `The S3 sink writes objects <prefix><id>.json: keys are record ids, so the grant is scoped to the prefix '${this.sinkConfig.prefix ?? ''}'.`,
        wildcardResourceFinding(this, this.sinkConfig.bucket.arnForObjects(`${this.sinkConfig.prefix ?? ''}*`)));
    }
  }
}

/**
 * On-failure destination into the dead letters' overflow bucket, keeping the failed records (Lambda writes the
 * whole invocation record to S3 destinations). Unlike `S3OnFailureDestination`, which grants read/write on the
 * whole bucket, this grants only what Lambda needs: `s3:PutObject` under ESM_ON_FAILURE_PREFIX and `s3:ListBucket`.
 */
class OverflowBucketOnFailure implements lambda.IEventSourceDlq {
  constructor(private readonly bucket: s3.IBucket) {}

  public bind(_target: lambda.IEventSourceMapping, targetHandler: lambda.IFunction): lambda.DlqDestinationConfig {
    iam.Grant.addToPrincipal({
      grantee: targetHandler,
      actions: ['s3:PutObject'],
      resourceArns: [this.bucket.arnForObjects(`${ESM_ON_FAILURE_PREFIX}*`)],
    });
    iam.Grant.addToPrincipal({ grantee: targetHandler, actions: ['s3:ListBucket'], resourceArns: [this.bucket.bucketArn] });
    this.bucket.encryptionKey?.grantEncrypt(targetHandler);
    return { destination: this.bucket.bucketArn };
  }
}
