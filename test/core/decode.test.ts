import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DecodeResult, base64Problem, decodeBase64Strict, decodeData } from '../../lib/core';

const b64 = (s: string | Buffer): string => (typeof s === 'string' ? Buffer.from(s, 'utf8') : s).toString('base64');
const LIMITS = { maxBytes: 1_048_576 };

function failure(r: DecodeResult): { class: string; message: string; bytes: number } {
  if (r.ok) {
    throw new Error(`expected a failure, got ${JSON.stringify(r.value)}`);
  }
  return { class: r.reason.class, message: r.reason.message, bytes: r.bytes };
}

/**
 * Makes a generated JSON value fit the default number rules: JSON.stringify writes integer-valued doubles up to 1e21 as
 * integer literals, which are rejected beyond Number.MAX_SAFE_INTEGER (by design: precision may have been lost upstream).
 */
function withinLimits<T>(value: T): T {
  return JSON.parse(JSON.stringify(value), (_k, v: unknown) =>
    (typeof v === 'number' && Number.isInteger(v) && !Number.isSafeInteger(v) && Math.abs(v) < 1e21 ? v % Number.MAX_SAFE_INTEGER : v)) as T;
}

/** Reference strict base64 check: RFC 4648 alphabet, padded, canonical trailing bits. */
function strictReference(s: string): boolean {
  return s.length % 4 === 0 && /^[A-Za-z0-9+/]*={0,2}$/.test(s) && Buffer.from(s, 'base64').toString('base64') === s;
}

describe('decodeData: valid records', () => {
  it('decodes a JSON object and reports its size in bytes', () => {
    const text = '{"user":{"id":"ü-1"},"n":[1,2.5,-3e5],"ok":true,"none":null}';
    const r = decodeData(b64(text), LIMITS);
    expect(r).toEqual({ ok: true, value: JSON.parse(text), bytes: Buffer.byteLength(text) });
  });

  it('accepts whitespace, escaped quotes and numbers inside strings', () => {
    const text = ' {\n "a\\"b" : "x\\\\" , "s": "12345678901234567890123456789012345 1e999 [[[[" }\t';
    const r = decodeData(b64(text), { maxBytes: 1000, maxDepth: 1 });
    expect(r.ok).toBe(true);
  });

  it('ignores a UTF-8 byte order mark', () => {
    const r = decodeData(b64(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"a":1}')])), LIMITS);
    expect(r).toMatchObject({ ok: true, value: { a: 1 } });
  });

  it('accepts the edge numbers', () => {
    const r = decodeData(b64('{"max":9007199254740991,"min":-9007199254740991,"big":1.7976931348623157e308,"tiny":5e-324,"d":0.1}'), LIMITS);
    expect(r).toMatchObject({ ok: true, value: { max: Number.MAX_SAFE_INTEGER, min: Number.MIN_SAFE_INTEGER } });
  });

  it('accepts exactly maxBytes and exactly maxDepth', () => {
    const text = '{"a":[{"b":[]}]}'; // depth 4
    expect(decodeData(b64(text), { maxBytes: text.length, maxDepth: 4 }).ok).toBe(true);
    expect(failure(decodeData(b64(text), { maxBytes: text.length, maxDepth: 3 })).message).toBe('record JSON is nested deeper than the 3 levels allowed');
  });

  it('roundtrips any JSON object within the limits (property)', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.jsonValue({ maxDepth: 5 })).map(withinLimits), (obj) => {
        const text = JSON.stringify(obj);
        const r = decodeData(b64(text), { maxBytes: 1_000_000, maxDepth: 32, maxNumberDigits: 30 });
        expect(r).toEqual({ ok: true, value: JSON.parse(text), bytes: Buffer.byteLength(text) });
      }),
      { numRuns: 300 },
    );
  });

  it('rejects every integer-valued number beyond the safe range that JSON.stringify writes as an integer literal (property)', () => {
    fc.assert(
      fc.property(fc.double({ min: 2 ** 53, max: 1e20, noNaN: true }), fc.boolean(), (n, negative) => {
        const v = Math.floor(n) * (negative ? -1 : 1);
        fc.pre(!JSON.stringify(v).includes('e'));
        expect(failure(decodeData(b64(JSON.stringify({ v })), LIMITS)).message).toMatch(/is beyond Number.MAX_SAFE_INTEGER/);
      }),
      { numRuns: 200 },
    );
  });
});

