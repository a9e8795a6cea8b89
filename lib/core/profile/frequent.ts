/* eslint-disable no-bitwise */ // hashing, register packing and index arithmetic are bit operations by nature
/**
 * Frequent items: Misra-Gries summary with the mergeable-summaries merge (Agarwal et al. 2012).
 *
 * Written here: the few npm "top-k" packages are unmaintained and none serializes or merges. Misra-Gries is
 * chosen over SpaceSaving because its merge (add counters, subtract the (k+1)-th largest, drop non-positive)
 * keeps the same deterministic bound: every estimate is an UNDERestimate by at most `maxError`, and
 * maxError <= (n - sum of counters) / (k + 1) <= n / (k + 1). Counts of items absent from the summary are
 * <= maxError. Strings longer than MAX_ITEM_CHARS are truncated (bounded state).
 */

import { CorruptSketchError, InvalidArgumentError } from '../errors';
import { hashOut, hashString } from './hash';

export const DEFAULT_FREQUENT_ITEMS = 64;
/** Longest item kept (UTF-16 units); longer strings are truncated with a marker. */
export const MAX_ITEM_CHARS = 128;

export class MisraGries {
  /** Rebuilds a sketch from its serialized form; throws on a corrupt state. */
  static deserialize(s: FrequentState): MisraGries {
    const mg = new MisraGries(s.cap);
    if (s.items.length > s.cap) throw new CorruptSketchError(`invalid frequent items: ${s.items.length} items above capacity ${s.cap}`);
    for (const [k, v] of s.items) {
      hashString(k);
      mg.insertNew(k, hashOut.h1 | 0, v);
    }
    mg.n = s.n;
    mg.maxError = s.err;
    return mg;
  }

  readonly capacity: number;
  /** Values added. */
  n = 0;
  /** Upper bound on the underestimate of any count (total decrement applied). */
  maxError = 0;
  /**
   * Open-addressing table (linear probing) sized 2x capacity, keyed by the item's 32-bit hash: no allocation per
   * update (a Map of boxed counters spent most of its time in inserts, deletes and GC on high-cardinality
   * columns). Entries are only removed by a decrement, which rebuilds the table, so there are no tombstones.
   */
  private keys: Array<string | undefined>;
  private hashes: Int32Array;
  private cnt: Float64Array;
  /**
   * A second, empty table of the same size: a decrement rebuilds into it and swaps, so it allocates nothing
   * (on high-cardinality columns a decrement happens every ~capacity updates; building an array of surviving
   * entries each time was a visible share of the profiler's string-column cost).
   */
  private spareKeys: Array<string | undefined>;
  private spareHashes: Int32Array;
  private spareCnt: Float64Array;
  private used = 0;
  private readonly mask: number;
  /**
   * Smallest counter and how many counters hold it, kept up to date on inserts, increments and decrements so that
   * a full table finds the decrement without scanning every slot (that scan ran once per new item on a full table
   * and was the largest single cost of high-cardinality columns). When the last counter at the minimum is
   * incremented the minimum is unknown until the next scan.
   */
  private minCount = Infinity;
  private atMin = 0;
  private minKnown = true;

  constructor(capacity: number = DEFAULT_FREQUENT_ITEMS) {
    if (!Number.isInteger(capacity) || capacity < 1 || capacity > 4096) {
      throw new InvalidArgumentError(`frequent items capacity must be an integer between 1 and 4096 (given ${capacity})`);
    }
    this.capacity = capacity;
    let t = 4;
    while (t < 2 * capacity) t <<= 1;
    this.mask = t - 1;
    this.keys = new Array<string | undefined>(t).fill(undefined);
    this.hashes = new Int32Array(t);
    this.cnt = new Float64Array(t);
    this.spareKeys = new Array<string | undefined>(t).fill(undefined);
    this.spareHashes = new Int32Array(t);
    this.spareCnt = new Float64Array(t);
  }

  /** Current counters (a copy: item -> lower-bound count). */
  get counts(): Map<string, number> {
    const out = new Map<string, number>();
    for (let i = 0; i <= this.mask; i++) if (this.keys[i] !== undefined) out.set(this.keys[i]!, this.cnt[i]);
    return out;
  }

  /** Number of counters in use. */
  get size(): number {
    return this.used;
  }

  /** Slot of `item` (hash `h`), or the empty slot where it would go. */
  private slot(item: string, h: number): number {
    let i = h & this.mask;
    for (;;) {
      const k = this.keys[i];
      if (k === undefined || (this.hashes[i] === h && k === item)) return i;
      i = (i + 1) & this.mask;
    }
  }

