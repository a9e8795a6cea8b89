/**
 * The ingest batch processor: Kinesis batch in, idempotent writes / dead letters / one batchItemFailure out.
 * Pure orchestration over injected ports (sink, DLQ, logger, metrics, clock), so that tests and benchmarks run the
 * production path without AWS. The contracts are in docs/ARCHITECTURE.md.
 *
 * Per record: decode -> envelope + deterministic id -> open hop -> schema -> transform -> close hop -> idempotent
 * write. Permanent failures are dead-lettered at once (and count as handled); transient failures are retried
 * in-process (full-jitter backoff, a per-record time budget bounded by the invocation's remaining time, and a
 * retry-token bucket shared by the container). A record that still fails stops the batch: no later record is
 * started and the lowest failed-or-not-started sequence number is the only batchItemFailure.
 */
import type { Logger } from '@aws-lambda-powertools/logger';
import { MetricUnit, type Metrics } from '@aws-lambda-powertools/metrics';
import type { Context, KinesisStreamBatchResponse, KinesisStreamEvent, KinesisStreamRecord } from 'aws-lambda';
import { CANARY_SOURCE, METRIC } from '../../constructs/contract';
import {
  assertJsonValue,
  classifyError,
  decodeData,
  describeError,
  envelopeJson,
  eventTimeMs,
  normalizeEventTime,
  payloadBytesHash,
  payloadTextHash,
  recordId,
  dlqMessageAttributes,
  encodeDlqMessage,
  overflowKey,
  retryAfterFirstFailure,
  sealEnvelope,
  toEnvelope,
  TransientError,
  withPayloadRef,
  type CanonicalSlot,
  type VerbatimSlot,
  type DlqMessage,
  type Envelope,
  type FailureReason,
  type RetryOptions,
  type RetryTokenBucket,
} from '../core';
import type { IngestConfig } from './config';
import type { DlqPort, SinkPort, WriteResult } from './ports/types';
import type { PayloadValidator } from './schema-errors';

/** What a transform sees besides the payload. */
export interface TransformContext {
  /** Deterministic record id (uuid v5). */
  readonly recordId: string;
  readonly correlationId: string;
  /** Normalized event time (ISO-8601 UTC). */
  readonly eventTime: string;
  readonly partitionKey: string;
  readonly sequenceNumber: string;
  /** The envelope as received/built (before this stage's hop is closed). Do not mutate. */
  readonly envelope: Readonly<Envelope>;
}

/**
 * A team's per-record transform. Return the (new) payload object, or null to drop the record (counted as filtered).
 * Throw PermanentError('transform', ...) (or any plain Error) for a record that can never be transformed: it is
 * dead-lettered with reason class `transform`. Throw TransientError (or let an AWS SDK throttling/timeout/5xx error
 * through) for a failure worth retrying.
 */
export type Transform = (
  payload: Record<string, unknown>,
  ctx: TransformContext,
) => Record<string, unknown> | null | Promise<Record<string, unknown> | null>;

/** Time functions, injectable for tests. */
export interface Clock {
  now(): number;
  sleep(ms: number): Promise<void>;
  random(): number;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  random: () => Math.random(),
};

export interface ProcessorDeps {
  readonly config: IngestConfig;
  /** Resolved id namespace (PHX_ID_NAMESPACE or idNamespaceFor(PHX_PIPELINE)). */
  readonly namespace: string;
  readonly sink: SinkPort;
  readonly dlq: DlqPort;
  readonly logger: Logger;
  /** Powertools Metrics with namespace METRICS_NAMESPACE and default dimensions { Pipeline, Stage } only. */
  readonly metrics: Metrics;
  /** One bucket per container, shared by every record and invocation. */
  readonly tokenBucket: RetryTokenBucket;
  readonly validate?: PayloadValidator;
  readonly transform?: Transform;
  readonly clock?: Clock;
  /**
   * Time kept free at the end of the invocation (ms): no record starts and no retry waits past
   * remaining time - margin, so the handler returns its batchItemFailures before Lambda's timeout.
   */
  readonly safetyMarginMs?: number;
  /**
   * True when the sink is the pipeline's last stage (DynamoDB, S3, none, custom): synthetic canaries are counted and
   * kept out of it. False for a Kinesis next-stage sink: canaries are forwarded so that the terminal stage sees them.
   * @default config.sinkKind !== 'kinesis'
   */
  readonly terminal?: boolean;
}

