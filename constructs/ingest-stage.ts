import * as path from 'path';
import { Duration, type RemovalPolicy, Token, Tokenization } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kinesis from 'aws-cdk-lib/aws-kinesis';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { ENV, HANDLER_ASSET_DIR, METRIC, METRICS_NAMESPACE, METRIC_DIMENSIONS, RUNTIME_BUNDLE, SCHEMA_VALIDATOR_FILE } from './contract';
import { DlqWithReplay, type DlqWithReplayProps, type IDlqWithReplay } from './dlq-with-replay';
import { IngestSink, type IngestSinkConfig } from './ingest-sink';
import type { IMonitorableStage } from './monitoring/pipeline';
import { Phoenix, StatefulKind } from './phoenix';
import { handlerAssetCode, ingestCodeWithSchema } from './private/asset';
import { acknowledge, wildcardResourceFinding } from './private/nag';
import { checkFieldPath, checkKeyFields, checkSchema } from './private/schema';
import { checkMillis, checkName, checkRange, checkSeconds } from './private/validate';

/** Log levels of the handler (Powertools `POWERTOOLS_LOG_LEVEL`). */
const LOG_LEVELS = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'CRITICAL', 'SILENT'];
/** Lambda's limit on the total size of a function's environment variables (keys and values). */
const LAMBDA_ENV_LIMIT_BYTES = 4096;
/** Size assumed for a value only known at deploy time (queue URL, bucket or table name, stream ARN). */
const UNRESOLVED_VALUE_BYTES = 256;
const OWNER = 'IngestStage';

/**
 * Options of an ingest stage: everything but the pipeline name and the sink
 * (what {@link DataPipeline} passes through).
 */
export interface IngestStageOptions {
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
   * Decoded payloads larger than this go to the dead letters with reason `oversize`. Allowed: 1 to 10,485,760
   * (the Kinesis record limit).
   *
   * @default 1048576 (1 MiB)
   */
  readonly maxRecordSizeBytes?: number;

  /**
   * Records of different partition keys processed at once within a batch (order is kept per key). Allowed: 1-100.
   *
   * @default 1 - strictly sequential
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

  /**
   * Memory of the processor function, in MiB. Allowed: 128-10,240.
   *
   * @default 512
   */
  readonly memorySize?: number;

  /**
   * Timeout of the processor function. Allowed: 1 second to 15 minutes.
   *
   * @default Duration.minutes(1)
   */
  readonly timeout?: Duration;

  /**
   * Log level of the handler (`POWERTOOLS_LOG_LEVEL`): TRACE, DEBUG, INFO, WARN, ERROR, CRITICAL or SILENT.
   *
   * @default 'INFO'
   */
  readonly logLevel?: string;

  /**
   * Retention of the processor's log group.
   *
   * @default logs.RetentionDays.THREE_MONTHS
   */
  readonly logRetention?: logs.RetentionDays;

  /**
   * Customer managed KMS key encrypting the processor's log group. Its key policy must allow the CloudWatch Logs
   * service principal (`logs.<region>.amazonaws.com`) to use it.
   *
   * @default - CloudWatch Logs' service-managed encryption
   */
  readonly logEncryptionKey?: kms.IKey;

  /**
   * Removal policy of the processor's log group.
   *
   * @default - `Phoenix.removalPolicyFor(scope, StatefulKind.LOGS)`: RemovalPolicy.DESTROY in both Phoenix modes
   * (set RemovalPolicy.RETAIN to keep logs after a teardown until their retention expires)
   */
  readonly logRemovalPolicy?: RemovalPolicy;

  // ----- event source mapping -----

  /**
   * Records per invocation. Allowed: 1-10,000 (within Lambda's 6 MB invocation payload).
   *
   * @default 100
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
   * to 604,800 seconds (7 days), and at most the created stream's `retentionPeriod`.
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
  /** Pipeline name (`Pipeline` metric dimension). */
  public readonly pipelineName: string;
  /** Stage name (`Stage` metric dimension). */
  public readonly stageName: string;
  /** Natural-key fields record ids are derived from (`[]` = the whole canonical payload). */
  public readonly keyFields: string[];

