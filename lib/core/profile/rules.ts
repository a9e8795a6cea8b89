/**
 * Evaluation of data-quality rules (constructs/quality-rules.ts) against the profile of the current window and
 * the profiles of previous windows. Pure: the caller loads the history and decides what to do with results.
 */
import { PhoenixError } from '../errors';
import { ColumnProfile } from './column';
import {
  alignCategories,
  binFractions,
  categoryCounts,
  chiSquareHomogeneity,
  hellinger,
  ksTest,
  psi,
  quantileEdges,
} from './drift';
import { mergeColumnProfiles } from './merge';
import { variance } from './moments';
import { ConditionSpec, Profile } from './profile';
import {
  DriftMethod,
  QUALITY_DEFAULTS,
  QualityBounds,
  QualityMetric,
  QualityRule,
  QualityRuleKind,
  QualityRules,
  QualityValueType,
} from '../../../constructs/quality-rules';

export type RuleStatus = 'pass' | 'warn' | 'fail' | 'skipped';

export interface RuleResult {
  /** Rule name. */
  readonly rule: string;
  readonly kind: QualityRuleKind;
  readonly column: string | null;
  readonly status: RuleStatus;
  /** Observed value compared with the bounds (null when skipped before it could be computed). */
  readonly observed: number | null;
  readonly warn?: QualityBounds;
  readonly fail?: QualityBounds;
  /** Why the rule was skipped, or what the observed value means (e.g. the schema violations). */
  readonly reason?: string;
}

export interface EvaluateOptions {
  /** "Now" for freshness (epoch ms). @default current.windowEnd, else Date.now() */
  readonly now?: number;
}

/** Condition id under which the profiler counts a PATTERN or ALLOWED_VALUES rule. */
export function conditionId(rule: QualityRule): string {
  return `rule:${rule.name}`;
}

/**
 * The columns these rules read (their `column`, `requiredColumns` and `expectedColumns`): the profiler tracks them
 * first (createProfile({ priorityColumns })), so no other column can take their place.
 */
export function priorityColumnsForRules(rules: readonly QualityRule[]): string[] {
  const out = new Set<string>();
  for (const r of rules) {
    if (r.column) out.add(r.column);
    for (const c of r.requiredColumns ?? []) out.add(c);
    for (const c of r.expectedColumns ?? []) out.add(c);
  }
  return [...out].sort();
}

/** Declared conditions the profiler must count for these rules (pass to createProfile({ conditions })). */
export function conditionsForRules(rules: readonly QualityRule[]): ConditionSpec[] {
  const out: ConditionSpec[] = [];
  for (const r of rules) {
    if (!r.column) continue;
    if (r.kind === QualityRuleKind.PATTERN && r.pattern !== undefined) {
      out.push({ id: conditionId(r), column: r.column, pattern: r.pattern });
    } else if (r.kind === QualityRuleKind.ALLOWED_VALUES && r.allowedValues) {
      out.push({ id: conditionId(r), column: r.column, allowedValues: [...r.allowedValues] });
    }
  }
  return out;
}

function outside(b: QualityBounds | undefined, x: number): boolean {
  return b !== undefined && ((b.min !== undefined && x < b.min) || (b.max !== undefined && x > b.max));
}

/** A rule that cannot be evaluated on this profile (reported as skipped, never thrown out of evaluateRules). */
class Skip extends PhoenixError {
  constructor(reason: string) {
    super('RULE_SKIPPED', reason);
  }
}
function skip(reason: string): never {
  throw new Skip(reason);
}

function mean(xs: readonly number[]): number {
  return xs.reduce((s, x) => s + x, 0) / xs.length;
}

/** Value of a metric in a profile; NaN when the column has no value for it. */
export function metricValue(p: Profile, metric: QualityMetric, column?: string, quantile?: number): number {
  if (metric === QualityMetric.ROW_COUNT) return p.rows;
  if (metric === QualityMetric.UNPARSEABLE_FRACTION) {
    const total = p.rows + p.unparseable;
    return total === 0 ? NaN : p.unparseable / total;
  }
  const col = column === undefined ? undefined : p.columns.get(column);
  switch (metric) {
    case QualityMetric.COMPLETENESS:
      return p.rows === 0 ? NaN : col ? (col.count - col.nulls) / p.rows : 0;
    case QualityMetric.NULL_FRACTION:
      return p.rows === 0 ? NaN : col ? 1 - (col.count - col.nulls) / p.rows : 1;
    case QualityMetric.DISTINCT_COUNT:
      return col?.hll ? col.hll.estimate() : 0;
    default:
      break;
  }
  if (!col || !col.kll || col.kll.n === 0) return NaN;
  switch (metric) {
    case QualityMetric.MIN:
      return col.kll.min;
    case QualityMetric.MAX:
      return col.kll.max;
    case QualityMetric.QUANTILE:
      return col.kll.quantile(quantile ?? NaN);
    case QualityMetric.MEAN:
      return col.moments.mean;
    case QualityMetric.STDDEV:
      return Math.sqrt(variance(col.moments));
    default:
      return NaN;
  }
}

