/* eslint-disable no-bitwise */ // hashing, register packing and index arithmetic are bit operations by nature
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MisraGries } from '../../../../lib/core/profile/frequent';
import { XorShift32, hashNumber, hashString } from '../../../../lib/core/profile/hash';
import { HyperLogLog } from '../../../../lib/core/profile/hll';
import { KllSketch } from '../../../../lib/core/profile/kll';
import { addValue, emptyMoments, mergeMoments, variance } from '../../../../lib/core/profile/moments';
import { kllRankErrors, rankError } from '../../../support/profile-data';

/** Rank error of `v` as the q-quantile of sorted `xs`: distance from q to the rank interval of v. */
const DISTRIBUTIONS: Array<[string, (r: XorShift32) => number]> = [
  ['uniform', (r) => r.next() * 1000],
  ['normal', (r) => r.normal()],
  ['normal far from zero N(1000, 10)', (r) => 1000 + 10 * r.normal()],
  ['lognormal', (r) => Math.exp(r.normal())],
  ['integers 0..20 (duplicates)', (r) => Math.floor(r.next() * 21)],
  ['zipf-like heavy duplicates', (r) => Math.floor(1 / (r.next() + 0.001))],
];

describe('KLL quantile sketch', () => {
  it.each(DISTRIBUTIONS)('rank error of p50/p95/p99 at most 1 percent on 100k values: %s', (_name, gen) => {
    for (const seed of [1, 2, 3]) {
      const { sketch: sk, sorted: xs, p50, p95, p99 } = kllRankErrors(gen, new XorShift32(seed * 7919));
      for (const e of [p50, p95, p99]) expect(e).toBeLessThanOrEqual(0.01);
      expect(sk.n).toBe(100_000);
      expect(sk.quantile(0)).toBe(xs[0]);
      expect(sk.quantile(1)).toBe(xs[xs.length - 1]);
      // Bounded state: about 3k items plus the level-0 minimum (256), whatever n.
      expect(sk.retainedItems).toBeLessThan(4 * sk.k);
    }
  });

  it('keeps rank error <= 1% after merging 10 sketches of 10k values', () => {
    const r = new XorShift32(42);
    const parts = Array.from({ length: 10 }, () => new KllSketch());
    const xs = new Float64Array(100_000);
    for (let i = 0; i < xs.length; i++) {
      xs[i] = Math.exp(r.normal());
      parts[i % 10].update(xs[i]);
    }
    const merged = parts.reduce((a, b) => a.merge(b), new KllSketch());
    xs.sort();
    expect(merged.n).toBe(xs.length);
    for (const q of [0.5, 0.95, 0.99]) expect(rankError(xs, merged.quantile(q), q)).toBeLessThanOrEqual(0.01);
  });

  it('is exact on small inputs and its CDF matches the data', () => {
    const sk = new KllSketch();
    [5, 1, 3, 3, 2].forEach((x) => sk.update(x));
    expect(sk.quantile(0.5)).toBe(3);
    expect(sk.cdf(3)).toBeCloseTo(0.8);
    expect(sk.cdf(3, false)).toBeCloseTo(0.4);
    expect(sk.cdf(0)).toBe(0);
  });

  it('round-trips through serialization (float32 when exact, float64 otherwise)', () => {
    for (const gen of [(i: number) => i % 1000, (i: number) => i * 0.1 + 1e-7]) {
      const sk = new KllSketch(64);
      for (let i = 0; i < 5000; i++) sk.update(gen(i));
      const state = sk.serialize();
      const back = KllSketch.deserialize(JSON.parse(JSON.stringify(state)));
      expect(back.levels).toEqual(sk.levels);
      for (const q of [0.1, 0.5, 0.9]) expect(back.quantile(q)).toBe(sk.quantile(q));
    }
    const ints = new KllSketch(64);
    for (let i = 0; i < 100; i++) ints.update(i);
    expect(ints.serialize().items.startsWith('f4:')).toBe(true);
    ints.update(0.1);
    expect(ints.serialize().items.startsWith('f8:')).toBe(true);
  });

  it('rejects a corrupt state', () => {
    const s = new KllSketch(16).serialize();
    expect(() => KllSketch.deserialize({ ...s, sizes: [3] })).toThrow(/sizes sum to 3/);
  });
});

