/* eslint-disable no-bitwise */ // hashing, register packing and index arithmetic are bit operations by nature
/**
 * KLL quantile sketch (Karnin, Lang, Liberty 2016), lazy-compaction variant of Liberty's reference
 * implementation (github.com/edoliberty/streaming-quantiles).
 *
 * Why KLL and not DDSketch (@datadog/sketches-js): DDSketch bounds the RELATIVE VALUE error, which is the wrong
 * guarantee for data-quality profiling: values far from zero relative to their spread land in two or three buckets,
 * and it returns bucket midpoints, not values of the data (rank errors measured in docs/quality.md). Drift statistics (PSI bins, KS) need
 * CDFs with bounded RANK error whatever the offset or duplication of the data, which is what KLL gives
 * (whylogs and Deequ use KLL too). No maintained KLL exists on npm (no DataSketches port).
 *
 * Level h holds items of weight 2^h. Level capacities decrease geometrically (factor c = 2/3) from the top,
 * so about k/(1-c) = 3k items are retained whatever the stream length. When the sketch is full, the lowest
 * level at capacity is sorted and every other item (random offset) is promoted. Normalized rank error is
 * about 2.296 / k^0.9723 (99% confidence, single query): ~0.9% at k = 200, ~0.7% at k = 256.
 */
import { CorruptSketchError, InvalidArgumentError } from '../errors';
import { decodeFloats, encodeFloats } from './codec';
import { XorShift32 } from './hash';

export const DEFAULT_KLL_K = 256;
const C = 2 / 3;
const MIN_CAPACITY = 2;
/**
 * Level 0 (weight-1, exact items) holds at least this many items before it is compacted, so that compactions
 * (a sort and a merge) are amortized over many updates. Deviation from the reference: it only adds exact items
 * (never more error) and at most this many retained items.
 */
const MIN_LEVEL0_CAPACITY = 256;

/** Coin flips for compaction. Seeded: two runs over the same stream produce the same sketch. */
const coin = new XorShift32(0x5eed);

export class KllSketch {
  /** Rebuilds a sketch from its serialized form; throws on a corrupt state. */
  static deserialize(s: KllState): KllSketch {
    const sk = new KllSketch(s.k);
    const items = decodeFloats(s.items);
    const total = s.sizes.reduce((a, b) => a + b, 0);
    if (total !== items.length) throw new CorruptSketchError(`invalid KLL state: sizes sum to ${total}, ${items.length} items`);
    let off = 0;
    sk.lv = s.sizes.map((len) => {
      const l = items.slice(off, off + len);
      off += len;
      return l;
    });
    if (sk.lv.length === 0) sk.lv = [[]];
    sk.n = s.n;
    sk.min = s.min ?? Infinity;
    sk.max = s.max ?? -Infinity;
    sk.retained = total;
    sk.maxRetained = sk.recomputeCapacities();
    return sk;
  }

  readonly k: number;
  /**
   * lv[h]: items of weight 2^h; level 0 is unsorted, higher levels are sorted. Level 0 also has the items of
   * `buf0[0..n0)`: updates write there (no array growth, no boxing), compactions sort it in place with the native
   * typed-array sort; every other operation first moves them into lv[0] ({@link flush0}).
   */
  private lv: number[][] = [[]];
  private buf0: Float64Array;
  private n0 = 0;
  /** Total weight (number of values added). */
  n = 0;
  min = Infinity;
  max = -Infinity;
  private retained = 0;
  private maxRetained: number;
  /** capacities[h], recomputed when a level is added. */
  private capacities: number[] = [];
  private sorted: { items: Float64Array; cum: Float64Array } | null = null;

  constructor(k: number = DEFAULT_KLL_K) {
    if (!Number.isInteger(k) || k < 8 || k > 65535) {
      throw new InvalidArgumentError(`KLL k must be an integer between 8 and 65535 (given ${k})`);
    }
    this.k = k;
    this.buf0 = new Float64Array(Math.max(MIN_LEVEL0_CAPACITY, k) + 2);
    this.maxRetained = this.recomputeCapacities();
  }

  /** The levels (level 0 first); level h holds items of weight 2^h. */
  get levels(): number[][] {
    this.flush0();
    return this.lv;
  }

  /** Moves the buffered level-0 items into lv[0]. */
  private flush0(): void {
    if (this.n0 === 0) return;
    const l0 = this.lv[0];
    for (let i = 0; i < this.n0; i++) l0.push(this.buf0[i]);
    this.n0 = 0;
  }

