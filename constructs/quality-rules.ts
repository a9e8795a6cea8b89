/**
 * Data-quality rules: the contract between the QualityProfiler construct (validated at synth) and the runtime
 * (lib/core/profile/rules.ts evaluates them against window profiles). jsii-compatible: enums for kinds,
 * readonly flat interfaces, no unions.
 *
 * Every rule yields one observed number per window and compares it with two levels of bounds:
 * outside `fail` -> fail, else outside `warn` -> warn, else pass. Warn bounds must lie inside fail bounds.
 */

/** What a rule checks. */
export enum QualityRuleKind {
  /** Row count of the window, absolute or (with `lastWindows`) relative to the mean of the last k windows. */
  VOLUME = 'volume',
  /** Fraction of rows where `column` is present and not null. */
  COMPLETENESS = 'completeness',
  /**
   * Number of schema violations: `requiredColumns` absent from some record, `column` whose dominant type is not
   * `expectedType`, columns outside `expectedColumns` (when given). Default: fail above 0.
   */
  SCHEMA = 'schema',
  /** `metric` MIN, MAX or QUANTILE (with `quantile`) of a numeric column within bounds. */
  RANGE = 'range',
  /** `metric` MEAN or STDDEV of a numeric column, absolute or (with `lastWindows`) relative to the last k windows. */
  STATISTIC = 'statistic',
  /** Approximate distinct count (HyperLogLog, ~1.6% error) of a column. */
  CARDINALITY = 'cardinality',
  /** Fraction of non-null values that are in `allowedValues` (like Great Expectations `mostly`). */
  ALLOWED_VALUES = 'allowed-values',
  /** Fraction of non-null values that match `pattern`. */
  PATTERN = 'pattern',
  /** Seconds between the window end and the latest event time of the window (the profiler's event-time field). */
  FRESHNESS = 'freshness',
  /** Distribution drift of `column` against a baseline merged from the last `lastWindows` windows. */
  DRIFT = 'drift',
  /** |z-score| of `metric` against the mean and standard deviation of the last `lastWindows` windows. */
  ANOMALY = 'anomaly',
}

/** A window metric (for RANGE, STATISTIC and ANOMALY rules). */
export enum QualityMetric {
  ROW_COUNT = 'row-count',
  UNPARSEABLE_FRACTION = 'unparseable-fraction',
  COMPLETENESS = 'completeness',
  NULL_FRACTION = 'null-fraction',
  MIN = 'min',
  MAX = 'max',
  MEAN = 'mean',
  STDDEV = 'stddev',
  QUANTILE = 'quantile',
  DISTINCT_COUNT = 'distinct-count',
}

/** Drift statistic. */
export enum DriftMethod {
  /** Population stability index over baseline-quantile bins (numeric) or frequent items (strings). Upper bounds. */
  PSI = 'psi',
  /** Hellinger distance in [0, 1], same bins as PSI. Upper bounds. */
  HELLINGER = 'hellinger',
  /** Kolmogorov-Smirnov D statistic from the sketch CDFs (numeric columns). Upper bounds. */
  KS = 'ks',
  /** Kolmogorov-Smirnov p-value (numeric columns). Lower bounds: drift when the p-value is small. */
  KS_P_VALUE = 'ks-p-value',
  /** Chi-square test p-value over frequent items (string columns). Lower bounds. */
  CHI_SQUARE_P_VALUE = 'chi-square-p-value',
}

/** Value type of a column (for SCHEMA rules). */
export enum QualityValueType {
  INTEGER = 'int',
  FRACTION = 'frac',
  /** Integer or fraction. */
  NUMBER = 'number',
  BOOLEAN = 'bool',
  STRING = 'str',
  OBJECT = 'obj',
  ARRAY = 'array',
}

/** Inclusive bounds an observed value must stay within. */
export interface QualityBounds {
  /** @default - no lower bound */
  readonly min?: number;
  /** @default - no upper bound */
  readonly max?: number;
}

