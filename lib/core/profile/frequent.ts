/**
 * Frequent items: Misra-Gries summary with the mergeable-summaries merge (Agarwal et al. 2012).
 *
 * Written here: the few npm "top-k" packages are unmaintained and none serializes or merges. Misra-Gries is
 * chosen over SpaceSaving because its merge (add counters, subtract the (k+1)-th largest, drop non-positive)
 * keeps the same deterministic bound: every estimate is an UNDERestimate by at most `maxError`, and
 * maxError <= (n - sum of counters) / (k + 1) <= n / (k + 1). Counts of items absent from the summary are
 * <= maxError. Strings longer than MAX_ITEM_CHARS are truncated (bounded state).
 */

export const DEFAULT_FREQUENT_ITEMS = 64;
/** Longest item kept (UTF-16 units); longer strings are truncated with a marker. */
export const MAX_ITEM_CHARS = 128;

export class MisraGries {
  readonly capacity: number;
  readonly counts = new Map<string, number>();
  /** Values added. */
  n = 0;
  /** Upper bound on the underestimate of any count (total decrement applied). */
  maxError = 0;

  constructor(capacity: number = DEFAULT_FREQUENT_ITEMS) {
    if (!Number.isInteger(capacity) || capacity < 1 || capacity > 4096) {
      throw new RangeError(`frequent items capacity must be an integer between 1 and 4096 (given ${capacity})`);
    }
    this.capacity = capacity;
  }

  update(item: string, weight = 1): void {
    if (item.length > MAX_ITEM_CHARS) item = item.slice(0, MAX_ITEM_CHARS) + '\u2026';
    this.n += weight;
    const c = this.counts.get(item);
    if (c !== undefined) {
      this.counts.set(item, c + weight);
      return;
    }
    if (this.counts.size < this.capacity) {
      this.counts.set(item, weight);
      return;
    }
    // Full: decrement every counter (and the new item) by the smallest of them and the new weight.
    let dec = weight;
    for (const v of this.counts.values()) if (v < dec) dec = v;
    this.maxError += dec;
    for (const [k, v] of this.counts) {
      if (v <= dec) this.counts.delete(k);
      else this.counts.set(k, v - dec);
    }
    if (weight > dec) this.counts.set(item, weight - dec);
  }

  /** Merges another summary (in place); the result has this summary's capacity. */
  merge(other: MisraGries): this {
    if (other.capacity !== this.capacity) {
      throw new RangeError(`cannot merge frequent-item summaries of different capacity (${this.capacity} and ${other.capacity})`);
    }
    for (const [k, v] of other.counts) this.counts.set(k, (this.counts.get(k) ?? 0) + v);
    this.n += other.n;
    this.maxError += other.maxError;
    if (this.counts.size > this.capacity) {
      const sorted = [...this.counts.values()].sort((a, b) => b - a);
      const dec = sorted[this.capacity];
      this.maxError += dec;
      for (const [k, v] of this.counts) {
        if (v <= dec) this.counts.delete(k);
        else this.counts.set(k, v - dec);
      }
    }
    return this;
  }

  /** Lower-bound estimate of an item's count (0 if absent); the true count is within [estimate, estimate + maxError]. */
  estimate(item: string): number {
    return this.counts.get(item) ?? 0;
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

  static deserialize(s: FrequentState): MisraGries {
    const mg = new MisraGries(s.cap);
    if (s.items.length > s.cap) throw new Error(`invalid frequent items: ${s.items.length} items above capacity ${s.cap}`);
    for (const [k, v] of s.items) mg.counts.set(k, v);
    mg.n = s.n;
    mg.maxError = s.err;
    return mg;
  }
}

export interface FrequentState {
  cap: number;
  n: number;
  err: number;
  items: Array<[string, number]>;
}