  /** Recomputes the level capacities for the current number of levels; returns their sum. */
  private recomputeCapacities(): number {
    const H = this.lv.length;
    this.capacities = new Array<number>(H);
    let s = 0;
    for (let h = 0; h < H; h++) {
      const c = Math.max(h === 0 ? MIN_LEVEL0_CAPACITY : MIN_CAPACITY, Math.ceil(this.k * Math.pow(C, H - h - 1))) + 1;
      this.capacities[h] = c;
      s += c;
    }
    return s;
  }

  /** Adds a finite number (the caller filters NaN and infinities). */
  update(x: number): void {
    if (this.n0 === this.buf0.length) this.growBuffer();
    this.buf0[this.n0++] = x;
    this.n++;
    if (x < this.min) this.min = x;
    if (x > this.max) this.max = x;
    this.sorted = null;
    if (++this.retained >= this.maxRetained) this.compress();
  }

  /**
   * Adds `count` finite numbers from `values` (same sketch as `count` calls of {@link update} in order: items are
   * copied up to the point where an update would compress, then the sketch compresses, and so on).
   */
  updateBatch(values: Float64Array, count: number): void {
    let i = 0;
    while (i < count) {
      if (this.n0 === this.buf0.length) this.growBuffer();
      const room = Math.min(count - i, this.buf0.length - this.n0, Math.max(1, this.maxRetained - this.retained));
      const buf = this.buf0;
      let n0 = this.n0;
      let min = this.min;
      let max = this.max;
      for (const end = i + room; i < end; i++) {
        const x = values[i];
        buf[n0++] = x;
        if (x < min) min = x;
        if (x > max) max = x;
      }
      this.n0 = n0;
      this.min = min;
      this.max = max;
      this.n += room;
      this.retained += room;
      if (this.retained >= this.maxRetained) this.compress();
    }
    this.sorted = null;
  }

  private growBuffer(): void {
    const bigger = new Float64Array(this.buf0.length * 2);
    bigger.set(this.buf0);
    this.buf0 = bigger;
  }

  private compress(): void {
    while (this.retained >= this.maxRetained) {
      for (let h = 0; h < this.lv.length; h++) {
        if (h === 0) {
          if (this.lv[0].length + this.n0 < this.capacities[0]) continue;
          if (this.lv[0].length === 0) {
            // Hot path: level 0 is all in the typed buffer.
            if (this.lv.length === 1) {
              this.lv.push([]);
              this.maxRetained = this.recomputeCapacities();
            }
            this.compactBuffer();
            break;
          }
          this.flush0(); // level 0 partly in lv[0] (after a merge): the array path below
        }
        const level = this.lv[h];
        if (level.length >= this.capacities[h]) {
          if (h + 1 >= this.lv.length) {
            this.lv.push([]);
            this.maxRetained = this.recomputeCapacities();
          }
          if (h === 0) sortNumbers(level); // higher levels are kept sorted
          const next = this.lv[h + 1];
          // Odd length: the last (largest) item stays at this level, so weight is conserved exactly.
          const pairs = level.length >>> 1;
          const offset = coin.nextU32() & 1;
          // Merged straight from the level (every other item), without an intermediate array of promoted items.
          this.lv[h + 1] = mergeStridedArray(next, level, offset, pairs);
          const odd = (level.length & 1) === 1;
          const last = level[level.length - 1];
          if (h === 0) {
            // Back to the typed buffer (empty after flush0) so that updates take the hot path again.
            this.lv[0] = [];
            if (odd) this.buf0[this.n0++] = last;
          } else {
            // The level array is reused for its leftover (nothing else refers to it).
            level.length = 0;
            if (odd) level.push(last);
          }
          this.retained -= pairs;
          break;
        }
      }
    }
  }

  /** Compacts level 0 held in the typed buffer: sort in place, promote every other item into level 1. */
  private compactBuffer(): void {
    const n = this.n0;
    const a = this.buf0.subarray(0, n);
    let sorted = true;
    for (let i = 1; i < n; i++) {
      if (a[i] < a[i - 1]) {
        sorted = false;
        break;
      }
    }
    if (!sorted) sortLevel0(a);
    const pairs = n >>> 1;
    const offset = coin.nextU32() & 1;
    this.lv[1] = mergeStrided(this.lv[1], a, offset, pairs);
    // Odd length: the last (largest) item stays at level 0, so weight is conserved exactly.
    if (n & 1) {
      this.buf0[0] = a[n - 1];
      this.n0 = 1;
    } else {
      this.n0 = 0;
    }
    this.retained -= pairs;
  }