function lastWindows(history: readonly Profile[], k: number, what: string): Profile[] {
  if (history.length < k) skip(`${what} needs ${k} previous windows (have ${history.length})`);
  return history.slice(history.length - k);
}

function relative(current: number, previous: number[], what: string): number {
  if (previous.some((x) => !Number.isFinite(x))) skip(`${what} is undefined in one of the previous windows`);
  const m = mean(previous);
  if (m === 0) skip(`${what} averages 0 over the previous windows (a ratio to it is undefined)`);
  return current / m;
}

function isNumericColumn(col: ColumnProfile): boolean {
  return col.int + col.frac > col.str + col.bool;
}

function typeMatches(col: ColumnProfile, expected: QualityValueType): boolean {
  const counts: Record<string, number> = {
    [QualityValueType.NUMBER]: col.int + col.frac,
    [QualityValueType.INTEGER]: col.int,
    [QualityValueType.FRACTION]: col.frac,
    [QualityValueType.BOOLEAN]: col.bool,
    [QualityValueType.STRING]: col.str,
    [QualityValueType.OBJECT]: col.obj,
    [QualityValueType.ARRAY]: col.array,
  };
  const others = [col.int, col.frac, col.bool, col.str, col.obj, col.array];
  const mine = counts[expected];
  // Dominant: no other type (int and frac together when NUMBER is expected) has more values.
  const competitors = expected === QualityValueType.NUMBER ? [col.bool, col.str, col.obj, col.array] : others;
  return mine > 0 && competitors.every((c) => c <= mine);
}

function coveredBy(column: string, listed: ReadonlySet<string>): boolean {
  if (listed.has(column)) return true;
  for (const l of listed) {
    if (column.startsWith(l + '.') || l.startsWith(column + '.')) return true;
  }
  return false;
}

interface Observation {
  observed: number;
  reason?: string;
}

