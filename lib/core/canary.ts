/**
 * Synthetic canaries (constructs/contract.ts CANARY_SOURCE): envelopes the SyntheticCanary's function puts into a
 * pipeline's entry stream on a schedule, and that the terminal stage recognizes, measures and keeps out of its sink.
 *
 * A canary is an Envelope v1 whose `source` is CANARY_SOURCE and whose payload is
 * `{ canary: true, sentAt: '<ISO-8601>', pipeline: '<name>' }`; its correlation id is `canary-<pipeline>-<sentAt ms>`,
 * so one canary's journey can be found in every stage's logs.
 *
 * Pure: no I/O, no AWS SDK.
 */
import { toEnvelope, normalizeEventTime, type Envelope } from './envelope';
import { describeValue } from './failure';
import { idNamespaceFor } from './ids';
import { CANARY_SOURCE } from '../../constructs/contract';

/** Payload of a canary envelope. */
export interface CanaryPayload {
  canary: true;
  /** When the canary was sent (ISO-8601 UTC, millisecond precision). */
  sentAt: string;
  /** Pipeline the canary was sent into. */
  pipeline: string;
}

/** An envelope recognized by {@link isCanary}. */
export type CanaryEnvelope = Envelope & { source: typeof CANARY_SOURCE; payload: CanaryPayload };

/** Correlation id of the canary sent into `pipeline` at `sentAtMs`: `canary-<pipeline>-<sentAtMs>`. */
export function canaryCorrelationId(pipeline: string, sentAtMs: number): string {
  return `canary-${pipeline}-${sentAtMs}`;
}

/**
 * Builds the canary envelope sent into `pipeline` at `nowMs` (epoch ms).
 *
 * The id is the record id of the payload in the pipeline's id namespace with the whole canonical payload as the key
 * (`toEnvelope` with no key fields), so a stage configured without key fields recomputes and accepts it. Stages with
 * key fields recognize the canary with {@link isCanary} before building the envelope (the canary payload has no
 * natural key). Every canary is unique: its payload carries its send time.
 */
export function buildCanaryEnvelope(pipeline: string, nowMs: number, namespace: string = idNamespaceFor(pipeline)): CanaryEnvelope {
  if (typeof pipeline !== 'string' || pipeline.length === 0) {
    throw new TypeError(`buildCanaryEnvelope: pipeline must be a non-empty string; got ${describeValue(pipeline)}`);
  }
  const sentAt = normalizeEventTime(nowMs);
  if (sentAt === undefined || !Number.isInteger(nowMs)) {
    throw new RangeError(`buildCanaryEnvelope: nowMs must be integer epoch milliseconds (years 0000-9999); got ${describeValue(nowMs)}`);
  }
  const payload: CanaryPayload = { canary: true, sentAt, pipeline };
  const env = toEnvelope(
    { v: 1, correlationId: canaryCorrelationId(pipeline, nowMs), source: CANARY_SOURCE, eventTime: sentAt, payload },
    { namespace, keyFields: [], source: CANARY_SOURCE, arrivedAtMs: nowMs },
  );
  return env as CanaryEnvelope;
}

function isPlainObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/**
 * True for a decoded record that is a canary envelope: `v: 1`, `source` CANARY_SOURCE, and a payload
 * `{ canary: true, sentAt: <event time: ISO-8601 with zone or epoch ms>, pipeline: <non-empty string> }`: the rule of
 * the ingest processor (lib/handlers/processor.ts `canaryEnvelope`). Anything else (a business record that happens to
 * have a `canary` field, a malformed canary) is not a canary and takes the normal path.
 */
export function isCanary(decoded: unknown): decoded is CanaryEnvelope {
  if (!isPlainObject(decoded) || decoded.v !== 1 || decoded.source !== CANARY_SOURCE) return false;
  const p = decoded.payload;
  return isPlainObject(p)
    && p.canary === true
    && normalizeEventTime(p.sentAt) !== undefined
    && typeof p.pipeline === 'string' && p.pipeline.length > 0;
}

/** Latency of a canary received at `nowMs`: nowMs - sentAt, in ms; 0 when the clocks disagree (sentAt in the future). */
export function canaryLatencyMs(env: CanaryEnvelope, nowMs: number): number {
  return Math.max(0, nowMs - Date.parse(normalizeEventTime(env.payload.sentAt as unknown)!));
}
