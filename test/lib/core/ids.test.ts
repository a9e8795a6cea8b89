import fc from 'fast-check';
import { v5 as uuidv5, validate, version } from 'uuid';
import { describe, expect, it } from 'vitest';
import { ROOT_ID_NAMESPACE } from '../../../constructs/contract';
import { PermanentError, canonicalJson, getPath, idNamespaceFor, parseKeyFields, recordId } from '../../../lib/core';
import { InvalidArgumentError } from '../../../lib/core/errors';

const NS = idNamespaceFor('clickstream');
const RFC4122_V5 = /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** Serializes `value` with keys in a seed-dependent order and random-ish whitespace, as another producer might. */
function reserialize(value: unknown, seed: number): string {
  const ws = [' ', '\n', '\t', '  ', '\r\n', ''][seed % 6];
  if (Array.isArray(value)) {
    return `[${ws}${value.map((v, i) => reserialize(v, seed + i + 1)).join(`${ws},${ws}`)}${ws}]`;
  }
  if (typeof value === 'object' && value !== null) {
    const keys = Object.keys(value);
    const rotated = keys.length === 0 ? keys : [...keys.slice(seed % keys.length), ...keys.slice(0, seed % keys.length)].reverse();
    const parts = rotated.map((k, i) => `${ws}${JSON.stringify(k)}${ws}:${ws}${reserialize((value as Record<string, unknown>)[k], seed + i + 3)}`);
    return `{${parts.join(',')}${ws}}`;
  }
  return JSON.stringify(value);
}

const payload = fc.dictionary(fc.string({ minLength: 1, maxLength: 8 }), fc.jsonValue({ maxDepth: 3 }), { minKeys: 1, maxKeys: 8 });
const keyValue = fc.oneof(
  fc.string({ minLength: 1, maxLength: 20 }),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.boolean(),
  fc.array(fc.integer(), { minLength: 1, maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 4 }), fc.integer(), { minKeys: 1, maxKeys: 3 }),
);

describe('idNamespaceFor', () => {
  it('is uuid v5 of the pipeline name in the root namespace', () => {
    expect(NS).toBe(uuidv5('clickstream', ROOT_ID_NAMESPACE));
    expect(NS).toMatch(RFC4122_V5);
    expect(idNamespaceFor('orders')).not.toBe(NS);
  });

  it('rejects empty and non-string names', () => {
    expect(() => idNamespaceFor('')).toThrow(InvalidArgumentError);
    expect(() => idNamespaceFor(undefined as never)).toThrow(/pipeline must be a non-empty string; got undefined/);
  });
});

describe('getPath', () => {
  const obj = { user: { id: 7, tags: ['a', { k: 'v' }] }, flat: null, zero: 0 };

  it('follows dot paths and array indexes', () => {
    expect(getPath(obj, 'user.id')).toBe(7);
    expect(getPath(obj, 'user.tags.1.k')).toBe('v');
    expect(getPath(obj, 'flat')).toBeNull();
    expect(getPath(obj, 'zero')).toBe(0);
  });

  it('returns undefined for absent segments and non-index array segments', () => {
    expect(getPath(obj, 'user.name')).toBeUndefined();
    expect(getPath(obj, 'user.id.x')).toBeUndefined();
    expect(getPath(obj, 'user.tags.01')).toBeUndefined();
    expect(getPath(obj, 'user.tags.length')).toBeUndefined();
    expect(getPath(obj, 'flat.x')).toBeUndefined();
  });

  it('never resolves prototype members', () => {
    expect(getPath(obj, 'constructor')).toBeUndefined();
    expect(getPath(obj, '__proto__')).toBeUndefined();
    expect(getPath(obj, 'user.toString')).toBeUndefined();
    expect(getPath(JSON.parse('{"__proto__":{"x":1}}'), '__proto__.x')).toBe(1);
  });

  it('rejects malformed paths', () => {
    expect(() => getPath(obj, '')).toThrow(InvalidArgumentError);
    expect(() => getPath(obj, 'user..id')).toThrow(/"user..id" has an empty segment/);
    expect(() => getPath(obj, '.id')).toThrow(/empty segment/);
  });
});

describe('parseKeyFields', () => {
  it('parses a JSON array of paths; empty means whole payload', () => {
    expect(parseKeyFields('["user.id","orderId"]')).toEqual(['user.id', 'orderId']);
    expect(parseKeyFields('[]')).toEqual([]);
    expect(parseKeyFields('')).toEqual([]);
    expect(parseKeyFields(undefined)).toEqual([]);
  });

  it.each([
    ['user.id', /must be a JSON array/],
    ['{"a":1}', /must be a JSON array.*got an object/],
    ['[1]', /non-empty string; got number 1/],
    ['["a..b"]', /empty segment/],
    ['["a","a"]', /name "a" twice in \["a","a"\]: each path may appear once/],
  ])('rejects %s', (value, message) => {
    expect(() => parseKeyFields(value)).toThrow(message);
  });
});

