/**
 * Drift statistics between a baseline and a current distribution, computed from sketches:
 * PSI (epsilon-smoothed), Hellinger distance, Kolmogorov-Smirnov D and p-value from the KLL CDFs, and a
 * chi-square test of homogeneity over frequent items for categorical columns.
 *
 * Numeric bins are equal-mass bins of the baseline (edges at baseline quantiles, deduplicated so point masses
 * keep one bin). Categorical bins are the union of both frequent-item summaries plus an "other" bin.
 */
import { InvalidArgumentError } from '../errors';
import { ColumnProfile } from './column';
import { KllSketch } from './kll';

/** Smallest bin fraction used by PSI (empty bins would give an infinite log ratio). */
export const PSI_EPSILON = 1e-4;

function normalize(counts: readonly number[]): number[] {
  const total = counts.reduce((s, c) => s + c, 0);
  return total > 0 ? counts.map((c) => c / total) : counts.map(() => 0);
}

/**
 * Population stability index sum (a_i - e_i) ln(a_i / e_i) of two histograms over the same bins (counts or
 * fractions). Fractions below `epsilon` are raised to it and the histogram renormalized.
 */
export function psi(expected: readonly number[], actual: readonly number[], epsilon = PSI_EPSILON): number {
  if (expected.length !== actual.length) throw new InvalidArgumentError(`psi: histograms differ in length (${expected.length} and ${actual.length})`);
  const smooth = (h: readonly number[]) => normalize(normalize(h).map((x) => Math.max(x, epsilon)));
  const e = smooth(expected);
  const a = smooth(actual);
  let s = 0;
  for (let i = 0; i < e.length; i++) s += (a[i] - e[i]) * Math.log(a[i] / e[i]);
  return s;
}

/** Hellinger distance ||sqrt(p) - sqrt(q)||_2 / sqrt(2) in [0, 1] of two histograms over the same bins. */
export function hellinger(p: readonly number[], q: readonly number[]): number {
  if (p.length !== q.length) throw new InvalidArgumentError(`hellinger: histograms differ in length (${p.length} and ${q.length})`);
  const a = normalize(p);
  const b = normalize(q);
  let s = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.sqrt(a[i]) - Math.sqrt(b[i]);
    s += d * d;
  }
  return Math.min(1, Math.sqrt(s / 2));
}

/** Bin edges at the baseline's quantiles 1/bins .. (bins-1)/bins, deduplicated. Bin i is (edge[i-1], edge[i]]. */
export function quantileEdges(baseline: KllSketch, bins: number): number[] {
  const edges: number[] = [];
  for (let i = 1; i < bins; i++) {
    const e = baseline.quantile(i / bins);
    if (edges.length === 0 || e > edges[edges.length - 1]) edges.push(e);
  }
  return edges;
}

/** Fraction of a sketch's weight in each bin defined by `edges` (edges.length + 1 bins). */
export function binFractions(sketch: KllSketch, edges: readonly number[]): number[] {
  const out: number[] = [];
  let prev = 0;
  for (const e of edges) {
    const c = sketch.cdf(e, true);
    out.push(c - prev);
    prev = c;
  }
  out.push(1 - prev);
  return out;
}

/** Kolmogorov distribution survival function Q_KS(lambda) = 2 sum (-1)^(k-1) exp(-2 k^2 lambda^2). */
export function kolmogorovSurvival(lambda: number): number {
  if (lambda < 0.2) return 1;
  let s = 0;
  for (let k = 1; k <= 100; k++) {
    const term = (k % 2 === 1 ? 1 : -1) * Math.exp(-2 * k * k * lambda * lambda);
    s += term;
    if (Math.abs(term) < 1e-12) break;
  }
  return Math.max(0, Math.min(1, 2 * s));
}

export interface KsResult {
  /** sup |F_baseline(x) - F_current(x)| over the retained items of both sketches. */
  readonly d: number;
  /** D minus both sketches' rank-error bounds (0 for an exact, uncompacted sketch), floored at 0. */
  readonly dAdjusted: number;
  /** Asymptotic two-sample p-value computed from dAdjusted (conservative: sketch error cannot create drift). */
  readonly pValue: number;
}

function sketchError(s: KllSketch): number {
  return s.levels.length > 1 ? s.rankErrorBound : 0;
}

/** Two-sample Kolmogorov-Smirnov test from two KLL sketches. */
export function ksTest(baseline: KllSketch, current: KllSketch): KsResult {
  if (baseline.n === 0 || current.n === 0) return { d: NaN, dAdjusted: NaN, pValue: NaN };
  let d = 0;
  for (const s of [baseline, current]) {
    for (const level of s.levels) {
      for (const x of level) {
        const diff = Math.abs(baseline.cdf(x) - current.cdf(x));
        if (diff > d) d = diff;
      }
    }
  }
  const dAdjusted = Math.max(0, d - sketchError(baseline) - sketchError(current));
  const ne = (baseline.n * current.n) / (baseline.n + current.n);
  const sq = Math.sqrt(ne);
  const pValue = kolmogorovSurvival((sq + 0.12 + 0.11 / sq) * dAdjusted);
  return { d, dAdjusted, pValue };
}

