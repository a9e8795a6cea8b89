import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ProfileError } from '../../../../lib/core/errors';
import { XorShift32 } from '../../../../lib/core/profile/hash';
import { mergeProfiles } from '../../../../lib/core/profile/merge';
import { Profile, createProfile, updateProfile } from '../../../../lib/core/profile/profile';
import { deserializeProfile, serializeProfile } from '../../../../lib/core/profile/profile-codec';
import { columnStats, profileSummary } from '../../../../lib/core/profile/summary';

const CONDITIONS = [
  { id: 'country-code', column: 'country', pattern: '^[A-Z]{2}$' },
  { id: 'plan', column: 'o.plan', allowedValues: ['free', 'pro'] },
];

/** A number wrapped so that toEqual compares it at a relative tolerance of 1e-9 (absolute 1e-9 near 0). */
function closeTo(x: number) {
  return Number.isFinite(x) ? expect.closeTo(x, 9 - Math.max(0, Math.ceil(Math.log10(Math.abs(x) + 1)))) : x;
}

/** Everything a profile answers, in a form `toEqual` can compare (floats rounded to a relative tolerance). */
function comparable(p: Profile, tolerant = false) {
  // Means and m2 differ by rounding with the merge order: compare them at a tolerance (see closeTo below).
  const round = (x: number) => (tolerant ? closeTo(x) : x);
  const cols: Record<string, unknown> = {};
  for (const [name, c] of [...p.columns].sort(([a], [b]) => (a < b ? -1 : 1))) {
    cols[name] = {
      count: c.count,
      nulls: c.nulls,
      nonFinite: c.nonFinite,
      types: [c.int, c.frac, c.bool, c.str, c.obj, c.array],
      trues: c.trues,
      n: c.moments.n,
      mean: round(c.moments.mean),
      m2: round(c.moments.m2),
      kll: c.kll ? { n: c.kll.n, min: c.kll.min, max: c.kll.max, q: [0.1, 0.5, 0.9].map((q) => c.kll!.quantile(q)) } : null,
      hll: c.hll ? c.hll.serialize() : null,
      len: [c.lenMin, c.lenMax, c.lenSum],
      freq: c.freq ? { n: c.freq.n, err: c.freq.maxError, top: c.freq.top() } : null,
      cond: c.conditions ? Object.fromEntries([...c.conditions].sort()) : null,
    };
  }
  return { rows: p.rows, unparseable: p.unparseable, overflow: p.columnOverflow, et: p.eventTimeMax, etBad: p.eventTimeInvalid, cols };
}

const recordArb = fc.oneof(
  {
    weight: 9,
    arbitrary: fc.record({
      n: fc.oneof(fc.integer({ min: -1000, max: 1000 }), fc.double({ min: -1e3, max: 1e3, noNaN: true }), fc.constant(null)),
      country: fc.constantFrom('DE', 'FR', 'fr', 'USA', '', 'GB'),
      ok: fc.boolean(),
      ts: fc.oneof(fc.integer({ min: 1_700_000_000_000, max: 1_800_000_000_000 }), fc.constant('2026-01-02T03:04:05Z'), fc.constant('not a time')),
      o: fc.record({ plan: fc.constantFrom('free', 'pro', 'enterprise', 7), depth: fc.record({ x: fc.integer() }) }, { requiredKeys: [] }),
      tags: fc.array(fc.string(), { maxLength: 2 }),
    }, { requiredKeys: ['ok'] }),
  },
  { weight: 1, arbitrary: fc.constantFrom('{not json', '[1,2]', '42', 'null', '{"n": 5, "country": "DE", "ok": true}') },
);

const windowArb = fc.array(recordArb, { maxLength: 40 });

function build(records: readonly unknown[]): Profile {
  const p = createProfile({ conditions: CONDITIONS, eventTimeField: 'ts' });
  for (const r of records) updateProfile(p, r);
  return p;
}