describe('decodeData: bad records', () => {
  it('empty data', () => {
    expect(failure(decodeData('', LIMITS))).toEqual({ class: 'decode', message: 'record data is empty', bytes: 0 });
  });

  it.each([
    ['e30', /length 3 is not a multiple of 4/],
    ['e30*', /character "\*" at offset 3 is outside the base64 alphabet/],
    ['e3 0', /character " " at offset 2/],
    ['eyJh-jox', /character "-" at offset 4/],
    ['eyJh_jox', /character "_" at offset 4/],
    ['e3=0', /padding '=' at offset 2 is not at the end/],
    ['e===', /padding/],
    ['e31=', /non-zero bits before the padding/],
    ['eR==', /non-zero bits before the padding/],
  ])('invalid base64 %j', (data, message) => {
    const f = failure(decodeData(data, LIMITS));
    expect(f.class).toBe('decode');
    expect(f.message).toMatch(/^record data is not valid base64: /);
    expect(f.message).toMatch(message);
  });

  it('oversize: decided before decoding, with both sizes', () => {
    const text = JSON.stringify({ s: 'x'.repeat(100) });
    expect(failure(decodeData(b64(text), { maxBytes: 50 }))).toEqual({
      class: 'oversize',
      message: `record is ${text.length} bytes, more than the 50 bytes allowed`,
      bytes: text.length,
    });
  });

  it('invalid UTF-8', () => {
    const f = failure(decodeData(b64(Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xc3, 0x28, 0x22, 0x7d])), LIMITS));
    expect(f).toEqual({ class: 'decode', message: 'record data (10 bytes) is not valid UTF-8', bytes: 10 });
  });

  it('lone surrogate encoded in UTF-8 (CESU) is invalid UTF-8', () => {
    expect(failure(decodeData(b64(Buffer.from([0x22, 0xed, 0xa0, 0x80, 0x22])), LIMITS)).message).toMatch(/not valid UTF-8/);
  });

  it.each(['{"a":1', 'hello', '{"a":1}}', "{'a':1}", '{"a":01}', '{"a":NaN}'])('not JSON: %j', (text) => {
    const f = failure(decodeData(b64(text), LIMITS));
    expect(f.class).toBe('decode');
    expect(f.message).toMatch(/^record data is not valid JSON: /);
  });

  it.each([
    ['[1,2]', 'an array'],
    ['"str"', 'a string'],
    ['42', 'a number'],
    ['true', 'a boolean'],
    ['null', 'null'],
  ])('JSON that is not an object: %s', (text, kind) => {
    expect(failure(decodeData(b64(text), LIMITS))).toEqual({ class: 'decode', message: `record data is JSON but ${kind}, not an object`, bytes: text.length });
  });

  it('too deep (default 32), also when the nesting is inside arrays', () => {
    const deep = '{"a":' + '['.repeat(32) + ']'.repeat(32) + '}';
    expect(failure(decodeData(b64(deep), LIMITS)).message).toBe('record JSON is nested deeper than the 32 levels allowed');
    const ok = '{"a":' + '['.repeat(31) + ']'.repeat(31) + '}';
    expect(decodeData(b64(ok), LIMITS).ok).toBe(true);
  });

  it('counts depth correctly across siblings', () => {
    const text = JSON.stringify({ a: { b: {} }, c: { d: {} }, e: [[], [], []] });
    expect(decodeData(b64(text), { maxBytes: 1000, maxDepth: 3 }).ok).toBe(true);
    expect(decodeData(b64(text), { maxBytes: 1000, maxDepth: 2 }).ok).toBe(false);
  });

  it('a very deep document does not blow the stack', () => {
    const depth = 100_000;
    const text = '{"a":' + '['.repeat(depth) + ']'.repeat(depth) + '}';
    expect(failure(decodeData(b64(text), LIMITS)).message).toMatch(/nested deeper/);
  });

  it.each([
    ['{"a":9007199254740992}', /integer 9007199254740992 is beyond Number.MAX_SAFE_INTEGER/],
    ['{"a":-12345678901234567890}', /integer -12345678901234567890 is beyond/],
    ['{"a":[1,2,{"b":1e400}]}', /number 1e400 is out of the double range \(it would parse to Infinity\)/],
    ['{"a":-1E+309}', /number -1E\+309 is out of the double range \(it would parse to -Infinity\)/],
    ['{"a":0.1234567890123456789012345678901}', /has 32 digits, more than the 30 allowed/],
    ['{"a":1234567890123456.123456789012345e-5}', /has 31 digits/],
  ])('huge numbers: %s', (text, message) => {
    const f = failure(decodeData(b64(text), LIMITS));
    expect(f.class).toBe('decode');
    expect(f.message).toMatch(/^record JSON has a number that cannot be represented exactly: /);
    expect(f.message).toMatch(message);
  });

  it('honours maxNumberDigits below 15', () => {
    expect(failure(decodeData(b64('{"a":123456}'), { maxBytes: 100, maxNumberDigits: 5 })).message).toMatch(/has 6 digits, more than the 5 allowed/);
    expect(decodeData(b64('{"a":12345,"b":-1.2345}'), { maxBytes: 100, maxNumberDigits: 5 }).ok).toBe(true);
  });

  it('shortens very long literals in the message', () => {
    const f = failure(decodeData(b64(`{"a":${'9'.repeat(500)}}`), LIMITS));
    expect(f.message).toMatch(/number 99999999999999999999\.\.\.9999999999 \(500 chars\) has 500 digits/);
  });

  it.each([
    [{ maxBytes: 0 }, /maxBytes must be an integer >= 1; got number 0/],
    [{ maxBytes: 1.5 }, /maxBytes must be an integer >= 1/],
    [{ maxBytes: 10, maxDepth: 0 }, /maxDepth must be an integer >= 1; got number 0/],
    [{ maxBytes: 10, maxNumberDigits: -1 }, /maxNumberDigits must be an integer >= 1/],
  ])('rejects invalid limits %j', (limits, message) => {
    expect(() => decodeData('e30=', limits)).toThrow(message);
  });

  it('classifies random bytes without throwing (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        const r = decodeData(Buffer.from(bytes).toString('base64'), { maxBytes: 48 });
        if (r.ok) {
          expect(r.value).toEqual(JSON.parse(Buffer.from(bytes).toString('utf8').replace(/^\uFEFF/, '')));
        } else {
          expect(['decode', 'oversize']).toContain(r.reason.class);
          expect(r.reason.class === 'oversize').toBe(bytes.length > 48);
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe('strict base64', () => {
  const alphabetish = fc.constantFrom(...'ABQawz09+/=-_ \n.é\u0000'.split(''));

  it('agrees with a reference strict decoder on arbitrary text (property)', () => {
    fc.assert(
      fc.property(fc.array(alphabetish, { maxLength: 24 }).map((a) => a.join('')), (s) => {
        const decoded = decodeBase64Strict(s);
        expect(typeof decoded !== 'string').toBe(strictReference(s));
        expect(base64Problem(s) === undefined).toBe(strictReference(s));
      }),
      { numRuns: 500 },
    );
  });

  it('agrees with the reference on valid base64 with one character replaced (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), fc.nat(), alphabetish, (bytes, pos, c) => {
        const valid = Buffer.from(bytes).toString('base64');
        const at = valid.length === 0 ? 0 : pos % valid.length;
        const s = valid.slice(0, at) + c + valid.slice(at + 1);
        expect(typeof decodeBase64Strict(s) !== 'string').toBe(strictReference(s));
      }),
      { numRuns: 500 },
    );
  });

  it('roundtrips any bytes (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), (bytes) => {
        expect(decodeBase64Strict(Buffer.from(bytes).toString('base64'))).toEqual(Buffer.from(bytes));
      }),
      { numRuns: 300 },
    );
  });
});
