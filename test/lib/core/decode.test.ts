import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DecodeResult, base64Problem, decodeBase64Strict, decodeData, type VerbatimSlot } from '../../../lib/core';

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

describe('decodeData: verbatim text (the record text is JSON.stringify of its value)', () => {
  /** Decodes `text` with a verbatim slot; returns the slot after checking it against JSON.stringify (soundness). */
  function verbatimOf(text: string | Buffer): VerbatimSlot {
    const slot: VerbatimSlot = {};
    const r = decodeData(b64(text), LIMITS, slot);
    if (!r.ok) throw new Error(`expected a valid record: ${r.reason.message}`);
    if (slot.json !== undefined) {
      expect(slot.json).toBe(JSON.stringify(r.value));
      expect(Buffer.compare(slot.utf8!, Buffer.from(slot.json, 'utf8'))).toBe(0);
    } else {
      expect(slot.utf8).toBeUndefined();
    }
    return slot;
  }

  it('hands back compact JSON.stringify output, escapes and non-ASCII included', () => {
    for (const value of [
      { a: 1, b: [true, false, null], c: { d: 'x' } },
      { 'q"uote': 'back\\slash', 'nl': 'a\nb\tc\r\b\f', 'ctl': '\u0000\u001f\u000b', 'u': 'ü€𝄞', 'ls': '\u2028', 'e': '', 'k': {} },
      { n: [0, -1, 12.5, -0.25, 0.000001, 123456789012345, 1.5e-6, 0.1] },
      { 'x1': 1, '1x': 2, '__proto__x': 3 },
    ]) {
      expect(verbatimOf(JSON.stringify(value)).json).toBe(JSON.stringify(value));
    }
  });

  it('strips a byte order mark from the bytes it hands back', () => {
    const slot = verbatimOf(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"a":"ü"}')]));
    expect(slot.json).toBe('{"a":"ü"}');
  });

  it.each([
    [' {"a":1}', 'leading whitespace'],
    ['{"a": 1}', 'whitespace between members'],
    ['{"a":"\\u0041"}', 'a \\u escape JSON.stringify would not write'],
    ['{"a":"\\u001F"}', 'an uppercase \\u escape'],
    ['{"a":"\\u000a"}', 'a \\u escape of a character with a short escape'],
    ['{"a":"\\ud83d\\ude00"}', 'an escaped surrogate pair'],
    ['{"a":"\\/"}', 'an escaped slash'],
    ['{"a":1,"a":2}', 'a duplicate key'],
    ['{"o":{"k":1,"j":2,"k":3}}', 'a duplicate key in a nested object'],
    ['{"b":1,"1":2}', 'an integer key (V8 moves it first)'],
    ['{"a":-0}', 'negative zero'],
    ['{"a":1.0}', 'a trailing fraction zero'],
    ['{"a":1.50}', 'a trailing fraction zero'],
    ['{"a":1e5}', 'an exponent'],
    ['{"a":0.0000001}', 'a number JSON.stringify writes with an exponent'],
    ['{"a":1234567890123456}', 'more than 15 digits'],
    ['{"a":0.1234567890123456}', 'more than 15 digits'],
  ])('%j is not verbatim (%s)', (text) => {
    expect(verbatimOf(text).json).toBeUndefined();
  });

  it('keys repeated in different objects are not duplicates', () => {
    const text = '{"a":{"id":1},"b":{"id":2},"c":[{"id":3},{"id":4}],"id":5}';
    expect(verbatimOf(text).json).toBe(text);
  });

  it('is never wrong for JSON.stringify output (property)', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.jsonValue({ maxDepth: 5 })).map(withinLimits), (obj) => {
        verbatimOf(JSON.stringify(obj));
      }),
      { numRuns: 300 },
    );
  });

  it('is always found for JSON.stringify output without the forms it leaves out (property)', () => {
    // Left out: digit-only keys, numbers with an exponent or more than 15 digits, lone surrogates.
    const wellFormed = (x: string): string => x.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '');
    const plain = (v: unknown): unknown => {
      if (typeof v === 'number') return Math.trunc(v % 1e12);
      if (typeof v === 'string') return wellFormed(v);
      if (Array.isArray(v)) return v.map(plain);
      if (typeof v === 'object' && v !== null) {
        return Object.fromEntries(Object.entries(v).map(([k, x]) => [/^\d+$/.test(k) ? `k${k}` : wellFormed(k), plain(x)]));
      }
      return v;
    };
    fc.assert(
      fc.property(fc.dictionary(fc.string({ unit: 'binary' }), fc.jsonValue({ maxDepth: 4 }), { maxKeys: 20 }).map(plain), (obj) => {
        const text = JSON.stringify(obj);
        expect(verbatimOf(text).json).toBe(text);
      }),
      { numRuns: 300 },
    );
  });

  it('is never wrong for reformatted, re-escaped or key-duplicated text (property)', () => {
    const text = fc.dictionary(fc.string(), fc.jsonValue({ maxDepth: 4 })).map(withinLimits).chain((obj) => fc.oneof(
      fc.constant(JSON.stringify(obj)),
      fc.constant(JSON.stringify(obj, null, 1)),
      fc.constant(JSON.stringify(obj).replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)),
      fc.constant(JSON.stringify(obj).replace(/^\{/, '{"dup":1,').replace(/\}$/, ',"dup":2}').replace('{"dup":1,}', '{"dup":1}')),
    ));
    fc.assert(fc.property(text, (t) => {
      const r = decodeData(b64(t), LIMITS);
      fc.pre(r.ok);
      verbatimOf(t);
    }), { numRuns: 400 });
  });
});
