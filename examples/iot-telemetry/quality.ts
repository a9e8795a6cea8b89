import { IOT_FIRMWARE, IOT_SITES } from './schema';
import { DriftMethod, QualityMetric, QualityRuleKind, type QualityProfilerOptions, type QualityRule } from '../../constructs';

/**
 * Data-quality rules of the telemetry stream, evaluated by the pipeline's QualityProfiler on every 5-minute window of
 * the raw stream (what the gateways put, before the schema check: the profiler also sees what the dead letters get).
 *
 * Every rule has a warn level (notifies the alarm topic: look at it today) and a wider fail level (joins the
 * pipeline-health alarm: it pages). Devices report about once a minute, so a window holds a few readings per device.
 */
export const telemetryQualityRules: QualityRule[] = [
  // Traffic against the mean of the last 6 windows (30 minutes). Fleet traffic is steady, so a drop is a site
  // gateway offline (one site of six is ~17% of the traffic) or a broken certificate rotation (everything).
  { name: 'volume', kind: QualityRuleKind.VOLUME, lastWindows: 6, warn: { min: 0.75 }, fail: { min: 0.3 } },

  // Completeness. The key and the event time: a reading without them cannot get its id or be ordered.
  { name: 'deviceId-complete', kind: QualityRuleKind.COMPLETENESS, column: 'deviceId', warn: { min: 0.999 }, fail: { min: 0.99 } },
  { name: 'ts-complete', kind: QualityRuleKind.COMPLETENESS, column: 'ts', warn: { min: 0.999 }, fail: { min: 0.99 } },
  // temperature is null when the sensor could not be read: a few per thousand is normal wear, more is a bad batch.
  { name: 'temperature-complete', kind: QualityRuleKind.COMPLETENESS, column: 'temperature', warn: { min: 0.99 }, fail: { min: 0.95 } },

  // Allowed values. Sites come from the site registry; a new site shows up here before anyone updates the list.
  {
    name: 'site-allowed',
    kind: QualityRuleKind.ALLOWED_VALUES,
    column: 'site',
    allowedValues: [...IOT_SITES],
    warn: { min: 0.999 },
    fail: { min: 0.99 },
  },
  // Released firmware only: readings from an unreleased build (a canary rollout that escaped) warn, a fleet-wide
  // rollout of one fails.
  {
    name: 'firmware-released',
    kind: QualityRuleKind.ALLOWED_VALUES,
    column: 'firmware',
    allowedValues: [...IOT_FIRMWARE],
    warn: { min: 0.99 },
    fail: { min: 0.9 },
  },

  // Plausible temperatures at these sites (indoor, unheated in winter). The schema accepts the sensor's whole
  // measurement range (-40..125 °C); inside it, -30 °C or 50 °C at a warehouse is a misplaced or failing sensor
  // (warn), -40 °C or 70 °C a fire, a freezer or a broken sensor (fail).
  { name: 'temperature-min', kind: QualityRuleKind.RANGE, column: 'temperature', metric: QualityMetric.MIN, warn: { min: -30 }, fail: { min: -40 } },
  { name: 'temperature-max', kind: QualityRuleKind.RANGE, column: 'temperature', metric: QualityMetric.MAX, warn: { max: 50 }, fail: { max: 70 } },

  // Battery, state of charge in %. A value outside 0-100 is a fuel-gauge or firmware bug (the schema dead-letters
  // it; the profiler sees it first): warn and fail at the same bound, there is no grace zone. A device at 0% is about
  // to go silent: warn.
  { name: 'battery-min', kind: QualityRuleKind.RANGE, column: 'battery', metric: QualityMetric.MIN, warn: { min: 1 }, fail: { min: 0 } },
  { name: 'battery-max', kind: QualityRuleKind.RANGE, column: 'battery', metric: QualityMetric.MAX, warn: { max: 100 }, fail: { max: 100 } },
  // Fleet battery health: the weakest 5% of readings under 20% means a battery-replacement round is due; under 10%
  // means devices will drop out before it happens.
  {
    name: 'battery-p05',
    kind: QualityRuleKind.RANGE,
    column: 'battery',
    metric: QualityMetric.QUANTILE,
    quantile: 0.05,
    warn: { min: 20 },
    fail: { min: 10 },
  },

  // Freshness: the newest reading of a window is at most 10 minutes (warn) / 30 minutes (fail) older than the window
  // end. Gateways buffer readings while their uplink is down and flush them late.
  { name: 'fresh', kind: QualityRuleKind.FRESHNESS, warn: { max: 600 }, fail: { max: 1800 } },

  // Drift: the distribution of the readings against a baseline merged from the last 6 windows (30 minutes).
  // PSI on temperature (10 equal-mass bins): a site's HVAC failing, a recalibration shipped in a firmware update.
  // The minRows gate: with no drift at all, PSI is about (bins-1)(1/n + 1/m) by chance alone, 0.18 at 100 rows; at
  // 500 rows against a 3,000-row baseline it is ~0.02, well below the 0.1 warn level. Smaller windows are skipped.
  {
    name: 'temperature-drift',
    kind: QualityRuleKind.DRIFT,
    column: 'temperature',
    driftMethod: DriftMethod.PSI,
    lastWindows: 6,
    minRows: 500,
    minBaselineRows: 3000,
    warn: { max: 0.1 },
    fail: { max: 0.25 },
  },
  // Kolmogorov-Smirnov D on humidity: sensitive to a shift of the whole distribution (a batch of sensors reading 10
  // points high) that the bins of PSI may smear.
  {
    name: 'humidity-drift',
    kind: QualityRuleKind.DRIFT,
    column: 'humidity',
    driftMethod: DriftMethod.KS,
    lastWindows: 6,
    minRows: 500,
    minBaselineRows: 3000,
    warn: { max: 0.1 },
    fail: { max: 0.2 },
  },
  // Anomaly: |z-score| of the window's mean temperature against the means of the last 12 windows (one hour). A sudden
  // jump of the fleet mean (not a slow daily swing) warns at 3 sigma and fails at 4. Small windows are skipped.
  {
    name: 'temperature-mean-anomaly',
    kind: QualityRuleKind.ANOMALY,
    column: 'temperature',
    metric: QualityMetric.MEAN,
    lastWindows: 12,
    minRows: 200,
    warn: { max: 3 },
    fail: { max: 4 },
  },
];

/** The profiler options of the telemetry pipeline (schema and alarm topic come from the pipeline). */
export const telemetryQuality: QualityProfilerOptions = {
  rules: telemetryQualityRules,
  // the reading's own time (ISO-8601), as the ingest stage's eventTimeField
  eventTimeField: 'ts',
  windowSeconds: 300,
  // the anomaly rule looks back 12 windows (one hour); the default history is 10
  historyWindows: 12,
};
