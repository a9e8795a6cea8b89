import * as nodeBuffer from 'node:buffer';
import { InvalidArgumentError } from './errors';
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

/** Whether `bytes` start with a UTF-8 byte order mark (EF BB BF). */
export function hasUtf8Bom(bytes: Uint8Array): boolean {
  return bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf;
}

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
  return bytes.toString('utf8', hasUtf8Bom(bytes) ? 3 : 0);
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
    throw new InvalidArgumentError(`decodeData: ${name} must be an integer >= ${min}; got ${describeValue(value)}`);
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

const COLON = 0x3a;
const SPACE = 0x20;
// Escapes JSON.stringify writes for the character they stand for: \" \\ \b \f \n \r \t (never \/ nor \u for these).
const STRINGIFY_ESCAPE = new Uint8Array(128);
for (const ch of '"\\bfnrt') STRINGIFY_ESCAPE[ch.charCodeAt(0)] = 1;

/** Members of one object compared pairwise for duplicates; a larger object is not proven verbatim (cost bound). */
const MAX_VERBATIM_MEMBERS = 64;
// Scratch of the verbatim check, reused by every call (the scan is synchronous): key spans and, per depth, where the
// keys of the enclosing object start.
let keyStart = new Int32Array(256);
let keyLen = new Int32Array(256);
let objectBase = new Int32Array(64);
// Per depth, a bit per key length (mod 32) seen in the enclosing object.
let objectLengths = new Int32Array(64);

const LOWER_U = 0x75;
const LOWER_A = 0x61;
const LOWER_F = 0x66;

/**
 * True for the \u escape at `k` when JSON.stringify writes it: `\u00` + 2 lowercase hex digits of a control character
 * without a short escape (not \b \t \n \f \r). Other \u escapes (letters, surrogates, uppercase hex) are not.
 */
function isStringifyUnicodeEscape(text: string, k: number): boolean {
  if (text.charCodeAt(k + 2) !== ZERO || text.charCodeAt(k + 3) !== ZERO) return false;
  const hi = text.charCodeAt(k + 4);
  const lo = text.charCodeAt(k + 5);
  if (hi !== ZERO && hi !== ZERO + 1) return false;
  const low = lo >= ZERO && lo <= NINE ? lo - ZERO : lo >= LOWER_A && lo <= LOWER_F ? lo - LOWER_A + 10 : -1;
  if (low < 0) return false;
  const code = (hi - ZERO) * 16 + low;
  return code !== 0x08 && code !== 0x09 && code !== 0x0a && code !== 0x0c && code !== 0x0d;
}

/** True when the key spans [a, a + len) and [b, b + len) hold the same characters. */
function sameKey(text: string, a: number, b: number, len: number): boolean {
  for (let k = 0; k < len; k++) {
    if (text.charCodeAt(a + k) !== text.charCodeAt(b + k)) {
      return false;
    }
  }
  return true;
}

/**
 * Checks the escapes of one string for the verbatim proof: from the backslash at `backslash` to the string's closing
 * quote at `end`, each backslash starts an escape (JSON.parse accepted the text). Returns the next backslash at or
 * after `end` (text.length when none), or -1 when an escape is not one JSON.stringify writes.
 */
function verbatimEscapes(text: string, backslash: number, end: number): number {
  let k = backslash;
  while (k < end) {
    const e = text.charCodeAt(k + 1);
    if ((e >= 128 || STRINGIFY_ESCAPE[e] === 0) && (e !== LOWER_U || !isStringifyUnicodeEscape(text, k))) return -1;
    k = text.indexOf('\\', k + 2);
    if (k < 0) k = text.length;
  }
  return k;
}

/** True for a key of digits only (V8 orders integer keys first, so JSON.stringify would not keep its place). */
function isDigitKey(text: string, start: number, end: number): boolean {
  for (let k = start; k < end; k++) {
    const d = text.charCodeAt(k);
    if (d < ZERO || d > NINE) return false;
  }
  return end > start;
}

