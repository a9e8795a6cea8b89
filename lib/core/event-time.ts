/**
 * Event times: the one parser (RFC 3339 `date-time` exactly as JSON Schema's format checks it, or epoch milliseconds),
 * the normalized form the sinks compare as strings, and the bounds a record's event time must lie within.
 * Rules in docs/ARCHITECTURE.md, "Event time".
 */
import { EVENT_TIME_MAX_MS, EVENT_TIME_MIN_MS } from '../../constructs/contract';

// Event times are stored as `YYYY-MM-DDTHH:mm:ss.sssZ` and compared as strings by the idempotent sinks
// (eventTime < :et), so only the years whose ISO form has 4 digits are representable.
export const MIN_TIME_MS = EVENT_TIME_MIN_MS;
export const MAX_TIME_MS = EVENT_TIME_MAX_MS;

/** Default greatest distance of an event time ahead of the record's arrival (5 minutes). */
export const DEFAULT_MAX_FUTURE_SKEW_MS = 300_000;
/** Default earliest event time accepted (the Unix epoch): earlier ones are clock or encoding bugs. */
export const DEFAULT_MIN_EVENT_TIME_MS = 0;

/** The window an event time must lie in: [minMs, reference + maxFutureSkewMs]. */
export interface EventTimeBounds {
  readonly maxFutureSkewMs: number;
  readonly minMs: number;
}

export const DEFAULT_EVENT_TIME_BOUNDS: EventTimeBounds = { maxFutureSkewMs: DEFAULT_MAX_FUTURE_SKEW_MS, minMs: DEFAULT_MIN_EVENT_TIME_MS };

