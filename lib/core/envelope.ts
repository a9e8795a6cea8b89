import { InvalidArgumentError } from './errors';
import { DEFAULT_EVENT_TIME_BOUNDS, eventTimeOutOfBounds, isoFromMs, MAX_TIME_MS, MIN_TIME_MS, normalizeEventTime, type EventTimeBounds } from './event-time';
import { PermanentError, PhoenixError, describeValue } from './failure';
import { getPath, recordIdOf, type CanonicalSlot } from './ids';

export {
  DEFAULT_EVENT_TIME_BOUNDS, DEFAULT_MAX_FUTURE_SKEW_MS, DEFAULT_MIN_EVENT_TIME_MS, eventTimeMs, eventTimeOutOfBounds, isNormalizedEventTime,
  isoFromMs, MAX_TIME_MS, MIN_TIME_MS, normalizeEventTime, parseDateTime, type EventTimeBounds,
} from './event-time';

/** One stage a record went through: epoch ms in/out and the attempt number (1 = first try). */
export interface Hop {
  stage: string;
  in: number;
  out?: number;
  attempt: number;
}

/**
 * Present on records re-ingested from the DLQ or the archive. `count`: how many times the record was replayed (1 on
 * the first replay; a mark without it counts 1). Past the stage's replayMaxCount the record is dead-lettered as
 * `replay-exhausted`.
 */
export interface ReplayMark {
  of: 'dlq' | 'archive';
  at: string;
  count?: number;
}

/** Most replays of one record a mark may count (a sanity bound of the format, far above any replayMaxCount). */
export const MAX_REPLAY_COUNT = 1_000_000;

/** Envelope v1: what stages pass to each other and what sinks store (docs/ARCHITECTURE.md). */
export interface Envelope {
  v: 1;
  id: string;
  correlationId: string;
  source: string;
  eventTime: string;
  hops: Hop[];
  replay?: ReplayMark;
  payload: Record<string, unknown>;
}

/** What {@link toEnvelope} needs besides the decoded record. */
export interface EnvelopeContext {
  /** Id namespace of the pipeline (PHX_ID_NAMESPACE). */
  readonly namespace: string;
  /** Natural-key dot paths (PHX_KEY_FIELDS); empty = whole canonical payload. */
  readonly keyFields: readonly string[];
  /** Source name written into new envelopes (e.g. the stream name). */
  readonly source: string;
  /** Kinesis approximate arrival time (epoch ms): the event time when the record carries none. */
  readonly arrivedAtMs: number;
  /**
   * Dot path of the payload field holding the event time (PHX_EVENT_TIME_FIELD). When unset, `eventTime`, else
   * `timestamp`. A record without the field takes its arrival time.
   */
  readonly eventTimeField?: string;
  /**
   * Where an event time must lie: not before `minMs`, not more than `maxFutureSkewMs` after the later of arrivedAtMs
   * and nowMs. @default DEFAULT_EVENT_TIME_BOUNDS
   */
  readonly eventTimeBounds?: EventTimeBounds;
  /** The stage's clock (epoch ms) when it started the record. @default arrivedAtMs */
  readonly nowMs?: number;
}

export const MAX_CORRELATION_ID_CHARS = 256;

function isPlainObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/**
 * The members an Envelope v1 may carry (docs/ARCHITECTURE.md, "Envelope v1"); `mac` authenticates a synthetic
 * canary (canary.ts). A record with any other member is a payload, whatever its `v` and `payload`.
 */
export const ENVELOPE_MEMBERS: ReadonlySet<string> = new Set(['v', 'id', 'correlationId', 'source', 'eventTime', 'hops', 'replay', 'payload', 'mac']);

/** A decoded record that claims to be an envelope (see {@link isEnvelopeShape}); its members are not checked yet. */
export type EnvelopeShape = Record<string, unknown> & { v: 1; payload: Record<string, unknown> };

/**
 * True when a decoded record is an envelope rather than a payload: `v === 1`, an object `payload`, and no member
 * outside {@link ENVELOPE_MEMBERS} (`{ v: 1, customer: 'c1', payload: {...} }` is a payload, kept whole).
 */