/**
 * Records the key [start, end) of the object at `depth` for the verbatim proof: it must not be digits only nor a key
 * already met in the same object, and the object must have at most MAX_VERBATIM_MEMBERS members. Returns the new
 * number of keys held, or -1 when the text is not verbatim.
 */
function addVerbatimKey(text: string, start: number, end: number, depth: number, keys: number): number {
  const len = end - start;
  const base = objectBase[depth];
  if (keys - base >= MAX_VERBATIM_MEMBERS || isDigitKey(text, start, end)) return -1;
  // Keys of other lengths cannot be equal: compare only when a key of this length (mod 32) was seen.
  /* eslint-disable no-bitwise -- a 32-bit set of key lengths */
  const bit = 1 << (len & 31);
  const seen = (objectLengths[depth] & bit) !== 0;
  objectLengths[depth] |= bit;
  /* eslint-enable no-bitwise */
  if (seen) {
    for (let k = base; k < keys; k++) {
      if (keyLen[k] === len && sameKey(text, keyStart[k], start, len)) return -1;
    }
  }
  if (keys === keyStart.length) {
    const grownStart = new Int32Array(keys * 2);
    const grownLen = new Int32Array(keys * 2);
    grownStart.set(keyStart);
    grownLen.set(keyLen);
    keyStart = grownStart;
    keyLen = grownLen;
  }
  keyStart[keys] = start;
  keyLen[keys] = len;
  return keys + 1;
}

/**
 * True when the number literal [i, j) without exponent (`dot` = index of its '.', -1 when none) is in Number#toString
 * form: at most 15 digits (then they are the shortest round trip), no -0, no trailing fraction zero, no fraction
 * starting with 6 zeros (written as an exponent).
 */
function isNumberToStringForm(text: string, i: number, j: number, dot: number): boolean {
  const intStart = text.charCodeAt(i) === MINUS ? i + 1 : i;
  if (j - intStart > (dot < 0 ? 15 : 16)) return false;
  if (dot < 0) return !(intStart > i && j - intStart === 1 && text.charCodeAt(intStart) === ZERO); // -0 -> 0
  if (text.charCodeAt(j - 1) === ZERO) return false; // 1.50 -> 1.5, 1.0 -> 1
  return !(text.charCodeAt(intStart) === ZERO && j - dot > 6 && text.startsWith('000000', dot + 1)); // 0.0000001 -> 1e-7
}

/** Set by {@link scanText} when asked: the text is exactly what JSON.stringify writes for its parsed value. */
let scanVerbatim = false;

/**
 * One pass over JSON text that JSON.parse accepted (so it is well formed): skips strings with indexOf, tracks the
 * nesting depth and checks number literals. Only literals with an exponent or longer than min(15, maxNumberDigits)
 * characters can break a rule (a literal of at most 15 characters is a safe integer or a finite double of at most 15
 * digits), so only those are examined closely. Cheaper than a regex pre-check (V8 cannot skip ahead on a digit class)
 * and than walking the parsed value, which cannot see how many digits a literal had.
 *
 * With `verbatim`, the same pass also proves (conservatively) that JSON.stringify(JSON.parse(text)) === text, leaving
 * the answer in `scanVerbatim`: no whitespace outside strings; only the escapes JSON.stringify writes (\" \\ \b \f
 * \n \r \t, \u00xx of other control characters; no \/, no other \u); number literals in Number#toString form (no exponent, at most 15 digits, no trailing
 * fraction zero, no -0, no fraction starting with 6 zeros); no key made of digits only (V8 orders integer keys
 * first); no key twice in one object (JSON.parse keeps the last value at the first position); at most
 * MAX_VERBATIM_MEMBERS members per object. Anything else is reported as not verbatim, never as an error.
 * Returns an error message or undefined.
 */
