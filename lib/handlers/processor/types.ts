/** Types and per-container context shared by the ingest processor's steps. */
import type { Logger } from '@aws-lambda-powertools/logger';
import type { Metrics } from '@aws-lambda-powertools/metrics';
import type { KinesisStreamRecord } from 'aws-lambda';
import type { CanonicalSlot, Envelope, EnvelopeContext, FailureReason, RetryTokenBucket, VerbatimSlot } from '../../core';
import type { IngestConfig } from '../config';
import type { DlqPort, SinkPort, WriteResult } from '../ports/types';
import type { PayloadValidator } from '../schema-errors';

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
  /** Loads the deployment's canary key (canary-key.ts); undefined: no canary is authentic. */
  readonly canaryKey?: () => Promise<Uint8Array>;
}

/**
 * The canary key of a container: loaded before the first batch (envelope-step ensureCanaryKey), and loaded again when
 * a canary-shaped record failed authentication (`stale`; the key object may have been recreated after expiring).
 */
export interface CanaryKeyState {
  key: Uint8Array | undefined;
  readonly load: (() => Promise<Uint8Array>) | undefined;
  loadedAtMs: number;
  stale: boolean;
}

export const DEFAULT_SAFETY_MARGIN_MS = 1_000;

export type RecordOutcome = WriteResult | 'filtered' | 'dead-lettered' | 'canary';

/** The payload a stage writes: the object, its JSON text (written into the envelope as is) and that text's hash. */
export interface OutPayload {
  readonly payload: Record<string, unknown>;
  readonly json: string;
  /** payloadTextHash(json): the sinks' version tie-break. */
  readonly hash: string;
}

/** Per-record state kept across retry attempts: deterministic steps run once. */
export interface RecordState {
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
}

/** A record's state before any step ran. */
export function newRecordState(rec: KinesisStreamRecord, startMs: number): RecordState {
  return {
    rec,
    startMs,
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
  };
}

/** What the steps read, resolved once per container from {@link ProcessorDeps}. */
export interface StepContext {
  readonly cfg: IngestConfig;
  readonly namespace: string;
  readonly sink: SinkPort;
  readonly dlq: DlqPort;
  readonly clock: Clock;
  readonly stage: string;
  /** See ProcessorDeps.terminal. */
  readonly terminal: boolean;
  readonly validate?: PayloadValidator;
  readonly transform?: Transform;
  readonly decodeLimits: { readonly maxBytes: number };
  /** toEnvelope's context, reused by every record: the envelope step is synchronous, records never share it. */
  readonly envCtx: EnvelopeContext & { source: string; arrivedAtMs: number; nowMs: number };
  readonly canaryKey: CanaryKeyState;
  /** Reused like envCtx: where toEnvelope leaves the canonical payload text. */
  readonly slot: CanonicalSlot;
  /** Reused like envCtx: where decodeData leaves the record text when it is verbatim JSON.stringify output. */
  readonly verbatim: VerbatimSlot;
}

export function stepContext(deps: ProcessorDeps): StepContext {
  const cfg = deps.config;
  return {
    cfg,
    namespace: deps.namespace,
    sink: deps.sink,
    dlq: deps.dlq,
    clock: deps.clock ?? systemClock,
    stage: cfg.stage,
    terminal: deps.terminal ?? cfg.sinkKind !== 'kinesis',
    validate: deps.validate,
    transform: deps.transform,
    decodeLimits: { maxBytes: cfg.maxRecordBytes },
    envCtx: {
      namespace: deps.namespace,
      keyFields: cfg.keyFields,
      source: '',
      arrivedAtMs: 0,
      nowMs: 0,
      eventTimeField: cfg.eventTimeField,
      eventTimeBounds: cfg.eventTimeBounds,
    },
    canaryKey: { key: undefined, load: deps.canaryKey, loadedAtMs: 0, stale: false },
    slot: {},
    verbatim: {},
  };
}