  /** Merges another sketch of the same k into this one (in place). */
  merge(other: KllSketch): this {
    if (other.k !== this.k) throw new InvalidArgumentError(`cannot merge KLL sketches of different k (${this.k} and ${other.k})`);
    if (other.n === 0) return this;
    this.flush0();
    const theirs = other.levels;
    while (this.lv.length < theirs.length) this.lv.push([]);
    for (let h = 0; h < theirs.length; h++) {
      this.lv[h] = h === 0 ? this.lv[0].concat(theirs[0]) : mergeSorted(this.lv[h], theirs[h]);
    }
    this.n += other.n;
    this.min = Math.min(this.min, other.min);
    this.max = Math.max(this.max, other.max);
    this.retained = this.lv.reduce((s, l) => s + l.length, 0);
    this.maxRetained = this.recomputeCapacities();
    this.sorted = null;
    this.compress();
    return this;
  }

  /** Items retained (state size driver). */
  get retainedItems(): number {
    return this.retained;
  }

  private view(): { items: Float64Array; cum: Float64Array } {
    if (this.sorted) return this.sorted;
    const pairs: Array<[number, number]> = [];
    for (let h = 0; h < this.levels.length; h++) {
      const w = 2 ** h;
      for (const x of this.levels[h]) pairs.push([x, w]);
    }
    pairs.sort((a, b) => a[0] - b[0]);
    const items = new Float64Array(pairs.length);
    const cum = new Float64Array(pairs.length);
    let c = 0;
    for (let i = 0; i < pairs.length; i++) {
      items[i] = pairs[i][0];
      c += pairs[i][1];
      cum[i] = c;
    }
    this.sorted = { items, cum };
    return this.sorted;
  }

  /** Approximate q-quantile (0 <= q <= 1): smallest retained item whose cumulative weight reaches q * n. */
  quantile(q: number): number {
    if (this.n === 0) return NaN;
    if (q <= 0) return this.min;
    if (q >= 1) return this.max;
    const { items, cum } = this.view();
    const target = q * this.n;
    let lo = 0;
    let hi = items.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (cum[mid] < target) lo = mid + 1;
      else hi = mid;
    }
    return items[lo];
  }

  /** Approximate fraction of values <= x (`inclusive`) or < x. */
  cdf(x: number, inclusive = true): number {
    if (this.n === 0) return NaN;
    const { items, cum } = this.view();
    let lo = 0;
    let hi = items.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (inclusive ? items[mid] <= x : items[mid] < x) lo = mid + 1;
      else hi = mid;
    }
    return lo === 0 ? 0 : cum[lo - 1] / this.n;
  }

  /** Normalized rank error bound (99% confidence, single query) for this k: 2.296 / k^0.9723. */
  get rankErrorBound(): number {
    return 2.296 / Math.pow(this.k, 0.9723);
  }

  serialize(): KllState {
    return {
      k: this.k,
      n: this.n,
      min: this.n ? this.min : null,
      max: this.n ? this.max : null,
      sizes: this.levels.map((l) => l.length),
      items: encodeFloats(this.levels.flat()),
    };
  }

}

/** Serialized KLL sketch. */
export interface KllState {
  k: number;
  n: number;
  min: number | null;
  max: number | null;
  sizes: number[];
  items: string;
}

const scratch = { buf: new Float64Array(1024) };

/**
 * Sorts level 0 ascending in place, exactly as the native typed-array sort would (same order, -0 before 0).
 *
 * The native sort is a comparison sort whose branches the CPU mostly mispredicts on random data, the largest single
 * cost of profiling numeric columns. A bucket sort (distribute by linear interpolation between min and max into 256
 * buckets, then an insertion sort that only moves values within their bucket) is several times cheaper (figures in
 * docs/quality.md). Data it suits badly falls back to the native sort: -0 present (insertion sort would not order it
 * before 0), a range that is not finite, or a distribution so skewed that the insertion sort exceeds a budget of
 * moves (one huge outlier: the cost stays bounded).
 */
