import * as nodeBuffer from 'node:buffer';
import { FailureReason, boundMessage, describeValue } from './failure';

/** Limits applied while decoding a record. */
export interface DecodeLimits {
  /** Largest decoded payload in bytes (PHX_MAX_RECORD_BYTES); larger records are `oversize`. */
  readonly maxBytes: number;
  /** Deepest nesting of objects/arrays; the top-level object is depth 1. Default 32. */
  readonly maxDepth?: number;
  /** Most digits in a number literal's significand (integer and fraction digits, exponent excluded). Default 30. */
  readonly maxNumberDigits?: number;
}

/** Result of {@link decodeData}: the JSON object, or the reason the record is bad. `bytes` = decoded size (0 if not base64). */
export type DecodeResult =
  | { ok: true; value: Record<string, unknown>; bytes: number }
  | { ok: false; reason: FailureReason; bytes: number };

export const DEFAULT_MAX_DEPTH = 32;
export const DEFAULT_MAX_NUMBER_DIGITS = 30;

/** Standard base64 alphabet (RFC 4648 section 4) with 0-2 padding characters; length is checked separately. */
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const BASE64_DIGITS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

// One fatal decoder for the process: decode() without { stream } starts afresh on every call.
const UTF8 = new TextDecoder('utf-8', { fatal: true });
// buffer.isUtf8 (Node >= 18.14) validates natively; then toString decodes without TextDecoder's per-call overhead.
const isUtf8 = (nodeBuffer as { isUtf8?: (input: Uint8Array) => boolean }).isUtf8;

/** Strict UTF-8 decoding of `bytes` (a leading byte order mark dropped, as TextDecoder does); undefined if invalid. */
function utf8Text(bytes: Buffer): string | undefined {
  if (isUtf8 === undefined) {
    try {
      return UTF8.decode(bytes);
    } catch {
      return undefined;
    }
  }
  if (!isUtf8(bytes)) {
    return undefined;
  }
  const bom = bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf;
  return bytes.toString('utf8', bom ? 3 : 0);
}

function bad(cls: 'decode' | 'oversize', message: string, bytes: number): DecodeResult {
  return { ok: false, reason: { class: cls, message: boundMessage(message) }, bytes };
}

/**
 * Strict base64 check (Buffer.from(s, 'base64') is lenient: it skips unknown characters, accepts base64url and
 * missing padding). Returns an error message, or undefined when `s` is canonical padded standard base64.
 */
export function base64Problem(s: string): string | undefined {
  if (s.length % 4 !== 0) {
    return `length ${s.length} is not a multiple of 4 (padded standard base64 expected)`;
  }
  if (!BASE64.test(s)) {
    const i = s.search(/[^A-Za-z0-9+/=]/);
    if (i >= 0) {
      return `character ${JSON.stringify(s[i])} at offset ${i} is outside the base64 alphabet`;
    }
    return `padding '=' at offset ${s.indexOf('=')} is not at the end`;
  }
  // Canonical encoding: the bits that padding leaves unused must be zero (RFC 4648 section 3.5).
  if (s.endsWith('==')) {
    if (BASE64_DIGITS.indexOf(s[s.length - 3]) % 16 !== 0) {
      return 'non-zero bits before the padding (not canonical base64)';
    }
  } else if (s.endsWith('=')) {
    if (BASE64_DIGITS.indexOf(s[s.length - 2]) % 4 !== 0) {
      return 'non-zero bits before the padding (not canonical base64)';
    }
  }
  return undefined;
}

function describeBase64Problem(s: string): string {
  // The fast check and base64Problem agree (a property test holds them together); the fallback is defensive.
  return base64Problem(s) ?? 'not strict base64';
}

/** Decoded size of padded base64 text of this length and padding, without decoding it. */
function base64DecodedLength(s: string): number {
  const pad = s.endsWith('==') ? 2 : s.endsWith('=') ? 1 : 0;
  return (s.length / 4) * 3 - pad;
}