export function isEnvelopeShape(x: unknown): x is EnvelopeShape {
  if (!isPlainObject(x) || x.v !== 1 || !isPlainObject(x.payload)) return false;
  for (const k in x) {
    if (!ENVELOPE_MEMBERS.has(k)) return false;
  }
  return true;
}

/** True for an Envelope v1: an envelope shape ({@link isEnvelopeShape}) with a string `id`. */
export function isEnvelope(x: unknown): x is Envelope {
  return isEnvelopeShape(x) && typeof x.id === 'string';
}

function usableCorrelationId(x: unknown): string | undefined {
  return typeof x === 'string' && x.length > 0 && x.length <= MAX_CORRELATION_ID_CHARS ? x : undefined;
}

function eventTimeOf(field: string, x: unknown): string {
  const iso = normalizeEventTime(x);
  if (iso === undefined) {
    throw new PermanentError(
      'schema',
      `${field} ${describeValue(x)} is not an event time: use an RFC 3339 date-time (2025-01-31T12:00:00Z, as JSON Schema's date-time format) or epoch milliseconds, years 0000-9999`,
    );
  }
  return iso;
}

/** The envelope's event time when inside the context's bounds; PermanentError('event-time') otherwise. */
function boundedEventTime(iso: string, ctx: EnvelopeContext, arrivedMs: number): string {
  const reference = ctx.nowMs !== undefined && ctx.nowMs > arrivedMs ? ctx.nowMs : arrivedMs;
  const problem = eventTimeOutOfBounds(iso, reference, ctx.eventTimeBounds ?? DEFAULT_EVENT_TIME_BOUNDS);
  if (problem !== undefined) throw new PermanentError('event-time', problem);
  return iso;
}

function checkHops(x: unknown): Hop[] {
  if (x === undefined) {
    return [];
  }
  if (!Array.isArray(x)) {
    throw new PermanentError('decode', `envelope hops must be an array; got ${describeValue(x)}`);
  }
  return x.map((h: unknown, i): Hop => {
    if (!isPlainObject(h)
      || typeof h.stage !== 'string' || h.stage.length === 0
      || typeof h.in !== 'number' || !Number.isFinite(h.in)
      || (h.out !== undefined && (typeof h.out !== 'number' || !Number.isFinite(h.out)))
      || typeof h.attempt !== 'number' || !Number.isInteger(h.attempt) || h.attempt < 1) {
      throw new PermanentError('decode', `envelope hops[${i}] must be { stage: non-empty string, in: epoch ms, out?: epoch ms, attempt: integer >= 1 }`);
    }
    const hop: Hop = { stage: h.stage, in: h.in, attempt: h.attempt };
    if (h.out !== undefined) {
      hop.out = h.out as number;
    }
    return hop;
  });
}

function checkReplay(x: unknown): ReplayMark | undefined {
  if (x === undefined) {
    return undefined;
  }
  if (!isPlainObject(x) || (x.of !== 'dlq' && x.of !== 'archive') || typeof x.at !== 'string'
    || (x.count !== undefined && (!Number.isInteger(x.count) || (x.count as number) < 1 || (x.count as number) > MAX_REPLAY_COUNT))) {
    throw new PermanentError('decode', `envelope replay must be { of: 'dlq' | 'archive', at: RFC 3339, count?: integer 1..${MAX_REPLAY_COUNT} }; got ${describeValue(x)}`);
  }
  const mark: ReplayMark = { of: x.of, at: eventTimeOf('envelope replay.at', x.at) };
  if (x.count !== undefined) mark.count = x.count as number;
  return mark;
}

/** Checks the context; returns arrivedAtMs, known to be convertible by isoFromMs (formatted only when used). */
function checkContext(ctx: EnvelopeContext): number {
  if (typeof ctx.source !== 'string' || ctx.source.length === 0) {
    throw new InvalidArgumentError(`toEnvelope: context source must be a non-empty string; got ${describeValue(ctx.source)}`);
  }
  const ms = ctx.arrivedAtMs;
  if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < MIN_TIME_MS || ms > MAX_TIME_MS) {
    throw new InvalidArgumentError(`toEnvelope: context arrivedAtMs must be epoch milliseconds (years 0000-9999); got ${describeValue(ctx.arrivedAtMs)}`);
  }
  return ms;
}

