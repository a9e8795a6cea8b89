/**
 * Cold-start configuration of the ingest handler: PHX_* environment variables (names in constructs/contract.ts)
 * merged with programmatic overrides. Every problem is reported at cold start with the variable, its value and
 * what is allowed, so a misconfigured function fails its INIT phase with a readable message instead of
 * dead-lettering or blocking a shard at run time.
 */
import { ENV, SINK_KINDS } from '../../constructs/contract';
import { DEFAULT_MAX_FUTURE_SKEW_MS, DEFAULT_MIN_EVENT_TIME_MS, MAX_TIME_MS, MIN_TIME_MS, validateKeyPath, type EventTimeBounds } from '../core';
import { ConfigError } from '../core/errors';
import { isResourceName, RESOURCE_NAME_ALLOWED } from '../core/names';

export type SinkKind = (typeof SINK_KINDS)[number];

/** Retry parameters of the in-process full-jitter backoff. */
export interface RetryConfig {
  /** Time budget per record (bounded at run time by the remaining invocation time). */
  readonly budgetMs: number;
  readonly baseMs: number;
  readonly capMs: number;
  /** Attempts per record, the first one included. */
  readonly maxAttempts: number;
}

export interface IngestConfig {
  readonly pipeline: string;
  /** Deployment id (PHX_DEPLOYMENT): the `Deployment` metric dimension; undefined = none. */
  readonly deployment?: string;
  readonly stage: string;
  /** UUID namespace of record ids; undefined = derive from the pipeline name (idNamespaceFor). */
  readonly idNamespace?: string;
  readonly keyFields: readonly string[];
  /** Dot path of the event-time field (PHX_EVENT_TIME_FIELD); undefined = eventTime, else timestamp. */
  readonly eventTimeField?: string;
  /** Parsed JSON Schema, or undefined (no validation). */
  readonly schema?: object;
  readonly maxRecordBytes: number;
  readonly sinkKind: SinkKind;
  readonly sinkTarget?: string;
  readonly dlqUrl?: string;
  readonly dlqOverflowBucket?: string;
  readonly dlqMaxMessageBytes: number;
  readonly retry: RetryConfig;
  readonly recordConcurrency: number;
  /** Event times allowed (PHX_MAX_FUTURE_SKEW_MS, PHX_MIN_EVENT_TIME_MS); outside them: DLQ `event-time`. */
  readonly eventTimeBounds: EventTimeBounds;
  /** Replays of one record allowed (PHX_REPLAY_MAX_COUNT); past it: DLQ `replay-exhausted`. */
  readonly replayMaxCount: number;
  /** s3://bucket/key of the canary key (PHX_CANARY_KEY_URI); undefined: no canary is authentic. */
  readonly canaryKeyUri?: string;
}

/** Defaults used when neither an option nor the environment gives a value. */
export const CONFIG_DEFAULTS = {
  stage: 'ingest',
  /** Kinesis' default maximum record size (1 MiB). */
  maxRecordBytes: 1_048_576,
  /** SQS' historical message limit; raise it to 1 MiB where the queue allows it. */
  dlqMaxMessageBytes: 262_144,
  retryBudgetMs: 10_000,
  retryBaseMs: 50,
  retryCapMs: 2_000,
  retryMaxAttempts: 6,
  /** Partition keys in flight per batch; IngestStage's default (docs/scaling.md). */
  recordConcurrency: 100,
  maxFutureSkewMs: DEFAULT_MAX_FUTURE_SKEW_MS,
  minEventTimeMs: DEFAULT_MIN_EVENT_TIME_MS,
  replayMaxCount: 3,
} as const;

type Env = Readonly<Record<string, string | undefined>>;

/** Values given in code (createIngestHandler options); each one wins over the environment. */
export interface ConfigOverrides {
  readonly pipeline?: string;
  readonly stage?: string;
  readonly idNamespace?: string;
  readonly keyFields?: readonly string[];
  readonly eventTimeField?: string;
  readonly schema?: object;
  readonly maxRecordBytes?: number;
  readonly sinkKind?: SinkKind;
  readonly sinkTarget?: string;
  readonly dlqUrl?: string;
  readonly dlqOverflowBucket?: string;
  readonly dlqMaxMessageBytes?: number;
  readonly retry?: Partial<RetryConfig>;
  readonly recordConcurrency?: number;
  readonly maxFutureSkewMs?: number;
  readonly minEventTimeMs?: number;
  readonly replayMaxCount?: number;
}

