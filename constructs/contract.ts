/**
 * Contracts shared by the constructs (what is deployed) and the runtime in lib/ (what runs).
 * lib/ imports these; constructs/ never imports lib/. Not part of the jsii API (not exported from index.ts).
 */

/** CloudWatch namespace of every metric the handlers emit (EMF). */
export const METRICS_NAMESPACE = 'PhoenixPipelines';

/**
 * Dimension names; every stage metric carries exactly `{ Deployment, Pipeline, Stage }` (`Deployment` from
 * ENV.deployment: two copies of a pipeline in one account never share a metric). A handler run without ENV.deployment
 * (no construct of the library around it) emits `{ Pipeline, Stage }`.
 */
export const METRIC_DIMENSIONS = { deployment: 'Deployment', pipeline: 'Pipeline', stage: 'Stage' } as const;

/** The `Deployment` dimension entry for a deployment id, none when it is undefined or empty (see METRIC_DIMENSIONS). */
export function deploymentDimension(deployment: string | undefined): Record<string, string> {
  return deployment ? { [METRIC_DIMENSIONS.deployment]: deployment } : {};
}

/** Metric names emitted by the ingest handler. */
export const METRIC = {
  recordsIn: 'RecordsIn',
  recordsWritten: 'RecordsWritten',
  duplicatesSuppressed: 'DuplicatesSuppressed',
  staleSuppressed: 'StaleSuppressed',
  recordsDeadLettered: 'RecordsDeadLettered',
  recordsRetried: 'RecordsRetried',
  batchItemFailures: 'BatchItemFailures',
  processingLatencyMs: 'ProcessingLatencyMs',
  endToEndAgeMs: 'EndToEndAgeMs',
  /** Synthetic canaries recognized by the terminal stage (kept out of the sink). */
  canariesReceived: 'CanariesReceived',
  /** End-to-end latency of a canary: receipt time minus the canary's sentAt. */
  canaryLatencyMs: 'CanaryLatencyMs',
} as const;

/**
 * A synthetic canary is an envelope whose `source` is CANARY_SOURCE and whose payload is
 * `{ canary: true, sentAt: '<ISO-8601>', pipeline: '<name>' }`. The ingest handler recognizes it before
 * validation, records its latency (METRIC.canaryLatencyMs) and never writes it to the sink.
 */
export const CANARY_SOURCE = 'phoenix-canary';

/** Environment variables the constructs set on handler functions. */
export const ENV = {
  pipeline: 'PHX_PIPELINE',
  /** The deployment id (`Deployment` dimension of every metric the handler emits): Phoenix.deploymentIdOf. */
  deployment: 'PHX_DEPLOYMENT',
  stage: 'PHX_STAGE',
  idNamespace: 'PHX_ID_NAMESPACE',
  keyFields: 'PHX_KEY_FIELDS',
  /** Dot path of the payload field holding the event time (ISO-8601 or epoch ms); empty = eventTime, else timestamp. */
  eventTimeField: 'PHX_EVENT_TIME_FIELD',
  schema: 'PHX_SCHEMA',
  /** File name, inside the function's code directory, of the schema validator compiled at synth (ajv standalone). */
  schemaModule: 'PHX_SCHEMA_MODULE',
  maxRecordBytes: 'PHX_MAX_RECORD_BYTES',
  sinkKind: 'PHX_SINK_KIND',
  sinkTarget: 'PHX_SINK_TARGET',
  dlqUrl: 'PHX_DLQ_URL',
  dlqOverflowBucket: 'PHX_DLQ_OVERFLOW_BUCKET',
  dlqMaxMessageBytes: 'PHX_DLQ_MAX_MESSAGE_BYTES',
  retryBudgetMs: 'PHX_RETRY_BUDGET_MS',
  retryBaseMs: 'PHX_RETRY_BASE_MS',
  retryCapMs: 'PHX_RETRY_CAP_MS',
  retryMaxAttempts: 'PHX_RETRY_MAX_ATTEMPTS',
  recordConcurrency: 'PHX_RECORD_CONCURRENCY',
  maxFutureSkewMs: 'PHX_MAX_FUTURE_SKEW_MS',
  minEventTimeMs: 'PHX_MIN_EVENT_TIME_MS',
  replayMaxCount: 'PHX_REPLAY_MAX_COUNT',
  canaryKeyUri: 'PHX_CANARY_KEY_URI',
  /** Key prefix of the on-failure captures a failure normalizer takes (`aws/lambda/<ESM UUID>/`); others are left alone. */
  onFailurePrefix: 'PHX_ON_FAILURE_PREFIX',
} as const;

