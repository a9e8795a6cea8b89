/**
 * The ingest handler factory shared by the default asset (ingest.ts) and the runtime subpath export
 * (lib/runtime/index.ts). They differ only in how a schema becomes a validator (see {@link SchemaResolver}): the
 * runtime export compiles PHX_SCHEMA with ajv at cold start; the default asset loads the module compiled at synth
 * (PHX_SCHEMA_MODULE) and bundles no ajv.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import type { Context, KinesisStreamBatchResponse, KinesisStreamEvent } from 'aws-lambda';
import { loadConfig, type IngestConfig, type RetryConfig } from './config';
import { ConfigError } from '../core/errors';
import { createConfiguredDlq, createConfiguredSink } from './ports/factory';
import type { DlqPort, SinkPort } from './ports/types';
import { createProcessor, type Clock, type Transform } from './processor';
import type { PayloadValidator } from './schema-errors';
import { loadStandaloneValidator, schemaFingerprint, SCHEMA_MODULE_ENV } from './schema-module';
import { deploymentDimension, ENV, METRIC_DIMENSIONS, METRICS_NAMESPACE } from '../../constructs/contract';
import { idNamespaceFor, RetryTokenBucket } from '../core';

/**
 * Turns the configured schema into a validator at cold start (undefined: no validation).
 * `variable` names where the schema came from (PHX_SCHEMA or options.schema) for error messages.
 */
export type SchemaResolver = (
  config: IngestConfig,
  env: Readonly<Record<string, string | undefined>>,
  variable: string,
) => PayloadValidator | undefined;

/**
 * The default asset's resolver: the validator module compiled at synth, `PHX_SCHEMA_MODULE` (a file name in `dir`, the
 * function's code directory). When PHX_SCHEMA is set too, the module must have been compiled from it (fingerprint).
 * A schema without a module is a configuration error: this bundle has no ajv to compile it, and records must never
 * pass unvalidated.
 */
export function standaloneSchemaResolver(dir: string): SchemaResolver {
  return (config, env, variable) => {
    const file = env[SCHEMA_MODULE_ENV]?.trim();
    if (file) return loadStandaloneValidator(dir, file, config.schema ? schemaFingerprint(config.schema) : undefined);
    if (config.schema) {
      throw new ConfigError(SCHEMA_MODULE_ENV, env[SCHEMA_MODULE_ENV],
        `the validator module compiled at synth from ${variable} (the construct writes it next to the handler): the default ingest asset does not `
        + 'bundle ajv; a function of your own built with createIngestHandler from cdk-phoenix-pipelines/runtime compiles the schema at cold start');
    }
    return undefined;
  };
}

/** A Lambda handler for a Kinesis event source mapping with `ReportBatchItemFailures`. */
export type IngestHandler = (event: KinesisStreamEvent, context: Context) => Promise<KinesisStreamBatchResponse>;

/**
 * Options of {@link createIngestHandler}. Every option overrides the corresponding PHX_* environment variable set by
 * the construct (docs/ARCHITECTURE.md, "Handler configuration").
 */