describe('profile merge', () => {
  it('is associative and commutative, equals profiling the concatenation, and survives serialization (property)', () => {
    fc.assert(
      fc.property(windowArb, windowArb, windowArb, (a, b, c) => {
        const [pa, pb, pc] = [build(a), build(b), build(c)];
        const left = mergeProfiles(mergeProfiles(pa, pb), pc);
        const right = mergeProfiles(pa, mergeProfiles(pb, pc));
        const swapped = mergeProfiles(pc, mergeProfiles(pb, pa));
        const whole = build([...a, ...b, ...c]);
        const expected = comparable(whole, true);
        expect(comparable(left)).toEqual(expected);
        expect(comparable(right)).toEqual(expected);
        expect(comparable(swapped)).toEqual(expected);
        expect(comparable(deserializeProfile(serializeProfile(left)))).toEqual(expected);
        // Inputs are untouched by merging.
        expect(comparable(pa)).toEqual(comparable(build(a), true));
      }),
      { numRuns: 60, seed: 20260 },
    );
  });

  it('merges large profiles (compacted sketches) within the sketch error bounds', () => {
    const r = new XorShift32(3);
    const parts = [0, 1, 2].map(() => createProfile());
    const all: number[] = [];
    for (let i = 0; i < 60_000; i++) {
      const x = r.normal();
      all.push(x);
      updateProfile(parts[i % 3], { x, id: `u${i}` });
    }
    const a = mergeProfiles(mergeProfiles(parts[0], parts[1]), parts[2]);
    const b = mergeProfiles(parts[2], mergeProfiles(parts[1], parts[0]));
    all.sort((u, v) => u - v);
    for (const m of [a, b]) {
      const st = columnStats(m, 'x')!;
      expect(st.numericCount).toBe(60_000);
      expect(st.min).toBe(all[0]);
      expect(st.max).toBe(all[all.length - 1]);
      const kll = m.columns.get('x')!.kll!;
      for (const q of [0.05, 0.5, 0.95]) {
        const v = kll.quantile(q);
        const rank = all.findIndex((y) => y >= v) / all.length;
        expect(Math.abs(rank - q)).toBeLessThan(0.01);
      }
      expect(Math.abs(columnStats(m, 'id')!.distinct / 60_000 - 1)).toBeLessThan(0.05);
    }
    expect(columnStats(a, 'x')!.mean).toBeCloseTo(columnStats(b, 'x')!.mean, 12);
    expect(columnStats(a, 'x')!.stddev).toBeCloseTo(columnStats(b, 'x')!.stddev, 12);
  });

  it('fails when the sketch sizes differ or a condition id is defined twice differently', () => {
    expect(() => mergeProfiles(createProfile({ kllK: 128 }), createProfile())).toThrow(/kllK differs \(128 and 256\)/);
    expect(() => mergeProfiles(
      createProfile({ conditions: [{ id: 'c', column: 'a', pattern: 'x' }] }),
      createProfile({ conditions: [{ id: 'c', column: 'a', pattern: 'y' }] }),
    )).toThrow(/condition 'c' is defined differently/);
  });

  it('keeps the columns with the most values when the union exceeds maxColumns', () => {
    const a = createProfile({ maxColumns: 2 });
    const b = createProfile({ maxColumns: 2 });
    updateProfile(a, { x: 1, y: 1 });
    updateProfile(a, { x: 1 });
    updateProfile(b, { x: 2, z: 1 });
    updateProfile(b, { z: 1 });
    const m = mergeProfiles(a, b);
    expect([...m.columns.keys()]).toEqual(['x', 'z']);
    expect(m.columnOverflow).toBe(1);
    expect(comparable(mergeProfiles(b, a))).toEqual(comparable(m, true));
  });
});