/** One data-quality rule. Which properties apply depends on `kind` (see {@link QualityRuleKind}). */
export interface QualityRule {
  /** Unique name (metric dimension and report key). */
  readonly name: string;
  readonly kind: QualityRuleKind;
  /** Column (dot path for nested fields, e.g. `user.country`). Required except for VOLUME, SCHEMA and FRESHNESS. */
  readonly column?: string;
  /** Bounds outside which the rule warns. @default - per kind, see QualityRules.defaultBounds */
  readonly warn?: QualityBounds;
  /** Bounds outside which the rule fails. @default - per kind, see QualityRules.defaultBounds */
  readonly fail?: QualityBounds;
  /** Metric for RANGE (MIN, MAX, QUANTILE), STATISTIC (MEAN, STDDEV) and ANOMALY (any). @default - none */
  readonly metric?: QualityMetric;
  /** Quantile in [0, 1] for metric QUANTILE. @default - none */
  readonly quantile?: number;
  /**
   * History windows. VOLUME and STATISTIC: when set, the observed value is current / mean of the last k windows
   * (bounds are ratios, e.g. min 0.8). DRIFT: baseline windows (default 5). ANOMALY: windows for the mean and
   * standard deviation (default 10). Rules with too little history are skipped.
   * @default - absolute bounds (VOLUME, STATISTIC); 5 (DRIFT); 10 (ANOMALY)
   */
  readonly lastWindows?: number;
  /** Allowed values, compared as strings (ALLOWED_VALUES). @default - none */
  readonly allowedValues?: string[];
  /** Regular expression (JavaScript syntax, unanchored) values must match (PATTERN). @default - none */
  readonly pattern?: string;
  /** Columns that must be present in every record (SCHEMA). @default [] */
  readonly requiredColumns?: string[];
  /** Expected dominant type of `column` (SCHEMA). @default - not checked */
  readonly expectedType?: QualityValueType;
  /** When set, any column outside this list (or below one of its entries) is unexpected (SCHEMA). @default - not checked */
  readonly expectedColumns?: string[];
  /** Drift statistic (DRIFT). @default DriftMethod.PSI */
  readonly driftMethod?: DriftMethod;
  /** Number of equal-mass baseline bins for PSI and Hellinger on numeric columns (DRIFT). @default 10 */
  readonly bins?: number;
  /**
   * Minimum rows in the current window (DRIFT and ANOMALY); smaller windows are skipped. With no drift,
   * E[PSI] ~ (bins-1)(1/n + 1/m), about 0.18 at 10 bins and 100 rows: small windows would raise false alarms.
   * @default 300 (DRIFT), 0 (ANOMALY)
   */
  readonly minRows?: number;
  /** Minimum rows in the merged baseline (DRIFT). @default 1000 */
  readonly minBaselineRows?: number;
}

/** Defaults of DRIFT and ANOMALY rules (documented on the properties; tested). */
export const QUALITY_DEFAULTS = {
  driftBaselineWindows: 5,
  driftBins: 10,
  driftMinRows: 300,
  driftMinBaselineRows: 1000,
  anomalyWindows: 10,
  anomalyMinRows: 0,
} as const;

const MAX_LAST_WINDOWS = 100;
const MAX_WINDOW_SECONDS = 900;

const FRACTION_KINDS = new Set<QualityRuleKind>([
  QualityRuleKind.COMPLETENESS,
  QualityRuleKind.ALLOWED_VALUES,
  QualityRuleKind.PATTERN,
]);
const COLUMN_KINDS = new Set<QualityRuleKind>([
  QualityRuleKind.COMPLETENESS,
  QualityRuleKind.RANGE,
  QualityRuleKind.STATISTIC,
  QualityRuleKind.CARDINALITY,
  QualityRuleKind.ALLOWED_VALUES,
  QualityRuleKind.PATTERN,
  QualityRuleKind.DRIFT,
]);
const METRICS_BY_KIND: { [kind: string]: QualityMetric[] } = {
  [QualityRuleKind.RANGE]: [QualityMetric.MIN, QualityMetric.MAX, QualityMetric.QUANTILE],
  [QualityRuleKind.STATISTIC]: [QualityMetric.MEAN, QualityMetric.STDDEV],
  [QualityRuleKind.ANOMALY]: Object.values(QualityMetric),
};
const TABLE_METRICS = new Set<QualityMetric>([QualityMetric.ROW_COUNT, QualityMetric.UNPARSEABLE_FRACTION]);

