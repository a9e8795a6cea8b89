/**
 * Starter rule set from a sample (Deequ-style constraint suggestion): record volume, schema (required columns,
 * types), completeness bounds, non-negative and observed ranges for numbers, allowed values for low-cardinality
 * strings, and drift on every numeric or categorical column. Meant as a reviewed starting point
 * (`phoenix profile suggest`), not as a final contract: a sample cannot show what it did not contain.
 */
import { Profile, ProfileConfig, createProfile, updateProfile } from './profile';
import {
  DriftMethod,
  QualityMetric,
  QualityRule,
  QualityRuleKind,
  QualityValueType,
} from '../../../constructs/quality-rules';

export interface SuggestOptions {
  /** Strings with at most this many distinct values get an allowed-values rule. @default 20 */
  readonly maxCategories?: number;
  /** Minimum sampled values per category before suggesting allowed values. @default 5 */
  readonly minValuesPerCategory?: number;
  /** Confidence z of the Wilson lower bound used for completeness thresholds. @default 2.576 (99%) */
  readonly z?: number;
  /** Profile config when records are given. @default {} */
  readonly profileConfig?: ProfileConfig;
}

/** Wilson score lower bound of a binomial proportion. */
export function wilsonLowerBound(successes: number, n: number, z: number): number {
  if (n === 0) return 0;
  const p = successes / n;
  const z2 = z * z;
  const centre = p + z2 / (2 * n);
  const margin = z * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n));
  return Math.max(0, (centre - margin) / (1 + z2 / n));
}

function floorTo(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.floor(x * f) / f;
}

/** Suggests rules from sample records (any JSON values; non-objects count as unparseable) or from a profile. */
export function suggestRules(input: Profile | readonly unknown[], opts: SuggestOptions = {}): QualityRule[] {
  let profile: Profile;
  if (Array.isArray(input)) {
    profile = createProfile(opts.profileConfig);
    for (const r of input) updateProfile(profile, r);
  } else {
    profile = input as Profile;
  }
  const maxCategories = opts.maxCategories ?? 20;
  const minPerCategory = opts.minValuesPerCategory ?? 5;
  const z = opts.z ?? 2.576;
  const rules: QualityRule[] = [];
  if (profile.rows === 0) return rules;

  rules.push({ name: 'volume', kind: QualityRuleKind.VOLUME, fail: { min: 1 } });
  const names = [...profile.columns.keys()].sort();
  const required = names.filter((n) => profile.columns.get(n)!.count === profile.rows);
  if (required.length > 0) {
    rules.push({ name: 'schema:required', kind: QualityRuleKind.SCHEMA, requiredColumns: required });
  }

  for (const name of names) {
    const col = profile.columns.get(name)!;
    const nonNull = col.count - col.nulls;
    const dominant = col.dominantType();
    if (dominant !== null) {
      const numeric = col.int + col.frac;
      const single = [col.int + col.frac, col.bool, col.str, col.obj, col.array].filter((c) => c > 0).length === 1;
      if (single) {
        const expectedType = numeric > 0 ? (col.frac > 0 ? QualityValueType.NUMBER : QualityValueType.INTEGER) : (dominant as QualityValueType);
        rules.push({ name: `${name}:type`, kind: QualityRuleKind.SCHEMA, column: name, expectedType });
      }
    }
    if (nonNull === profile.rows) {
      rules.push({ name: `${name}:completeness`, kind: QualityRuleKind.COMPLETENESS, column: name, fail: { min: 1 } });
    } else if (nonNull > 0) {
      const lower = floorTo(wilsonLowerBound(nonNull, profile.rows, z), 2);
      if (lower > 0) rules.push({ name: `${name}:completeness`, kind: QualityRuleKind.COMPLETENESS, column: name, fail: { min: lower } });
    }
    if (col.kll && col.kll.n > 0 && col.int + col.frac >= col.str + col.bool) {
      const min = col.kll.min;
      const max = col.kll.max;
      const span = max - min;
      const slack = span > 0 ? 0.1 * span : Math.max(1, Math.abs(max) * 0.1);
      if (min >= 0) {
        rules.push({ name: `${name}:min`, kind: QualityRuleKind.RANGE, column: name, metric: QualityMetric.MIN, warn: { min: Math.max(0, min - slack) }, fail: { min: 0 } });
      } else {
        rules.push({ name: `${name}:min`, kind: QualityRuleKind.RANGE, column: name, metric: QualityMetric.MIN, warn: { min: min - slack } });
      }
      rules.push({ name: `${name}:max`, kind: QualityRuleKind.RANGE, column: name, metric: QualityMetric.MAX, warn: { max: max + slack } });
      rules.push({ name: `${name}:drift`, kind: QualityRuleKind.DRIFT, column: name, driftMethod: DriftMethod.PSI });
    } else if (col.freq && col.str > 0) {
      const distinct = col.freq.counts.size;
      const exact = col.freq.maxError === 0;
      if (exact && distinct <= maxCategories && col.str >= distinct * minPerCategory) {
        const values = col.freq.top().map((t) => t.value);
        rules.push({ name: `${name}:allowed`, kind: QualityRuleKind.ALLOWED_VALUES, column: name, allowedValues: values, warn: { min: 1 }, fail: { min: 0.95 } });
        rules.push({ name: `${name}:drift`, kind: QualityRuleKind.DRIFT, column: name, driftMethod: DriftMethod.PSI });
      }
    }
  }
  return rules;
}