/**
 * Latency/age values emitted per batch at most. EMF allows 100 values per metric in one document, and Powertools
 * flushes a document as soon as one metric holds 100 values: 99 keeps each batch in a single EMF document.
 */
export const MAX_METRIC_VALUES = 99;
export const DEFAULT_SAFETY_MARGIN_MS = 1_000;

export type RecordOutcome = WriteResult | 'filtered' | 'dead-lettered' | 'canary';

/**
 * A synthetic canary (constructs/contract.ts CANARY_SOURCE): an envelope with source CANARY_SOURCE and payload
 * `{ canary: true, sentAt, pipeline }`. Returns its envelope, or undefined when the record is not a canary.
 * Canaries skip the natural key, schema and transform: their id is the producer's, else the hash of the payload.
 */
export function canaryEnvelope(decoded: Record<string, unknown>, namespace: string): Envelope | undefined {
  const payload = decoded.payload as Record<string, unknown> | undefined;
  if (decoded.v !== 1 || decoded.source !== CANARY_SOURCE || typeof payload !== 'object' || payload === null || payload.canary !== true
    || typeof payload.pipeline !== 'string' || payload.pipeline.length === 0) {
    return undefined;
  }
  const sentAt = normalizeEventTime(payload.sentAt);
  if (sentAt === undefined) return undefined;
  const id = typeof decoded.id === 'string' && decoded.id.length > 0 ? decoded.id : recordId(payload, namespace, []);
  const hops = Array.isArray(decoded.hops) ? (decoded.hops as Envelope['hops']) : [];
  return {
    v: 1,
    id,
    correlationId: typeof decoded.correlationId === 'string' && decoded.correlationId !== '' ? decoded.correlationId : id,
    source: CANARY_SOURCE,
    eventTime: sentAt,
    hops,
    payload,
  };
}

/**
 * Bounded sample of per-record values for one EMF multi-value metric: all values when there are at most `cap`,
 * else a uniform reservoir sample (Algorithm R) that always holds the exact maximum. CloudWatch then has an exact
 * Maximum and sample-based percentiles; SampleCount is min(n, cap) (use RecordsIn for counts).
 * Hand-written: ~20 lines, and no maintained package does "reservoir + exact max" for EMF.
 */
export class MetricSample {
  private readonly values: number[] = [];
  private seen = 0;
  private max = -Infinity;

  constructor(
    private readonly cap: number,
    private readonly random: () => number,
  ) {}

  add(v: number): void {
    this.seen++;
    if (v > this.max) this.max = v;
    if (this.values.length < this.cap) {
      this.values.push(v);
      return;
    }
    const j = Math.floor(this.random() * this.seen);
    if (j < this.cap) this.values[j] = v;
  }

  /** The sample (a copy), the exact maximum included. */
  take(): number[] {
    const out = this.values.slice();
    if (this.seen > this.cap && !out.includes(this.max)) {
      out[Math.floor(this.random() * out.length)] = this.max;
    }
    return out;
  }
}

/** What one invocation counted; emitted as one EMF document by {@link emitBatchMetrics}. */
export interface BatchStats {
  written: number;
  duplicates: number;
  stale: number;
  filtered: number;
  deadLettered: number;
  overflowed: number;
  retries: number;
  canaries: number;
  latency: MetricSample;
  age: MetricSample;
  canaryLatency: MetricSample;
}

/** Empty batch counters with latency/age samples of at most MAX_METRIC_VALUES values. */
export function newBatchStats(random: () => number): BatchStats {
  return {
    written: 0,
    duplicates: 0,
    stale: 0,
    filtered: 0,
    deadLettered: 0,
    overflowed: 0,
    retries: 0,
    canaries: 0,
    latency: new MetricSample(MAX_METRIC_VALUES, random),
    age: new MetricSample(MAX_METRIC_VALUES, random),
    canaryLatency: new MetricSample(MAX_METRIC_VALUES, random),
  };
}

/**
 * Publishes one invocation's metrics as one EMF document (docs/ARCHITECTURE.md, "Metrics"). `incomplete` = records
 * not completed (failed or not started).
 */
