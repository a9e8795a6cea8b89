/**
 * The profiler's hot-path structures: KLL level 0 in a typed buffer (flushed for merges, queries, serialization)
 * and the per-position key cache of updateProfile. Their results must not depend on them.
 */
import { describe, expect, it } from 'vitest';
import { KllSketch, XorShift32, createProfile, deserializeProfile, serializeProfile, updateProfile } from '../../../lib/core/profile';

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