function observe(rule: QualityRule, current: Profile, history: readonly Profile[], opts: EvaluateOptions): Observation {
  const column = rule.column;
  const col = column ? current.columns.get(column) : undefined;
  switch (rule.kind) {
    case QualityRuleKind.VOLUME: {
      if (rule.lastWindows === undefined) return { observed: current.rows };
      const prev = lastWindows(history, rule.lastWindows, 'relative volume');
      return { observed: relative(current.rows, prev.map((p) => p.rows), 'row count'), reason: 'ratio to the mean row count of the previous windows' };
    }
    case QualityRuleKind.COMPLETENESS: {
      if (current.rows === 0) skip('empty window');
      return { observed: metricValue(current, QualityMetric.COMPLETENESS, column) };
    }
    case QualityRuleKind.SCHEMA: {
      if (current.rows === 0) skip('empty window');
      // Observed = number of violations: each missing required column, a type mismatch, each unexpected column.
      let violations = 0;
      const notes: string[] = [];
      for (const req of rule.requiredColumns ?? []) {
        const c = current.columns.get(req);
        const present = c ? c.count : 0;
        if (present < current.rows) {
          violations++;
          notes.push(`'${req}' missing in ${current.rows - present} of ${current.rows} records`);
        }
      }
      if (rule.expectedType !== undefined && column) {
        if (!col || col.count === col.nulls) {
          violations++;
          notes.push(`'${column}' has no values (expected ${rule.expectedType})`);
        } else if (!typeMatches(col, rule.expectedType)) {
          violations++;
          notes.push(`'${column}' is mostly ${col.dominantType()} (expected ${rule.expectedType})`);
        }
      }
      if (rule.expectedColumns) {
        const listed = new Set(rule.expectedColumns);
        const unexpected = [...current.columns.keys()].filter((c) => !coveredBy(c, listed)).sort();
        if (unexpected.length > 0) {
          violations += unexpected.length;
          notes.push(`unexpected columns: ${unexpected.slice(0, 10).join(', ')}${unexpected.length > 10 ? ` (+${unexpected.length - 10} more)` : ''}`);
        }
      }
      return { observed: violations, ...(notes.length ? { reason: notes.join('; ') } : {}) };
    }
    case QualityRuleKind.RANGE: {
      const v = metricValue(current, rule.metric!, column, rule.quantile);
      if (Number.isNaN(v)) skip(`column '${column}' has no numeric values`);
      return { observed: v };
    }
    case QualityRuleKind.STATISTIC: {
      const v = metricValue(current, rule.metric!, column);
      if (Number.isNaN(v)) skip(`column '${column}' has no numeric values`);
      if (rule.lastWindows === undefined) return { observed: v };
      const prev = lastWindows(history, rule.lastWindows, `relative ${rule.metric}`);
      return { observed: relative(v, prev.map((p) => metricValue(p, rule.metric!, column)), rule.metric!), reason: `ratio to the mean ${rule.metric} of the previous windows` };
    }
    case QualityRuleKind.CARDINALITY:
      return { observed: metricValue(current, QualityMetric.DISTINCT_COUNT, column) };
    case QualityRuleKind.ALLOWED_VALUES:
    case QualityRuleKind.PATTERN: {
      const id = conditionId(rule);
      if (!current.config.conditions.some((c) => c.id === id)) {
        skip('the profile does not count this rule\'s condition (build it with conditionsForRules(rules))');
      }
      const counts = col?.conditions?.get(id);
      if (!counts || counts.checked === 0) skip(`column '${column}' has no non-null values`);
      return { observed: counts.matched / counts.checked, reason: `${counts.checked - counts.matched} of ${counts.checked} values do not conform` };
    }
    case QualityRuleKind.FRESHNESS: {
      if (current.eventTimeMax === null) skip('no valid event time in the window (is the profiler eventTimeField set?)');
      const now = opts.now ?? current.windowEnd ?? Date.now();
      return { observed: Math.max(0, (now - current.eventTimeMax) / 1000), reason: 'seconds since the latest event time' };
    }
    case QualityRuleKind.DRIFT:
      return observeDrift(rule, current, history);
    case QualityRuleKind.ANOMALY: {
      const minRows = rule.minRows ?? QUALITY_DEFAULTS.anomalyMinRows;
      if (current.rows < minRows) skip(`window has ${current.rows} rows, below minRows ${minRows}`);
      const k = rule.lastWindows ?? QUALITY_DEFAULTS.anomalyWindows;
      const prev = lastWindows(history, k, 'anomaly detection');
      const x = metricValue(current, rule.metric!, column, rule.quantile);
      if (!Number.isFinite(x)) skip(`${rule.metric} is undefined in the current window`);
      const hs = prev.map((p) => metricValue(p, rule.metric!, column, rule.quantile)).filter(Number.isFinite);
      if (hs.length < 2) skip(`${rule.metric} is defined in ${hs.length} of the previous windows (need 2)`);
      const m = mean(hs);
      const sd = Math.sqrt(hs.reduce((s, h) => s + (h - m) * (h - m), 0) / (hs.length - 1));
      // Floor: a constant history would make any change an infinite z-score.
      const sdEff = Math.max(sd, 0.01 * Math.abs(m), 1e-9);
      return { observed: Math.abs(x - m) / sdEff, reason: `|z| of ${x} against mean ${m} and stddev ${sd} of ${hs.length} windows` };
    }
    default:
      return skip(`unknown rule kind ${JSON.stringify(rule.kind)}`);
  }
}