export function emitBatchMetrics(metrics: Metrics, stats: BatchStats, recordsIn: number, incomplete: number): void {
  metrics.addMetric(METRIC.recordsIn, MetricUnit.Count, recordsIn);
  metrics.addMetric(METRIC.recordsWritten, MetricUnit.Count, stats.written);
  metrics.addMetric(METRIC.duplicatesSuppressed, MetricUnit.Count, stats.duplicates);
  metrics.addMetric(METRIC.staleSuppressed, MetricUnit.Count, stats.stale);
  metrics.addMetric(METRIC.recordsDeadLettered, MetricUnit.Count, stats.deadLettered);
  metrics.addMetric(METRIC.recordsRetried, MetricUnit.Count, stats.retries);
  metrics.addMetric(METRIC.batchItemFailures, MetricUnit.Count, incomplete > 0 ? 1 : 0);
  // Several addMetric calls with one name make an EMF multi-value array (at most MAX_METRIC_VALUES values).
  for (const v of stats.latency.take()) metrics.addMetric(METRIC.processingLatencyMs, MetricUnit.Milliseconds, v);
  for (const v of stats.age.take()) metrics.addMetric(METRIC.endToEndAgeMs, MetricUnit.Milliseconds, v);
  metrics.addMetric(METRIC.canariesReceived, MetricUnit.Count, stats.canaries);
  for (const v of stats.canaryLatency.take()) metrics.addMetric(METRIC.canaryLatencyMs, MetricUnit.Milliseconds, v);
  metrics.publishStoredMetrics();
}

function shardIdOf(rec: KinesisStreamRecord): string {
  const colon = rec.eventID.indexOf(':');
  return colon > 0 ? rec.eventID.slice(0, colon) : rec.eventID;
}

/** Where a record came from, as carried in a DLQ message. */
function sourceOf(rec: KinesisStreamRecord) {
  return {
    streamArn: rec.eventSourceARN,
    shardId: shardIdOf(rec),
    sequenceNumber: rec.kinesis.sequenceNumber,
    partitionKey: rec.kinesis.partitionKey,
    arrivedAt: new Date(Math.round(rec.kinesis.approximateArrivalTimestamp * 1000)).toISOString(),
  };
}

function streamNameOf(arn: string | undefined): string | undefined {
  const i = arn?.lastIndexOf(':stream/') ?? -1;
  return i >= 0 ? arn!.slice(i + ':stream/'.length) : undefined;
}

/** The payload a stage writes: the object, its JSON text (written into the envelope as is) and that text's hash. */
interface OutPayload {
  readonly payload: Record<string, unknown>;
  readonly json: string;
  /** payloadTextHash(json): the sinks' version tie-break. */
  readonly hash: string;
}

/** Per-record state kept across retry attempts: deterministic steps run once. */
interface RecordState {
  readonly rec: KinesisStreamRecord;
  readonly startMs: number;
  id: string | null;
  correlationId: string | null;
  /** Envelope before this stage's hop. */
  env: Envelope | undefined;
  /**
   * JSON text of env.payload when already known, reused as its serialization: the canonical JSON when the id was
   * computed from it (no key fields), else the record text itself when it is exactly JSON.stringify of the payload.
   */
  canonical: string | undefined;
  /** UTF-8 bytes of `canonical` when they are at hand (the record text's): hashed as they are. */
  canonicalUtf8: Buffer | undefined;
  /** Transformed payload, serialized and hashed, once the transform succeeded. */
  out: OutPayload | undefined;
  /** Set once the record is known to be bad: it goes to the DLQ with this reason. */
  dead: FailureReason | undefined;
  firstFailedMs: number | undefined;
  /** A synthetic canary: never validated nor transformed. */
  canary: boolean;
  /** s3:// reference of an overflowed dead letter. */
  payloadRef: string | undefined;
  /** prepare() ran (attempt 1 does not run it again). */
  prepared: boolean;
}

/**
 * Serializes and hashes the payload to write. `text` is its JSON when already known (the canonical text computed for
 * the id); otherwise JSON.stringify, after checking that JSON represents the value exactly when it does not come from
 * JSON.parse (`untrusted`: a transform's output; NaN, BigInt, cycles... throw PermanentError('decode')).
 */
