import { InvalidArgumentError } from './errors';
import { PermanentError, PhoenixError, describeValue } from './failure';
import { getPath, recordIdOf, type CanonicalSlot } from './ids';

/** One stage a record went through: epoch ms in/out and the attempt number (1 = first try). */
export interface Hop {
  stage: string;
  in: number;
  out?: number;
  attempt: number;
}

/** Present on records re-ingested from the DLQ or the archive. */
export interface ReplayMark {
  of: 'dlq' | 'archive';
  at: string;
}

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
}

export const MAX_CORRELATION_ID_CHARS = 256;

function isPlainObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** True for an Envelope v1: `v === 1`, a string `id` and an object `payload`. */
export function isEnvelope(x: unknown): x is Envelope {
  return isPlainObject(x) && x.v === 1 && typeof x.id === 'string' && isPlainObject(x.payload);
}

function usableCorrelationId(x: unknown): string | undefined {
  return typeof x === 'string' && x.length > 0 && x.length <= MAX_CORRELATION_ID_CHARS ? x : undefined;
}

// ISO-8601 calendar date, optionally with a time (hh:mm[:ss[.fraction]]) and a zone (Z or +hh:mm). A time without a
// zone is rejected: Date.parse would read it as local time, which depends on the machine.
const ISO_8601 = /^\d{4}-\d{2}-\d{2}(?:[Tt ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:[Zz]|[+-]\d{2}:?\d{2}))?$/;

// Event times are stored as `YYYY-MM-DDTHH:mm:ss.sssZ` and compared as strings by the idempotent sinks
// (eventTime < :et), so only the years whose ISO form has 4 digits are accepted.
const MIN_TIME_MS = Date.parse('0000-01-01T00:00:00.000Z');
const MAX_TIME_MS = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

function isoFromMs(ms: number): string | undefined {
  if (!Number.isFinite(ms) || ms < MIN_TIME_MS || ms > MAX_TIME_MS) {
    return undefined;
  }
  return new Date(ms).toISOString();
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** Value of the 2 (or 4) decimal digits at `at`, or -1 when one of them is not a digit. */
function digits(x: string, at: number, count: number): number {
  let v = 0;
  for (let i = at; i < at + count; i++) {
    const d = x.charCodeAt(i) - 0x30;
    if (d < 0 || d > 9) return -1;
    v = v * 10 + d;
  }
  return v;
}

/** Date.parse rolls impossible days over (2025-02-30 becomes March 2nd): reject them instead. */
function dayExists(iso: string): boolean {
  // Callers have matched an ISO-8601 pattern: these are digits (read without a substring per field).
  const year = digits(iso, 0, 4);
  const month = digits(iso, 5, 2);
  const day = digits(iso, 8, 2);
  if (month < 1 || month > 12 || day < 1) {
    return false;
  }
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  return day <= (month === 2 && leap ? 29 : DAYS_IN_MONTH[month - 1]);
}

// Already in the normalized form (what toISOString writes for years 0000-9999).
const NORMALIZED = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/**
 * True when `x` is `YYYY-MM-DDTHH:mm:ss.sssZ` of an existing day with hour <= 23, minute <= 59, second <= 59: then
 * new Date(Date.parse(x)).toISOString() === x, so normalizing it is the identity (hour 24 and second 60, which
 * Date.parse may roll over, take the general path).
 */
export function isNormalizedEventTime(x: string): boolean {
  return x.length === 24 && NORMALIZED.test(x) && dayExists(x)
    && x.charCodeAt(11) * 10 + x.charCodeAt(12) <= 0x30 * 11 + 23
    && x.charCodeAt(14) <= 0x35 && x.charCodeAt(17) <= 0x35;
}

/**
 * Date.parse(x), computed with integer arithmetic (no Date parser) when `x` is an event time as envelopes carry it,
 * `YYYY-MM-DDTHH:mm:ss.sssZ` of an existing day and time (the ingest processor computes every record's age from it);
 * any other string goes to Date.parse. Equal to Date.parse for every string (a property test holds them together).
 */
export function eventTimeMs(x: string): number {
  if (x.length !== 24 || x.charCodeAt(4) !== 0x2d || x.charCodeAt(7) !== 0x2d || x.charCodeAt(10) !== 0x54 || x.charCodeAt(13) !== 0x3a
    || x.charCodeAt(16) !== 0x3a || x.charCodeAt(19) !== 0x2e || x.charCodeAt(23) !== 0x5a) {
    return Date.parse(x);
  }
  const y = digits(x, 0, 4);
  const m = digits(x, 5, 2);
  const d = digits(x, 8, 2);
  const h = digits(x, 11, 2);
  const mi = digits(x, 14, 2);
  const s = digits(x, 17, 2);
  const ms = digits(x, 20, 3);
  const leap = y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0);
  if (y < 0 || m < 1 || m > 12 || d < 1 || d > (m === 2 && leap ? 29 : DAYS_IN_MONTH[m - 1]) || h < 0 || h > 23 || mi < 0 || mi > 59
    || s < 0 || s > 59 || ms < 0) {
    return Date.parse(x);
  }
  // Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
  const yy = m <= 2 ? y - 1 : y;
  const era = Math.floor(yy / 400);
  const yoe = yy - era * 400;
  const doy = Math.floor((153 * (m > 2 ? m - 3 : m + 9) + 2) / 5) + d - 1;
  const days = era * 146097 + yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy - 719468;
  return days * 86_400_000 + h * 3_600_000 + mi * 60_000 + s * 1000 + ms;
}

