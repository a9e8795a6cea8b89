import { describe, expect, it } from 'vitest';
import {
  binFractions,
  chiSquareHomogeneity,
  chiSquareSurvival,
  hellinger,
  kolmogorovSurvival,
  ksTest,
  psi,
  quantileEdges,
} from '../../../../lib/core/profile/drift';
import { XorShift32 } from '../../../../lib/core/profile/hash';
import { KllSketch } from '../../../../lib/core/profile/kll';

function sketch(n: number, gen: () => number): KllSketch {
  const s = new KllSketch();
  for (let i = 0; i < n; i++) s.update(gen());
  return s;
}

describe('PSI and Hellinger', () => {
  it('match hand-computed values', () => {
    // (0.5-0.25) ln(0.5/0.25) + (0.5-0.75) ln(0.5/0.75)
    expect(psi([25, 75], [50, 50])).toBeCloseTo(0.25 * Math.log(2) - 0.25 * Math.log(2 / 3), 6);
    expect(psi([1, 2, 3], [1, 2, 3])).toBe(0);
    expect(hellinger([1, 0], [0, 1])).toBeCloseTo(1, 12);
    expect(hellinger([1, 1], [1, 1])).toBe(0);
    const h = Math.sqrt(((0.5 - Math.sqrt(0.5)) ** 2 + (Math.sqrt(0.75) - Math.sqrt(0.5)) ** 2) / 2);
    expect(hellinger([0.25, 0.75], [0.5, 0.5])).toBeCloseTo(h, 12);
  });

  it('smooths empty bins instead of returning Infinity', () => {
    const v = psi([50, 50, 0], [40, 40, 20]);
    expect(Number.isFinite(v)).toBe(true);
    expect(v).toBeGreaterThan(1);
  });

  it('fails when the histograms differ in length', () => {
    expect(() => psi([1], [1, 2])).toThrow(/differ in length/);
  });
});

describe('numeric bins from baseline quantiles', () => {
  it('gives equal-mass baseline bins and deduplicates point masses', () => {
    const r = new XorShift32(5);
    const base = sketch(50_000, () => r.normal());
    const edges = quantileEdges(base, 10);
    expect(edges).toHaveLength(9);
    for (const f of binFractions(base, edges)) expect(f).toBeCloseTo(0.1, 2);
    const discrete = sketch(1000, () => Math.floor(r.next() * 3));
    const dEdges = quantileEdges(discrete, 10);
    // Deduplicated; the top bin (2, Infinity) is empty in the baseline: new larger values show up as drift.
    expect(dEdges).toEqual([0, 1, 2]);
    const fr = binFractions(discrete, dEdges);
    expect(fr.reduce((s, x) => s + x, 0)).toBeCloseTo(1, 12);
    expect(fr[2]).toBeGreaterThan(0.25);
    expect(fr[3]).toBe(0);
  });
});

describe('Kolmogorov-Smirnov from sketches', () => {
  it('uses the standard Kolmogorov distribution', () => {
    expect(kolmogorovSurvival(1.358)).toBeCloseTo(0.05, 3);
    expect(kolmogorovSurvival(1.628)).toBeCloseTo(0.01, 3);
  });

  it('finds no drift between samples of one distribution and drift for a 0.2 sigma shift', () => {
    const r = new XorShift32(17);
    const base = sketch(20_000, () => r.normal());
    const same = ksTest(base, sketch(5_000, () => r.normal()));
    const shifted = ksTest(base, sketch(5_000, () => r.normal() + 0.2));
    expect(same.d).toBeLessThan(0.03);
    expect(same.pValue).toBeGreaterThan(0.05);
    // True D for a 0.2 sigma shift: 2*Phi(0.1) - 1 = 0.0797.
    expect(shifted.d).toBeGreaterThan(0.06);
    expect(shifted.d).toBeLessThan(0.1);
    expect(shifted.pValue).toBeLessThan(1e-6);
    expect(shifted.dAdjusted).toBeLessThan(shifted.d);
  });
});

describe('chi-square', () => {
  it('has the standard survival function', () => {
    expect(chiSquareSurvival(3.841, 1)).toBeCloseTo(0.05, 3);
    expect(chiSquareSurvival(16.919, 9)).toBeCloseTo(0.05, 3);
    expect(chiSquareSurvival(0, 3)).toBe(1);
    expect(chiSquareSurvival(200, 4)).toBeLessThan(1e-30);
  });

  it('tests homogeneity and pools categories with expected counts below 5', () => {
    const base = new Map([['a', 500], ['b', 300], ['c', 200], ['rare', 2]]);
    const same = chiSquareHomogeneity(base, new Map([['a', 52], ['b', 29], ['c', 19]]));
    expect(same.pValue).toBeGreaterThan(0.5);
    expect(same.categories).toBe(4); // a, b, c and the pooled rare
    const drifted = chiSquareHomogeneity(base, new Map([['a', 20], ['b', 30], ['c', 50]]));
    expect(drifted.pValue).toBeLessThan(1e-6);
    expect(drifted.dof).toBe(drifted.categories - 1);
  });
});
