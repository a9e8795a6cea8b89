/**
 * The profiler's hot-path structures: KLL level 0 in a typed buffer (flushed for merges, queries, serialization)
 * and sorted by a bucket sort, the per-position key cache of updateProfile, the per-column queues of numbers and
 * strings, and the tracked minimum of the frequent items. Their results must not depend on them.
 */
import { describe, expect, it } from 'vitest';
import {
  HyperLogLog, KllSketch, MisraGries, XorShift32, columnStats, createProfile, deserializeProfile, mergeProfiles, serializeProfile, updateProfile,
} from '../../../../lib/core/profile';
import { hashNumber, hashString } from '../../../../lib/core/profile/hash';

function weight(s: KllSketch): number {
  return s.levels.reduce((sum, level, h) => sum + level.length * 2 ** h, 0);
}

describe('KLL with a typed level-0 buffer', () => {
  it('conserves weight and stays within its rank error through updates, merges and more updates', () => {
    const r = new XorShift32(11);
    const all: number[] = [];
    const a = new KllSketch();
    const b = new KllSketch();
    for (let i = 0; i < 20_000; i++) {
      const x = r.normal();
      const y = 3 + r.normal();
      a.update(x);
      b.update(y);
      all.push(x, y);
    }
    a.merge(b); // level 0 of both moves into the array path
    for (let i = 0; i < 30_000; i++) {
      const x = r.normal();
      a.update(x); // back on the typed buffer after the next level-0 compaction
      all.push(x);
    }
    expect(a.n).toBe(70_000);
    expect(weight(a)).toBe(70_000);
    all.sort((x, y) => x - y);
    for (const q of [0.1, 0.5, 0.9, 0.99]) {
      const v = a.quantile(q);
      const rank = all.findIndex((x) => x >= v) / all.length;
      expect(Math.abs(rank - q)).toBeLessThan(a.rankErrorBound);
    }
  });

  it('buffered items are part of levels, serialization, quantiles and cdf', () => {
    const s = new KllSketch();
    for (let i = 1; i <= 100; i++) s.update(i); // below the level-0 capacity: all buffered
    expect(s.levels).toEqual([Array.from({ length: 100 }, (_, i) => i + 1)]);
    expect(s.quantile(0.5)).toBe(50);
    expect(s.cdf(25)).toBe(0.25);
    const back = KllSketch.deserialize(JSON.parse(JSON.stringify(s.serialize())));
    expect(back.levels).toEqual(s.levels);
    back.update(101);
    expect(back.n).toBe(101);
    expect(back.max).toBe(101);
    expect(weight(back)).toBe(101);
  });

  it('grows the buffer when level 0 outgrows its capacity before a compaction is due', () => {
    const big = new KllSketch();
    const small = new KllSketch();
    for (let i = 0; i < 2000; i++) big.update(i);
    for (let i = 0; i < 10; i++) small.update(i);
    small.merge(big); // many levels, level 0 nearly empty
    for (let i = 0; i < 5000; i++) small.update(i % 97);
    expect(weight(small)).toBe(7010);
  });
});

describe('updateProfile key cache', () => {
  it('records with changing key orders and nested objects give the same profile as without the cache', () => {
    const records = [
      { a: { x: 1 }, b: 'u' },
      { b: 'v', a: { x: 2 } },
      { a: { y: 3 }, c: true },
      { b: { y: 'nested now' }, a: 5 },
      { a: { x: 4, y: 5 }, b: 'w' },
    ];
    const cached = createProfile();
    for (const r of records) updateProfile(cached, r);
    // A fresh profile per record, merged by count: what every column must hold.
    const expected: Record<string, number> = {};
    for (const r of records) {
      const p = createProfile();
      updateProfile(p, r);
      for (const [name, col] of p.columns) expected[name] = (expected[name] ?? 0) + col.count;
    }
    const got = Object.fromEntries([...cached.columns].map(([name, col]) => [name, col.count]));
    expect(got).toEqual(expected);
    expect(Object.keys(got).sort()).toEqual(['a', 'a.x', 'a.y', 'b', 'b.y', 'c']);
    expect(cached.columns.get('a.x')!.int).toBe(3);
    expect(cached.columns.get('b.y')!.str).toBe(1);
  });

  it('a deserialized profile continues with a fresh cache', () => {
    const p = createProfile();
    updateProfile(p, { a: 1, b: { c: 2 } });
    const q = deserializeProfile(serializeProfile(p));
    updateProfile(q, { b: { c: 3 }, a: 2 });
    expect(q.columns.get('b.c')!.count).toBe(2);
    expect(q.columns.get('a')!.moments.n).toBe(2);
  });

  it('columns beyond maxColumns are counted as overflow whatever their position', () => {
    const p = createProfile({ maxColumns: 2 });
    updateProfile(p, { a: 1, b: 2, c: 3 });
    updateProfile(p, { c: 3, a: 1, b: 2 });
    expect([...p.columns.keys()].sort()).toEqual(['a', 'b']);
    expect(p.columnOverflow).toBe(2);
    expect(p.columns.get('a')!.count).toBe(2);
  });
});