/** Sink kinds understood by the ingest handler (value of PHX_SINK_KIND). */
export const SINK_KINDS = ['dynamodb', 's3', 'kinesis', 'none'] as const;

/**
 * Event times a record may carry (epoch ms): the years 0000-9999, whose `YYYY-MM-DDTHH:mm:ss.sssZ` form the sinks
 * compare as strings.
 */
export const EVENT_TIME_MIN_MS = -62_167_219_200_000;
export const EVENT_TIME_MAX_MS = 253_402_300_799_999;

/** Reason classes of a DLQ message (DLQ message v1). */
export const REASON_CLASSES = [
  'decode',
  'schema',
  'oversize',
  'missing-key',
  'transform',
  'sink-rejected',
  'transient-exhausted',
  'esm-exhausted',
  'event-time',
  'replay-exhausted',
] as const;

/**
 * Root namespace of the library: a pipeline's id namespace is uuidv5(pipelineName, ROOT_ID_NAMESPACE).
 * Fixed forever: changing it changes every record id.
 */
export const ROOT_ID_NAMESPACE = '6f1c8f0e-3b5a-5d3e-9a77-2b1f0c9d4e10';

/** Relative location (from the package root) of every pre-bundled handler asset (`<dir>/index.js`). */
export const HANDLER_ASSET_DIR = {
  ingest: 'assets/lib/handlers/ingest',
  profiler: 'assets/lib/handlers/profiler',
  replay: 'assets/lib/handlers/replay',
  failureNormalizer: 'assets/lib/handlers/failure-normalizer',
  canary: 'assets/lib/handlers/canary',
  driftDetector: 'assets/lib/handlers/drift-detector',
  /** ajv-formats' format table, shipped next to a compiled schema validator that uses formats (not in the ingest bundle). */
  ajvFormats: 'assets/lib/handlers/ajv-formats',
} as const;

/** Relative location (from the package root) of the runtime bundle (`cdk-phoenix-pipelines/runtime`). */
export const RUNTIME_BUNDLE = 'assets/lib/runtime/index/index.js';

/** File name of the synth-compiled schema validator written next to the ingest handler. */
export const SCHEMA_VALIDATOR_FILE = 'schema-validator.js';

/** File name of ajv-formats' format table next to the validator; the validator requires it as `./<file>`. */
export const SCHEMA_FORMATS_FILE = 'ajv-formats.js';

/** Key prefix, in the DLQ overflow bucket, of dead-letter payloads too large for the queue (IAM grants are scoped to it). */
export const DLQ_OVERFLOW_PREFIX = 'dlq-payloads/';

/** Key prefix, in the DLQ overflow bucket, where the event source mapping's S3 on-failure destination writes (AWS's layout). */
export const ESM_ON_FAILURE_PREFIX = 'aws/lambda/';

/** Key prefix under which one event source mapping's S3 on-failure destination writes: `aws/lambda/<ESM UUID>/`. */
export function onFailurePrefixOf(eventSourceMappingId: string): string {
  return `${ESM_ON_FAILURE_PREFIX}${eventSourceMappingId}/`;
}

// ---------------------------------------------------------------------------------------------------------------
// QualityProfiler <-> profiler handler (lib/handlers/profiler*.ts)
// ---------------------------------------------------------------------------------------------------------------

/** Environment variables the construct sets on the profiler function (besides PHX_PIPELINE). */
export const PROFILER_ENV = {
  bucket: 'PHX_PROFILE_BUCKET',
  rules: 'PHX_QUALITY_RULES',
  windowSeconds: 'PHX_PROFILE_WINDOW_SECONDS',
  historyWindows: 'PHX_PROFILE_HISTORY_WINDOWS',
  eventTimeField: 'PHX_PROFILE_EVENT_TIME_FIELD',
} as const;

