import type { XorShift32 } from '../../lib/core/profile/hash';
import { KllSketch } from '../../lib/core/profile/kll';

const CATEGORIES = ['alpha', 'beta', 'gamma', 'delta', 'epsilon', 'zeta', 'eta', 'theta'];

/** A 20-column record: 8 numbers (ints and fractions), 6 strings (categorical and high-cardinality), 2 booleans, 4 mixed. */
export function twentyColumnRecord(r: XorShift32, i: number): Record<string, unknown> {
  return {
    id: `evt-${i}-${r.nextU32().toString(36)}`,
    user: `u${r.nextU32() % 50_000}`,
    country: CATEGORIES[r.nextU32() % 8],
    device: r.next() < 0.7 ? 'mobile' : 'desktop',
    page: `/p/${r.nextU32() % 500}`,
    referrer: r.next() < 0.2 ? null : `https://ref${r.nextU32() % 40}.example`,
    amount: Math.round(Math.exp(r.normal() + 3) * 100) / 100,
    quantity: 1 + (r.nextU32() % 5),
    latencyMs: Math.round(Math.exp(r.normal() * 0.5 + 4)),
    score: r.next(),
    lat: 48 + r.normal(),
    lon: 11 + r.normal(),
    ts: 1_770_000_000_000 + i * 10,
    seq: i,
    premium: r.next() < 0.1,
    consent: r.next() < 0.9,
    version: r.nextU32() % 3,
    campaign: r.next() < 0.5 ? null : `c${r.nextU32() % 20}`,
    sessionLength: r.nextU32() % 3600,
    bucket: r.nextU32() % 100,
  };
}

/** Rank error of `v` as the q-quantile of `sorted`: 0 when some rank of `v` (ties included) is q. */
export function rankError(sorted: Float64Array, v: number, q: number): number {
  const lower = (pred: (x: number) => boolean): number => {
    let lo = 0;
    let hi = sorted.length;
    while (lo < hi) {
      const mid = Math.floor((lo + hi) / 2);
      if (pred(sorted[mid])) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  const rLo = lower((x) => x < v) / sorted.length;
  const rHi = lower((x) => x <= v) / sorted.length;
  return q < rLo ? rLo - q : q > rHi ? q - rHi : 0;
}

/** A KLL sketch of `n` values drawn by `gen`, the exact values sorted, and the sketch's rank errors at p50/p95/p99. */
export function kllRankErrors(gen: (r: XorShift32) => number, r: XorShift32, n = 100_000):
{ sketch: KllSketch; sorted: Float64Array; p50: number; p95: number; p99: number } {
  const sk = new KllSketch();
  const xs = new Float64Array(n);
  for (let i = 0; i < xs.length; i++) {
    xs[i] = gen(r);
    sk.update(xs[i]);
  }
  xs.sort();
  const at = (q: number): number => rankError(xs, sk.quantile(q), q);
  return { p50: at(0.5), p95: at(0.95), p99: at(0.99), sketch: sk, sorted: xs };
}
