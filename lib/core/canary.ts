/**
 * Synthetic canaries (constructs/contract.ts CANARY_SOURCE): envelopes the SyntheticCanary's function puts into a
 * pipeline's entry stream on a schedule, and that the terminal stage recognizes, measures and keeps out of its sink.
 *
 * A canary is an Envelope v1 whose `source` is CANARY_SOURCE, whose payload is
 * `{ canary: true, sentAt: '<ISO-8601>', pipeline: '<name>' }`, without a replay mark, and whose `mac` is the
 * HMAC-SHA256 of its id, correlation id and payload under the deployment's canary key (a random key only the canary
 * function and the pipeline's stages can read): a producer cannot forge one, and a record that only looks like a
 * canary is an ordinary record. Its correlation id is `canary-<pipeline>-<sentAt ms>`, so one canary's journey can
 * be found in every stage's logs.
 *
 * Pure: no I/O, no AWS SDK.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { canonicalJson } from './canonical';
import { hasUtf8Bom } from './decode';
import { isEnvelopeShape, toEnvelope, normalizeEventTime, type Envelope } from './envelope';
import { InvalidArgumentError } from './errors';
import { describeValue } from './failure';
import { idNamespaceFor } from './ids';
import { CANARY_SOURCE } from '../../constructs/contract';

/** Fewest bytes of a canary key (HMAC-SHA256 keys shorter than the hash weaken it). */
export const MIN_CANARY_KEY_BYTES = 32;

/** Payload of a canary envelope. */
export interface CanaryPayload {
  canary: true;
  /** When the canary was sent (ISO-8601 UTC, millisecond precision). */
  sentAt: string;
  /** Pipeline the canary was sent into. */
  pipeline: string;
}

/** A canary as sent: an envelope with a canary payload and its `mac`. */
export type CanaryEnvelope = Envelope & { source: typeof CANARY_SOURCE; payload: CanaryPayload; mac: string };

function checkKey(fn: string, key: Uint8Array): void {
  if (!(key instanceof Uint8Array) || key.length < MIN_CANARY_KEY_BYTES) {
    throw new InvalidArgumentError(`${fn}: the canary key must be at least ${MIN_CANARY_KEY_BYTES} bytes; got ${key instanceof Uint8Array ? `${key.length} bytes` : describeValue(key)}`);
  }
}

/** HMAC-SHA256 (hex) of a canary's id, correlation id and payload (canonical JSON) under `key`. */
export function canaryMac(key: Uint8Array, id: string, correlationId: string, payload: unknown): string {
  return createHmac('sha256', key).update(canonicalJson({ id, correlationId, payload })).digest('hex');
}

/** True when `mac` is the canary MAC of the record under `key` (compared in constant time). */
function macMatches(key: Uint8Array, decoded: Record<string, unknown>): boolean {
  const { id, correlationId, mac } = decoded;
  if (typeof id !== 'string' || typeof correlationId !== 'string' || typeof mac !== 'string' || mac.length !== 64) return false;
  const expected = Buffer.from(canaryMac(key, id, correlationId, decoded.payload), 'hex');
  const given = Buffer.from(mac, 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

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
export function buildCanaryEnvelope(pipeline: string, nowMs: number, key: Uint8Array, namespace: string = idNamespaceFor(pipeline)): CanaryEnvelope {
  checkKey('buildCanaryEnvelope', key);
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
  return { ...env, mac: canaryMac(key, env.id, env.correlationId, payload) } as CanaryEnvelope;
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

/**
 * The one canary recognizer, by shape: an envelope ({@link isEnvelopeShape}) with `source` CANARY_SOURCE, a canary
 * payload and no replay mark (a replayed canary is an ordinary record). Shape only: readers without the key (the
 * profiler, a local run's accounting) use it to set canaries aside; the ingest stage authenticates with
 * {@link canaryEnvelope}.
 */
export function isCanary(decoded: unknown): decoded is CanaryEnvelope {
  return isEnvelopeShape(decoded) && decoded.source === CANARY_SOURCE && decoded.replay === undefined && isCanaryPayload(decoded.payload);
}

/**
 * True for record data (the UTF-8 JSON bytes put on the stream, a byte order mark ignored as the handler's decoder
 * does) that is shaped as a canary ({@link isCanary}); used where records are read back as bytes (dead letters of a
 * local run).
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
 * The envelope the ingest handler processes for an authentic canary, or undefined when `decoded` is not one: not
 * shaped as a canary ({@link isCanary}), no key configured, or a `mac` that is not the canary MAC under `key` (a
 * forged canary is an ordinary record). Canaries skip the natural key, schema and transform: their id is the
 * producer's (authenticated), the event time is sentAt.
 */
export function canaryEnvelope(decoded: Record<string, unknown>, key: Uint8Array | undefined): Envelope | undefined {
  // v and source first: two property reads for every non-canary record of the hot path.
  if (decoded.v !== 1 || decoded.source !== CANARY_SOURCE || key === undefined) return undefined;
  if (!isCanary(decoded) || !macMatches(key, decoded)) return undefined;
  const id = decoded.id;
  return {
    v: 1,
    id,
    correlationId: decoded.correlationId,
    source: CANARY_SOURCE,
    eventTime: canaryPayloadSentAt(decoded.payload)!,
    hops: Array.isArray(decoded.hops) ? (decoded.hops as Envelope['hops']) : [],
    payload: decoded.payload as unknown as Record<string, unknown>,
  };
}

/** Latency of a canary received at `nowMs`: nowMs - sentAt, in ms; 0 when the clocks disagree (sentAt in the future). */
export function canaryLatencyMs(env: CanaryEnvelope, nowMs: number): number {
  return Math.max(0, nowMs - Date.parse(normalizeEventTime(env.payload.sentAt as unknown)!));
}