function fmtBounds(b: QualityBounds | undefined): string {
  if (!b) return 'none';
  return `{ min: ${b.min ?? 'none'}, max: ${b.max ?? 'none'} }`;
}

/** Static helpers on quality rules (a class, so that jsii languages get them too). */
export class QualityRules {
  /**
   * Bounds used when a rule gives neither `warn` nor `fail`.
   * VOLUME: fail below 1 row. COMPLETENESS, ALLOWED_VALUES, PATTERN: fail below 1 (every value).
   * SCHEMA: fail above 0 violations. DRIFT: PSI warn 0.1 fail 0.25; Hellinger warn 0.15 fail 0.4;
   * KS D warn 0.1 fail 0.2; p-values warn below 0.05 fail below 0.01. ANOMALY: |z| warn 3 fail 4.
   * RANGE, STATISTIC, CARDINALITY, FRESHNESS: none (the rule must give bounds).
   */
  public static defaultBounds(kind: QualityRuleKind, driftMethod?: DriftMethod): DefaultBounds {
    switch (kind) {
      case QualityRuleKind.VOLUME:
        return { fail: { min: 1 } };
      case QualityRuleKind.COMPLETENESS:
      case QualityRuleKind.ALLOWED_VALUES:
      case QualityRuleKind.PATTERN:
        return { fail: { min: 1 } };
      case QualityRuleKind.SCHEMA:
        return { fail: { max: 0 } };
      case QualityRuleKind.ANOMALY:
        return { warn: { max: 3 }, fail: { max: 4 } };
      case QualityRuleKind.DRIFT:
        switch (driftMethod ?? DriftMethod.PSI) {
          case DriftMethod.PSI:
            return { warn: { max: 0.1 }, fail: { max: 0.25 } };
          case DriftMethod.HELLINGER:
            return { warn: { max: 0.15 }, fail: { max: 0.4 } };
          case DriftMethod.KS:
            return { warn: { max: 0.1 }, fail: { max: 0.2 } };
          default:
            return { warn: { min: 0.05 }, fail: { min: 0.01 } };
        }
      default:
        return {};
    }
  }

  /**
   * Bounds a rule is evaluated with: its own `warn` and `fail` when it gives either, else the kind's defaults.
   */
  public static effectiveBounds(rule: QualityRule): DefaultBounds {
    if (rule.warn || rule.fail) return { warn: rule.warn, fail: rule.fail };
    return QualityRules.defaultBounds(rule.kind, rule.driftMethod);
  }

  /**
   * Checks rules before deployment. Returns one message per problem, saying what was given and what is allowed
   * (empty when valid). `knownColumns` (top-level or dot paths), when given, are the only columns rules may name.
   */
  public static validate(rules: QualityRule[], windowSeconds: number, knownColumns?: string[]): string[] {
    return validateQualityRules(rules, knownColumns, windowSeconds);
  }
}

/** Warn and fail bounds. */
export interface DefaultBounds {
  /** @default - none */
  readonly warn?: QualityBounds;
  /** @default - none */
  readonly fail?: QualityBounds;
}

function isKnown(column: string, known: ReadonlySet<string>): boolean {
  if (known.has(column)) return true;
  // A nested path is known when one of its ancestors is listed (e.g. `user` covers `user.country`).
  let i = column.lastIndexOf('.');
  while (i > 0) {
    if (known.has(column.slice(0, i))) return true;
    i = column.lastIndexOf('.', i - 1);
  }
  return false;
}

/**
 * Validates quality rules (see {@link QualityRules.validate}). Returns error messages; empty when the rules are valid.
 * @param windowSeconds tumbling window length, 1-900 seconds (Lambda TumblingWindowInSeconds)
 */
