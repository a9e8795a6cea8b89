/**
 * What a replay puts back on a stream, built from a dead letter or an archived record. Pure: no AWS SDK.
 *
 * - A record that decodes to a JSON object is re-put as an Envelope v1 marked `replay: { of, at, count }`, `count` one
 *   more than the record's own mark had (1 for a record never replayed): the stage dead-letters a record replayed
 *   more than its replayMaxCount as `replay-exhausted`, so a record cannot cycle DLQ -> replay -> DLQ unnoticed:
 *   - a raw payload is wrapped WITHOUT re-serializing it (`{"v":1,...,"payload":<original bytes>}`), so the payload the
 *     handler parses is exactly the original one (number literals, key order and all);
 *   - an envelope sent by the producer keeps its fields and gets the replay mark.
 *   The id (when known) and correlationId are kept; the eventTime is set to the original arrival time when the
 *   payload has no `eventTime`/`timestamp` (the handler used the Kinesis arrival time then): the replayed version is
 *   the same version, so the idempotent sinks see a duplicate, never a newer record.
 * - A record that does not decode (not UTF-8, not JSON, not an object, too deep, inexact numbers) is re-put as its
 *   original bytes unchanged.
 */
import { createHash } from 'node:crypto';
import { decodeData, DEFAULT_MAX_DEPTH, hasUtf8Bom, isEnvelopeShape, normalizeEventTime, replayCountOf } from '../core';

/** What the replay knows about a record besides its bytes. */
export interface ReplayOrigin {
  readonly of: 'dlq' | 'archive';
  /** Record id computed by the pipeline (dead letters), or null/undefined when unknown. */
  readonly id?: string | null;
  readonly correlationId?: string | null;
  /** Original Kinesis approximate arrival time (ISO-8601), the envelope eventTime fallback. */
  readonly arrivedAt?: string | null;
  /** Start the replay count again at 1 (a `replay-exhausted` dead letter an operator replays by name). */
  readonly restartCount?: boolean;
}

export interface ReplayData {
  readonly data: Buffer;
  /** `envelope`: re-put as a marked envelope; `raw`: the original bytes (not decodable). */
  readonly kind: 'envelope' | 'raw';
}

/** Largest record the replay classifies as decodable (the Kinesis record limit); the handler applies its own limit. */
export const REPLAY_DECODE_LIMIT_BYTES = 10_485_760;

function hasTime(payload: Record<string, unknown>): boolean {
  return (payload.eventTime !== undefined && payload.eventTime !== null) || (payload.timestamp !== undefined && payload.timestamp !== null);
}

const DECODE_LIMITS = {
  maxBytes: REPLAY_DECODE_LIMIT_BYTES,
  // Wrapping adds one level of nesting: a payload already at the handler's depth limit is re-put unchanged.
  maxDepth: DEFAULT_MAX_DEPTH - 1,
};

/**
 * The JSON object `original` decodes to as {@link replayData} sees it (strict UTF-8 and JSON, depth, exact numbers),
 * or null when it goes back as its raw bytes. Callers that need the value too compute it once and pass it on.
 */
export function decodeForReplay(original: Buffer): Record<string, unknown> | null {
  if (original.length === 0) return null;
  const decoded = decodeData(original.toString('base64'), DECODE_LIMITS);
  return decoded.ok ? decoded.value : null;
}

// The replay mark's JSON of the last replay time seen: one replay marks every record with the same time.
let markAtMs = Number.NaN;
let markAtJson = '';

function replayMarkJson(of: ReplayOrigin['of'], at: Date): string {
  if (at.getTime() !== markAtMs) {
    markAtJson = JSON.stringify(at.toISOString());
    markAtMs = at.getTime();
  }
  return `{"of":${JSON.stringify(of)},"at":${markAtJson},"count":1}`;
}

/**
 * The bytes to re-put for `original`, marked as replayed at `at`. `decoded`: {@link decodeForReplay} of `original`
 * when the caller already has it.
 */
export function replayData(original: Buffer, origin: ReplayOrigin, at: Date, decoded?: Record<string, unknown> | null): ReplayData {
  const value = decoded === undefined ? decodeForReplay(original) : decoded;
  if (value === null) return { data: original, kind: 'raw' };
  const arrivedAt = origin.arrivedAt ? normalizeEventTime(origin.arrivedAt) : undefined;
  if (isEnvelopeShape(value)) {
    // A producer envelope: keep its fields, add what the handler would otherwise derive from the new arrival.
    const env: Record<string, unknown> = { ...value };
    if (env.id === undefined && origin.id) env.id = origin.id;
    if ((env.eventTime === undefined || env.eventTime === null) && !hasTime(value.payload) && arrivedAt) env.eventTime = arrivedAt;
    env.replay = { of: origin.of, at: at.toISOString(), count: origin.restartCount ? 1 : replayCountOf(value.replay) + 1 };
    return { data: Buffer.from(JSON.stringify(env), 'utf8'), kind: 'envelope' };
  }
  // JSON.stringify({ v: 1, id, correlationId, eventTime, hops: [], replay }) without its closing brace, written directly.
  let head = '{"v":1';
  if (origin.id) head += `,"id":${JSON.stringify(origin.id)}`;
  if (origin.correlationId) head += `,"correlationId":${JSON.stringify(origin.correlationId)}`;
  if (!hasTime(value) && arrivedAt) head += `,"eventTime":${JSON.stringify(arrivedAt)}`;
  head += `,"hops":[],"replay":${replayMarkJson(origin.of, at)},"payload":`;
  const bodyStart = hasUtf8Bom(original) ? 3 : 0;
  const headBytes = Buffer.byteLength(head);
  const data = Buffer.allocUnsafe(headBytes + original.length - bodyStart + 1);
  data.write(head, 0, 'utf8');
  original.copy(data, headBytes, bodyStart);
  data[data.length - 1] = 0x7d; // }
  return { data, kind: 'envelope' };
}

/** Partition key of a replayed record: the original one, else the id, else a hash of the data. */
export function replayPartitionKey(partitionKey: string | null | undefined, id: string | null | undefined, data: Buffer): string {
  if (partitionKey) return partitionKey;
  if (id) return id;
  return createHash('sha256').update(data).digest('hex').slice(0, 32);
}

/**
 * Request fields naming a stream given by ARN or name. For an ARN both StreamARN and the matching StreamName are sent:
 * Kinesis accepts the pair, and emulators that predate StreamARN (kinesalite) read the name.
 */
export function streamRef(stream: string): { StreamARN?: string; StreamName: string } {
  return stream.startsWith('arn:') ? { StreamARN: stream, StreamName: streamNameOf(stream) } : { StreamName: stream };
}

/** The stream name of a stream ARN or name. */
export function streamNameOf(stream: string): string {
  const i = stream.lastIndexOf(':stream/');
  return i >= 0 ? stream.slice(i + ':stream/'.length) : stream;
}