  constructor(scope: Construct, id: string, props: IngestStageProps) {
    super(scope, id);

    this.pipelineName = props.pipelineName;
    this.stageName = props.stageName ?? 'ingest';
    checkName(OWNER, 'pipelineName', this.pipelineName);
    checkName(OWNER, 'stageName', this.stageName);

    const timeout = props.timeout ?? Duration.minutes(1);
    const memorySize = props.memorySize ?? 512;
    const batchSize = props.batchSize ?? 100;
    const maxBatchingWindow = props.maxBatchingWindow ?? Duration.seconds(1);
    const retryAttempts = props.retryAttempts ?? 10;
    const maxRecordAge = props.maxRecordAge ?? Duration.hours(24);
    const parallelizationFactor = props.parallelizationFactor ?? 1;
    const startingPosition = props.startingPosition ?? lambda.StartingPosition.TRIM_HORIZON;
    const maxRecordSizeBytes = props.maxRecordSizeBytes ?? 1_048_576;
    const recordConcurrency = props.recordConcurrency ?? 1;
    const retryBaseDelay = props.retryBaseDelay ?? Duration.millis(50);
    const retryMaxDelay = props.retryMaxDelay ?? Duration.seconds(2);
    const retryMaxAttempts = props.retryMaxAttempts ?? 6;
    const retryBudget = props.retryBudget ?? (timeout.isUnresolved()
      ? Duration.seconds(10)
      : Duration.millis(Math.min(10_000, Math.floor(timeout.toMilliseconds() / 2))));
    const logLevel = props.logLevel ?? 'INFO';
    const keyFields = props.keyFields ?? [];
    this.keyFields = [...keyFields];

    checkRange(OWNER, 'batchSize', batchSize, 1, 10_000);
    checkSeconds(OWNER, 'maxBatchingWindow', maxBatchingWindow, 0, 300);
    checkRange(OWNER, 'retryAttempts', retryAttempts, 0, 10_000);
    checkSeconds(OWNER, 'maxRecordAge', maxRecordAge, 60, 604_800);
    checkRange(OWNER, 'parallelizationFactor', parallelizationFactor, 1, 10);
    checkRange(OWNER, 'maxRecordSizeBytes', maxRecordSizeBytes, 1, 10_485_760);
    checkRange(OWNER, 'recordConcurrency', recordConcurrency, 1, 100);
    checkRange(OWNER, 'memorySize', memorySize, 128, 10_240, 'MiB');
    checkSeconds(OWNER, 'timeout', timeout, 1, 900);
    checkMillis(OWNER, 'retryBaseDelay', retryBaseDelay, 1, 60_000);
    checkMillis(OWNER, 'retryMaxDelay', retryMaxDelay, 1, 300_000);
    checkRange(OWNER, 'retryMaxAttempts', retryMaxAttempts, 1, 100);
    if (!retryBaseDelay.isUnresolved() && !retryMaxDelay.isUnresolved() && retryMaxDelay.toMilliseconds() < retryBaseDelay.toMilliseconds()) {
      throw new Error(`${OWNER} retryMaxDelay must be at least retryBaseDelay (given ${retryMaxDelay.toHumanString()}, retryBaseDelay ${retryBaseDelay.toHumanString()})`);
    }
    if (!retryBudget.isUnresolved() && !timeout.isUnresolved()
      && (retryBudget.toMilliseconds() < 0 || retryBudget.toMilliseconds() >= timeout.toMilliseconds())) {
      throw new Error(`${OWNER} retryBudget must be shorter than timeout, or the function times out while retrying (given ${retryBudget.toHumanString()}, timeout ${timeout.toHumanString()})`);
    }
    if (!Token.isUnresolved(logLevel) && !LOG_LEVELS.includes(logLevel)) {
      throw new Error(`${OWNER} logLevel must be one of ${LOG_LEVELS.join(', ')} (given '${logLevel}')`);
    }
    if (props.handler !== undefined && props.code === undefined) {
      throw new Error(`${OWNER} handler can only be set together with code (given handler '${props.handler}' and no code)`);
    }
    if ((startingPosition === lambda.StartingPosition.AT_TIMESTAMP) !== (props.startingPositionTimestamp !== undefined)) {
      throw new Error(`${OWNER} startingPositionTimestamp is required with StartingPosition.AT_TIMESTAMP and not allowed otherwise (given startingPosition ${startingPosition}, startingPositionTimestamp ${props.startingPositionTimestamp ?? 'unset'})`);
    }
    if (props.deadLetters && props.deadLetterProps) {
      throw new Error(`${OWNER} deadLetterProps describe created dead letters and cannot be combined with deadLetters (given both)`);
    }
    const schemaText = props.schema === undefined ? '' : checkSchema(OWNER, props.schema);
    checkKeyFields(OWNER, keyFields, props.schema);
    if (props.eventTimeField !== undefined) {
      checkFieldPath(OWNER, 'eventTimeField', props.eventTimeField, props.schema);
    }

    // ----- stream -----
    this.stream = this.createOrUseStream(props, maxRecordAge);

    // ----- dead letters -----
    this.deadLetters = props.deadLetters ?? new DlqWithReplay(this, 'DeadLetters', props.deadLetterProps);

    // ----- processor -----
    this.logGroup = new logs.LogGroup(this, 'ProcessorLogs', {
      retention: props.logRetention ?? logs.RetentionDays.THREE_MONTHS,
      encryptionKey: props.logEncryptionKey,
      removalPolicy: props.logRemovalPolicy ?? Phoenix.removalPolicyFor(this, StatefulKind.LOGS),
    });
    // A role without the AWSLambdaBasicExecutionRole managed policy: logs are granted on the stage's log group only.
    const role = new iam.Role(this, 'ProcessorRole', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `Processor of ${this.node.path}`,
    });
    this.logGroup.grantWrite(role);