  /**
   * Adds `weight` occurrences of `item`. `hash` must be `hashString(item)`'s first lane when given (the profiler
   * already computed it for the HLL sketch); it is recomputed otherwise.
   */
  update(item: string, weight = 1, hash?: number): void {
    if (item.length > MAX_ITEM_CHARS) {
      item = item.slice(0, MAX_ITEM_CHARS) + '\u2026';
      hash = undefined;
    }
    if (hash === undefined) {
      hashString(item);
      hash = hashOut.h1;
    }
    hash |= 0;
    this.n += weight;
    if (!(weight > 0)) this.minKnown = false; // not expected; the tracking below assumes counters only grow
    let i = this.slot(item, hash);
    if (this.keys[i] !== undefined) {
      const c = this.cnt[i];
      this.cnt[i] = c + weight;
      if (c === this.minCount && --this.atMin === 0) this.minKnown = false;
      return;
    }
    if (this.used >= this.capacity) {
      // Full: decrement every counter (and the new item) by the smallest of them and the new weight.
      if (!this.minKnown) this.scanMin();
      const dec = weight < this.minCount ? weight : this.minCount;
      this.decrement(dec);
      weight -= dec;
      if (weight <= 0) return;
      i = this.slot(item, hash);
    }
    this.keys[i] = item;
    this.hashes[i] = hash;
    this.cnt[i] = weight;
    this.used++;
    this.noteNewCounter(weight);
  }

  private noteNewCounter(c: number): void {
    if (c < this.minCount) {
      this.minCount = c;
      this.atMin = 1;
    } else if (c === this.minCount) {
      this.atMin++;
    }
  }

  private scanMin(): void {
    this.minCount = Infinity;
    this.atMin = 0;
    for (let j = 0; j <= this.mask; j++) if (this.keys[j] !== undefined) this.noteNewCounter(this.cnt[j]);
    this.minKnown = true;
  }

  /** Subtracts `dec` from every counter, drops the non-positive ones and rebuilds the table. */
  private decrement(dec: number): void {
    this.maxError += dec;
    const mask = this.mask;
    const oldKeys = this.keys;
    const oldHashes = this.hashes;
    const oldCnt = this.cnt;
    const keys = this.spareKeys;
    const hashes = this.spareHashes;
    const cnt = this.spareCnt;
    let used = 0;
    let minCount = Infinity;
    let atMin = 0;
    // Survivors are reinserted in slot order, as before (same table layout).
    for (let j = 0; j <= mask; j++) {
      const k = oldKeys[j];
      if (k === undefined) continue;
      oldKeys[j] = undefined; // the old table becomes the empty spare
      if (oldCnt[j] <= dec) continue;
      const h = oldHashes[j];
      let i = h & mask;
      while (keys[i] !== undefined) i = (i + 1) & mask;
      keys[i] = k;
      hashes[i] = h;
      const c = oldCnt[j] - dec;
      cnt[i] = c;
      used++;
      if (c < minCount) {
        minCount = c;
        atMin = 1;
      } else if (c === minCount) {
        atMin++;
      }
    }
    this.minCount = minCount;
    this.atMin = atMin;
    this.minKnown = true;
    this.keys = keys;
    this.hashes = hashes;
    this.cnt = cnt;
    this.spareKeys = oldKeys;
    this.spareHashes = oldHashes;
    this.spareCnt = oldCnt;
    this.used = used;
  }

  private insertNew(item: string, h: number, c: number): void {
    const i = this.slot(item, h);
    this.keys[i] = item;
    this.hashes[i] = h;
    this.cnt[i] = c;
    this.used++;
    this.noteNewCounter(c);
  }

  /** Merges another summary (in place); the result has this summary's capacity. */
  merge(other: MisraGries): this {
    if (other.capacity !== this.capacity) {
      throw new InvalidArgumentError(`cannot merge frequent-item summaries of different capacity (${this.capacity} and ${other.capacity})`);
    }
    const all = this.counts;
    for (const [k, c] of other.counts) all.set(k, (all.get(k) ?? 0) + c);
    this.n += other.n;
    this.maxError += other.maxError;
    let dec = 0;
    if (all.size > this.capacity) {
      // Subtract the (capacity+1)-th largest count: at most `capacity` counters stay positive.
      dec = [...all.values()].sort((a, b) => b - a)[this.capacity];
      this.maxError += dec;
    }
    this.keys.fill(undefined);
    this.used = 0;
    this.minCount = Infinity;
    this.atMin = 0;
    this.minKnown = true;
    for (const [k, c] of all) {
      if (c <= dec) continue;
      hashString(k);
      this.insertNew(k, hashOut.h1 | 0, c - dec);
    }
    return this;
  }

  /** Lower-bound estimate of an item's count (0 if absent); the true count is within [estimate, estimate + maxError]. */
  estimate(item: string): number {
    if (item.length > MAX_ITEM_CHARS) item = item.slice(0, MAX_ITEM_CHARS) + '\u2026';
    hashString(item);
    const i = this.slot(item, hashOut.h1 | 0);
    return this.keys[i] === undefined ? 0 : this.cnt[i];
  }

  /** Items by decreasing estimated count (ties by item, so the order is deterministic). */
  top(limit = this.capacity): Array<{ value: string; count: number }> {
    return [...this.counts]
      .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
      .slice(0, limit)
      .map(([value, count]) => ({ value, count }));
  }

  serialize(): FrequentState {
    const items: Array<[string, number]> = this.top().map((t) => [t.value, t.count]);
    return { cap: this.capacity, n: this.n, err: this.maxError, items };
  }

}

export interface FrequentState {
  cap: number;
  n: number;
  err: number;
  items: Array<[string, number]>;
}
