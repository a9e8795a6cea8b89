import { describe, expect, it } from 'vitest';
import {
  DriftMethod,
  QualityMetric,
  QualityRule,
  QualityRuleKind,
  QualityRules,
  QualityValueType,
  QUALITY_DEFAULTS,
  validateQualityRules,
} from '../../constructs/quality-rules';

const KNOWN = ['amount', 'country', 'user'];
const validate = (rule: Partial<QualityRule>, windowSeconds = 60) =>
  validateQualityRules([{ name: 'r', kind: QualityRuleKind.VOLUME, ...rule } as QualityRule], KNOWN, windowSeconds);

describe('validateQualityRules', () => {
  it('accepts a complete valid rule set (one of each kind)', () => {
    const rules: QualityRule[] = [
      { name: 'v', kind: QualityRuleKind.VOLUME, lastWindows: 5, warn: { min: 0.8 }, fail: { min: 0.5 } },
      { name: 'c', kind: QualityRuleKind.COMPLETENESS, column: 'amount', fail: { min: 0.99 } },
      { name: 's', kind: QualityRuleKind.SCHEMA, requiredColumns: ['amount'], column: 'amount', expectedType: QualityValueType.NUMBER },
      { name: 'rg', kind: QualityRuleKind.RANGE, column: 'amount', metric: QualityMetric.QUANTILE, quantile: 0.99, fail: { max: 1000 } },
      { name: 'st', kind: QualityRuleKind.STATISTIC, column: 'amount', metric: QualityMetric.STDDEV, fail: { max: 50 } },
      { name: 'cd', kind: QualityRuleKind.CARDINALITY, column: 'user.id', fail: { min: 1 } },
      { name: 'av', kind: QualityRuleKind.ALLOWED_VALUES, column: 'country', allowedValues: ['DE'], fail: { min: 0.95 } },
      { name: 'p', kind: QualityRuleKind.PATTERN, column: 'user.id', pattern: '^u\\d+$' },
      { name: 'f', kind: QualityRuleKind.FRESHNESS, fail: { max: 300 } },
      { name: 'd', kind: QualityRuleKind.DRIFT, column: 'amount' },
      { name: 'a', kind: QualityRuleKind.ANOMALY, metric: QualityMetric.ROW_COUNT },
    ];
    expect(validateQualityRules(rules, KNOWN, 900)).toEqual([]);
    expect(QualityRules.validate(rules, 60)).toEqual([]);
  });

  it('fails when the window is outside 1-900 seconds', () => {
    expect(validateQualityRules([], undefined, 901)).toEqual(['profile window must be an integer between 1 and 900 seconds inclusive (given 901)']);
    expect(validateQualityRules([], undefined, 0)).toHaveLength(1);
    expect(validateQualityRules([], undefined, 1.5)).toHaveLength(1);
  });

  it('fails when names are empty or duplicated', () => {
    expect(validate({ name: '' })).toEqual(['rule #0: name must be a non-empty string (given "")']);
    const dup = validateQualityRules([{ name: 'x', kind: QualityRuleKind.VOLUME }, { name: 'x', kind: QualityRuleKind.VOLUME }], undefined, 60);
    expect(dup).toEqual(['rule "x": duplicate rule name (names must be unique)']);
  });

  it('fails when the kind is unknown', () => {
    expect(validate({ kind: 'rowcount' as QualityRuleKind })[0]).toMatch(/unknown kind "rowcount" \(allowed: volume, completeness/);
  });

  it('fails when warn and fail bounds are inverted (volume)', () => {
    expect(validate({ warn: { min: 0.5 }, fail: { min: 0.8 }, lastWindows: 3 })).toEqual([
      'rule "r": warn bounds must lie inside fail bounds (warn fires first): given warn { min: 0.5, max: none }, fail { min: 0.8, max: none }',
    ]);
  });

  it('fails when a volume bound is negative or min > max', () => {
    expect(validate({ fail: { min: -1 } })[0]).toMatch(/fail bounds of volume must be between 0 and Infinity \(given \{ min: -1, max: none \}\)/);
    expect(validate({ fail: { min: 10, max: 5 } })[0]).toMatch(/fail.min must be <= fail.max \(given \{ min: 10, max: 5 \}\)/);
  });

  it('fails when a completeness rule has no column, an unknown column, or a fraction outside 0-1', () => {
    expect(validate({ kind: QualityRuleKind.COMPLETENESS })).toContain('rule "r": completeness rules need a column (given none)');
    expect(validate({ kind: QualityRuleKind.COMPLETENESS, column: 'amout' })[0]).toMatch(/column 'amout' is not a known column \(known: amount, country, user\)/);
    expect(validate({ kind: QualityRuleKind.COMPLETENESS, column: 'amount', fail: { min: 95 } })[0]).toMatch(/must be between 0 and 1 \(given \{ min: 95/);
  });

  it('fails when a schema rule checks nothing or names an unknown required column', () => {
    expect(validate({ kind: QualityRuleKind.SCHEMA })[0]).toMatch(/schema rules need requiredColumns, expectedType \(with column\) or expectedColumns/);
    expect(validate({ kind: QualityRuleKind.SCHEMA, requiredColumns: ['nope'] })[0]).toMatch(/required column 'nope' is not a known column/);
    expect(validate({ kind: QualityRuleKind.SCHEMA, expectedType: QualityValueType.STRING })).toContain('rule "r": schema rules need a column (given none)');
  });

  it('fails when a range rule has no metric, a wrong metric, or a quantile outside 0-1', () => {
    const base = { kind: QualityRuleKind.RANGE, column: 'amount', fail: { max: 1 } };
    expect(validate(base)[0]).toMatch(/range rules need a metric \(allowed: min, max, quantile\)/);
    expect(validate({ ...base, metric: QualityMetric.MEAN })[0]).toMatch(/metric "mean" is not allowed for range rules/);
    expect(validate({ ...base, metric: QualityMetric.QUANTILE, quantile: 1.5 })[0]).toMatch(/quantile must be between 0 and 1 inclusive for metric quantile \(given 1.5\)/);
    expect(validate({ ...base, metric: QualityMetric.QUANTILE })[0]).toMatch(/\(given none\)/);
  });

  it('fails when a statistic rule has no bounds or a negative stddev bound', () => {
    const base = { kind: QualityRuleKind.STATISTIC, column: 'amount', metric: QualityMetric.STDDEV };
    expect(validate(base)[0]).toMatch(/statistic rules need warn or fail bounds \(given none/);
    expect(validate({ ...base, fail: { min: -1 } })[0]).toMatch(/must be between 0 and Infinity/);
    expect(validate({ ...base, lastWindows: 0, fail: { max: 2 } })[0]).toMatch(/lastWindows must be an integer between 1 and 100 \(given 0\)/);
  });

  it('fails when a cardinality bound is negative', () => {
    expect(validate({ kind: QualityRuleKind.CARDINALITY, column: 'user', fail: { min: -5 } })[0]).toMatch(/cardinality must be between 0 and Infinity/);
  });

  it('fails when allowed values are missing', () => {
    expect(validate({ kind: QualityRuleKind.ALLOWED_VALUES, column: 'country', allowedValues: [] })[0]).toMatch(/need a non-empty allowedValues list \(given \[\]\)/);
  });

  it('fails when the pattern is missing or invalid', () => {
    expect(validate({ kind: QualityRuleKind.PATTERN, column: 'country' })[0]).toMatch(/pattern rules need a pattern/);
    expect(validate({ kind: QualityRuleKind.PATTERN, column: 'country', pattern: '([a-z' })[0]).toMatch(/pattern "\(\[a-z" is not a valid regular expression/);
  });

  it('fails when a freshness rule gives a lower bound or no bounds', () => {
    expect(validate({ kind: QualityRuleKind.FRESHNESS })[0]).toMatch(/freshness rules need warn or fail bounds/);
    expect(validate({ kind: QualityRuleKind.FRESHNESS, fail: { min: 60 } })[0]).toMatch(/freshness is checked against an upper bound: use fail.max/);
  });

  it('fails when drift options are out of range or on the wrong side', () => {
    const base = { kind: QualityRuleKind.DRIFT, column: 'amount' };
    expect(validate({ ...base, bins: 1 })[0]).toMatch(/bins must be an integer between 2 and 100 \(given 1\)/);
    expect(validate({ ...base, driftMethod: DriftMethod.HELLINGER, fail: { max: 1.2 } })[0]).toMatch(/drift \(hellinger\) must be between 0 and 1/);
    expect(validate({ ...base, driftMethod: DriftMethod.KS_P_VALUE, fail: { max: 0.05 } })[0]).toMatch(/is checked against a lower bound: use fail.min/);
    expect(validate({ ...base, minRows: -1 })[0]).toMatch(/minRows must be a non-negative integer \(given -1\)/);
    expect(validate({ ...base, warn: { max: 0.3 }, fail: { max: 0.2 } })[0]).toMatch(/warn bounds must lie inside fail bounds/);
    expect(validate({ ...base, driftMethod: 'wasserstein' as DriftMethod })[0]).toMatch(/driftMethod "wasserstein" is unknown \(allowed: psi, hellinger, ks, ks-p-value, chi-square-p-value\)/);
  });

  it('fails when an anomaly rule has too little history or a column metric without a column', () => {
    expect(validate({ kind: QualityRuleKind.ANOMALY, metric: QualityMetric.ROW_COUNT, lastWindows: 1 })[0]).toMatch(/lastWindows must be an integer between 2 and 100 \(given 1\)/);
    expect(validate({ kind: QualityRuleKind.ANOMALY, metric: QualityMetric.MEAN })).toContain('rule "r": anomaly rules need a column (given none)');
  });

  it('fails when a property is given to a kind that does not use it', () => {
    expect(validate({ minRows: 5 })[0]).toMatch(/minRows is only used by drift and anomaly rules \(given 5 on a volume rule\)/);
    expect(validate({ metric: QualityMetric.MEAN })[0]).toMatch(/metric is only used by range, statistic and anomaly rules/);
    expect(validate({ kind: QualityRuleKind.COMPLETENESS, column: 'amount', lastWindows: 3 })[0]).toMatch(/lastWindows is only used by volume/);
  });

  it('accepts nested paths below a known column', () => {
    expect(validate({ kind: QualityRuleKind.COMPLETENESS, column: 'user.id' })).toEqual([]);
  });
});

describe('documented defaults', () => {
  it('match data-quality conventions', () => {
    expect(QualityRules.defaultBounds(QualityRuleKind.DRIFT)).toEqual({ warn: { max: 0.1 }, fail: { max: 0.25 } });
    expect(QualityRules.defaultBounds(QualityRuleKind.DRIFT, DriftMethod.HELLINGER)).toEqual({ warn: { max: 0.15 }, fail: { max: 0.4 } });
    expect(QualityRules.defaultBounds(QualityRuleKind.DRIFT, DriftMethod.KS_P_VALUE)).toEqual({ warn: { min: 0.05 }, fail: { min: 0.01 } });
    expect(QualityRules.defaultBounds(QualityRuleKind.ANOMALY)).toEqual({ warn: { max: 3 }, fail: { max: 4 } });
    expect(QualityRules.defaultBounds(QualityRuleKind.VOLUME)).toEqual({ fail: { min: 1 } });
    expect(QUALITY_DEFAULTS).toMatchObject({
      driftBaselineWindows: 5,
      driftBins: 10,
      driftMinRows: 300,
      driftMinBaselineRows: 1000,
      anomalyWindows: 10,
    });
    expect(QualityRules.effectiveBounds({ name: 'x', kind: QualityRuleKind.DRIFT, fail: { max: 0.5 } })).toEqual({ warn: undefined, fail: { max: 0.5 } });
  });
});
