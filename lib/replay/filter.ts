/**
 * Replay and DLQ filters: parsing of the user's input (CLI flags or the in-cloud replay event) and matching.
 * Pure: no AWS SDK, no I/O. Every input problem is an {@link InputError} with one line naming the flag, the value
 * and what is allowed (the CLI reports it as a usage error, exit code 2).
 */
import { REASON_CLASSES } from '../../constructs/contract';
import { isReasonClass, normalizeEventTime, type DlqMessage, type ReasonClass } from '../core';
import { PhoenixError } from '../core/errors';

/** Invalid user input (a flag or a field of the replay event). One line; the CLI maps it to exit code 2. */
export class InputError extends PhoenixError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('INPUT', message, options);
  }
}

/** A validated filter. Every set criterion must match (AND); within one criterion any listed value matches (OR). */
export interface ReplayFilter {
  readonly ids?: ReadonlySet<string>;
  readonly correlationIds?: ReadonlySet<string>;
  readonly reasons?: ReadonlySet<ReasonClass>;
  /** Inclusive lower bound, epoch ms. */
  readonly sinceMs?: number;
  /** Inclusive upper bound, epoch ms. */
  readonly untilMs?: number;
  /** Most records to replay (or list). */
  readonly limit?: number;
}

/** Raw filter input: strings as typed (lists may be repeated flags or comma-separated). */
export interface RawFilter {
  readonly id?: string | readonly string[];
  readonly correlationId?: string | readonly string[];
  readonly reason?: string | readonly string[];
  readonly since?: string;
  readonly until?: string;
  readonly limit?: string | number;
}

/** Upper bound of `--limit` (a sanity bound, not a service limit). */
export const MAX_LIMIT = 100_000_000;

const DURATION = /^(\d{1,9})(s|m|h|d)$/;
const UNIT_MS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * Parses a time flag: a date (`2025-11-30`, midnight UTC) or an RFC 3339 date-time (`2025-11-30T08:00:00Z`,
 * `2025-11-30T09:00:00+01:00`), epoch milliseconds, or a duration back from `nowMs` (`90s`, `15m`, `2h`, `7d`).
 */
export function parseTime(flag: string, value: string, nowMs: number): number {
  const v = value.trim();
  const d = DURATION.exec(v);
  if (d) return nowMs - Number(d[1]) * UNIT_MS[d[2]];
  if (/^\d{12,14}$/.test(v)) {
    const iso = normalizeEventTime(Number(v));
    if (iso !== undefined) return Date.parse(iso);
  }
  const iso = normalizeEventTime(/^\d{4}-\d{2}-\d{2}$/.test(v) ? `${v}T00:00:00Z` : v);
  if (iso === undefined) {
    throw new InputError(`${flag} ${JSON.stringify(value)} is not a time: use ISO-8601 with a zone (2025-11-30T08:00:00Z), a date (2025-11-30), epoch ms, or a duration back from now (15m, 2h, 7d)`);
  }
  return Date.parse(iso);
}

function list(x: string | readonly string[] | undefined): string[] {
  if (x === undefined) return [];
  const items = typeof x === 'string' ? [x] : x;
  return items.flatMap((s) => String(s).split(',')).map((s) => s.trim()).filter((s) => s.length > 0);
}

/** Parses `--limit`: a positive integer. */
export function parseLimit(flag: string, value: string | number): number {
  const s = String(value).trim();
  if (!/^[1-9]\d*$/.test(s) || Number(s) > MAX_LIMIT) {
    throw new InputError(`${flag} ${JSON.stringify(String(value))} must be a positive integer (1 to ${MAX_LIMIT})`);
  }
  return Number(s);
}

/** Validates raw filter input. `nowMs` anchors relative durations. */
export function parseFilter(raw: RawFilter, nowMs: number = Date.now()): ReplayFilter {
  const ids = list(raw.id);
  const correlationIds = list(raw.correlationId);
  const reasons = list(raw.reason);
  for (const r of reasons) {
    if (!isReasonClass(r)) throw new InputError(`--reason ${JSON.stringify(r)} is not a reason class; use one of ${REASON_CLASSES.join(', ')}`);
  }
  const sinceMs = raw.since !== undefined && raw.since !== '' ? parseTime('--since', raw.since, nowMs) : undefined;
  const untilMs = raw.until !== undefined && raw.until !== '' ? parseTime('--until', raw.until, nowMs) : undefined;
  if (sinceMs !== undefined && untilMs !== undefined && sinceMs > untilMs) {
    throw new InputError(`--since (${new Date(sinceMs).toISOString()}) is after --until (${new Date(untilMs).toISOString()})`);
  }
  const limit = raw.limit !== undefined && raw.limit !== '' ? parseLimit('--limit', raw.limit) : undefined;
  return {
    ...(ids.length ? { ids: new Set(ids) } : {}),
    ...(correlationIds.length ? { correlationIds: new Set(correlationIds) } : {}),
    ...(reasons.length ? { reasons: new Set(reasons as ReasonClass[]) } : {}),
    ...(sinceMs !== undefined ? { sinceMs } : {}),
    ...(untilMs !== undefined ? { untilMs } : {}),
    ...(limit !== undefined ? { limit } : {}),
  };
}

/** True when `ms` is within the filter's time range (bounds inclusive). */
export function inTimeRange(f: ReplayFilter, ms: number): boolean {
  if (f.sinceMs !== undefined && ms < f.sinceMs) return false;
  if (f.untilMs !== undefined && ms > f.untilMs) return false;
  return true;
}

/** The time a dead letter is filtered by: when it was (last) dead-lettered. */
export function dlqTimeMs(msg: DlqMessage): number {
  return Date.parse(msg.lastFailedAt);
}

/** True when a DLQ message matches every criterion of the filter (the limit is applied by the caller). */
export function matchesDlq(f: ReplayFilter, msg: DlqMessage): boolean {
  if (f.ids && (msg.id === null || !f.ids.has(msg.id))) return false;
  if (f.correlationIds && (msg.correlationId === null || !f.correlationIds.has(msg.correlationId))) return false;
  if (f.reasons && !f.reasons.has(msg.reason.class)) return false;
  return inTimeRange(f, dlqTimeMs(msg));
}

/**
 * True when a dead letter is replayed under the filter: it matches, and it is not `replay-exhausted` unless the filter
 * names that reason (a record past its stage's replayMaxCount is replayed only when asked for by reason; its replay
 * count then starts again).
 */
export function replayable(f: ReplayFilter, msg: DlqMessage): boolean {
  if (msg.reason.class === 'replay-exhausted' && !f.reasons?.has('replay-exhausted')) return false;
  return matchesDlq(f, msg);
}

/** A filter as plain JSON (for summaries, logs and the in-cloud replay's result). */
export function describeFilter(f: ReplayFilter): Record<string, unknown> {
  return {
    ...(f.ids ? { id: [...f.ids] } : {}),
    ...(f.correlationIds ? { correlationId: [...f.correlationIds] } : {}),
    ...(f.reasons ? { reason: [...f.reasons] } : {}),
    ...(f.sinceMs !== undefined ? { since: new Date(f.sinceMs).toISOString() } : {}),
    ...(f.untilMs !== undefined ? { until: new Date(f.untilMs).toISOString() } : {}),
    ...(f.limit !== undefined ? { limit: f.limit } : {}),
  };
}