/**
 * Decodes base64 that is already known to be of a valid length, strictly, at native speed: Buffer.from skips characters
 * outside the alphabet and stops at a misplaced '=', so a decoded length other than the one the text length implies
 * reveals them; base64url characters ('-', '_'), which Buffer.from accepts, are looked for separately; the unused bits
 * before the padding must be zero. (A regex over the whole text costs as much as decoding it; this check is ~free.)
 * Returns undefined when the text is not strict base64 (call {@link base64Problem} for the message).
 */
function decodeBase64Fast(s: string): Buffer | undefined {
  const bytes = Buffer.from(s, 'base64');
  if (bytes.length !== base64DecodedLength(s) || s.includes('-') || s.includes('_')) {
    return undefined;
  }
  if (s.endsWith('==')) {
    return BASE64_DIGITS.indexOf(s[s.length - 3]) % 16 === 0 ? bytes : undefined;
  }
  if (s.endsWith('=')) {
    return BASE64_DIGITS.indexOf(s[s.length - 2]) % 4 === 0 ? bytes : undefined;
  }
  return bytes;
}

/**
 * Strictly decodes standard padded base64 (RFC 4648 section 4, canonical). Returns the bytes, or an error message.
 */
export function decodeBase64Strict(s: string): Buffer | string {
  if (s.length % 4 !== 0) {
    return describeBase64Problem(s);
  }
  return decodeBase64Fast(s) ?? describeBase64Problem(s);
}

function checkLimit(name: string, value: number | undefined, dflt: number, min: number): number {
  if (value === undefined) {
    return dflt;
  }
  if (!Number.isInteger(value) || value < min) {
    throw new RangeError(`decodeData: ${name} must be an integer >= ${min}; got ${describeValue(value)}`);
  }
  return value;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const MINUS = 0x2d;
const ZERO = 0x30;
const NINE = 0x39;
const DOT = 0x2e;
const PLUS = 0x2b;
const LOWER_E = 0x65;
const UPPER_E = 0x45;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;

function show(literal: string): string {
  return literal.length > 40 ? `${literal.slice(0, 20)}...${literal.slice(-10)} (${literal.length} chars)` : literal;
}

/** Checks one number literal (valid JSON number syntax). Returns an error message or undefined. */
function numberProblem(literal: string, maxNumberDigits: number): string | undefined {
  const body = literal.charCodeAt(0) === MINUS ? literal.slice(1) : literal;
  let expAt = body.search(/[eE]/);
  if (expAt < 0) {
    expAt = body.length;
  }
  const dotAt = body.indexOf('.');
  const significand = body.slice(0, expAt);
  const digits = dotAt >= 0 && dotAt < expAt ? significand.length - 1 : significand.length;
  if (digits > maxNumberDigits) {
    return `number ${show(literal)} has ${digits} digits, more than the ${maxNumberDigits} allowed`;
  }
  const n = Number(literal);
  if (!Number.isFinite(n)) {
    return `number ${show(literal)} is out of the double range (it would parse to ${n})`;
  }
  if (dotAt < 0 && expAt === body.length && !Number.isSafeInteger(n)) {
    return `integer ${show(literal)} is beyond Number.MAX_SAFE_INTEGER (9007199254740991) and would lose precision; send it as a string`;
  }
  return undefined;
}

/**
 * One pass over JSON text that JSON.parse accepted (so it is well formed): skips strings with indexOf, tracks the
 * nesting depth and checks number literals. Only literals with an exponent or longer than min(15, maxNumberDigits)
 * characters can break a rule (a literal of at most 15 characters is a safe integer or a finite double of at most 15
 * digits), so only those are examined closely. Cheaper than a regex pre-check (V8 cannot skip ahead on a digit class)
 * and than walking the parsed value, which cannot see how many digits a literal had.
 * Returns an error message or undefined.
 */
function scanText(text: string, maxDepth: number, maxNumberDigits: number): string | undefined {
  const n = text.length;
  const closeLook = Math.min(15, maxNumberDigits);
  let depth = 0;
  let i = 0;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      // Skip the string: the closing quote is the first one not escaped by an odd run of backslashes.
      let j = text.indexOf('"', i + 1);
      while (text.charCodeAt(j - 1) === BACKSLASH) {
        let k = j - 2;
        while (text.charCodeAt(k) === BACKSLASH) {
          k--;
        }
        if ((j - 1 - k) % 2 === 0) {
          break;
        }
        j = text.indexOf('"', j + 1);
      }
      i = j + 1;
    } else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      if (++depth > maxDepth) {
        return `record JSON is nested deeper than the ${maxDepth} levels allowed`;
      }
      i++;
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
      depth--;
      i++;
    } else if (c === MINUS || (c >= ZERO && c <= NINE)) {
      let j = i + 1;
      let exponent = false;
      for (; j < n; j++) {
        const d = text.charCodeAt(j);
        if ((d >= ZERO && d <= NINE) || d === DOT || d === PLUS || d === MINUS) {
          continue;
        }
        if (d === LOWER_E || d === UPPER_E) {
          exponent = true;
          continue;
        }
        break;
      }
      if (exponent || j - i > closeLook) {
        const problem = numberProblem(text.slice(i, j), maxNumberDigits);
        if (problem !== undefined) {
          return `record JSON has a number that cannot be represented exactly: ${problem}`;
        }
      }
      i = j;
    } else {
      i++;
    }
  }
  return undefined;
}