describe('HyperLogLog (lgK=12)', () => {
  it.each([10_000, 100_000, 1_000_000])('mean relative error at most 2 percent at %i distinct values (5 seeds, numbers and strings)', (n) => {
    const errors: number[] = [];
    for (let seed = 1; seed <= 5; seed++) {
      const nums = new HyperLogLog();
      const strs = new HyperLogLog();
      for (let i = 0; i < n; i++) {
        hashNumber(seed * 1e9 + i);
        nums.addHash();
        if (n <= 100_000) {
          hashString(`user-${seed}-${i}`);
          strs.addHash();
        }
      }
      errors.push(Math.abs(nums.estimate() / n - 1));
      if (n <= 100_000) errors.push(Math.abs(strs.estimate() / n - 1));
    }
    const meanError = errors.reduce((s, e) => s + e, 0) / errors.length;
    expect(meanError).toBeLessThanOrEqual(0.02);
    // No single estimate beyond 4 standard errors.
    for (const e of errors) expect(e).toBeLessThan(4 * 0.01625);
  });

  it('is accurate at small cardinalities (small-range correction) and counts duplicates once', () => {
    for (const n of [0, 1, 10, 100, 1000]) {
      const h = new HyperLogLog();
      for (let rep = 0; rep < 3; rep++) {
        for (let i = 0; i < n; i++) {
          hashString(`k${i}`);
          h.addHash();
        }
      }
      expect(Math.abs(h.estimate() - n)).toBeLessThanOrEqual(Math.max(1, 0.02 * n));
    }
  });

  it('distinguishes the number 1 from the string "1"', () => {
    const h = new HyperLogLog();
    hashNumber(1);
    h.addHash();
    hashString('1');
    h.addHash();
    expect(Math.round(h.estimate())).toBe(2);
  });

  it('merges by register max: union estimate, associative and commutative', () => {
    const a = hllOfRange(0, 30_000);
    const b = hllOfRange(20_000, 60_000);
    const c = hllOfRange(50_000, 80_000);
    const ab_c = HyperLogLog.deserialize(a.serialize()).merge(b).merge(c);
    const c_ba = HyperLogLog.deserialize(c.serialize()).merge(HyperLogLog.deserialize(b.serialize()).merge(a));
    expect(ab_c.registers).toEqual(c_ba.registers);
    expect(Math.abs(ab_c.estimate() / 80_000 - 1)).toBeLessThan(0.05);
  });

  it('serializes compactly: sparse for few values, dense 6-bit packed otherwise, lossless', () => {
    const small = hllOfRange(0, 50);
    const s = small.serialize();
    expect(s.startsWith('s12:')).toBe(true);
    expect(s.length).toBeLessThan(250);
    expect(HyperLogLog.deserialize(s).registers).toEqual(small.registers);
    const big = hllOfRange(0, 100_000);
    const d = big.serialize();
    expect(d.startsWith('d12:')).toBe(true);
    expect(d.length).toBe(4 + Math.ceil((4096 * 6) / 8 / 3) * 4);
    expect(HyperLogLog.deserialize(d).registers).toEqual(big.registers);
  });

  it('fails when lgK is out of range or the encoding is corrupt', () => {
    expect(() => new HyperLogLog(20)).toThrow(/between 4 and 16 \(given 20\)/);
    expect(() => HyperLogLog.deserialize('x12:AAAA')).toThrow(/invalid HLL/);
    expect(() => HyperLogLog.deserialize('d12:AAAA')).toThrow(/invalid dense HLL length/);
  });
});

describe('Misra-Gries frequent items', () => {
  it('underestimates every count by at most maxError <= n/(k+1), before and after merges (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.array(fc.integer({ min: 0, max: 40 }), { maxLength: 300 }), { minLength: 1, maxLength: 4 }),
        fc.integer({ min: 2, max: 12 }),
        (streams, k) => {
          const truth = new Map<string, number>();
          const sketches = streams.map((stream) => {
            const mg = new MisraGries(k);
            for (const x of stream) {
              // Skewed: small values repeat more.
              const item = `v${x % (1 + (x % 7))}`;
              mg.update(item);
              truth.set(item, (truth.get(item) ?? 0) + 1);
            }
            return mg;
          });
          const merged = sketches.reduce((a, b) => a.merge(b), new MisraGries(k));
          const n = streams.reduce((s, st) => s + st.length, 0);
          expect(merged.n).toBe(n);
          expect(merged.counts.size).toBeLessThanOrEqual(k);
          expect(merged.maxError).toBeLessThanOrEqual(n / (k + 1) + 1e-9);
          for (const [item, count] of truth) {
            const est = merged.estimate(item);
            expect(est).toBeLessThanOrEqual(count);
            expect(count - est).toBeLessThanOrEqual(merged.maxError);
          }
        },
      ),
      { numRuns: 60, seed: 7 },
    );
  });

  it('round-trips through serialization and truncates very long items', () => {
    const mg = new MisraGries(4);
    ['a', 'b', 'a', 'x'.repeat(500)].forEach((s) => mg.update(s));
    const back = MisraGries.deserialize(JSON.parse(JSON.stringify(mg.serialize())));
    expect(back.top()).toEqual(mg.top());
    expect(back.top()[0]).toEqual({ value: 'a', count: 2 });
    expect(Math.max(...back.top().map((t) => t.value.length))).toBe(129);
  });
});

describe('moments (Welford, Chan merge)', () => {
  it('merging partitions gives the mean and variance of the whole (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: -1e6, max: 1e6, noNaN: true }), { minLength: 2, maxLength: 200 }), fc.nat(), (xs, cut) => {
        const split = cut % xs.length;
        const a = emptyMoments();
        const b = emptyMoments();
        const all = emptyMoments();
        xs.forEach((x, i) => addValue(i < split ? a : b, x));
        xs.forEach((x) => addValue(all, x));
        mergeMoments(a, b);
        const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
        const v = xs.reduce((s, x) => s + (x - mean) ** 2, 0) / xs.length;
        const tol = 1e-9 * (1 + Math.max(...xs.map(Math.abs)));
        expect(a.n).toBe(xs.length);
        expect(Math.abs(a.mean - mean)).toBeLessThanOrEqual(tol);
        expect(Math.abs(variance(a) - v)).toBeLessThanOrEqual(1e-9 * (1 + v) + tol * tol);
        expect(Math.abs(variance(all) - v)).toBeLessThanOrEqual(1e-9 * (1 + v) + tol * tol);
      }),
      { numRuns: 100, seed: 11 },
    );
  });

  it('is stable for values with a large offset (no sum-of-squares cancellation)', () => {
    const m = emptyMoments();
    for (const x of [1e9 + 4, 1e9 + 7, 1e9 + 13, 1e9 + 16]) addValue(m, x);
    expect(variance(m)).toBeCloseTo(22.5, 9);
  });
});

/** A HyperLogLog of the numbers from..to-1. */
function hllOfRange(from: number, to: number): HyperLogLog {
  const h = new HyperLogLog();
  for (let i = from; i < to; i++) {
    hashNumber(i);
    h.addHash();
  }
  return h;
}