const S3_URI = /^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]\/\S+$/;

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function nonEmpty(env: Env, name: string): string | undefined {
  const v = env[name];
  return v === undefined || v.trim() === '' ? undefined : v.trim();
}

function intValue(
  name: string,
  override: number | undefined,
  env: Env,
  dflt: number,
  min: number,
  max: number,
): number {
  const raw = override !== undefined ? String(override) : nonEmpty(env, name);
  if (raw === undefined) return dflt;
  const n = /^-?\d+$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new ConfigError(name, raw, `an integer from ${min} to ${max}`);
  }
  return n;
}

function parseKeyFields(raw: string): string[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    parsed = undefined;
  }
  if (!Array.isArray(parsed) || !parsed.every((f) => typeof f === 'string' && f.length > 0)) {
    throw new ConfigError(ENV.keyFields, raw, 'a JSON array of non-empty dot-path strings, e.g. ["user.id","eventId"]; [] = whole payload');
  }
  return parsed as string[];
}

function parseSchema(raw: string): object {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    parsed = undefined;
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new ConfigError(ENV.schema, raw, 'a JSON Schema as a JSON object string, or empty for no validation');
  }
  return parsed as object;
}

/**
 * Reads and validates the configuration. Throws {@link ConfigError} on the first problem.
 * @param env the environment (process.env in Lambda)
 * @param overrides values given in code; they take precedence over the environment
 */