function kindOf(v: unknown): string {
  if (v === null) {
    return 'null';
  }
  return Array.isArray(v) ? 'an array' : `a ${typeof v}`;
}

/**
 * Decodes Kinesis record data (base64 of UTF-8 JSON) into an object, classifying every bad-record kind:
 * empty data, invalid base64, oversize (decoded bytes > maxBytes), invalid UTF-8, not JSON, JSON that is not an object,
 * nesting deeper than maxDepth, number literals that are not exactly representable (integers beyond
 * Number.MAX_SAFE_INTEGER, literals overflowing to Infinity, more than maxNumberDigits digits).
 *
 * Hot path: native base64/UTF-8/JSON decoding (strictness checked from the decoded length, not with a regex), then one
 * indexOf-driven scan of the text for depth and numbers. Diagnostics (which character, which literal) are computed
 * only for bad records. A UTF-8 byte order mark is ignored.
 */
export function decodeData(base64Data: string, limits: DecodeLimits): DecodeResult {
  if (!Number.isInteger(limits.maxBytes) || limits.maxBytes < 1) {
    throw new RangeError(`decodeData: maxBytes must be an integer >= 1; got ${describeValue(limits.maxBytes)}`);
  }
  const maxDepth = checkLimit('maxDepth', limits.maxDepth, DEFAULT_MAX_DEPTH, 1);
  const maxNumberDigits = checkLimit('maxNumberDigits', limits.maxNumberDigits, DEFAULT_MAX_NUMBER_DIGITS, 1);

  if (typeof base64Data !== 'string' || base64Data.length === 0) {
    return bad('decode', typeof base64Data === 'string' ? 'record data is empty' : `record data is ${describeValue(base64Data)}, not a base64 string`, 0);
  }
  if (base64Data.length % 4 !== 0) {
    return bad('decode', `record data is not valid base64: ${describeBase64Problem(base64Data)}`, 0);
  }
  // Oversize is decided from the text length, before anything is decoded.
  const size = base64DecodedLength(base64Data);
  if (size > limits.maxBytes) {
    return bad('oversize', `record is ${size} bytes, more than the ${limits.maxBytes} bytes allowed`, size);
  }
  const bytes = decodeBase64Fast(base64Data);
  if (bytes === undefined) {
    return bad('decode', `record data is not valid base64: ${describeBase64Problem(base64Data)}`, 0);
  }
  const text = utf8Text(bytes);
  if (text === undefined) {
    return bad('decode', `record data (${size} bytes) is not valid UTF-8`, size);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    return bad('decode', `record data is not valid JSON: ${(e as Error).message}`, size);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return bad('decode', `record data is JSON but ${kindOf(value)}, not an object`, size);
  }
  const issue = scanText(text, maxDepth, maxNumberDigits);
  if (issue !== undefined) {
    return bad('decode', issue, size);
  }
  return { ok: true, value: value as Record<string, unknown>, bytes: size };
}