/** The payload's configured event-time field, normalized; undefined when none is configured or the field is absent. */
function configuredEventTime(payload: Record<string, unknown>, field: string | undefined): string | undefined {
  if (field === undefined || field === '') return undefined;
  const v = field.indexOf('.') < 0 ? payload[field] : getPath(payload, field);
  return v !== undefined && v !== null ? eventTimeOf(`payload.${field}`, v) : undefined;
}

function payloadEventTime(payload: Record<string, unknown>, arrivedMs: number, field: string | undefined): string {
  if (field !== undefined && field !== '') {
    const v = field.indexOf('.') < 0 ? payload[field] : getPath(payload, field);
    return v !== undefined && v !== null ? eventTimeOf(`payload.${field}`, v) : new Date(arrivedMs).toISOString();
  }
  if (payload.eventTime !== undefined && payload.eventTime !== null) {
    return eventTimeOf('payload.eventTime', payload.eventTime);
  }
  if (payload.timestamp !== undefined && payload.timestamp !== null) {
    return eventTimeOf('payload.timestamp', payload.timestamp);
  }
  return new Date(arrivedMs).toISOString();
}

/**
 * Builds the Envelope v1 of a decoded record.
 *
 * - A raw payload (anything that is not `{ v: 1, payload: {...} }`): id = recordId(payload); correlationId =
 *   payload.correlationId ?? payload.correlation_id ?? id (used only when a non-empty string of at most 256 chars);
 *   eventTime = the context's eventTimeField, else payload.eventTime ?? payload.timestamp (ISO-8601 or epoch ms),
 *   else the arrival time.
 * - An envelope from a previous stage or a producer: its id is kept only when it equals the id recomputed from its
 *   payload (a foreign or tampered id would break idempotency: PermanentError('decode')); a missing id is computed.
 *   correlationId, eventTime, hops, replay and source are kept (source defaults to the context's).
 *
 * Throws PermanentError('schema') for an unparseable event time, 'missing-key' for a missing natural key,
 * 'decode' for a malformed envelope.
 *
 * `slot`, when given, receives the canonical JSON of the payload when the id was computed from it (keyFields empty),
 * else undefined (see recordIdOf).
 */
export function toEnvelope(decoded: Record<string, unknown>, ctx: EnvelopeContext, slot?: CanonicalSlot): Envelope {
  const arrived = checkContext(ctx);
  if (!isPlainObject(decoded)) {
    throw new InvalidArgumentError(`toEnvelope: decoded record must be an object; got ${describeValue(decoded)}`);
  }
  if (isEnvelopeShape(decoded)) return fromEnvelope(decoded, ctx, arrived, slot);
  const id = recordIdOf(decoded, ctx.namespace, ctx.keyFields, slot);
  return {
    v: 1,
    id,
    correlationId: usableCorrelationId(decoded.correlationId) ?? usableCorrelationId(decoded.correlation_id) ?? id,
    source: ctx.source,
    eventTime: boundedEventTime(payloadEventTime(decoded, arrived, ctx.eventTimeField), ctx, arrived),
    hops: [],
    payload: decoded,
  };
}

