import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PermanentError, canonicalJson, contentHash } from '../../../lib/core';

/** Shuffles the keys of every object (deterministically from `seed`), values unchanged. */
function reorder(value: unknown, seed: number): unknown {
  if (Array.isArray(value)) {
    return value.map((v, i) => reorder(v, seed + i));
  }
  if (typeof value === 'object' && value !== null) {
    const keys = Object.keys(value);
    const shuffled = keys.map((k, i) => ({ k, r: Math.sin(seed * 7919 + i * 104729) })).sort((a, b) => a.r - b.r).map((x) => x.k);
    // fromEntries defines own properties, so a '__proto__' key stays a key (assignment would set the prototype).
    return Object.fromEntries(shuffled.map((k) => [k, reorder((value as Record<string, unknown>)[k], seed + 1)]));
  }
  return value;
}

const json = fc.jsonValue({ maxDepth: 4 });

describe('canonicalJson', () => {
  it('sorts keys at every depth and writes no whitespace', () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: null } })).toBe('{"a":{"c":null,"d":[3,{"y":2,"z":1}]},"b":1}');
  });

  it('sorts keys by UTF-16 code units (RFC 8785 section 3.2.3 example)', () => {
    const input = { '\u20ac': 'Euro', '\r': 'CR', '\ufb33': 'Hebrew', '1': 'One', '\ud83d\ude00': 'Smiley', '\u0080': 'Control', '\u00f6': 'o' };
    const rfcOrder = ['\r', '1', '\u0080', '\u00f6', '\u20ac', '\ud83d\ude00', '\ufb33'];
    const expected = `{${rfcOrder.map((k) => `${JSON.stringify(k)}:${JSON.stringify(input[k as keyof typeof input])}`).join(',')}}`;
    expect(canonicalJson(input)).toBe(expected);
  });

  it('formats numbers as ECMAScript JSON does (RFC 8785 number serialization)', () => {
    expect(canonicalJson([1.0, -0, 1e21, 1e-7, 0.000001, 123456789012, 5e-324, 1.7976931348623157e308])).toBe(
      '[1,0,1e+21,1e-7,0.000001,123456789012,5e-324,1.7976931348623157e+308]',
    );
  });

  it('escapes strings as JSON.stringify does', () => {
    expect(canonicalJson({ s: 'a"b\\c\n\u0001\u2028' })).toBe('{"s":"a\\"b\\\\c\\n\\u0001\u2028"}');
  });

  it('drops undefined properties and uses toJSON', () => {
    expect(canonicalJson({ a: undefined, b: new Date(Date.UTC(2025, 0, 2)) })).toBe('{"b":"2025-01-02T00:00:00.000Z"}');
  });

  it('keeps a "__proto__" key of parsed JSON as a key', () => {
    expect(canonicalJson(JSON.parse('{"b":1,"__proto__":{"x":1}}'))).toBe('{"__proto__":{"x":1},"b":1}');
  });

  it('allows shared (non-cyclic) references', () => {
    const shared = { x: 1 };
    expect(canonicalJson({ a: shared, b: shared })).toBe('{"a":{"x":1},"b":{"x":1}}');
  });

  it.each([
    ['NaN', { a: Number.NaN }, /non-finite number NaN at \$\.a/],
    ['Infinity', { a: [1, -Infinity] }, /non-finite number -Infinity at \$\.a\[1\]/],
    ['BigInt', { n: BigInt(10) }, /BigInt 10n at \$\.n/],
    ['function', { f: () => 1 }, /a function at \$\.f/],
    ['symbol', { s: Symbol('x') }, /a symbol at \$\.s/],
    ['Map', { m: new Map() }, /a Map .* at \$\.m/],
    ['Set', { m: new Set([1]) }, /a Set .* at \$\.m/],
    ['undefined array item', [1, undefined], /undefined at \$\[1\]/],
    ['top-level undefined', undefined, /undefined at \$/],
  ])('rejects %s with PermanentError(decode) naming the path', (_label, value, message) => {
    let caught: unknown;
    try {
      canonicalJson(value);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(PermanentError);
    expect((caught as PermanentError).reasonClass).toBe('decode');
    expect((caught as Error).message).toMatch(message);
  });

  it('rejects cycles', () => {
    const a: Record<string, unknown> = { x: 1 };
    a.self = { back: a };
    expect(() => canonicalJson(a)).toThrow(/circular reference at \$\.self\.back/);
    const arr: unknown[] = [];
    arr.push(arr);
    expect(() => canonicalJson(arr)).toThrow(PermanentError);
  });

  it('is idempotent: the canonical text of the parsed canonical text is itself (property)', () => {
    fc.assert(
      fc.property(json, (v) => {
        const c = canonicalJson(v);
        expect(canonicalJson(JSON.parse(c))).toBe(c);
      }),
      { numRuns: 300 },
    );
  });

  it('parses back to a value deep-equal to the input (property)', () => {
    fc.assert(
      fc.property(json, (v) => {
        expect(JSON.parse(canonicalJson(v))).toEqual(JSON.parse(JSON.stringify(v)));
      }),
      { numRuns: 300 },
    );
  });

  it('does not depend on key insertion order (property)', () => {
    fc.assert(
      fc.property(json, fc.integer({ min: 1, max: 1000 }), (v, seed) => {
        expect(canonicalJson(reorder(v, seed))).toBe(canonicalJson(v));
      }),
      { numRuns: 300 },
    );
  });
});

describe('contentHash', () => {
  it('is the sha256 hex of the canonical JSON', () => {
    const v = { b: [1, 'é'], a: true };
    expect(contentHash(v)).toBe(createHash('sha256').update('{"a":true,"b":[1,"é"]}', 'utf8').digest('hex'));
    expect(contentHash(v)).toMatch(/^[0-9a-f]{64}$/);
  });

  it('is equal for reordered objects and different for different values', () => {
    expect(contentHash({ a: 1, b: 2 })).toBe(contentHash({ b: 2, a: 1 }));
    expect(contentHash({ a: 1 })).not.toBe(contentHash({ a: '1' }));
    expect(contentHash([1, 2])).not.toBe(contentHash([2, 1]));
  });
});