export function loadConfig(env: Env, overrides: ConfigOverrides = {}): IngestConfig {
  const pipeline = overrides.pipeline ?? nonEmpty(env, ENV.pipeline);
  if (pipeline === undefined || pipeline.length === 0) {
    throw new ConfigError(ENV.pipeline, env[ENV.pipeline], 'a non-empty pipeline name');
  }
  const stage = overrides.stage ?? nonEmpty(env, ENV.stage) ?? CONFIG_DEFAULTS.stage;
  if (!isResourceName(stage)) {
    throw new ConfigError(ENV.stage, stage, RESOURCE_NAME_ALLOWED);
  }

  const idNamespace = overrides.idNamespace ?? nonEmpty(env, ENV.idNamespace);
  if (idNamespace !== undefined && !UUID_RE.test(idNamespace)) {
    throw new ConfigError(ENV.idNamespace, idNamespace, 'a UUID (8-4-4-4-12 hex), or unset to derive it from PHX_PIPELINE');
  }

  let keyFields: readonly string[];
  if (overrides.keyFields !== undefined) {
    if (!overrides.keyFields.every((f) => typeof f === 'string' && f.length > 0)) {
      throw new ConfigError('options.keyFields', JSON.stringify(overrides.keyFields), 'an array of non-empty dot-path strings');
    }
    keyFields = [...overrides.keyFields];
  } else {
    const raw = nonEmpty(env, ENV.keyFields);
    keyFields = raw === undefined ? [] : parseKeyFields(raw);
  }
  const eventTimeField = overrides.eventTimeField ?? nonEmpty(env, ENV.eventTimeField);
  if (eventTimeField !== undefined) {
    try {
      validateKeyPath(eventTimeField);
    } catch {
      throw new ConfigError(overrides.eventTimeField !== undefined ? 'options.eventTimeField' : ENV.eventTimeField, eventTimeField, 'a dot path such as ts or event.time');
    }
  }

  let schema: object | undefined;
  if (overrides.schema !== undefined) {
    if (overrides.schema === null || typeof overrides.schema !== 'object' || Array.isArray(overrides.schema)) {
      throw new ConfigError('options.schema', String(overrides.schema), 'a JSON Schema object');
    }
    schema = overrides.schema;
  } else {
    const raw = nonEmpty(env, ENV.schema);
    schema = raw === undefined ? undefined : parseSchema(raw);
  }

  const maxRecordBytes = intValue(ENV.maxRecordBytes, overrides.maxRecordBytes, env, CONFIG_DEFAULTS.maxRecordBytes, 1, 10 * 1_048_576);

  const sinkKindRaw = overrides.sinkKind ?? nonEmpty(env, ENV.sinkKind) ?? 'none';
  if (!(SINK_KINDS as readonly string[]).includes(sinkKindRaw)) {
    throw new ConfigError(ENV.sinkKind, sinkKindRaw, SINK_KINDS.join(' | '));
  }
  const sinkKind = sinkKindRaw as SinkKind;
  const sinkTarget = overrides.sinkTarget ?? nonEmpty(env, ENV.sinkTarget);
  if (sinkKind !== 'none' && sinkTarget === undefined) {
    throw new ConfigError(ENV.sinkTarget, env[ENV.sinkTarget], `the ${sinkKind} target (table name, bucket[/prefix], or stream name/ARN) when ${ENV.sinkKind}=${sinkKind}`);
  }

  const dlqUrl = overrides.dlqUrl ?? nonEmpty(env, ENV.dlqUrl);
  if (dlqUrl !== undefined && !/^https?:\/\/\S+$/.test(dlqUrl)) {
    throw new ConfigError(ENV.dlqUrl, dlqUrl, 'an SQS queue URL (https://sqs.<region>.amazonaws.com/<account>/<name>)');
  }
  const dlqOverflowBucket = overrides.dlqOverflowBucket ?? nonEmpty(env, ENV.dlqOverflowBucket);
  if (dlqOverflowBucket !== undefined && !/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(dlqOverflowBucket)) {
    throw new ConfigError(ENV.dlqOverflowBucket, dlqOverflowBucket, 'an S3 bucket name (3-63 characters of a-z 0-9 . -)');
  }
  const dlqMaxMessageBytes = intValue(
    ENV.dlqMaxMessageBytes, overrides.dlqMaxMessageBytes, env, CONFIG_DEFAULTS.dlqMaxMessageBytes, 4_096, 1_048_576);

  const r = overrides.retry ?? {};
  const budgetMs = intValue(ENV.retryBudgetMs, r.budgetMs, env, CONFIG_DEFAULTS.retryBudgetMs, 0, 900_000);
  const baseMs = intValue(ENV.retryBaseMs, r.baseMs, env, CONFIG_DEFAULTS.retryBaseMs, 1, 60_000);
  const capMs = intValue(ENV.retryCapMs, r.capMs, env, CONFIG_DEFAULTS.retryCapMs, 1, 300_000);
  if (capMs < baseMs) {
    throw new ConfigError(ENV.retryCapMs, String(capMs), `an integer >= ${ENV.retryBaseMs} (${baseMs})`);
  }
  const maxAttempts = intValue(ENV.retryMaxAttempts, r.maxAttempts, env, CONFIG_DEFAULTS.retryMaxAttempts, 1, 100);
  const recordConcurrency = intValue(ENV.recordConcurrency, overrides.recordConcurrency, env, CONFIG_DEFAULTS.recordConcurrency, 1, 100);
  const maxFutureSkewMs = intValue(ENV.maxFutureSkewMs, overrides.maxFutureSkewMs, env, CONFIG_DEFAULTS.maxFutureSkewMs, 0, 366 * 86_400_000);
  const minEventTimeMs = intValue(ENV.minEventTimeMs, overrides.minEventTimeMs, env, CONFIG_DEFAULTS.minEventTimeMs, MIN_TIME_MS, MAX_TIME_MS);
  const replayMaxCount = intValue(ENV.replayMaxCount, overrides.replayMaxCount, env, CONFIG_DEFAULTS.replayMaxCount, 0, 1_000);
  const canaryKeyUri = nonEmpty(env, ENV.canaryKeyUri);
  if (canaryKeyUri !== undefined && !S3_URI.test(canaryKeyUri)) {
    throw new ConfigError(ENV.canaryKeyUri, canaryKeyUri, 'an S3 object URI s3://<bucket>/<key>, or unset (no canary is then authentic)');
  }

  return {
    pipeline,
    deployment: nonEmpty(env, ENV.deployment),
    stage,
    idNamespace,
    keyFields,
    eventTimeField,
    schema,
    maxRecordBytes,
    sinkKind,
    sinkTarget,
    dlqUrl,
    dlqOverflowBucket,
    dlqMaxMessageBytes,
    retry: { budgetMs, baseMs, capMs, maxAttempts },
    recordConcurrency,
    eventTimeBounds: { maxFutureSkewMs, minMs: minEventTimeMs },
    replayMaxCount,
    canaryKeyUri,
  };
}