describe('updateProfile', () => {
  it('profiles nested objects by dot path to maxDepth, counts arrays and types', () => {
    const p = createProfile();
    updateProfile(p, { a: { b: { c: 1 }, d: 'x' }, arr: [1, 2], n: 1.5, i: 2, s: 'hey', t: true, z: null });
    updateProfile(p, { a: { d: 'yy' }, n: 2, t: false });
    expect([...p.columns.keys()].sort()).toEqual(['a', 'a.b', 'a.d', 'arr', 'i', 'n', 's', 't', 'z']);
    const col = (k: string) => p.columns.get(k)!;
    expect(col('a').obj).toBe(2);
    expect(col('a.b').obj).toBe(1);
    expect(col('arr').array).toBe(1);
    expect([col('n').int, col('n').frac]).toEqual([1, 1]);
    expect([col('a.d').lenMin, col('a.d').lenMax, col('a.d').lenSum]).toEqual([1, 2, 3]);
    expect([col('t').bool, col('t').trues]).toEqual([2, 1]);
    expect(col('z').nulls).toBe(1);
    expect(columnStats(p, 'i')!.completeness).toBe(0.5);
    expect(columnStats(p, 'n')!.mean).toBe(1.75);
    const deep = createProfile({ maxDepth: 3 });
    updateProfile(deep, { a: { b: { c: 1 } } });
    expect(deep.columns.has('a.b.c')).toBe(true);
  });

  it('counts unparseable records (never throws) and parses JSON text and bytes', () => {
    const p = createProfile();
    for (const bad of ['{oops', '[1]', '3', 'null', null, 7, [1], new Uint8Array([0xff, 0xfe]), Buffer.from('"str"')]) {
      expect(() => updateProfile(p, bad)).not.toThrow();
    }
    updateProfile(p, '{"a": 1}');
    updateProfile(p, Buffer.from('{"a": 2}'));
    expect(p.unparseable).toBe(9);
    expect(p.rows).toBe(2);
    expect(columnStats(p, 'a')!.mean).toBe(1.5);
  });

  it('counts NaN and infinities apart from the statistics', () => {
    const p = createProfile();
    for (const x of [1, NaN, Infinity, -Infinity, 3]) updateProfile(p, { x });
    const c = p.columns.get('x')!;
    expect(c.nonFinite).toBe(3);
    expect(columnStats(p, 'x')!.mean).toBe(2);
    expect(c.kll!.max).toBe(3);
  });

  it('tracks the latest event time (epoch ms or ISO) and counts invalid ones', () => {
    const p = createProfile({ eventTimeField: 'meta.at' });
    updateProfile(p, { meta: { at: '2026-03-01T00:00:00Z' } });
    updateProfile(p, { meta: { at: Date.parse('2026-03-01T00:00:05Z') } });
    updateProfile(p, { meta: { at: 'yesterday' } });
    updateProfile(p, { other: 1 });
    expect(p.eventTimeMax).toBe(Date.parse('2026-03-01T00:00:05Z'));
    expect(p.eventTimeInvalid).toBe(2);
  });

  it('counts declared conditions over non-null values', () => {
    const p = build([{ country: 'DE', ok: true }, { country: 'usa', ok: true }, { country: null, ok: true }, { o: { plan: 'pro' }, ok: true }, { o: { plan: 'gold' }, ok: true }]);
    expect(p.columns.get('country')!.conditions!.get('country-code')).toEqual({ checked: 2, matched: 1 });
    expect(p.columns.get('o.plan')!.conditions!.get('plan')).toEqual({ checked: 2, matched: 1 });
  });

  it('bounds the number of columns (maxColumns) and counts the rest', () => {
    const p = createProfile({ maxColumns: 3 });
    updateProfile(p, Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`k${i}`, i])));
    expect(p.columns.size).toBe(3);
    expect(p.columnOverflow).toBe(7);
  });

  it('fails when the config is invalid', () => {
    expect(() => createProfile({ kllK: 2 })).toThrow(ProfileError);
    expect(() => createProfile({ kllK: 2 })).toThrow(/kllK must be an integer between 8 and 65535 \(given 2\)/);
    expect(() => createProfile({ conditions: [{ id: 'p', column: 'a', pattern: '(' }] })).toThrow(/invalid pattern/);
    expect(() => createProfile({ conditions: [{ id: 'p', column: 'a', pattern: 'a' }, { id: 'p', column: 'b', pattern: 'b' }] })).toThrow(/duplicate condition id 'p'/);
  });
});