export function validateQualityRules(rules: readonly QualityRule[], knownColumns: readonly string[] | undefined, windowSeconds: number): string[] {
  const errors: string[] = [];
  if (!Number.isInteger(windowSeconds) || windowSeconds < 1 || windowSeconds > MAX_WINDOW_SECONDS) {
    errors.push(`profile window must be an integer between 1 and ${MAX_WINDOW_SECONDS} seconds inclusive (given ${windowSeconds})`);
  }
  const known = knownColumns ? new Set(knownColumns) : undefined;
  const names = new Set<string>();
  rules.forEach((rule, index) => {
    const label = `rule ${JSON.stringify(rule.name ?? `#${index}`)}`;
    const err = (msg: string) => errors.push(`${label}: ${msg}`);
    if (typeof rule.name !== 'string' || rule.name.trim() === '') {
      errors.push(`rule #${index}: name must be a non-empty string (given ${JSON.stringify(rule.name)})`);
    } else if (names.has(rule.name)) {
      err('duplicate rule name (names must be unique)');
    } else {
      names.add(rule.name);
    }
    if (!KINDS.has(rule.kind)) {
      err(`unknown kind ${JSON.stringify(rule.kind)} (allowed: ${[...KINDS].join(', ')})`);
      return;
    }
    checkColumns(rule, known, err);
    checkMetric(rule, err);
    checkLastWindows(rule, err);
    checkKindProperties(rule, err);
    checkDriftProperties(rule, err);
    checkBounds(rule, err);
  });
  return errors;
}

/** Reports one problem of the rule being checked. */
type RuleError = (message: string) => void;

const KINDS = new Set<string>(Object.values(QualityRuleKind));

function checkColumns(rule: QualityRule, known: ReadonlySet<string> | undefined, err: RuleError): void {
  const kind = rule.kind;
  const metricIsTable = rule.metric !== undefined && TABLE_METRICS.has(rule.metric);
  const needsColumn = COLUMN_KINDS.has(kind) || (kind === QualityRuleKind.ANOMALY && !metricIsTable) ||
    (kind === QualityRuleKind.SCHEMA && rule.expectedType !== undefined);
  if (needsColumn && (rule.column === undefined || rule.column === '')) {
    err(`${kind} rules need a column (given none)`);
  }
  const checkColumn = (c: string, what: string) => {
    if (known && !isKnown(c, known)) err(`${what} '${c}' is not a known column (known: ${[...known].join(', ')})`);
  };
  if (rule.column) checkColumn(rule.column, 'column');
  for (const c of rule.requiredColumns ?? []) checkColumn(c, 'required column');
}

function checkMetric(rule: QualityRule, err: RuleError): void {
  const kind = rule.kind;
  const allowedMetrics = METRICS_BY_KIND[kind];
  if (allowedMetrics) {
    if (rule.metric === undefined) {
      err(`${kind} rules need a metric (allowed: ${allowedMetrics.join(', ')})`);
    } else if (!allowedMetrics.includes(rule.metric)) {
      err(`metric ${JSON.stringify(rule.metric)} is not allowed for ${kind} rules (allowed: ${allowedMetrics.join(', ')})`);
    }
  } else if (rule.metric !== undefined) {
    err(`metric is only used by range, statistic and anomaly rules (given ${rule.metric} on a ${kind} rule)`);
  }
  if (rule.metric === QualityMetric.QUANTILE) {
    if (rule.quantile === undefined || !(rule.quantile >= 0 && rule.quantile <= 1)) {
      err(`quantile must be between 0 and 1 inclusive for metric quantile (given ${rule.quantile ?? 'none'})`);
    }
  } else if (rule.quantile !== undefined) {
    err(`quantile is only used with metric quantile (given ${rule.quantile})`);
  }
}