/** toEnvelope of an envelope (isEnvelopeShape): its id checked against its payload, its fields kept. */
function fromEnvelope(decoded: EnvelopeShape, ctx: EnvelopeContext, arrived: number, slot: CanonicalSlot | undefined): Envelope {
  const payload = decoded.payload;
  const id = recordIdOf(payload, ctx.namespace, ctx.keyFields, slot);
  if (decoded.id !== undefined && decoded.id !== id) {
    throw new PermanentError(
      'decode',
      `envelope id ${describeValue(decoded.id)} is not the id of its payload (${id}) for key fields ${JSON.stringify(ctx.keyFields)}: `
      + 'a foreign or altered id would break idempotency',
    );
  }
  // A configured event-time field of the payload is authoritative (a replayed envelope carries the time the
  // replay tool knew, e.g. the original arrival time); else the envelope's own eventTime.
  const eventTime = configuredEventTime(payload, ctx.eventTimeField)
    ?? (decoded.eventTime !== undefined && decoded.eventTime !== null
      ? eventTimeOf('envelope eventTime', decoded.eventTime)
      : payloadEventTime(payload, arrived, ctx.eventTimeField));
  const env: Envelope = {
    v: 1,
    id,
    correlationId: usableCorrelationId(decoded.correlationId)
      ?? usableCorrelationId(payload.correlationId) ?? usableCorrelationId(payload.correlation_id) ?? id,
    source: typeof decoded.source === 'string' && decoded.source.length > 0 ? decoded.source : ctx.source,
    eventTime: boundedEventTime(eventTime, ctx, arrived),
    hops: checkHops(decoded.hops),
    payload,
  };
  const replay = checkReplay(decoded.replay);
  if (replay !== undefined) {
    env.replay = replay;
  }
  return env;
}

function checkMs(fn: string, name: string, x: number): void {
  if (typeof x !== 'number' || !Number.isFinite(x)) {
    throw new InvalidArgumentError(`${fn}: ${name} must be a finite number (epoch ms); got ${describeValue(x)}`);
  }
}

function checkStage(fn: string, stage: string): void {
  if (typeof stage !== 'string' || stage.length === 0) {
    throw new InvalidArgumentError(`${fn}: stage must be a non-empty string; got ${describeValue(stage)}`);
  }
}

/** A new envelope with an open hop `{ stage, in: nowMs, attempt }` appended (the input is not modified). */
export function openHop(env: Envelope, stage: string, nowMs: number, attempt: number): Envelope {
  checkStage('openHop', stage);
  checkMs('openHop', 'nowMs', nowMs);
  if (!Number.isInteger(attempt) || attempt < 1) {
    throw new InvalidArgumentError(`openHop: attempt must be an integer >= 1; got ${describeValue(attempt)}`);
  }
  return { ...env, hops: [...env.hops, { stage, in: nowMs, attempt }] };
}

/** A new envelope whose last open hop of `stage` gets `out: nowMs`. Throws a PhoenixError when there is none. */
export function closeHop(env: Envelope, stage: string, nowMs: number): Envelope {
  checkStage('closeHop', stage);
  checkMs('closeHop', 'nowMs', nowMs);
  for (let i = env.hops.length - 1; i >= 0; i--) {
    const h = env.hops[i];
    if (h.stage === stage && h.out === undefined) {
      const hops = env.hops.slice();
      hops[i] = { ...h, out: nowMs };
      return { ...env, hops };
    }
  }
  throw new PhoenixError('NO_OPEN_HOP', `closeHop: envelope ${env.id} has no open hop of stage '${stage}' (hops: ${env.hops.map((h) => h.stage).join(', ') || 'none'})`);
}

/**
 * The envelope a stage writes: a new object with `payload` and a closed hop `{ stage, in, out, attempt }` appended to
 * the hops of `env` (neither `env` nor its hops array is modified). One allocation instead of openHop + closeHop's
 * two envelope copies; the values are checked as openHop/closeHop check them.
 */
export function sealEnvelope(
  env: Envelope,
  payload: Record<string, unknown>,
  stage: string,
  inMs: number,
  outMs: number,
  attempt: number,
): Envelope {
  if (typeof stage !== 'string' || stage.length === 0) checkStage('sealEnvelope', stage);
  if (typeof inMs !== 'number' || !Number.isFinite(inMs)) checkMs('sealEnvelope', 'inMs', inMs);
  if (typeof outMs !== 'number' || !Number.isFinite(outMs)) checkMs('sealEnvelope', 'outMs', outMs);
  if (!Number.isInteger(attempt) || attempt < 1) {
    throw new InvalidArgumentError(`sealEnvelope: attempt must be an integer >= 1; got ${describeValue(attempt)}`);
  }
  const prior = env.hops;
  const hops: Hop[] = new Array(prior.length + 1);
  for (let i = 0; i < prior.length; i++) hops[i] = prior[i];
  hops[prior.length] = { stage, in: inMs, out: outMs, attempt };
  const out: Envelope = { v: 1, id: env.id, correlationId: env.correlationId, source: env.source, eventTime: env.eventTime, hops, payload };
  if (env.replay !== undefined) out.replay = env.replay;
  return out;
}