/** `YYYY-MM-DDTHH:mm:ss.sssZ` of `ms`, or undefined outside years 0000-9999 (or not a finite number). */
export function isoFromMs(ms: number): string | undefined {
  if (!Number.isFinite(ms) || ms < MIN_TIME_MS || ms > MAX_TIME_MS) {
    return undefined;
  }
  return new Date(ms).toISOString();
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function isLeap(year: number): boolean {
  return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
}

function daysIn(year: number, month: number): number {
  return month === 2 && isLeap(year) ? 29 : DAYS_IN_MONTH[month - 1];
}

/** Value of the `count` decimal digits at `at`, or -1 when one of them is not a digit. */
function digits(x: string, at: number, count: number): number {
  let v = 0;
  for (let i = at; i < at + count; i++) {
    const d = x.charCodeAt(i) - 0x30;
    if (d < 0 || d > 9) return -1;
    v = v * 10 + d;
  }
  return v;
}

/** Epoch ms of a proleptic Gregorian date and time (H. Hinnant's days_from_civil; any year, no Date parser). */
function civilMs(y: number, m: number, d: number, h: number, mi: number, s: number, ms: number): number {
  const yy = m <= 2 ? y - 1 : y;
  const era = Math.floor(yy / 400);
  const yoe = yy - era * 400;
  const doy = Math.floor((153 * (m > 2 ? m - 3 : m + 9) + 2) / 5) + d - 1;
  const days = era * 146097 + yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy - 719468;
  return days * 86_400_000 + h * 3_600_000 + mi * 60_000 + s * 1000 + ms;
}

// Already in the normalized form (what toISOString writes for years 0000-9999).
const NORMALIZED = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/**
 * True when `x` is `YYYY-MM-DDTHH:mm:ss.sssZ` of an existing day with hour <= 23, minute <= 59, second <= 59: then
 * normalizing it is the identity.
 */
export function isNormalizedEventTime(x: string): boolean {
  if (x.length !== 24 || !NORMALIZED.test(x)) return false;
  const m = digits(x, 5, 2);
  const d = digits(x, 8, 2);
  return m >= 1 && m <= 12 && d >= 1 && d <= daysIn(digits(x, 0, 4), m)
    && digits(x, 11, 2) <= 23 && digits(x, 14, 2) <= 59 && digits(x, 17, 2) <= 59;
}

/**
 * Date.parse(x), computed with integer arithmetic (no Date parser) when `x` is a normalized event time (the ingest
 * processor computes every record's age from it); any other string goes to Date.parse.
 */
export function eventTimeMs(x: string): number {
  if (!isNormalizedEventTime(x)) return Date.parse(x);
  return civilMs(digits(x, 0, 4), digits(x, 5, 2), digits(x, 8, 2), digits(x, 11, 2), digits(x, 14, 2), digits(x, 17, 2), digits(x, 20, 3));
}

// RFC 3339 date-time as ajv-formats checks JSON Schema's `date-time` (full mode): one separator (T, t or any
// whitespace), a full date, a time with seconds and any number of fraction digits, and a zone (Z, z, +hh, +hhmm, +hh:mm).
const DATE = /^(\d\d\d\d)-(\d\d)-(\d\d)$/;
const TIME = /^(\d\d):(\d\d):(\d\d)(?:\.(\d+))?(z|([+-])(\d\d)(?::?(\d\d))?)$/i;
const SEPARATOR = /t|\s/i;

/**
 * Epoch ms of an RFC 3339 date-time (exactly the strings JSON Schema's `date-time` format accepts), else undefined.
 * Fractions beyond milliseconds are truncated (never rounded into the next second); a leap second (23:59:60 UTC)
 * reads as the last millisecond of its minute, 23:59:59.999.
 */
export function parseDateTime(s: string): number | undefined {
  const parts = s.split(SEPARATOR);
  if (parts.length !== 2) return undefined;
  const date = DATE.exec(parts[0]);
  const time = TIME.exec(parts[1]);
  if (date === null || time === null) return undefined;
  const [y, mo, d] = [+date[1], +date[2], +date[3]];
  if (mo < 1 || mo > 12 || d < 1 || d > daysIn(y, mo)) return undefined;
  const [h, mi, sec] = [+time[1], +time[2], +time[3]];
  const sign = time[6] === '-' ? -1 : 1;
  const tzH = +(time[7] ?? 0);
  const tzM = +(time[8] ?? 0);
  if (tzH > 23 || tzM > 59 || h > 23 || mi > 59 || sec > 60) return undefined;
  const offsetMs = sign * (tzH * 60 + tzM) * 60_000;
  if (sec === 60) {
    // A leap second exists only at 23:59 UTC.
    const utcMinuteOfDay = (((h * 60 + mi) - sign * (tzH * 60 + tzM)) % 1440 + 1440) % 1440;
    if (utcMinuteOfDay !== 1439) return undefined;
    return civilMs(y, mo, d, h, mi, 59, 999) - offsetMs;
  }
  const ms = time[4] === undefined ? 0 : Number((time[4] + '00').slice(0, 3));
  return civilMs(y, mo, d, h, mi, sec, ms) - offsetMs;
}

/**
 * Normalizes an event time (an RFC 3339 date-time string, or epoch milliseconds) to `YYYY-MM-DDTHH:mm:ss.sssZ`.
 * Returns undefined when it is neither, or falls outside years 0000-9999.
 */
export function normalizeEventTime(x: unknown): string | undefined {
  if (typeof x === 'number') return isoFromMs(Math.floor(x));
  if (typeof x !== 'string') return undefined;
  if (isNormalizedEventTime(x)) return x;
  const ms = parseDateTime(x);
  return ms === undefined ? undefined : isoFromMs(ms);
}

/**
 * Why the normalized event time `iso` is outside `bounds` around `referenceMs` (the later of the record's arrival and
 * the stage's clock), or undefined
 * when it is inside. A far-future time would pin its key (the newest version wins), hence the skew bound.
 */
export function eventTimeOutOfBounds(iso: string, referenceMs: number, bounds: EventTimeBounds): string | undefined {
  const ms = eventTimeMs(iso);
  if (ms < bounds.minMs) {
    return `event time ${iso} is before the earliest allowed, ${new Date(bounds.minMs).toISOString()}`;
  }
  const latest = referenceMs + bounds.maxFutureSkewMs;
  if (ms > latest) {
    return `event time ${iso} is more than ${bounds.maxFutureSkewMs} ms ahead of the record's arrival and the stage's clock (${isoFromMs(referenceMs) ?? referenceMs}): allowed up to ${isoFromMs(latest) ?? latest}`;
  }
  return undefined;
}