    const fn = new lambda.Function(this, 'Processor', {
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      // The default processor validates with a module compiled here from the schema (no ajv in the function);
      // a team's own code (createIngestHandler) compiles PHX_SCHEMA with ajv at cold start.
      code: props.code ?? (props.schema === undefined
        ? handlerAssetCode(OWNER, path.join(__dirname, '..', HANDLER_ASSET_DIR.ingest))
        : ingestCodeWithSchema(OWNER, path.join(__dirname, '..', HANDLER_ASSET_DIR.ingest), path.join(__dirname, '..', RUNTIME_BUNDLE), props.schema, SCHEMA_VALIDATOR_FILE)),
      handler: props.handler ?? 'index.handler',
      memorySize,
      timeout,
      tracing: lambda.Tracing.ACTIVE,
      role,
      logGroup: this.logGroup,
      description: `Phoenix ingest stage '${this.stageName}' of pipeline '${this.pipelineName}'`,
    });
    this.processor = fn;

    // ----- sink -----
    this.sink = props.sink ?? IngestSink.dynamoDb();
    this.sinkConfig = this.sink.bind(this, { grantee: fn });

    // ----- dead letters: handler writes -----
    this.deadLetters.grantSend(fn);

    // ----- environment -----
    const environment: Record<string, string> = {
      [ENV.pipeline]: this.pipelineName,
      [ENV.stage]: this.stageName,
      [ENV.keyFields]: JSON.stringify(keyFields),
      ...(props.eventTimeField !== undefined ? { [ENV.eventTimeField]: props.eventTimeField } : {}),
      [ENV.schema]: schemaText,
      ...(props.schema !== undefined && props.code === undefined ? { [ENV.schemaModule]: SCHEMA_VALIDATOR_FILE } : {}),
      [ENV.maxRecordBytes]: Tokenization.stringifyNumber(maxRecordSizeBytes),
      [ENV.sinkKind]: this.sinkConfig.kind,
      [ENV.sinkTarget]: this.sinkConfig.target,
      [ENV.dlqUrl]: this.deadLetters.queue.queueUrl,
      [ENV.dlqOverflowBucket]: this.deadLetters.overflowBucket.bucketName,
      [ENV.dlqMaxMessageBytes]: Tokenization.stringifyNumber(this.deadLetters.maxMessageBytes),
      [ENV.retryBudgetMs]: Tokenization.stringifyNumber(retryBudget.toMilliseconds()),
      [ENV.retryBaseMs]: Tokenization.stringifyNumber(retryBaseDelay.toMilliseconds()),
      [ENV.retryCapMs]: Tokenization.stringifyNumber(retryMaxDelay.toMilliseconds()),
      [ENV.retryMaxAttempts]: Tokenization.stringifyNumber(retryMaxAttempts),
      [ENV.recordConcurrency]: Tokenization.stringifyNumber(recordConcurrency),
      POWERTOOLS_SERVICE_NAME: this.pipelineName,
      POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
      POWERTOOLS_LOG_LEVEL: logLevel,
    };
    checkEnvironmentSize(environment);
    for (const [k, v] of Object.entries(environment)) {
      fn.addEnvironment(k, v);
    }