const SAFE_STAGE = /^[A-Za-z0-9._-]{1,64}$/;

/** JSON.stringify(hops), written directly for well-formed hops (the stage names configuration allows, finite numbers). */
function hopsJson(hops: readonly Hop[]): string {
  let out = '[';
  for (let i = 0; i < hops.length; i++) {
    const h = hops[i];
    if (typeof h !== 'object' || h === null || Object.keys(h).length !== (h.out === undefined ? 3 : 4)
      || typeof h.stage !== 'string' || !SAFE_STAGE.test(h.stage) || !Number.isFinite(h.in) || !Number.isFinite(h.attempt)
      || (h.out !== undefined && !Number.isFinite(h.out))) {
      return JSON.stringify(hops);
    }
    out += `${i > 0 ? ',' : ''}{"stage":"${h.stage}","in":${h.in},${h.out !== undefined ? `"out":${h.out},` : ''}"attempt":${h.attempt}}`;
  }
  return out + ']';
}

/**
 * JSON text of `env` whose payload is already serialized as `payloadJson` (JSON text of env.payload, e.g. its
 * canonical JSON): the payload is not serialized a second time. Parses to the same value as JSON.stringify(env); the
 * members are in the order v, id, correlationId, source, eventTime, hops, replay (when present), payload.
 */
export function envelopeJson(env: Envelope, payloadJson: string): string {
  const hops = hopsJson(env.hops);
  const replay = env.replay !== undefined ? `,"replay":${JSON.stringify(env.replay)}` : '';
  return `{"v":1,"id":${JSON.stringify(env.id)},"correlationId":${JSON.stringify(env.correlationId)},"source":${JSON.stringify(env.source)},`
    + `"eventTime":${JSON.stringify(env.eventTime)},"hops":${hops}${replay},"payload":${payloadJson}}`;
}

/** Duration of every closed hop, in order. Negative durations (a clock that went back) are reported as 0. */
export function hopDurations(env: Envelope): Array<{ stage: string; ms: number; attempt: number }> {
  const out: Array<{ stage: string; ms: number; attempt: number }> = [];
  for (const h of env.hops) {
    if (h.out !== undefined) {
      out.push({ stage: h.stage, ms: Math.max(0, h.out - h.in), attempt: h.attempt });
    }
  }
  return out;
}

/**
 * How many times a record with this replay mark was replayed: its count, 1 for a mark without a valid one, 0 without a
 * mark (undefined or not an object).
 */
export function replayCountOf(mark: unknown): number {
  if (!isPlainObject(mark)) return 0;
  const n = mark.count;
  return typeof n === 'number' && Number.isInteger(n) && n >= 1 && n <= MAX_REPLAY_COUNT ? n : 1;
}

/** A new envelope marked as replayed from the DLQ or the archive at `at`, its replay count one more than before. */
export function markReplay(env: Envelope, of: 'dlq' | 'archive', at: Date): Envelope {
  if (of !== 'dlq' && of !== 'archive') {
    throw new InvalidArgumentError(`markReplay: of must be 'dlq' or 'archive'; got ${describeValue(of)}`);
  }
  const iso = at instanceof Date ? isoFromMs(at.getTime()) : undefined;
  if (iso === undefined) {
    throw new InvalidArgumentError(`markReplay: at must be a valid Date (years 0000-9999); got ${String(at)}`);
  }
  return { ...env, replay: { of, at: iso, count: replayCountOf(env.replay) + 1 } };
}
