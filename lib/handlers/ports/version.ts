/**
 * Version order shared by the idempotent sinks: (eventTime, contentHash), compared lexicographically.
 * The content-hash tie-break makes the final state independent of arrival order.
 */
import { isNormalizedEventTime } from '../../core/envelope';
import { PermanentError } from '../../core/failure';

/** A stored version of a record. */
export interface Version {
  /** ISO-8601 UTC with milliseconds (`Date.prototype.toISOString`), so that string order is time order. */
  readonly eventTime: string;
  readonly contentHash: string;
}

/**
 * Normalizes an envelope eventTime to `toISOString()` form. Sinks compare event times as strings (DynamoDB
 * condition expressions, S3 metadata), which is only time order when every value has the same fixed-width UTC form.
 */
export function sortableEventTime(eventTime: string): string {
  // Envelopes built by toEnvelope already hold this form (no Date round trip needed).
  if (typeof eventTime === 'string' && isNormalizedEventTime(eventTime)) return eventTime;
  const ms = Date.parse(eventTime);
  if (!Number.isFinite(ms)) {
    throw new PermanentError('sink-rejected', `envelope eventTime ${JSON.stringify(eventTime)} is not a valid ISO-8601 time`);
  }
  return new Date(ms).toISOString();
}

/** Negative when a is older than b, 0 when they are the same version, positive when a is newer. */
export function compareVersions(a: Version, b: Version): number {
  if (a.eventTime !== b.eventTime) return a.eventTime < b.eventTime ? -1 : 1;
  if (a.contentHash !== b.contentHash) return a.contentHash < b.contentHash ? -1 : 1;
  return 0;
}

/** The outcome of a write that was not applied because `stored` is the same or a newer version than `incoming`. */
export function notAppliedOutcome(incoming: Version, stored: Version): 'duplicate' | 'stale' {
  return compareVersions(incoming, stored) === 0 ? 'duplicate' : 'stale';
}
