import { describe, expect, it } from 'vitest';
import { QualityMetric, QualityRuleKind, validateQualityRules } from '../../../../constructs/quality-rules';
import { XorShift32 } from '../../../../lib/core/profile/hash';
import { createProfile, updateProfile } from '../../../../lib/core/profile/profile';
import { conditionsForRules, evaluateRules } from '../../../../lib/core/profile/rules';
import { suggestRules, wilsonLowerBound } from '../../../../lib/core/profile/suggest';

function sample(seed: number, n: number): unknown[] {
  const r = new XorShift32(seed);
  return Array.from({ length: n }, (_, i) => ({
    id: `o-${i}`,
    amount: Math.round(r.next() * 10000) / 100,
    delta: r.normal(),
    status: ['new', 'paid', 'shipped'][i % 3],
    note: r.next() < 0.1 ? null : `n${r.nextU32()}`,
    customer: { tier: i % 2 ? 'gold' : 'basic' },
  }));
}

describe('suggestRules', () => {
  const records = sample(1, 2000);
  const rules = suggestRules(records);
  const byName = (n: string) => rules.find((r) => r.name === n);

  it('suggests valid rules (they pass validateQualityRules)', () => {
    expect(validateQualityRules(rules, undefined, 60)).toEqual([]);
  });

  it('suggests completeness, non-negative ranges, allowed values and types Deequ-style', () => {
    expect(byName('amount:completeness')).toMatchObject({ fail: { min: 1 } });
    // 10% nulls in 2000 rows: the 99% Wilson lower bound of ~0.9, floored to 2 digits.
    expect(byName('note:completeness')!.fail!.min).toBeGreaterThan(0.85);
    expect(byName('note:completeness')!.fail!.min).toBeLessThan(0.9);
    expect(byName('amount:min')).toMatchObject({ metric: QualityMetric.MIN, fail: { min: 0 } });
    expect(byName('delta:min')!.fail).toBeUndefined();
    expect(byName('status:allowed')!.allowedValues!.sort()).toEqual(['new', 'paid', 'shipped']);
    expect(byName('customer.tier:allowed')!.allowedValues!.sort()).toEqual(['basic', 'gold']);
    expect(byName('id:allowed')).toBeUndefined();
    expect(byName('note:allowed')).toBeUndefined();
    expect(byName('amount:type')).toMatchObject({ expectedType: 'number' });
    expect(byName('schema:required')!.requiredColumns).toEqual(['amount', 'customer', 'customer.tier', 'delta', 'id', 'note', 'status']);
    expect(rules.filter((r) => r.kind === QualityRuleKind.DRIFT).map((r) => r.column).sort()).toEqual(['amount', 'customer.tier', 'delta', 'status']);
  });

  it('suggestions raise nothing on fresh data from the same source', () => {
    const history = [1, 2, 3, 4, 5].map((s) => {
      const p = createProfile({ conditions: conditionsForRules(rules) });
      for (const rec of sample(10 + s, 1000)) updateProfile(p, rec);
      return p;
    });
    const current = createProfile({ conditions: conditionsForRules(rules) });
    for (const rec of sample(99, 1000)) updateProfile(current, rec);
    const raised = evaluateRules(rules, current, history).filter((r) => r.status === 'warn' || r.status === 'fail');
    expect(raised).toEqual([]);
  });

  it('accepts a profile and returns nothing for an empty one', () => {
    const p = createProfile();
    expect(suggestRules(p)).toEqual([]);
    updateProfile(p, { a: 1 });
    expect(suggestRules(p).map((r) => r.name)).toContain('a:completeness');
  });

  it('computes the Wilson lower bound', () => {
    expect(wilsonLowerBound(90, 100, 1.96)).toBeCloseTo(0.8256, 3);
    expect(wilsonLowerBound(0, 0, 1.96)).toBe(0);
  });
});
