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
import { hasUtf8Bom } from './decode';
import { toEnvelope, normalizeEventTime, type Envelope } from './envelope';
import { InvalidArgumentError } from './errors';
import { describeValue } from './failure';
import { idNamespaceFor, recordId } from './ids';
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
 * key fields recognize the canary with {@link canaryEnvelope} before building the envelope (the canary payload has no
 * natural key). Every canary is unique: its payload carries its send time.
 */
export function buildCanaryEnvelope(pipeline: string, nowMs: number, namespace: string = idNamespaceFor(pipeline)): CanaryEnvelope {
  if (typeof pipeline !== 'string' || pipeline.length === 0) {
    throw new InvalidArgumentError(`buildCanaryEnvelope: pipeline must be a non-empty string; got ${describeValue(pipeline)}`);
  }
  const sentAt = normalizeEventTime(nowMs);
  if (sentAt === undefined || !Number.isInteger(nowMs)) {
    throw new InvalidArgumentError(`buildCanaryEnvelope: nowMs must be integer epoch milliseconds (years 0000-9999); got ${describeValue(nowMs)}`);
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
 * True for a canary payload: `{ canary: true, sentAt: <event time: ISO-8601 with zone or epoch ms>, pipeline:
 * <non-empty string> }`. Anything else (a business record that happens to have a `canary` field, a malformed
 * canary) is not a canary and takes the normal path.
 */
export function isCanaryPayload(p: unknown): p is CanaryPayload {
  return canaryPayloadSentAt(p) !== undefined;
}

/** The normalized sentAt of a canary payload, or undefined when `p` is not one. */
function canaryPayloadSentAt(p: unknown): string | undefined {
  if (!isPlainObject(p) || p.canary !== true || typeof p.pipeline !== 'string' || p.pipeline.length === 0) return undefined;
  return normalizeEventTime(p.sentAt);
}

/** True for a decoded record that is a canary envelope: `v: 1`, `source` CANARY_SOURCE and a canary payload. */
export function isCanary(decoded: unknown): decoded is CanaryEnvelope {
  return isPlainObject(decoded) && decoded.v === 1 && decoded.source === CANARY_SOURCE && isCanaryPayload(decoded.payload);
}

/**
 * True for record data (the UTF-8 JSON bytes put on the stream, a byte order mark ignored as the handler's decoder
 * does) that is a canary envelope; used where records are read back as bytes (dead letters of a local run).
 */
export function isCanaryData(data: Buffer): boolean {
  if (!data.includes(CANARY_SOURCE)) return false;
  try {
    return isCanary(JSON.parse(data.toString('utf8', hasUtf8Bom(data) ? 3 : 0)));
  } catch {
    return false;
  }
}

/**
 * The envelope the ingest handler processes for a canary record, or undefined when `decoded` is not a canary
 * ({@link isCanary}). Canaries skip the natural key, schema and transform: their id is the producer's, else the
 * record id of the payload with the whole payload as the key; the event time is sentAt.
 */
export function canaryEnvelope(decoded: Record<string, unknown>, namespace: string): Envelope | undefined {
  // v and source first: two property reads for every non-canary record of the hot path.
  if (decoded.v !== 1 || decoded.source !== CANARY_SOURCE) return undefined;
  const payload = decoded.payload as Record<string, unknown>;
  const sentAt = canaryPayloadSentAt(payload);
  if (sentAt === undefined) return undefined;
  const id = typeof decoded.id === 'string' && decoded.id.length > 0 ? decoded.id : recordId(payload, namespace, []);
  return {
    v: 1,
    id,
    correlationId: typeof decoded.correlationId === 'string' && decoded.correlationId !== '' ? decoded.correlationId : id,
    source: CANARY_SOURCE,
    eventTime: sentAt,
    hops: Array.isArray(decoded.hops) ? (decoded.hops as Envelope['hops']) : [],
    payload,
  };
}

/** Latency of a canary received at `nowMs`: nowMs - sentAt, in ms; 0 when the clocks disagree (sentAt in the future). */
export function canaryLatencyMs(env: CanaryEnvelope, nowMs: number): number {
  return Math.max(0, nowMs - Date.parse(normalizeEventTime(env.payload.sentAt as unknown)!));
}