describe('KLL level-0 sort and batch updates', () => {
  const streams: Array<[string, (r: XorShift32, i: number) => number]> = [
    ['uniform', (r) => r.next()],
    ['lognormal', (r) => Math.round(Math.exp(r.normal() + 3) * 100) / 100],
    ['few integers', (r) => r.nextU32() % 3],
    ['one huge outlier per 300', (r, i) => (i % 300 === 7 ? 1e12 : r.next())],
    ['signed zeros', (r) => (r.next() < 0.3 ? -0 : r.next() < 0.5 ? 0 : r.normal())],
    ['near the float range', (r) => (r.next() < 0.5 ? -1.7e308 : 1.7e308) * r.next()],
    ['descending', (_, i) => -i],
  ];

  it.each(streams)('compacted levels are sorted and weight is conserved (%s)', (_, gen) => {
    const r = new XorShift32(5);
    const s = new KllSketch();
    for (let i = 0; i < 20_000; i++) s.update(gen(r, i));
    // Numeric order (the merges of sorted levels do not order -0 before 0, as before).
    for (const level of s.levels.slice(1)) expect(level.every((x, i) => i === 0 || level[i - 1] <= x)).toBe(true);
    expect(weight(s)).toBe(20_000);
  });

  it('updateBatch gives the sketch of the same values added one by one', () => {
    const r = new XorShift32(9);
    const values = Float64Array.from({ length: 30_000 }, () => r.normal());
    // The compaction coin is shared by every sketch, so the two sketches draw different offsets: compare what does
    // not depend on the coin (counts, extremes, level sizes, weight) and the median within the rank error.
    const one = new KllSketch();
    for (const x of values) one.update(x);
    const batch = new KllSketch();
    for (let off = 0; off < values.length; off += 1000) batch.updateBatch(values.subarray(off, off + 1000), 1000);
    expect(batch.n).toBe(one.n);
    expect(batch.min).toBe(one.min);
    expect(batch.max).toBe(one.max);
    expect(batch.levels.map((l) => l.length)).toEqual(one.levels.map((l) => l.length));
    expect(weight(batch)).toBe(values.length);
    expect(Math.abs(batch.quantile(0.5) - one.quantile(0.5))).toBeLessThan(0.05);
  });
});