function checkLastWindows(rule: QualityRule, err: RuleError): void {
  if (rule.lastWindows === undefined) return;
  const kind = rule.kind;
  const relativeKinds = [QualityRuleKind.VOLUME, QualityRuleKind.STATISTIC, QualityRuleKind.DRIFT, QualityRuleKind.ANOMALY];
  const minK = kind === QualityRuleKind.ANOMALY ? 2 : 1;
  if (!relativeKinds.includes(kind)) {
    err(`lastWindows is only used by volume, statistic, drift and anomaly rules (given ${rule.lastWindows} on a ${kind} rule)`);
  } else if (!Number.isInteger(rule.lastWindows) || rule.lastWindows < minK || rule.lastWindows > MAX_LAST_WINDOWS) {
    err(`lastWindows must be an integer between ${minK} and ${MAX_LAST_WINDOWS} (given ${rule.lastWindows})`);
  }
}

/** Properties of allowed-values, pattern and schema rules. */
function checkKindProperties(rule: QualityRule, err: RuleError): void {
  const kind = rule.kind;
  if (kind === QualityRuleKind.ALLOWED_VALUES && (!rule.allowedValues || rule.allowedValues.length === 0)) {
    err(`allowed-values rules need a non-empty allowedValues list (given ${JSON.stringify(rule.allowedValues ?? null)})`);
  }
  if (kind === QualityRuleKind.PATTERN) {
    if (rule.pattern === undefined || rule.pattern === '') {
      err('pattern rules need a pattern (given none)');
    } else {
      try {
        new RegExp(rule.pattern);
      } catch (e) {
        err(`pattern ${JSON.stringify(rule.pattern)} is not a valid regular expression (${(e as Error).message})`);
      }
    }
  }
  if (kind === QualityRuleKind.SCHEMA) {
    const checks = (rule.requiredColumns?.length ?? 0) + (rule.expectedType ? 1 : 0) + (rule.expectedColumns ? 1 : 0);
    if (checks === 0) err('schema rules need requiredColumns, expectedType (with column) or expectedColumns (given none)');
    if (rule.expectedType !== undefined && !Object.values(QualityValueType).includes(rule.expectedType)) {
      err(`expectedType ${JSON.stringify(rule.expectedType)} is not a type (allowed: ${Object.values(QualityValueType).join(', ')})`);
    }
  }
}

/** driftMethod, bins, minBaselineRows (drift rules only) and minRows (drift and anomaly rules). */
function checkDriftProperties(rule: QualityRule, err: RuleError): void {
  const kind = rule.kind;
  if (kind === QualityRuleKind.DRIFT) {
    if (rule.driftMethod !== undefined && !Object.values(DriftMethod).includes(rule.driftMethod)) {
      err(`driftMethod ${JSON.stringify(rule.driftMethod)} is unknown (allowed: ${Object.values(DriftMethod).join(', ')})`);
    }
    if (rule.bins !== undefined && (!Number.isInteger(rule.bins) || rule.bins < 2 || rule.bins > 100)) {
      err(`bins must be an integer between 2 and 100 (given ${rule.bins})`);
    }
    if (rule.minBaselineRows !== undefined && (!Number.isInteger(rule.minBaselineRows) || rule.minBaselineRows < 0)) {
      err(`minBaselineRows must be a non-negative integer (given ${rule.minBaselineRows})`);
    }
  } else {
    if (rule.driftMethod !== undefined) err(`driftMethod is only used by drift rules (given ${rule.driftMethod})`);
    if (rule.bins !== undefined) err(`bins is only used by drift rules (given ${rule.bins})`);
    if (rule.minBaselineRows !== undefined) err(`minBaselineRows is only used by drift rules (given ${rule.minBaselineRows})`);
  }
  if (rule.minRows !== undefined) {
    if (kind !== QualityRuleKind.DRIFT && kind !== QualityRuleKind.ANOMALY) {
      err(`minRows is only used by drift and anomaly rules (given ${rule.minRows} on a ${kind} rule)`);
    } else if (!Number.isInteger(rule.minRows) || rule.minRows < 0) {
      err(`minRows must be a non-negative integer (given ${rule.minRows})`);
    }
  }
}