function scanText(text: string, maxDepth: number, maxNumberDigits: number, verbatim: boolean): string | undefined {
  const n = text.length;
  const closeLook = Math.min(15, maxNumberDigits);
  let depth = 0;
  let i = 0;
  // Next backslash at or after the current string (n: none): strings without one need no escape check.
  let backslash = verbatim ? text.indexOf('\\') : -1;
  if (backslash < 0) backslash = n;
  let keys = 0;
  if (verbatim && objectBase.length < maxDepth + 2) {
    objectBase = new Int32Array(maxDepth + 2);
    objectLengths = new Int32Array(maxDepth + 2);
  }
  scanVerbatim = false;
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
      if (verbatim) {
        if (backslash < j) {
          backslash = verbatimEscapes(text, backslash, j);
          verbatim = backslash >= 0;
        }
        if (verbatim && text.charCodeAt(j + 1) === COLON) {
          keys = addVerbatimKey(text, i + 1, j, depth, keys);
          verbatim = keys >= 0;
        }
      }
      i = j + 1;
    } else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      if (++depth > maxDepth) {
        return `record JSON is nested deeper than the ${maxDepth} levels allowed`;
      }
      if (verbatim && c === OPEN_BRACE) {
        objectBase[depth] = keys;
        objectLengths[depth] = 0;
      }
      i++;
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
      if (verbatim && c === CLOSE_BRACE) keys = objectBase[depth];
      depth--;
      i++;
    } else if (c === MINUS || (c >= ZERO && c <= NINE)) {
      let j = i + 1;
      let exponent = false;
      let dot = -1;
      for (; j < n; j++) {
        const d = text.charCodeAt(j);
        if ((d >= ZERO && d <= NINE) || d === PLUS || d === MINUS) {
          continue;
        }
        if (d === DOT) {
          dot = j;
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
      if (verbatim) verbatim = !exponent && isNumberToStringForm(text, i, j, dot);
      i = j;
    } else {
      if (c <= SPACE) verbatim = false; // whitespace outside strings
      i++;
    }
  }
  scanVerbatim = verbatim;
  return undefined;
}

function kindOf(v: unknown): string {
  if (v === null) {
    return 'null';
  }
  return Array.isArray(v) ? 'an array' : `a ${typeof v}`;
}

/**
 * Where {@link decodeData} leaves the record text when it is exactly JSON.stringify of the decoded value (so a caller
 * that serializes the value can take the text instead). Both fields are set together, else both are undefined.
 */
export interface VerbatimSlot {
  /** The record's JSON text, === JSON.stringify(value). */
  json?: string;
  /** Its UTF-8 bytes (the decoded record without a byte order mark): hash these rather than re-encoding `json`. */
  utf8?: Buffer;
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
 *
 * `verbatim`, when given, receives the text when the same scan proves it is exactly JSON.stringify of the value
 * (compact JSON as JSON.stringify writes it, the common case for JavaScript producers); otherwise its fields are
 * undefined. Conservative: some texts that would round-trip are reported as not verbatim, never the reverse.
 */
export function decodeData(base64Data: string, limits: DecodeLimits, verbatim?: VerbatimSlot): DecodeResult {
  if (verbatim !== undefined) {
    verbatim.json = undefined;
    verbatim.utf8 = undefined;
  }
  if (!Number.isInteger(limits.maxBytes) || limits.maxBytes < 1) {
    throw new InvalidArgumentError(`decodeData: maxBytes must be an integer >= 1; got ${describeValue(limits.maxBytes)}`);
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
  const issue = scanText(text, maxDepth, maxNumberDigits, verbatim !== undefined);
  if (issue !== undefined) {
    return bad('decode', issue, size);
  }
  if (verbatim !== undefined && scanVerbatim) {
    verbatim.json = text;
    verbatim.utf8 = hasUtf8Bom(bytes) ? bytes.subarray(3) : bytes;
  }
  return { ok: true, value: value as Record<string, unknown>, bytes: size };
}