    // ----- event source mapping -----
    this.stream.grantRead(fn);
    const mapping = new lambda.EventSourceMapping(this, 'StreamMapping', {
      target: fn,
      eventSourceArn: this.stream.streamArn,
      startingPosition,
      startingPositionTimestamp: props.startingPositionTimestamp,
      batchSize,
      maxBatchingWindow,
      bisectBatchOnError: props.bisectBatchOnError ?? true,
      retryAttempts,
      maxRecordAge,
      parallelizationFactor,
      reportBatchItemFailures: true,
      onFailure: new OverflowBucketOnFailure(this.deadLetters.overflowBucket),
      supportS3OnFailureDestination: true,
    });
    this.eventSourceMapping = mapping;
    this.eventSourceMappingId = mapping.eventSourceMappingId;

    this.acknowledgeDesignFindings(role, fn, props);
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
    return new cloudwatch.Metric({
      namespace: METRICS_NAMESPACE,
      metricName,
      dimensionsMap: { [METRIC_DIMENSIONS.pipeline]: this.pipelineName, [METRIC_DIMENSIONS.stage]: this.stageName },
      statistic: cloudwatch.Stats.SUM,
      period: Duration.minutes(5),
      ...props,
    });
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

  private createOrUseStream(props: IngestStageProps, maxRecordAge: Duration): kinesis.IStream {
    if (props.stream) {
      const conflicting = (['streamMode', 'shardCount', 'retentionPeriod', 'encryptionKey', 'removalPolicy'] as const)
        .filter((k) => props[k] !== undefined);
      if (conflicting.length > 0) {
        throw new Error(`${OWNER} ${conflicting.join(', ')} describe a created stream and cannot be combined with stream (given ${conflicting.join(', ')} and stream)`);
      }
      return props.stream;
    }
    const streamMode = props.streamMode ?? kinesis.StreamMode.ON_DEMAND;
    const retentionPeriod = props.retentionPeriod ?? Duration.days(7);
    if (streamMode === kinesis.StreamMode.ON_DEMAND && props.shardCount !== undefined) {
      throw new Error(`${OWNER} shardCount requires streamMode PROVISIONED (given shardCount ${props.shardCount} with ON_DEMAND)`);
    }
    checkRange(OWNER, 'shardCount', props.shardCount, 1, 10_000);
    if (!retentionPeriod.isUnresolved()) {
      const hours = retentionPeriod.toHours({ integral: false });
      if (!Number.isInteger(hours) || hours < 24 || hours > 8_760) {
        throw new Error(`${OWNER} retentionPeriod must be a whole number of hours between 24 and 8760 (given ${retentionPeriod.toHumanString()})`);
      }
      if (!maxRecordAge.isUnresolved() && maxRecordAge.toSeconds() > retentionPeriod.toSeconds()) {
        throw new Error(`${OWNER} maxRecordAge must not exceed the stream retentionPeriod (given ${maxRecordAge.toHumanString()}, retentionPeriod ${retentionPeriod.toHumanString()})`);
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

  /** Acknowledges the policy-validation findings inherent to the design, each with its cause. */
  private acknowledgeDesignFindings(role: iam.Role, fn: lambda.Function, props: IngestStageProps): void {
    if (!props.stream && !props.encryptionKey) {
      acknowledge(this.stream,
        'The stream is encrypted with the AWS managed key alias/aws/kinesis by default; pass encryptionKey to use a customer managed key.',
        'AwsSolutions-KDS3');
    }
    if (!props.logEncryptionKey) {
      acknowledge(this.logGroup,
        'CloudWatch Logs encrypts log data at rest with service-managed keys by default; pass logEncryptionKey to use a customer managed key.',
        'NIST.800.53.R5-CloudWatchLogGroupEncrypted', 'HIPAA.Security-CloudWatchLogGroupEncrypted', 'PCI.DSS.321-CloudWatchLogGroupEncrypted');
    }
    acknowledge(role,
      'The role is created for this function only; CDK attaches its per-resource least-privilege grants as an AWS::IAM::Policy of this role, which no other principal could reuse as a managed policy.',
      'NIST.800.53.R5-IAMNoInlinePolicy', 'HIPAA.Security-IAMNoInlinePolicy', 'PCI.DSS.321-IAMNoInlinePolicy');
    acknowledge(role,
      'AWS X-Ray (tracing ACTIVE) has no resource-level permissions: xray:PutTraceSegments and xray:PutTelemetryRecords require Resource "*".',
      'AwsSolutions-IAM5[Resource::*]');
    const overflow = this.deadLetters.overflowBucket;
    acknowledge(role,
      `The handler writes oversize dead-letter payloads under ${this.deadLetters.overflowPrefix} and the event source mapping writes on-failure records under ${DlqWithReplay.ON_FAILURE_PREFIX} of the overflow bucket: object keys are generated, so the grants are scoped to those prefixes.`,
      wildcardResourceFinding(this, overflow.arnForObjects(`${this.deadLetters.overflowPrefix}*`)),
      wildcardResourceFinding(this, overflow.arnForObjects(`${DlqWithReplay.ON_FAILURE_PREFIX}*`)));
    if (this.sinkConfig.kind === 's3' && this.sinkConfig.bucket) {
      acknowledge(role,
        `The S3 sink writes objects <prefix><id>.json: keys are record ids, so the grant is scoped to the prefix '${this.sinkConfig.prefix ?? ''}'.`,
        wildcardResourceFinding(this, this.sinkConfig.bucket.arnForObjects(`${this.sinkConfig.prefix ?? ''}*`)));
    }
    acknowledge(fn,
      'The function is a Kinesis stream consumer reaching only AWS service endpoints (Kinesis, SQS, S3, DynamoDB); it needs no VPC resources.',
      'NIST.800.53.R5-LambdaInsideVPC', 'HIPAA.Security-LambdaInsideVPC', 'PCI.DSS.321-LambdaInsideVPC');
    acknowledge(fn,
      'Concurrency is bounded by the event source mapping (shards x parallelizationFactor); reserved concurrency would only add throttling.',
      'NIST.800.53.R5-LambdaConcurrency', 'HIPAA.Security-LambdaConcurrency');
    acknowledge(fn,
      'The function is invoked synchronously by the Kinesis event source mapping: failed batches go to the mapping\'s on-failure destination (the overflow bucket), failed records to the DLQ queue; an asynchronous-invocation DLQ would never receive anything.',
      'NIST.800.53.R5-LambdaDLQ', 'HIPAA.Security-LambdaDLQ', 'Serverless-LambdaDLQ');
    if (!props.code) {
      acknowledge(fn,
        'The pre-bundled ingest handler is built for Node.js 22 (esbuild target node22); the runtime follows the bundle target.',
        'AwsSolutions-L1', 'Serverless-LambdaLatestVersion');
    }
  }
}

/**
 * On-failure destination into the dead letters' overflow bucket, keeping the failed records (Lambda writes the
 * whole invocation record to S3 destinations). Unlike `S3OnFailureDestination`, which grants read/write on the
 * whole bucket, this grants only what Lambda needs: `s3:PutObject` under `aws/lambda/` and `s3:ListBucket`.
 */
class OverflowBucketOnFailure implements lambda.IEventSourceDlq {
  constructor(private readonly bucket: s3.IBucket) {}

  public bind(_target: lambda.IEventSourceMapping, targetHandler: lambda.IFunction): lambda.DlqDestinationConfig {
    iam.Grant.addToPrincipal({
      grantee: targetHandler,
      actions: ['s3:PutObject'],
      resourceArns: [this.bucket.arnForObjects(`${DlqWithReplay.ON_FAILURE_PREFIX}*`)],
    });
    iam.Grant.addToPrincipal({ grantee: targetHandler, actions: ['s3:ListBucket'], resourceArns: [this.bucket.bucketArn] });
    this.bucket.encryptionKey?.grantEncrypt(targetHandler);
    return { destination: this.bucket.bucketArn };
  }
}

/** Lambda rejects a function whose environment (keys and values) exceeds 4 KB: fail at synth instead of deploy. */
function checkEnvironmentSize(env: Record<string, string>): void {
  let total = 0;
  for (const [k, v] of Object.entries(env)) {
    total += Buffer.byteLength(k) + (Token.isUnresolved(v) ? UNRESOLVED_VALUE_BYTES : Buffer.byteLength(v));
  }
  if (total > LAMBDA_ENV_LIMIT_BYTES) {
    const schemaBytes = Buffer.byteLength(env[ENV.schema] ?? '');
    throw new Error(`${OWNER} environment variables take ${total} bytes (at most ${LAMBDA_ENV_LIMIT_BYTES} bytes allowed by Lambda, counting ${UNRESOLVED_VALUE_BYTES} bytes for each deploy-time value); ${ENV.schema} alone is ${schemaBytes} bytes: shorten the schema (drop descriptions, examples) or validate fewer fields`);
  }
}