/**
 * Normalizes an event time (ISO-8601 string with a zone, or epoch milliseconds) to `YYYY-MM-DDTHH:mm:ss.sssZ`.
 * Returns undefined when it cannot be parsed.
 */
export function normalizeEventTime(x: unknown): string | undefined {
  if (typeof x === 'number') {
    return isoFromMs(x);
  }
  if (typeof x === 'string' && isNormalizedEventTime(x)) {
    return x;
  }
  if (typeof x === 'string' && ISO_8601.test(x) && dayExists(x)) {
    // Normalize the separators and the 'hhmm' zone form so that Date.parse reads it the same on every engine.
    const normalized = x.replace(/^(\d{4}-\d{2}-\d{2})[Tt ]/, '$1T').replace(/[z]$/, 'Z').replace(/([+-]\d{2})(\d{2})$/, '$1:$2');
    return isoFromMs(Date.parse(normalized));
  }
  return undefined;
}

function eventTimeOf(field: string, x: unknown): string {
  const iso = normalizeEventTime(x);
  if (iso === undefined) {
    throw new PermanentError(
      'schema',
      `${field} ${describeValue(x)} is not an event time: use an ISO-8601 string with a zone (2025-01-31T12:00:00Z) or epoch milliseconds, years 0000-9999`,
    );
  }
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
  if (!isPlainObject(x) || (x.of !== 'dlq' && x.of !== 'archive') || typeof x.at !== 'string') {
    throw new PermanentError('decode', `envelope replay must be { of: 'dlq' | 'archive', at: ISO-8601 }; got ${describeValue(x)}`);
  }
  return { of: x.of, at: eventTimeOf('envelope replay.at', x.at) };
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
  if (decoded.v === 1 && isPlainObject(decoded.payload)) {
    const payload = decoded.payload;
    const id = recordIdOf(payload, ctx.namespace, ctx.keyFields, slot);
    if (decoded.id !== undefined && decoded.id !== id) {
      throw new PermanentError(
        'decode',
        `envelope id ${describeValue(decoded.id)} is not the id of its payload (${id}) for key fields ${JSON.stringify(ctx.keyFields)}: `
        + 'a foreign or altered id would break idempotency',
      );
    }
    const env: Envelope = {
      v: 1,
      id,
      correlationId: usableCorrelationId(decoded.correlationId)
        ?? usableCorrelationId(payload.correlationId) ?? usableCorrelationId(payload.correlation_id) ?? id,
      source: typeof decoded.source === 'string' && decoded.source.length > 0 ? decoded.source : ctx.source,
      // A configured event-time field of the payload is authoritative (a replayed envelope carries the time the
      // replay tool knew, e.g. the original arrival time); else the envelope's own eventTime.
      eventTime: configuredEventTime(payload, ctx.eventTimeField)
        ?? (decoded.eventTime !== undefined && decoded.eventTime !== null
          ? eventTimeOf('envelope eventTime', decoded.eventTime)
          : payloadEventTime(payload, arrived, ctx.eventTimeField)),
      hops: checkHops(decoded.hops),
      payload,
    };
    const replay = checkReplay(decoded.replay);
    if (replay !== undefined) {
      env.replay = replay;
    }
    return env;
  }
  const id = recordIdOf(decoded, ctx.namespace, ctx.keyFields, slot);
  return {
    v: 1,
    id,
    correlationId: usableCorrelationId(decoded.correlationId) ?? usableCorrelationId(decoded.correlation_id) ?? id,
    source: ctx.source,
    eventTime: payloadEventTime(decoded, arrived, ctx.eventTimeField),
    hops: [],
    payload: decoded,
  };
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

/** A new envelope marked as replayed from the DLQ or the archive at `at`. */
export function markReplay(env: Envelope, of: 'dlq' | 'archive', at: Date): Envelope {
  if (of !== 'dlq' && of !== 'archive') {
    throw new InvalidArgumentError(`markReplay: of must be 'dlq' or 'archive'; got ${describeValue(of)}`);
  }
  const iso = at instanceof Date ? isoFromMs(at.getTime()) : undefined;
  if (iso === undefined) {
    throw new InvalidArgumentError(`markReplay: at must be a valid Date (years 0000-9999); got ${String(at)}`);
  }
  return { ...env, replay: { of, at: iso } };
}
