/**
 * Running mean and variance: Welford's update and the parallel merge of Chan, Golub and LeVeque (1979),
 * numerically stable for both streaming and merging (no sum-of-squares cancellation).
 */
export interface Moments {
  /** Number of values. */
  n: number;
  mean: number;
  /** Sum of squared deviations from the mean. */
  m2: number;
}

export function emptyMoments(): Moments {
  return { n: 0, mean: 0, m2: 0 };
}

/** Welford update with one value (in place). */
export function addValue(m: Moments, x: number): void {
  const n = ++m.n;
  const d = x - m.mean;
  m.mean += d / n;
  m.m2 += d * (x - m.mean);
}

/** Chan et al. parallel merge of b into a (in place). */
export function mergeMoments(a: Moments, b: Moments): void {
  if (b.n === 0) return;
  if (a.n === 0) {
    a.n = b.n;
    a.mean = b.mean;
    a.m2 = b.m2;
    return;
  }
  const n = a.n + b.n;
  const d = b.mean - a.mean;
  a.mean = a.mean + (d * b.n) / n;
  a.m2 = a.m2 + b.m2 + (d * d * a.n * b.n) / n;
  a.n = n;
}

/** Population variance (m2 / n), NaN when empty. */
export function variance(m: Moments): number {
  return m.n === 0 ? NaN : m.m2 / m.n;
}

/** Sample variance (m2 / (n - 1)), NaN below two values. */
export function sampleVariance(m: Moments): number {
  return m.n < 2 ? NaN : m.m2 / (m.n - 1);
}