/** Metric names (namespace METRICS_NAMESPACE) published once per evaluated window. */
export const QUALITY_METRIC = {
  /** Per rule, dimensions { Deployment, Pipeline, Rule }: 0 pass, 1 warn, 2 fail (skipped rules publish nothing). */
  ruleStatus: 'QualityRuleStatus',
  /** Per rule, dimensions { Deployment, Pipeline, Rule }: the observed value compared with the bounds. */
  ruleObserved: 'QualityRuleObserved',
  /** Per column named by a rule, dimensions { Deployment, Pipeline, Column }: non-null values / rows. */
  columnCompleteness: 'QualityColumnCompleteness',
  /** Dimensions { Deployment, Pipeline }: rows of the window (all shards merged). */
  rowsPerWindow: 'QualityRowsPerWindow',
  /** Dimensions { Deployment, Pipeline }: records of the window that were not JSON objects. */
  unparseablePerWindow: 'QualityUnparseablePerWindow',
  /** Dimensions { Deployment, Pipeline }: rules that failed. */
  failures: 'QualityFailures',
  /** Dimensions { Deployment, Pipeline }: rules that warned. */
  warnings: 'QualityWarnings',
  /** Dimensions { Deployment, Pipeline }: rules that could not be evaluated (too little history, too few rows). */
  skipped: 'QualityRulesSkipped',
} as const;

/** Dimension names of the quality metrics besides `Pipeline` (METRIC_DIMENSIONS.pipeline). */
export const QUALITY_DIMENSIONS = { rule: 'Rule', column: 'Column' } as const;

/** Key prefix of the profiler's history bucket (profiles/<window-start>/...). */
export const PROFILES_PREFIX = 'profiles/';

// ---------------------------------------------------------------------------------------------------------------
// Monitoring constructs <-> canary and drift-detector handlers (lib/handlers/canary.ts, lib/handlers/drift-detector.ts)
// ---------------------------------------------------------------------------------------------------------------

/** Metrics of the synthetic canary's sender (dimensions `{ Deployment, Pipeline, Stage }`, Stage = the stage the canary enters). */
export const CANARY_METRIC = {
  /** Canary envelopes put into the entry stream (1 per run; 0 when the put failed). */
  canariesSent: 'CanariesSent',
} as const;

/** Extra dimension of the per-stack drift metrics. */
export const STACK_NAME_DIMENSION = 'StackName';

/**
 * Metrics of the drift detector. Per stack (dimensions `{ Deployment, Pipeline, StackName }`): `StackDrifted`,
 * `DriftedResources`. Per run (dimensions `{ Deployment, Pipeline }`): `StacksDrifted`, `DriftDetectionFailures`.
 */
export const DRIFT_METRIC = {
  /** 1 when the stack's drift status is DRIFTED, else 0. Per stack. */
  stackDrifted: 'StackDrifted',
  /** Number of resources whose actual configuration differs from the template (MODIFIED or DELETED). Per stack. */
  driftedResources: 'DriftedResources',
  /** Number of checked stacks found DRIFTED in this run. Per run. */
  stacksDrifted: 'StacksDrifted',
  /** Number of stacks whose detection failed or did not finish in time in this run (0 when all finished). Per run. */
  driftDetectionFailures: 'DriftDetectionFailures',
} as const;

/** Environment variables of the monitoring handlers. */
export const MONITOR_ENV = {
  /** ARN of the stream the canary writes to. */
  canaryStreamArn: 'PHX_CANARY_STREAM_ARN',
  /** Stage the canary enters (`Stage` dimension of CanariesSent). */
  canaryEntryStage: 'PHX_CANARY_ENTRY_STAGE',
  /** JSON array of the stack names the drift detector checks. */
  driftStacks: 'PHX_DRIFT_STACKS',
  /** Delay between two DescribeStackDriftDetectionStatus calls of one stack, in milliseconds. */
  driftPollMs: 'PHX_DRIFT_POLL_MS',
} as const;