export interface IngestHandlerOptions {
  /**
   * The per-record transform, applied after schema validation and before the sink write. Return the (new) payload
   * object, or null to drop the record (counted as filtered). Throw `PermanentError('transform', msg)` or any plain
   * Error to dead-letter the record with reason class `transform`; throw `TransientError` (or let an AWS SDK
   * throttling/timeout/5xx error through) to have it retried. The record id is computed before the transform, from
   * the received payload; the sink's content hash is computed after it.
   * @default identity
   */
  readonly transform?: Transform;
  /** JSON Schema (draft-07 or 2020-12) of the received payload. @default PHX_SCHEMA, else no validation */
  readonly schema?: object;
  /** Natural-key dot paths; `[]` = whole canonical payload. @default PHX_KEY_FIELDS, else [] */
  readonly keyFields?: readonly string[];
  /** Dot path of the payload's event-time field (ISO-8601 or epoch ms). @default PHX_EVENT_TIME_FIELD, else `eventTime`, else `timestamp`, else the arrival time */
  readonly eventTimeField?: string;
  /** Pipeline name (metric dimension, id namespace seed). @default PHX_PIPELINE (required one way or the other) */
  readonly pipeline?: string;
  /** Stage name (hop name, metric dimension). @default PHX_STAGE, else 'ingest' */
  readonly stage?: string;
  /** UUID namespace of record ids. @default PHX_ID_NAMESPACE, else idNamespaceFor(pipeline) */
  readonly idNamespace?: string;
  /** Decoded record size limit in bytes; larger records are dead-lettered as `oversize`. @default PHX_MAX_RECORD_BYTES, else 1 MiB */
  readonly maxRecordBytes?: number;
  /** Records of different partition keys in flight (order is kept within a key). @default PHX_RECORD_CONCURRENCY, else 100 */
  readonly recordConcurrency?: number;
  /** In-process retry of transient failures. @default PHX_RETRY_* */
  readonly retry?: Partial<RetryConfig>;
  /** A sink of your own, used instead of PHX_SINK_KIND/PHX_SINK_TARGET. It must be idempotent (see SinkPort). */
  readonly sink?: SinkPort;
  /** A dead-letter port of your own, used instead of PHX_DLQ_URL/PHX_DLQ_OVERFLOW_BUCKET. */
  readonly dlq?: DlqPort;
  /** Powertools Logger to use. @default a new Logger (POWERTOOLS_SERVICE_NAME, POWERTOOLS_LOG_LEVEL) */
  readonly logger?: Logger;
  /**
   * Powertools Metrics to use. Its namespace should be METRICS_NAMESPACE and its default dimensions exactly
   * { Pipeline, Stage }: the construct's dashboard and alarms query those.
   * @default a new Metrics configured that way
   */
  readonly metrics?: Metrics;
  /** Time kept free before the Lambda timeout: no record starts and no retry waits past it. @default 1000 ms */
  readonly safetyMarginMs?: number;
  /** Clock and randomness (tests). @default Date.now, setTimeout, Math.random */
  readonly clock?: Clock;
  /** Environment to read PHX_* variables from. @default process.env */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Greatest distance of an event time after the record's arrival (ms). @default PHX_MAX_FUTURE_SKEW_MS, else 5 minutes */
  readonly maxFutureSkewMs?: number;
  /** Earliest event time accepted (epoch ms). @default PHX_MIN_EVENT_TIME_MS, else 0 (1970-01-01T00:00:00Z) */
  readonly minEventTimeMs?: number;
  /** Replays of one record allowed before it is dead-lettered as `replay-exhausted`. @default PHX_REPLAY_MAX_COUNT, else 3 */
  readonly replayMaxCount?: number;
  /** The canary key (tests; at least 32 bytes). @default read from PHX_CANARY_KEY_URI, else no canary is authentic */
  readonly canaryKey?: Uint8Array;
}

/** The canary key loader of a handler: the given key, else the object at PHX_CANARY_KEY_URI (S3 loaded on first use). */
function canaryKeyFor(config: IngestConfig, given: Uint8Array | undefined): (() => Promise<Uint8Array>) | undefined {
  if (given !== undefined) return () => Promise.resolve(given);
  const uri = config.canaryKeyUri;
  if (uri === undefined) return undefined;
  return async () => (await import('./canary-key.js')).loadCanaryKey(uri);
}

function dlqFor(config: IngestConfig): DlqPort {
  if (config.dlqUrl === undefined) {
    throw new ConfigError(ENV.dlqUrl, undefined, 'the SQS queue URL of the DLQ (or pass options.dlq)');
  }
  if (config.dlqOverflowBucket === undefined) {
    throw new ConfigError(ENV.dlqOverflowBucket, undefined,
      `an S3 bucket name: dead letters larger than ${ENV.dlqMaxMessageBytes} (${config.dlqMaxMessageBytes} bytes) are stored there (or pass options.dlq)`);
  }
  return createConfiguredDlq(config.dlqUrl, config.dlqOverflowBucket);
}