function observeDrift(rule: QualityRule, current: Profile, history: readonly Profile[]): Observation {
  const column = rule.column!;
  const method = rule.driftMethod ?? DriftMethod.PSI;
  const k = rule.lastWindows ?? QUALITY_DEFAULTS.driftBaselineWindows;
  const minRows = rule.minRows ?? QUALITY_DEFAULTS.driftMinRows;
  const minBaselineRows = rule.minBaselineRows ?? QUALITY_DEFAULTS.driftMinBaselineRows;
  const prev = history.slice(Math.max(0, history.length - k));
  const baseCols = prev.map((p) => p.columns.get(column)).filter((c): c is ColumnProfile => c !== undefined);
  if (baseCols.length === 0) skip(`no baseline: column '${column}' absent from the ${prev.length} previous windows`);
  const base = mergeColumnProfiles(baseCols);
  const cur = current.columns.get(column);
  const numeric = isNumericColumn(base);
  const valuesOf = (c: ColumnProfile | undefined) => (c ? (numeric ? c.moments.n : c.str + c.bool) : 0);
  const n = valuesOf(cur);
  const m = valuesOf(base);
  if (n < minRows) skip(`window has ${n} values of '${column}', below minRows ${minRows}`);
  if (m < minBaselineRows) skip(`baseline (${prev.length} windows) has ${m} values of '${column}', below minBaselineRows ${minBaselineRows}`);
  if (numeric) {
    const bk = base.kll!;
    const ck = cur!.kll!;
    if (method === DriftMethod.CHI_SQUARE_P_VALUE) skip('chi-square drift needs a string or boolean column (use psi, hellinger or ks)');
    if (method === DriftMethod.KS || method === DriftMethod.KS_P_VALUE) {
      const ks = ksTest(bk, ck);
      return method === DriftMethod.KS
        ? { observed: ks.d, reason: `KS D over ${n} vs ${m} values (p-value ${ks.pValue.toPrecision(3)})` }
        : { observed: ks.pValue, reason: `KS D ${ks.d.toFixed(4)} (adjusted for sketch error ${ks.dAdjusted.toFixed(4)}) over ${n} vs ${m} values` };
    }
    const edges = quantileEdges(bk, rule.bins ?? QUALITY_DEFAULTS.driftBins);
    const e = binFractions(bk, edges);
    const a = binFractions(ck, edges);
    const value = method === DriftMethod.PSI ? psi(e, a) : hellinger(e, a);
    return { observed: value, reason: `${method} over ${e.length} baseline-quantile bins, ${n} vs ${m} values` };
  }
  if (method === DriftMethod.KS || method === DriftMethod.KS_P_VALUE) skip('ks drift needs a numeric column (use psi, hellinger or chi-square-p-value)');
  const bc = categoryCounts(base);
  const cc = cur ? categoryCounts(cur) : new Map<string, number>();
  if (method === DriftMethod.CHI_SQUARE_P_VALUE) {
    const chi = chiSquareHomogeneity(bc, cc);
    return { observed: chi.pValue, reason: `chi-square ${chi.statistic.toFixed(2)}, dof ${chi.dof}, ${n} vs ${m} values` };
  }
  const { expected, actual, keys } = alignCategories(bc, cc);
  const value = method === DriftMethod.PSI ? psi(expected, actual) : hellinger(expected, actual);
  const newKeys = keys.filter((key) => !bc.has(key));
  return {
    observed: value,
    reason: `${method} over ${keys.length} categories, ${n} vs ${m} values` + (newKeys.length ? `; new: ${newKeys.slice(0, 5).join(', ')}` : ''),
  };
}

/**
 * Evaluates rules against the current window's profile. `history` holds previous windows' profiles in
 * chronological order (the last one is the window just before `current`). Never throws for a rule: a rule that
 * cannot be evaluated (too little history, minimum rows not met, column without values) is 'skipped' with a reason.
 */
export function evaluateRules(
  rules: readonly QualityRule[],
  current: Profile,
  history: readonly Profile[],
  opts: EvaluateOptions = {},
): RuleResult[] {
  return rules.map((rule) => {
    const { warn, fail } = QualityRules.effectiveBounds(rule);
    const base = { rule: rule.name, kind: rule.kind, column: rule.column ?? null, ...(warn ? { warn } : {}), ...(fail ? { fail } : {}) };
    try {
      const { observed, reason } = observe(rule, current, history, opts);
      if (Number.isNaN(observed)) return { ...base, status: 'skipped', observed: null, reason: reason ?? 'observed value is undefined' };
      const status: RuleStatus = outside(fail, observed) ? 'fail' : outside(warn, observed) ? 'warn' : 'pass';
      return { ...base, status, observed, ...(reason ? { reason } : {}) };
    } catch (e) {
      if (e instanceof Skip) return { ...base, status: 'skipped', observed: null, reason: e.message };
      return { ...base, status: 'skipped', observed: null, reason: `evaluation error: ${(e as Error).message}` };
    }
  });
}