function checkBounds(rule: QualityRule, err: RuleError): void {
  const { warn, fail } = QualityRules.effectiveBounds(rule);
  if (!warn && !fail) {
    err(`${rule.kind} rules need warn or fail bounds (given none; e.g. fail: { min: 0, max: 100 })`);
    return;
  }
  for (const [level, b] of [['warn', warn], ['fail', fail]] as const) {
    if (b) checkLevelBounds(rule, level, b, err);
  }
  if (warn && fail) {
    const inverted =
      (warn.min !== undefined && fail.min !== undefined && warn.min < fail.min) ||
      (warn.max !== undefined && fail.max !== undefined && warn.max > fail.max);
    if (inverted) {
      err(`warn bounds must lie inside fail bounds (warn fires first): given warn ${fmtBounds(warn)}, fail ${fmtBounds(fail)}`);
    }
  }
}

function checkLevelBounds(rule: QualityRule, level: 'warn' | 'fail', b: QualityBounds, err: RuleError): void {
  if (b.min === undefined && b.max === undefined) err(`${level} bounds need min or max (given ${fmtBounds(b)})`);
  for (const v of [b.min, b.max]) {
    if (v !== undefined && (typeof v !== 'number' || Number.isNaN(v))) err(`${level} bounds must be numbers (given ${fmtBounds(b)})`);
  }
  if (b.min !== undefined && b.max !== undefined && b.min > b.max) {
    err(`${level}.min must be <= ${level}.max (given ${fmtBounds(b)})`);
  }
  const range = boundsRange(rule);
  for (const v of [b.min, b.max]) {
    if (v !== undefined && (v < range.lo || v > range.hi)) {
      err(`${level} bounds of ${describe(rule)} must be between ${range.lo} and ${range.hi} (given ${fmtBounds(b)})`);
      break;
    }
  }
  const side = boundSide(rule);
  if (side === 'max' && b.min !== undefined && b.max === undefined) {
    err(`${describe(rule)} is checked against an upper bound: use ${level}.max (given ${fmtBounds(b)})`);
  }
  if (side === 'min' && b.max !== undefined && b.min === undefined) {
    err(`${describe(rule)} is checked against a lower bound: use ${level}.min (given ${fmtBounds(b)})`);
  }
}

function describe(rule: QualityRule): string {
  if (rule.kind === QualityRuleKind.DRIFT) return `drift (${rule.driftMethod ?? DriftMethod.PSI})`;
  if (rule.metric) return `${rule.kind} (${rule.metric})`;
  return rule.kind;
}

/** Which side of the bounds is meaningful: drift/anomaly/freshness statistics are one-sided. */
function boundSide(rule: QualityRule): 'min' | 'max' | 'both' {
  switch (rule.kind) {
    case QualityRuleKind.ANOMALY:
    case QualityRuleKind.FRESHNESS:
    case QualityRuleKind.SCHEMA:
      return 'max';
    case QualityRuleKind.DRIFT:
      return rule.driftMethod === DriftMethod.KS_P_VALUE || rule.driftMethod === DriftMethod.CHI_SQUARE_P_VALUE ? 'min' : 'max';
    default:
      return 'both';
  }
}

/** Values the observed quantity can take (bounds outside it can never trigger or always trigger). */
function boundsRange(rule: QualityRule): { lo: number; hi: number } {
  if (FRACTION_KINDS.has(rule.kind)) return { lo: 0, hi: 1 };
  if ((rule.kind === QualityRuleKind.ANOMALY) || rule.kind === QualityRuleKind.FRESHNESS || rule.kind === QualityRuleKind.SCHEMA ||
      rule.kind === QualityRuleKind.CARDINALITY || rule.kind === QualityRuleKind.VOLUME) {
    return { lo: 0, hi: Infinity };
  }
  if (rule.kind === QualityRuleKind.STATISTIC && rule.metric === QualityMetric.STDDEV) return { lo: 0, hi: Infinity };
  if (rule.kind === QualityRuleKind.DRIFT) {
    const m = rule.driftMethod ?? DriftMethod.PSI;
    if (m === DriftMethod.PSI) return { lo: 0, hi: Infinity };
    return { lo: 0, hi: 1 };
  }
  return { lo: -Infinity, hi: Infinity };
}
