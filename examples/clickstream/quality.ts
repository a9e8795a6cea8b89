import { CLICK_EVENT_TYPES } from './schema';
import { DriftMethod, QualityRuleKind, type QualityProfilerOptions, type QualityRule } from '../../constructs';

/**
 * Data-quality rules of the clickstream, evaluated by the pipeline's QualityProfiler on every 5-minute window of the
 * raw stream (what producers put, before the schema check: the profiler sees the SDK bugs the dead letters will get).
 *
 * Each rule warns first and fails at a wider bound: a warn is a look-tomorrow, a fail pages (the monitor's health).
 */
export const clickQualityRules: QualityRule[] = [
  // Traffic: a window with less than half of the recent average warns, less than a tenth fails (an SDK release
  // that stopped sending, a broken producer role). Relative to the mean of the last 6 windows (30 minutes).
  { name: 'volume', kind: QualityRuleKind.VOLUME, lastWindows: 6, warn: { min: 0.5 }, fail: { min: 0.1 } },
  // The natural key: a click without user or session cannot get its id (it is dead-lettered as schema/missing-key).
  { name: 'userId-complete', kind: QualityRuleKind.COMPLETENESS, column: 'userId', warn: { min: 0.999 }, fail: { min: 0.99 } },
  { name: 'sessionId-complete', kind: QualityRuleKind.COMPLETENESS, column: 'sessionId', warn: { min: 0.999 }, fail: { min: 0.99 } },
  // Only the event types the schema (and every consumer) knows; a new type in an SDK shows up here first.
  {
    name: 'eventType-allowed',
    kind: QualityRuleKind.ALLOWED_VALUES,
    column: 'eventType',
    allowedValues: [...CLICK_EVENT_TYPES],
    warn: { min: 0.999 },
    fail: { min: 0.99 },
  },
  // Absolute http(s) URLs (relative or app-internal URLs break the page analytics downstream).
  { name: 'url-absolute', kind: QualityRuleKind.PATTERN, column: 'url', pattern: '^https?://', warn: { min: 0.99 }, fail: { min: 0.95 } },
  // The mix of event types against the last 5 windows (PSI over the frequent items): a funnel step that vanished
  // or a flood of one type. Default PSI bounds: warn above 0.1, fail above 0.25.
  { name: 'eventType-mix', kind: QualityRuleKind.DRIFT, column: 'eventType', driftMethod: DriftMethod.PSI, lastWindows: 5 },
  // Position in the session: the distribution of seq drifts when sessions get cut short (or never end).
  // KS D between samples of the same distribution is ~1.36 * sqrt(1/n + 1/m) at the 5% level (0.086 for 300 values
  // against 1,500), plus the sketches' rank error: below 2,000 values a window would cross the 0.1 warn bound by
  // chance several times a day, so smaller windows skip this rule.
  { name: 'seq-drift', kind: QualityRuleKind.DRIFT, column: 'seq', driftMethod: DriftMethod.KS, lastWindows: 5, minRows: 2000, minBaselineRows: 5000 },
  // Freshness: the newest click of a window is at most 5 minutes (warn) / 15 minutes (fail) older than the window end
  // (SDKs buffering offline, a producer replaying an old queue).
  { name: 'fresh', kind: QualityRuleKind.FRESHNESS, warn: { max: 300 }, fail: { max: 900 } },
];

/** The profiler options of the clickstream pipeline (schema and alarm topic come from the pipeline). */
export const clickQuality: QualityProfilerOptions = {
  rules: clickQualityRules,
  // the click's own time (ISO-8601), as the ingest stage's eventTimeField
  eventTimeField: 'ts',
  windowSeconds: 300,
};