describe('per-column queues of numbers and strings', () => {
  function record(r: XorShift32, i: number): Record<string, unknown> {
    return {
      n: r.next() < 0.05 ? NaN : r.next() < 0.1 ? -0 : r.normal() * 100,
      s: r.next() < 0.1 ? 'x'.repeat(200 + (i % 3)) : `v${r.nextU32() % 90}`,
      mixed: i % 3 === 0 ? `m${i % 7}` : i % 3 === 1 ? i % 11 : i % 2 === 0,
      b: r.next() < 0.2,
    };
  }

  it('reading a column mid-stream (which applies its queues) does not change the final profile', () => {
    const read = createProfile();
    const unread = createProfile();
    const r1 = new XorShift32(21);
    const r2 = new XorShift32(21);
    for (let i = 0; i < 3000; i++) {
      updateProfile(read, record(r1, i));
      updateProfile(unread, record(r2, i));
      if (i % 97 === 0) {
        for (const name of ['n', 's', 'mixed']) columnStats(read, name);
        void read.columns.get('s')!.freq!.top(3);
      }
    }
    // KLL compactions draw a process-wide coin, so the quantile sketches are compared by what does not depend on it.
    const a = JSON.parse(serializeProfile(read));
    const b = JSON.parse(serializeProfile(unread));
    for (const name of Object.keys(b.cols)) {
      if (b.cols[name].num) {
        const { kll: ka, ...restA } = a.cols[name].num;
        const { kll: kb, ...restB } = b.cols[name].num;
        expect(restA).toEqual(restB);
        expect([ka.n, ka.min, ka.max]).toEqual([kb.n, kb.min, kb.max]);
        delete a.cols[name].num;
        delete b.cols[name].num;
      }
    }
    expect(a).toEqual(b);
  });

  it('moments, distinct counts and frequent items equal the sketches updated value by value', () => {
    const r = new XorShift32(33);
    const p = createProfile();
    const hll = new HyperLogLog();
    const freq = new MisraGries();
    let n = 0;
    let mean = 0;
    let m2 = 0;
    for (let i = 0; i < 5000; i++) {
      const rec = record(r, i);
      updateProfile(p, rec);
      const x = rec.n as number;
      if (Number.isFinite(x)) {
        n++;
        const d = x - mean;
        mean += d / n;
        m2 += d * (x - mean);
        hashNumber(x);
        hll.addHash();
      }
    }
    const col = p.columns.get('n')!;
    expect(col.moments).toEqual({ n, mean, m2 });
    expect(col.hll!.serialize()).toBe(hll.serialize());
    const r2 = new XorShift32(33);
    const strHll = new HyperLogLog();
    for (let i = 0; i < 5000; i++) {
      const s = record(r2, i).s as string;
      hashString(s);
      strHll.addHash();
      freq.update(s);
    }
    expect(p.columns.get('s')!.hll!.serialize()).toBe(strHll.serialize());
    expect(p.columns.get('s')!.freq!.serialize()).toEqual(freq.serialize());
  });

  it('queued values survive serialization and merges', () => {
    const a = createProfile();
    const b = createProfile();
    for (let i = 0; i < 300; i++) updateProfile(i % 2 ? a : b, { x: i, s: `k${i % 5}` });
    const merged = mergeProfiles(deserializeProfile(serializeProfile(a)), b);
    expect(merged.columns.get('x')!.moments.n).toBe(300);
    expect(merged.columns.get('x')!.kll!.n).toBe(300);
    expect(merged.columns.get('s')!.freq!.n).toBe(300);
    expect(merged.columns.get('s')!.hll!.estimate()).toBeCloseTo(5, 0);
  });
});

describe('frequent items with a tracked minimum', () => {
  /** Misra-Gries with a scan for the minimum at every decrement (the definition). */
  function reference(cap: number, items: Array<[string, number]>): Map<string, number> {
    const counts = new Map<string, number>();
    for (const [item, w] of items) {
      if (counts.has(item)) {
        counts.set(item, counts.get(item)! + w);
        continue;
      }
      let weightLeft = w;
      if (counts.size >= cap) {
        const dec = Math.min(weightLeft, ...counts.values());
        for (const [k, c] of [...counts]) {
          if (c - dec > 0) counts.set(k, c - dec);
          else counts.delete(k);
        }
        weightLeft -= dec;
        if (weightLeft <= 0) continue;
      }
      counts.set(item, weightLeft);
    }
    return counts;
  }

  it.each([[1, 5], [4, 70], [64, 500], [64, 50_000]])('capacity %i over %i distinct items matches the definition', (cap, card) => {
    const r = new XorShift32(cap * 7 + card);
    const items: Array<[string, number]> = Array.from({ length: 20_000 }, () => [`v${Math.floor(r.next() ** 2 * card)}`, 1 + (r.nextU32() % 3)]);
    const mg = new MisraGries(cap);
    for (const [item, w] of items) mg.update(item, w);
    expect(new Map([...mg.counts].sort())).toEqual(new Map([...reference(cap, items)].sort()));
  });
});