describe('recordId', () => {
  it('hashes the canonical JSON of the key values, or of the whole payload', () => {
    const p = { user: { id: 'u1' }, n: 2 };
    expect(recordId(p, NS, ['user.id', 'n'])).toBe(uuidv5(canonicalJson(['u1', 2]), NS));
    expect(recordId(p, NS, [])).toBe(uuidv5('{"n":2,"user":{"id":"u1"}}', NS));
  });

  it('depends only on the key fields when they are given', () => {
    expect(recordId({ id: 1, v: 'a' }, NS, ['id'])).toBe(recordId({ id: 1, v: 'b', extra: true }, NS, ['id']));
    expect(recordId({ id: 1, v: 'a' }, NS, [])).not.toBe(recordId({ id: 1, v: 'b' }, NS, []));
  });

  it('distinguishes types and key order of the key list', () => {
    expect(recordId({ id: 1 }, NS, ['id'])).not.toBe(recordId({ id: '1' }, NS, ['id']));
    const p = { a: 'x', b: 'y' };
    expect(recordId(p, NS, ['a', 'b'])).not.toBe(recordId(p, NS, ['b', 'a']));
  });

  it('depends on the namespace', () => {
    expect(recordId({ id: 1 }, NS, ['id'])).not.toBe(recordId({ id: 1 }, idNamespaceFor('other'), ['id']));
  });

  it('accepts object and array key values, canonicalized', () => {
    expect(recordId({ k: { b: 1, a: [1, 2] } }, NS, ['k'])).toBe(recordId({ k: { a: [1, 2], b: 1 } }, NS, ['k']));
  });

  it.each([
    [{ other: 1 }, 'absent'],
    [{ user: null }, 'absent'],
    [{ user: { id: null } }, 'null'],
    [{ user: { id: '' } }, 'an empty string'],
  ])('throws PermanentError(missing-key) for %j', (p, got) => {
    let caught: unknown;
    try {
      recordId(p, NS, ['user.id']);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(PermanentError);
    expect((caught as PermanentError).reasonClass).toBe('missing-key');
    expect((caught as Error).message).toBe(`natural key field 'user.id' is missing: the value is ${got}`);
  });

  it('accepts falsy but present key values (0, false)', () => {
    expect(recordId({ id: 0 }, NS, ['id'])).not.toBe(recordId({ id: false }, NS, ['id']));
  });

  it('rejects a namespace that is not a UUID and a payload that is not an object', () => {
    expect(() => recordId({ a: 1 }, 'clickstream', [])).toThrow(/namespace must be a UUID.*got "clickstream"/);
    expect(() => recordId([1] as never, NS, [])).toThrow(/payload must be an object; got an array/);
  });

  it('is a valid RFC 4122 version 5 uuid (property)', () => {
    fc.assert(
      fc.property(payload, (p) => {
        const id = recordId(p, NS, []);
        expect(validate(id)).toBe(true);
        expect(version(id)).toBe(5);
        expect(id).toMatch(RFC4122_V5);
      }),
      { numRuns: 300 },
    );
  });

  it('is stable under key order and whitespace of the serialized input (property)', () => {
    fc.assert(
      fc.property(payload, keyValue, fc.nat(1000), (rest, key, seed) => {
        const p = { ...rest, pk: { part: key } };
        const reparsed = JSON.parse(reserialize(p, seed)) as Record<string, unknown>;
        expect(recordId(reparsed, NS, [])).toBe(recordId(p, NS, []));
        expect(recordId(reparsed, NS, ['pk.part'])).toBe(recordId(p, NS, ['pk.part']));
      }),
      { numRuns: 300 },
    );
  });

  it('gives different ids to different natural keys (property)', () => {
    fc.assert(
      fc.property(keyValue, keyValue, fc.jsonValue({ maxDepth: 2 }), (a, b, rest) => {
        fc.pre(canonicalJson(a) !== canonicalJson(b));
        expect(recordId({ k: a, rest }, NS, ['k'])).not.toBe(recordId({ k: b, rest }, NS, ['k']));
      }),
      { numRuns: 300 },
    );
  });

  it('gives the same id to the same natural key whatever the rest of the payload (property)', () => {
    fc.assert(
      fc.property(keyValue, fc.jsonValue({ maxDepth: 2 }), fc.jsonValue({ maxDepth: 2 }), (k, r1, r2) => {
        expect(recordId({ k, r: r1 }, NS, ['k'])).toBe(recordId({ r: r2, k }, NS, ['k']));
      }),
      { numRuns: 300 },
    );
  });
});