function sortLevel0(a: Float64Array): void {
  const n = a.length;
  let min = a[0];
  let max = a[0];
  let negZero = false; // or NaN (not a valid input; ordered last by the native sort)
  for (let i = 1; i < n; i++) {
    const x = a[i];
    if (x < min) min = x;
    else if (x > max) max = x;
    if ((x === 0 && 1 / x < 0) || x !== x) negZero = true;
  }
  if ((a[0] === 0 && 1 / a[0] < 0) || a[0] !== a[0]) negZero = true;
  const range = max - min;
  if (negZero || !(range > 0 && range < Infinity) || n < 32) {
    a.sort();
    return;
  }
  if (bucketScratch.tmp.length < n) bucketScratch.tmp = new Float64Array(2 * n);
  if (bucketScratch.bucket.length < n) bucketScratch.bucket = new Uint8Array(2 * n);
  const tmp = bucketScratch.tmp;
  const cnt = bucketScratch.cnt;
  const bucket = bucketScratch.bucket;
  const scale = BUCKETS / range;
  cnt.fill(0);
  for (let i = 0; i < n; i++) {
    const b = ((a[i] - min) * scale) | 0;
    const c = b < BUCKETS ? b : BUCKETS - 1;
    bucket[i] = c;
    cnt[c + 1]++;
  }
  for (let b = 1; b < BUCKETS; b++) cnt[b] += cnt[b - 1];
  for (let i = 0; i < n; i++) tmp[cnt[bucket[i]]++] = a[i];
  // Insertion sort: values are already in bucket order, so each one only moves within its bucket.
  let budget = 4 * n;
  for (let i = 1; i < n; i++) {
    const v = tmp[i];
    let j = i - 1;
    if (tmp[j] <= v) continue;
    do {
      tmp[j + 1] = tmp[j];
      j--;
    } while (j >= 0 && tmp[j] > v);
    tmp[j + 1] = v;
    budget -= i - j;
    if (budget < 0) {
      tmp.subarray(0, n).sort(); // skewed data: finish natively (tmp holds a permutation of a)
      break;
    }
  }
  a.set(tmp.subarray(0, n));
}

const BUCKETS = 256; // bucket indexes are kept in a Uint8Array
const bucketScratch = { tmp: new Float64Array(1024), cnt: new Int32Array(BUCKETS + 1), bucket: new Uint8Array(1024) };

/** Sorts numbers ascending in place with the typed-array sort (native numeric, no comparator calls). */
function sortNumbers(a: number[]): void {
  // Already ascending (timestamps, sequence numbers): nothing to do.
  let sorted = true;
  for (let i = 1; i < a.length; i++) {
    if (a[i] < a[i - 1]) {
      sorted = false;
      break;
    }
  }
  if (sorted) return;
  if (scratch.buf.length < a.length) scratch.buf = new Float64Array(Math.max(a.length, 2 * scratch.buf.length));
  const buf = scratch.buf.subarray(0, a.length);
  for (let i = 0; i < a.length; i++) buf[i] = a[i];
  buf.sort();
  for (let i = 0; i < a.length; i++) a[i] = buf[i];
}

/** Merges sorted `a` with the sorted items b[offset], b[offset + 2], ... (`count` of them) into a new array. */
function mergeStrided(a: number[], b: Float64Array, offset: number, count: number): number[] {
  const out = new Array<number>(a.length + count);
  let i = 0;
  let j = 0;
  let o = 0;
  while (i < a.length && j < count) {
    const y = b[2 * j + offset];
    out[o++] = a[i] <= y ? a[i++] : (j++, y);
  }
  while (i < a.length) out[o++] = a[i++];
  while (j < count) out[o++] = b[2 * (j++) + offset];
  return out;
}

/**
 * {@link mergeStrided} for a `number[]` source (the levels above 0). Kept as a separate copy on purpose: one function
 * taking both a Float64Array and a number[] turns its element loads polymorphic, which is slower (docs/quality.md).
 */
function mergeStridedArray(a: number[], b: number[], offset: number, count: number): number[] {
  const out = new Array<number>(a.length + count);
  let i = 0;
  let j = 0;
  let o = 0;
  while (i < a.length && j < count) {
    const y = b[2 * j + offset];
    out[o++] = a[i] <= y ? a[i++] : (j++, y);
  }
  while (i < a.length) out[o++] = a[i++];
  while (j < count) out[o++] = b[2 * (j++) + offset];
  return out;
}

function mergeSorted(a: number[], b: number[]): number[] {
  if (a.length === 0) return b;
  if (b.length === 0) return a;
  const out = new Array<number>(a.length + b.length);
  let i = 0;
  let j = 0;
  let o = 0;
  while (i < a.length && j < b.length) out[o++] = a[i] <= b[j] ? a[i++] : b[j++];
  while (i < a.length) out[o++] = a[i++];
  while (j < b.length) out[o++] = b[j++];
  return out;
}
