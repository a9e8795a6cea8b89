/**
 * The profile of one column (dot path): counts, type counts, string lengths, conditions, and the moments, KLL, HLL
 * and frequent-items sketches, fed in batches on the profiling hot path.
 */
import { MAX_ITEM_CHARS, MisraGries } from './frequent';
import { hashNumberWords, hashOut, hashString } from './hash';
import { HyperLogLog } from './hll';
import { KllSketch } from './kll';
import { Moments, emptyMoments } from './moments';

/** Numbers queued per column before they are applied to its sketches (see ColumnProfile.queueNumber). */
const NUMBER_BATCH = 256;
/** Strings queued per column before they are applied to its sketches (see ColumnProfile.queueString). */
const STRING_BATCH = 256;

/** Value types counted per column. */
export type ValueType = 'int' | 'frac' | 'bool' | 'str' | 'obj' | 'array';
export const VALUE_TYPES: readonly ValueType[] = ['int', 'frac', 'bool', 'str', 'obj', 'array'];

export interface ConditionCounts {
  /** Non-null values the condition was evaluated on. */
  checked: number;
  /** Values that satisfied it. */
  matched: number;
}

/** Profile of one column (dot path). */
export class ColumnProfile {
  /** Records in which the key was present (null included). */
  count = 0;
  nulls = 0;
  /** NaN and +-Infinity (possible in records given as objects; JSON has none). */
  nonFinite = 0;
  int = 0;
  frac = 0;
  bool = 0;
  str = 0;
  obj = 0;
  array = 0;
  trues = 0;
  lenMin = Infinity;
  lenMax = -Infinity;
  lenSum = 0;
  conditions: Map<string, ConditionCounts> | null = null;

  private momentsState: Moments = emptyMoments();
  private kllSketch: KllSketch | null = null;
  private hllSketch: HyperLogLog | null = null;
  /**
   * Finite numbers added but not yet in the moments, quantile and distinct-count sketches (see {@link addNumber}).
   * The accessors below apply them first, so every reader sees the same state as if each number had been added
   * on arrival.
   */
  private pending: Float64Array | null = null;
  /** The same buffer as 32-bit words (the float64 bits hashed for the HLL). */
  private pendingWords: Uint32Array | null = null;
  private nPending = 0;
  private freqSketch: MisraGries | null = null;
  /** Strings added but not yet in the HLL and frequent-items sketches (see {@link queueString}). */
  private strings: Array<string | undefined> | null = null;
  private nStrings = 0;

  /** Applies the queued numbers and strings, if any: every accessor below reads or replaces settled sketches. */
  private settle(): void {
    if (this.nPending !== 0 || this.nStrings !== 0) this.applyPending();
  }

  get moments(): Moments {
    this.settle();
    return this.momentsState;
  }
  set moments(m: Moments) {
    this.settle();
    this.momentsState = m;
  }
  get kll(): KllSketch | null {
    this.settle();
    return this.kllSketch;
  }
  set kll(k: KllSketch | null) {
    this.settle();
    this.kllSketch = k;
  }
  get freq(): MisraGries | null {
    this.settle();
    return this.freqSketch;
  }
  set freq(f: MisraGries | null) {
    this.settle();
    this.freqSketch = f;
  }
  get hll(): HyperLogLog | null {
    this.settle();
    return this.hllSketch;
  }
  set hll(h: HyperLogLog | null) {
    this.settle();
    this.hllSketch = h;
  }

  /** The HLL sketch for the hot path (no pending numbers to apply: the order of HLL updates does not matter). */
  hllFor(lgK: number): HyperLogLog {
    return (this.hllSketch ??= new HyperLogLog(lgK));
  }

  /**
   * Queues a finite number for the moments, KLL and HLL sketches (created here on the first number). Numbers are
   * applied in batches of {@link NUMBER_BATCH}: one tight loop per batch (Welford update, float64-bit hash and HLL
   * register update interleaved) and a bulk copy into the KLL level-0 buffer cost measurably less than the same
   * work value by value through the record loop. The sketches end up identical: same Welford sequence, same hashes,
   * same KLL update order.
   */
  queueNumber(x: number, kllK: number, hllLgK: number): void {
    if (this.nPending === 0) {
      if (this.pending === null) {
        this.pending = new Float64Array(NUMBER_BATCH);
        this.pendingWords = new Uint32Array(this.pending.buffer);
      }
      this.kllSketch ??= new KllSketch(kllK);
      this.hllSketch ??= new HyperLogLog(hllLgK);
    }
    this.pending![this.nPending++] = x;
    if (this.nPending === NUMBER_BATCH) this.applyNumbers();
  }

  /**
   * Queues a string for the HLL and frequent-items sketches (created here on the first string), applied in
   * batches of {@link STRING_BATCH} for the same reason as numbers: the hashing, HLL and frequent-items work of a
   * batch runs in one loop over sketches that stay in cache, instead of touching every column's sketches for every
   * record. The frequent items see the strings in the same order, so the sketches are identical. Strings longer than
   * MAX_ITEM_CHARS are applied at once (after the queue, keeping the order) so that the queue never holds large
   * strings alive.
   */
  queueString(s: string, hllLgK: number, frequentItems: number): void {
    if (this.nStrings === 0) {
      this.strings ??= new Array<string | undefined>(STRING_BATCH).fill(undefined);
      this.hllSketch ??= new HyperLogLog(hllLgK);
      this.freqSketch ??= new MisraGries(frequentItems);
    }
    this.strings![this.nStrings++] = s;
    if (this.nStrings === STRING_BATCH || s.length > MAX_ITEM_CHARS) this.applyStrings();
  }

  private applyStrings(): void {
    const n = this.nStrings;
    this.nStrings = 0;
    const strings = this.strings!;
    const hll = this.hllSketch!;
    const freq = this.freqSketch!;
    for (let i = 0; i < n; i++) {
      const s = strings[i]!;
      strings[i] = undefined;
      hashString(s);
      hll.addHash();
      freq.update(s, 1, hashOut.h1);
    }
  }

  private applyPending(): void {
    if (this.nStrings !== 0) this.applyStrings();
    if (this.nPending !== 0) this.applyNumbers();
  }

  private applyNumbers(): void {
    const n = this.nPending;
    this.nPending = 0;
    const buf = this.pending!;
    const words = this.pendingWords!;
    const m = this.momentsState;
    const hll = this.hllSketch!;
    let count = m.n;
    let mean = m.mean;
    let m2 = m.m2;
    for (let i = 0; i < n; i++) {
      const x = buf[i];
      // Welford, as addValue.
      const dx = x - mean;
      mean += dx / ++count;
      m2 += dx * (x - mean);
      // hashNumber(x) from the stored bits (-0 hashes as 0), then the HLL update.
      hashNumberWords(words[2 * i], x === 0 ? 0 : words[2 * i + 1]);
      hll.addHash();
    }
    m.n = count;
    m.mean = mean;
    m.m2 = m2;
    this.kllSketch!.updateBatch(buf, n);
  }

  /** Number of values of a type. */
  typeCount(t: ValueType): number {
    return this[t];
  }

  /** Most frequent non-null type, or null when the column only held nulls. Ties resolve in VALUE_TYPES order. */
  dominantType(): ValueType | null {
    let best: ValueType | null = null;
    let bestCount = 0;
    for (const t of VALUE_TYPES) {
      if (this[t] > bestCount) {
        best = t;
        bestCount = this[t];
      }
    }
    return best;
  }
}