// ---------------------------------------------------------------------------------------------------------------
// Chi-square

/** ln Gamma(x) (Lanczos, g = 7). */
function lnGamma(x: number): number {
  const c = [0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
    12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - lnGamma(1 - x);
  x -= 1;
  let a = c[0];
  const t = x + 7.5;
  for (let i = 1; i < 9; i++) a += c[i] / (x + i);
  return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(a);
}

/** Regularized upper incomplete gamma Q(a, x) (series below a+1, continued fraction above; Numerical Recipes). */
export function gammaQ(a: number, x: number): number {
  if (x <= 0) return 1;
  if (x < a + 1) {
    let sum = 1 / a;
    let del = sum;
    let ap = a;
    for (let n = 0; n < 1000; n++) {
      ap += 1;
      del *= x / ap;
      sum += del;
      if (Math.abs(del) < Math.abs(sum) * 1e-15) break;
    }
    return Math.max(0, 1 - sum * Math.exp(-x + a * Math.log(x) - lnGamma(a)));
  }
  let b = x + 1 - a;
  let c = 1 / 1e-300;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < 1000; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < 1e-300) d = 1e-300;
    c = b + an / c;
    if (Math.abs(c) < 1e-300) c = 1e-300;
    d = 1 / d;
    const del = d * c;
    h *= del;
    if (Math.abs(del - 1) < 1e-15) break;
  }
  return Math.min(1, Math.exp(-x + a * Math.log(x) - lnGamma(a)) * h);
}

/** Survival function of the chi-square distribution with `dof` degrees of freedom. */
export function chiSquareSurvival(statistic: number, dof: number): number {
  return gammaQ(dof / 2, statistic / 2);
}

export interface ChiSquareResult {
  readonly statistic: number;
  readonly dof: number;
  readonly pValue: number;
  /** Categories used after pooling the ones with expected count below 5 into "other". */
  readonly categories: number;
}

/**
 * Chi-square test of homogeneity of two samples over categories (2 x K table). Categories with an expected
 * count below 5 in either sample are pooled (the usual validity condition), dof = K - 1.
 */
export function chiSquareHomogeneity(baseline: ReadonlyMap<string, number>, current: ReadonlyMap<string, number>): ChiSquareResult {
  const keys = [...new Set([...baseline.keys(), ...current.keys()])];
  const nb = [...baseline.values()].reduce((s, c) => s + c, 0);
  const nc = [...current.values()].reduce((s, c) => s + c, 0);
  const n = nb + nc;
  if (nb === 0 || nc === 0) return { statistic: NaN, dof: 0, pValue: NaN, categories: 0 };
  const cells: Array<[number, number]> = [];
  let pooled: [number, number] = [0, 0];
  for (const k of keys) {
    const b = baseline.get(k) ?? 0;
    const c = current.get(k) ?? 0;
    const col = b + c;
    if ((col * nb) / n < 5 || (col * nc) / n < 5) pooled = [pooled[0] + b, pooled[1] + c];
    else cells.push([b, c]);
  }
  if (pooled[0] + pooled[1] > 0) cells.push(pooled);
  if (cells.length < 2) return { statistic: 0, dof: 0, pValue: 1, categories: cells.length };
  let stat = 0;
  for (const [b, c] of cells) {
    const col = b + c;
    const eb = (col * nb) / n;
    const ec = (col * nc) / n;
    stat += ((b - eb) * (b - eb)) / eb + ((c - ec) * (c - ec)) / ec;
  }
  const dof = cells.length - 1;
  return { statistic: stat, dof, pValue: chiSquareSurvival(stat, dof), categories: cells.length };
}

// ---------------------------------------------------------------------------------------------------------------
// Column-level histograms

/**
 * Category counts of a string or boolean column: frequent items (lower-bound estimates) plus `\u0000other`
 * for the remainder of its values, or true/false counts for a boolean column.
 */
export function categoryCounts(col: ColumnProfile): Map<string, number> {
  const out = new Map<string, number>();
  if (col.str >= col.bool && col.freq) {
    let tracked = 0;
    for (const [k, v] of col.freq.counts) {
      out.set(k, v);
      tracked += v;
    }
    if (col.freq.n - tracked > 0) out.set(OTHER, col.freq.n - tracked);
  } else if (col.bool > 0) {
    out.set('true', col.trues);
    out.set('false', col.bool - col.trues);
  }
  return out;
}

/** Key of the pooled remainder in {@link categoryCounts}. */
export const OTHER = '\u0000other';

/** Aligned histograms of baseline and current over the union of their categories. */
export function alignCategories(
  baseline: ReadonlyMap<string, number>,
  current: ReadonlyMap<string, number>,
): { expected: number[]; actual: number[]; keys: string[] } {
  const keys = [...new Set([...baseline.keys(), ...current.keys()])].sort();
  return { keys, expected: keys.map((k) => baseline.get(k) ?? 0), actual: keys.map((k) => current.get(k) ?? 0) };
}