/**
 * Creates the ingest handler with `resolveSchema` turning the schema into a validator (the runtime export's
 * createIngestHandler and the default asset differ only there): call it once at module scope (cold start), export the
 * result as the Lambda handler.
 *
 * Configuration is read and checked here: a bad PHX_* value or an invalid schema throws a {@link ConfigError} naming
 * the variable, its value and what is allowed, so the function fails its INIT phase instead of misprocessing records.
 * AWS SDK clients, the schema validator and the retry-token bucket are created once per container. Endpoints come
 * from the SDK's own configuration (region, `AWS_ENDPOINT_URL_<SERVICE>`), never from this library.
 *
 * Each invocation processes the batch (per record: decode, envelope with deterministic id, schema, transform,
 * idempotent write; bad records to the DLQ), emits one EMF metrics document (namespace `PhoenixPipelines`,
 * dimensions `{ Pipeline, Stage }`) and one summary log line, and returns at most one batchItemFailure: the lowest
 * sequence number that was not completed. The event source mapping must have `ReportBatchItemFailures` enabled.
 */
export function createIngestHandlerWith(options: IngestHandlerOptions, resolveSchema: SchemaResolver): IngestHandler {
  const env = options.env ?? process.env;
  const config = loadConfig(env, {
    pipeline: options.pipeline,
    stage: options.stage,
    idNamespace: options.idNamespace,
    keyFields: options.keyFields,
    eventTimeField: options.eventTimeField,
    schema: options.schema,
    maxRecordBytes: options.maxRecordBytes,
    recordConcurrency: options.recordConcurrency,
    retry: options.retry,
    maxFutureSkewMs: options.maxFutureSkewMs,
    minEventTimeMs: options.minEventTimeMs,
    replayMaxCount: options.replayMaxCount,
    // A custom sink replaces the configured one: do not require PHX_SINK_TARGET for it.
    ...(options.sink ? { sinkKind: 'none' as const } : {}),
  });
  if (options.safetyMarginMs !== undefined && !(Number.isInteger(options.safetyMarginMs) && options.safetyMarginMs >= 0)) {
    throw new ConfigError('options.safetyMarginMs', String(options.safetyMarginMs), 'an integer >= 0 (milliseconds)');
  }
  if (options.transform !== undefined && typeof options.transform !== 'function') {
    throw new ConfigError('options.transform', String(options.transform), 'a function (payload, ctx) => payload | null');
  }
  const validate = resolveSchema(config, env, options.schema !== undefined ? 'options.schema' : ENV.schema);
  const serviceName = env.POWERTOOLS_SERVICE_NAME || `phoenix-${config.pipeline}`;
  const logger = options.logger ?? new Logger({ serviceName, persistentKeys: { pipeline: config.pipeline, stage: config.stage } });
  const metrics = options.metrics ?? defaultMetrics(serviceName, config);

  const dlq = options.dlq ?? dlqFor(config);
  const build = (sink: SinkPort): IngestHandler => createProcessor({
    config,
    namespace: config.idNamespace ?? idNamespaceFor(config.pipeline),
    sink,
    dlq,
    logger,
    metrics,
    tokenBucket: new RetryTokenBucket(),
    validate,
    transform: options.transform,
    clock: options.clock,
    safetyMarginMs: options.safetyMarginMs,
    canaryKey: canaryKeyFor(config, options.canaryKey),
  });
  if (options.sink) return build(options.sink);
  // Only the configured sink's SDK client is loaded, starting now (cold start); the first invocation waits for it.
  const ready = createConfiguredSink(config).then(build);
  ready.catch(() => undefined); // not an unhandled rejection: the first invocation reports it
  return async (event, context) => (await ready)(event, context);
}

/** Metrics in the contract namespace with exactly the { Deployment, Pipeline, Stage } dimension set (Powertools' `service` removed). */
function defaultMetrics(serviceName: string, config: IngestConfig): Metrics {
  const metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName });
  metrics.clearDefaultDimensions();
  metrics.setDefaultDimensions({
    ...deploymentDimension(config.deployment), [METRIC_DIMENSIONS.pipeline]: config.pipeline, [METRIC_DIMENSIONS.stage]: config.stage,
  });
  return metrics;
}