describe('serialization', () => {
  it('fits 20 high-cardinality columns in 256 KB at the default sketch sizes', () => {
    const r = new XorShift32(99);
    const p = createProfile();
    for (let i = 0; i < 100_000; i++) {
      const rec: Record<string, unknown> = {};
      for (let c = 0; c < 14; c++) rec[`num${c}`] = c % 2 ? r.normal() * 100 : Math.floor(r.next() * 1e6);
      for (let c = 0; c < 6; c++) rec[`str${c}`] = `value-${r.nextU32().toString(36)}`;
      updateProfile(p, rec);
    }
    const text = serializeProfile(p);
    const bytes = Buffer.byteLength(text);
    expect(p.columns.size).toBe(20);
    expect(bytes).toBeLessThanOrEqual(256 * 1024);
    const back = deserializeProfile(text);
    expect(serializeProfile(back)).toBe(text);
    console.log(`serialized profile, 20 columns x 100k records: ${(bytes / 1024).toFixed(1)} KB`);
  });

  it('fails on another version or a corrupt state', () => {
    const text = serializeProfile(build([{ n: 1, ok: true }]));
    expect(() => deserializeProfile(text.replace('"v":1', '"v":2'))).toThrow(/unsupported profile version 2 \(expected 1\)/);
    expect(() => deserializeProfile('{')).toThrow(/not valid JSON/);
    const obj = JSON.parse(text);
    obj.cols.n.hll = 'zz';
    expect(() => deserializeProfile(obj)).toThrow(/corrupt profile state: invalid HLL encoding/);
  });

  it('prints a summary with one line per column', () => {
    const text = profileSummary(build([{ n: 1, country: 'DE', ok: true }, { n: 3, country: 'DE', ok: false }]));
    expect(text).toMatch(/^rows 2 {2}unparseable 0 {2}columns 3/);
    expect(text).toMatch(/\nn +int +100\.0% +2 +1 +1 +3 +3 +2 +1/);
    expect(text).toMatch(/country +str +100\.0% +1 .*DE\(2\)/);
  });
});

describe('a junk record cannot blind the profile (priority columns, per-record budget, dropped columns named)', () => {
  const junk = Object.fromEntries(Array.from({ length: 250 }, (_, i) => [`junk${i}`, i]));
  const clean = (i: number) => ({ userId: `u${i}`, amount: i });

  it('tracks the priority columns whatever comes first, and names what it dropped and why', () => {
    const p = createProfile({ priorityColumns: ['userId'], maxColumns: 100 });
    updateProfile(p, junk);
    for (let i = 0; i < 99; i++) updateProfile(p, clean(i));
    expect(columnStats(p, 'userId')!.completeness).toBe(0.99);
    // The junk record added its budget of new columns (64); the rest of it is dropped for the record budget.
    expect(p.droppedColumns[0]).toEqual({ column: 'junk64', reason: 'record-budget' });
    expect(p.columnOverflow).toBe(250 - 64);
    expect(profileSummary(p)).toMatch(/dropped columns: junk64 \(record-budget\), junk65 \(record-budget\)/);
  });

  it('without priority columns, junk records within their budget can fill maxColumns: later columns are dropped as max-columns', () => {
    const p = createProfile({ maxColumns: 100 });
    for (const r of [0, 1]) updateProfile(p, Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`j${r}_${i}`, i])));
    updateProfile(p, clean(1));
    expect(p.columns.has('userId')).toBe(false);
    expect(p.droppedColumns).toEqual([{ column: 'userId', reason: 'max-columns' }, { column: 'amount', reason: 'max-columns' }]);
  });

  it('keeps priority columns and dropped names through serialization and merges', () => {
    const a = createProfile({ priorityColumns: ['userId'], maxColumns: 2 });
    updateProfile(a, { x: 1, y: 2, z: 3 });
    const b = createProfile({ priorityColumns: ['userId'], maxColumns: 2 });
    updateProfile(b, clean(1));
    const back = deserializeProfile(serializeProfile(a));
    expect(back.droppedColumns).toEqual([{ column: 'z', reason: 'max-columns' }]);
    const m = mergeProfiles(back, b);
    expect(m.columns.has('userId')).toBe(true);
    expect(columnStats(m, 'userId')!.completeness).toBe(0.5);
    expect(m.droppedColumns.map((d) => d.column)).toContain('z');
  });
});