function serializePayload(payload: Record<string, unknown>, text: string | undefined, untrusted: boolean, utf8?: Buffer): OutPayload {
  if (text === undefined) {
    if (untrusted) assertJsonValue(payload);
    text = JSON.stringify(payload);
  }
  return { payload, json: text, hash: utf8 !== undefined ? payloadBytesHash(utf8) : payloadTextHash(text) };
}

/** Creates the batch handler. Call once per container (cold start); the result handles every invocation. */
export function createProcessor(deps: ProcessorDeps): (event: KinesisStreamEvent, context: Context) => Promise<KinesisStreamBatchResponse> {
  const { config: cfg, namespace, sink, dlq, logger, metrics, tokenBucket, validate, transform } = deps;
  const clock = deps.clock ?? systemClock;
  const margin = deps.safetyMarginMs ?? DEFAULT_SAFETY_MARGIN_MS;
  const stage = cfg.stage;
  const keyFields = cfg.keyFields;
  const decodeLimits = { maxBytes: cfg.maxRecordBytes };
  const terminal = deps.terminal ?? cfg.sinkKind !== 'kinesis';
  // Reused by every record: prepare() is synchronous, so records in flight never share them.
  const envCtx = { namespace, keyFields, source: '', arrivedAtMs: 0, eventTimeField: cfg.eventTimeField };
  const slot: CanonicalSlot = {};
  const verbatim: VerbatimSlot = {};

  /** Decode, envelope, schema: deterministic, run once per record. */
  function prepare(st: RecordState, source: string): void {
    const rec = st.rec;
    const decoded = decodeData(rec.kinesis.data, decodeLimits, verbatim);
    if (!decoded.ok) {
      st.dead = decoded.reason;
      return;
    }
    const canary = canaryEnvelope(decoded.value, namespace);
    if (canary) {
      st.canary = true;
      st.id = canary.id;
      st.correlationId = canary.correlationId;
      st.env = canary;
      return;
    }
    let env: Envelope;
    try {
      envCtx.source = source;
      envCtx.arrivedAtMs = Math.round(rec.kinesis.approximateArrivalTimestamp * 1000);
      slot.canonicalPayload = undefined;
      env = toEnvelope(decoded.value, envCtx, slot);
    } catch (err) {
      const c = classifyError(err, 'decode');
      if (c.kind !== 'permanent') throw err;
      st.dead = c.reason;
      return;
    }
    st.id = env.id;
    st.correlationId = env.correlationId;
    st.env = env;
    st.canonical = slot.canonicalPayload;
    if (st.canonical === undefined && env.payload === decoded.value && verbatim.json !== undefined) {
      // A raw payload sent as JSON.stringify writes it: its text is its serialization (no second JSON.stringify).
      st.canonical = verbatim.json;
      st.canonicalUtf8 = verbatim.utf8;
    }
    if (validate) {
      const problem = validate(env.payload);
      if (problem !== null) st.dead = { class: 'schema', message: problem };
    }
  }

  /** Serializes the payload to write (no transform); sets st.out or st.dead. */
  function keepPayload(st: RecordState): void {
    try {
      st.out = serializePayload(st.env!.payload, st.canonical, false, st.canonicalUtf8);
    } catch (err) {
      st.dead = { class: 'decode', message: describeError(err) };
    }
  }

  /** Transform once; sets st.out, st.dead, or returns 'filtered'. Throws transient errors (retried). */
  async function runTransform(st: RecordState, fn: Transform): Promise<'filtered' | undefined> {
    const env = st.env!;
    let payload: Record<string, unknown> | null;
    try {
      payload = await fn(env.payload, {
        recordId: env.id,
        correlationId: env.correlationId,
        eventTime: env.eventTime,
        partitionKey: st.rec.kinesis.partitionKey,
        sequenceNumber: st.rec.kinesis.sequenceNumber,
        envelope: env,
      });
    } catch (err) {
      const c = classifyError(err, 'transform');
      if (c.kind === 'transient') throw err;
      st.dead = c.reason;
      return undefined;
    }
    if (payload === null) return 'filtered';
    if (typeof payload !== 'object' || Array.isArray(payload)) {
      st.dead = { class: 'transform', message: `transform returned ${Array.isArray(payload) ? 'an array' : typeof payload}; expected an object or null` };
      return undefined;
    }
    try {
      st.out = serializePayload(payload, undefined, true);
    } catch (err) {
      // A transform that returned something JSON cannot represent exactly (NaN, BigInt, a cycle...).
      st.dead = { class: 'transform', message: describeError(err) };
    }
    return undefined;
  }

  /**
   * One attempt at a record (attempt 1 also prepares it unless processOne did). Resolves with the outcome; throws a
   * transient error to be retried. Deterministic steps are kept in `st` and not repeated by later attempts.
   */
  async function attemptRecord(st: RecordState, attempt: number, source: string): Promise<RecordOutcome> {
    if (attempt === 1 && !st.prepared) prepare(st, source);
    if (st.canary) {
      if (terminal) return 'canary';
      if (st.out === undefined) st.out = serializePayload(st.env!.payload, undefined, true);
    }
    if (st.dead === undefined && st.out === undefined) {
      if (transform === undefined) keepPayload(st);
      else if ((await runTransform(st, transform)) === 'filtered') return 'filtered';
    }
    if (st.dead === undefined) {
      const env = sealOut(st, attempt);
      try {
        return await writeOut(st, env);
      } catch (err) {
        return writeFailed(st, err, attempt);
      }
    }
    return deadLetter(st, attempt);
  }

  /** The envelope this attempt writes (st.out known, the record not dead). */
  function sealOut(st: RecordState, attempt: number): Envelope {
    return sealEnvelope(st.env!, st.out!.payload, stage, st.startMs, clock.now(), attempt);
  }

  /** The idempotent write of `env` (sealOut); the sink's errors go to writeFailed. */
  function writeOut(st: RecordState, env: Envelope): Promise<WriteResult> {
    const out = st.out!;
    const kinesis = st.rec.kinesis;
    return sink.write(env, {
      partitionKey: kinesis.partitionKey,
      sequenceNumber: kinesis.sequenceNumber,
      contentHash: out.hash,
      envelopeJson: envelopeJson(env, out.json),
    });
  }

  /** A failed write: transient errors are rethrown (retried), any other dead-letters the record. */
  async function writeFailed(st: RecordState, err: unknown, attempt: number): Promise<RecordOutcome> {
    const c = classifyError(err);
    if (c.kind === 'transient') {
      st.firstFailedMs ??= clock.now();
      throw err;
    }
    st.dead = c.reason;
    return deadLetter(st, attempt);
  }

  /** Sends st (st.dead set) to the DLQ: 'dead-lettered', or a TransientError when the DLQ itself failed. */
  async function deadLetter(st: RecordState, attempt: number): Promise<RecordOutcome> {
    try {
      st.payloadRef = await sendDeadLetter(st, attempt, sourceOf(st.rec));
    } catch (err) {
      // The DLQ is the last resort: whatever its error, the record must stay in the stream.
      throw new TransientError(`dead-letter send failed: ${describeError(err)}`, { cause: err });
    }
    return 'dead-lettered';
  }

  async function sendDeadLetter(st: RecordState, attempt: number, source: ReturnType<typeof sourceOf>): Promise<string | undefined> {
    const nowMs = clock.now();
    let msg: DlqMessage = {
      v: 1,
      id: st.id,
      correlationId: st.correlationId,
      stage,
      reason: st.dead!,
      attempts: attempt,
      firstFailedAt: new Date(st.firstFailedMs ?? nowMs).toISOString(),
      lastFailedAt: new Date(nowMs).toISOString(),
      source,
      payload: st.rec.kinesis.data,
      payloadRef: null,
    };
    // encodeDlqMessage counts the message attributes too (SQS includes them in the size limit).
    const limit = cfg.dlqMaxMessageBytes;
    let enc = encodeDlqMessage(msg, limit);
    let payloadRef: string | undefined;
    if (!enc.fits) {
      if (!dlq.putOverflow) {
        throw new TransientError(`dead letter of ${enc.bytes} bytes exceeds ${limit} bytes and no DLQ overflow bucket is configured`);
      }
      // The object holds the record data exactly as received (base64 text, key ending in .b64), so that even data
      // that is not valid base64 is kept byte for byte for the replay.
      payloadRef = await dlq.putOverflow(overflowKey(msg), st.rec.kinesis.data);
      msg = withPayloadRef(msg, payloadRef);
      enc = encodeDlqMessage(msg, limit);
    }
    await dlq.sendMessage(enc.body, dlqMessageAttributes(msg));
    return payloadRef;
  }

  const retryOptions: Omit<RetryOptions, 'budgetMs'> = {
    baseMs: cfg.retry.baseMs,
    capMs: cfg.retry.capMs,
    maxAttempts: cfg.retry.maxAttempts,
    bucket: tokenBucket,
    now: clock.now,
    sleep: clock.sleep,
    random: clock.random,
  };

  return async function handle(event: KinesisStreamEvent, context: Context): Promise<KinesisStreamBatchResponse> {
    const batchStart = clock.now();
    const records = event.Records ?? [];
    logger.addContext(context);
    const level = logger.getLevelName();
    const debug = level === 'DEBUG' || level === 'TRACE';
    const stats = newBatchStats(clock.random);
    const source = streamNameOf(records[0]?.eventSourceARN) ?? cfg.pipeline;
    /** Index in `records` of each record not completed (failed or not started). */
    const done = new Uint8Array(records.length);
    let stopped = false;
    let failure: {
      sequenceNumber: string;
      recordId: string | null;
      correlationId: string | null;
      error: string;
      exhausted: string;
      attempts: number;
    } | undefined;

    async function processOne(index: number): Promise<boolean> {
      const rec = records[index];
      const remaining = context.getRemainingTimeInMillis() - margin;
      if (remaining <= 0) {
        if (!stopped) logger.warn('invocation time nearly spent; leaving the rest of the batch to the next delivery', { sequenceNumber: rec.kinesis.sequenceNumber, remainingMs: remaining + margin });
        stopped = true;
        return false;
      }
      const st: RecordState = {
        rec,
        startMs: clock.now(),
        id: null,
        correlationId: null,
        env: undefined,
        canonical: undefined,
        canonicalUtf8: undefined,
        out: undefined,
        dead: undefined,
        firstFailedMs: undefined,
        canary: false,
        payloadRef: undefined,
        prepared: false,
      };
      let outcome: RecordOutcome;
      let attempts = 1;
      try {
        // Happy path: attempt 1 without the retry machinery (no options object, closure or extra promise) and, for a
        // plain record (no transform, not a canary, not bad), with the sink's promise awaited here directly.
        prepare(st, source);
        st.prepared = true;
        if (transform === undefined && !st.canary && st.dead === undefined) keepPayload(st);
        if (st.out !== undefined && !st.canary && st.dead === undefined) {
          const env = sealOut(st, 1);
          try {
            outcome = await writeOut(st, env);
          } catch (err) {
            outcome = await writeFailed(st, err, 1);
          }
        } else {
          outcome = await attemptRecord(st, 1, source);
        }
        tokenBucket.onSuccess();
      } catch (firstError) {
        const result = await retryAfterFirstFailure((attempt) => attemptRecord(st, attempt, source), firstError, st.startMs, {
          ...retryOptions,
          budgetMs: Math.min(cfg.retry.budgetMs, remaining),
        });
        stats.retries += result.retries;
        if (!result.ok) {
          failure = {
            sequenceNumber: rec.kinesis.sequenceNumber,
            recordId: st.id,
            correlationId: st.correlationId,
            error: describeError(result.error),
            exhausted: result.exhausted,
            attempts: result.attempts,
          };
          stopped = true;
          logger.error('record failed after in-process retries; no later record is started', {
            recordId: st.id,
            correlationId: st.correlationId,
            sequenceNumber: rec.kinesis.sequenceNumber,
            partitionKey: rec.kinesis.partitionKey,
            attempts: result.attempts,
            exhausted: result.exhausted,
            error: failure.error,
          });
          return false;
        }
        outcome = result.value;
        attempts = result.attempts;
      }
      const endMs = clock.now();
      const payloadRef = st.payloadRef;
      switch (outcome) {
        case 'written': stats.written++; break;
        case 'duplicate': stats.duplicates++; break;
        case 'stale': stats.stale++; break;
        case 'filtered': stats.filtered++; break;
        case 'dead-lettered': stats.deadLettered++; break;
        case 'canary':
          stats.canaries++;
          break;
      }
      if (outcome === 'canary') {
        // One line per canary (every few minutes), at INFO: the monitor's saved queries read canaryLatencyMs from it.
        const canaryLatencyMs = Math.max(0, endMs - eventTimeMs(st.env!.eventTime));
        stats.canaryLatency.add(canaryLatencyMs);
        logger.info('canary received', {
          recordId: st.id, correlationId: st.correlationId, sequenceNumber: rec.kinesis.sequenceNumber, sentAt: st.env!.eventTime, canaryLatencyMs,
        });
      } else if (outcome === 'dead-lettered') {
        if (payloadRef !== undefined) stats.overflowed++;
        logger.warn('record dead-lettered', {
          recordId: st.id,
          correlationId: st.correlationId,
          sequenceNumber: rec.kinesis.sequenceNumber,
          partitionKey: rec.kinesis.partitionKey,
          reason: st.dead,
          attempts,
          ...(payloadRef !== undefined ? { payloadRef } : {}),
        });
      } else {
        stats.latency.add(endMs - st.startMs);
        if (st.env) stats.age.add(Math.max(0, endMs - eventTimeMs(st.env.eventTime)));
        if (debug) {
          logger.debug(`record ${outcome}`, {
            recordId: st.id,
            correlationId: st.correlationId,
            sequenceNumber: rec.kinesis.sequenceNumber,
            partitionKey: rec.kinesis.partitionKey,
            attempts,
            latencyMs: endMs - st.startMs,
          });
        }
      }
      done[index] = 1;
      return true;
    }

    let completed = 0;
    try {
      if (cfg.recordConcurrency <= 1) {
        // Strictly sequential, in batch (= sequence number) order.
        for (let i = 0; i < records.length && !stopped; i++) {
          if (!(await processOne(i))) break;
        }
      } else {
        await processByPartitionKey(records, cfg.recordConcurrency, processOne, () => stopped);
      }
    } finally {
      completed = done.reduce((a, b) => a + b, 0);
      emitBatchMetrics(metrics, stats, records.length, records.length - completed);
    }

    // The lowest sequence number not completed (failed or never started): Lambda checkpoints there and redelivers
    // everything after it (records already applied are deduplicated by the idempotent sinks).
    let lowest: bigint | undefined;
    let lowestSeq: string | undefined;
    for (let i = 0; i < records.length; i++) {
      if (done[i]) continue;
      const seq = records[i].kinesis.sequenceNumber;
      const n = BigInt(seq);
      if (lowest === undefined || n < lowest) {
        lowest = n;
        lowestSeq = seq;
      }
    }
    const notCompleted = records.length - completed;
    logger.info('batch processed', {
      shardId: records.length > 0 ? shardIdOf(records[0]) : undefined,
      records: records.length,
      written: stats.written,
      duplicates: stats.duplicates,
      stale: stats.stale,
      filtered: stats.filtered,
      deadLettered: stats.deadLettered,
      overflowed: stats.overflowed,
      retries: stats.retries,
      canaries: stats.canaries,
      notCompleted,
      failedSequenceNumber: lowestSeq,
      failure,
      durationMs: clock.now() - batchStart,
    });
    return { batchItemFailures: lowestSeq === undefined ? [] : [{ itemIdentifier: lowestSeq }] };
  };
}

/**
 * Runs records grouped by partition key: order kept within a key, up to `concurrency` keys in flight. Once `stopped()`
 * is true no record starts; records already in flight finish.
 */
async function processByPartitionKey(
  records: readonly KinesisStreamRecord[],
  concurrency: number,
  processOne: (index: number) => Promise<boolean>,
  stopped: () => boolean,
): Promise<void> {
  const groups = new Map<string, number[]>();
  for (let i = 0; i < records.length; i++) {
    const key = records[i].kinesis.partitionKey;
    const g = groups.get(key);
    if (g) g.push(i);
    else groups.set(key, [i]);
  }
  const queue = [...groups.values()];
  let next = 0;
  async function worker(): Promise<void> {
    while (!stopped() && next < queue.length) {
      const group = queue[next++];
      for (const index of group) {
        if (stopped() || !(await processOne(index))) return;
      }
    }
  }
  const workers: Array<Promise<void>> = [];
  for (let w = 0; w < Math.min(concurrency, queue.length); w++) workers.push(worker());
  await Promise.all(workers);
}
