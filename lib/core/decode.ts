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

/** Decoded size of a valid padded base64 string, without decoding it. */
function base64DecodedLength(s: string): number {
  const pad = s.endsWith('==') ? 2 : s.endsWith('=') ? 1 : 0;
  return (s.length / 4) * 3 - pad;
}

/**
 * Strictly decodes standard padded base64. Returns the bytes, or an error message.
 */
export function decodeBase64Strict(s: string): Buffer | string {
  const problem = base64Problem(s);
  return problem === undefined ? Buffer.from(s, 'base64') : problem;
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

// Cached per digit threshold: /\d{K,}|[eE][+-]?\d{3,}/ (see numberHint).
const hintCache = new Map<number, RegExp>();

/**
 * A cheap regex that matches whenever the text MAY hold a number literal this module rejects; when it does not match,
 * no number check is needed. Reasons:
 * - an integer literal beyond Number.MAX_SAFE_INTEGER has >= 16 consecutive digits;
 * - a significand of more than maxNumberDigits digits has a run (integer or fraction part) of at least
 *   ceil((maxNumberDigits + 1) / 2) digits;
 * - a literal with at most 30 significand digits only overflows to Infinity with an exponent of 3+ digits.
 * Matches inside strings are false positives: they only send the record through the exact scan.
 */
function numberHint(maxNumberDigits: number): RegExp {
  const k = Math.min(16, Math.ceil((maxNumberDigits + 1) / 2));
  let re = hintCache.get(k);
  if (re === undefined) {
    re = new RegExp(`\\d{${k},}|[eE][+-]?\\d{3,}`);
    hintCache.set(k, re);
  }
  return re;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const MINUS = 0x2d;
const ZERO = 0x30;
const NINE = 0x39;
const DOT = 0x2e;

function isNumberChar(c: number): boolean {
  // digits, '.', 'e', 'E', '+', '-'
  return (c >= ZERO && c <= NINE) || c === DOT || c === 0x65 || c === 0x45 || c === 0x2b || c === MINUS;
}

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
 * Exact scan of JSON text that JSON.parse accepted: checks every number literal outside strings.
 * Returns an error message or undefined.
 */
function scanNumbers(text: string, maxNumberDigits: number): string | undefined {
  const n = text.length;
  let i = 0;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      // Skip the string: find the closing quote not escaped by an odd run of backslashes.
      let j = text.indexOf('"', i + 1);
      for (;;) {
        let k = j - 1;
        while (text.charCodeAt(k) === BACKSLASH) {
          k--;
        }
        if ((j - 1 - k) % 2 === 0) {
          break;
        }
        j = text.indexOf('"', j + 1);
      }
      i = j + 1;
    } else if (c === MINUS || (c >= ZERO && c <= NINE)) {
      let j = i + 1;
      while (j < n && isNumberChar(text.charCodeAt(j))) {
        j++;
      }
      const problem = numberProblem(text.slice(i, j), maxNumberDigits);
      if (problem !== undefined) {
        return problem;
      }
      i = j;
    } else {
      i++;
    }
  }
  return undefined;
}

/** True when the text holds more than `max` '{' or '[' characters (counting stops at max + 1; each char read at most twice). */
function moreOpenersThan(text: string, max: number): boolean {
  let count = 0;
  let a = text.indexOf('{');
  let b = text.indexOf('[');
  while (a >= 0 || b >= 0) {
    if (++count > max) {
      return true;
    }
    if (b < 0 || (a >= 0 && a < b)) {
      a = text.indexOf('{', a + 1);
    } else {
      b = text.indexOf('[', b + 1);
    }
  }
  return false;
}

/** Nesting depth of a parsed JSON value exceeds `max` (walk stops as soon as it does). */
function deeperThan(value: unknown, max: number): boolean {
  if (typeof value !== 'object' || value === null) {
    return false;
  }
  if (max === 0) {
    return true;
  }
  if (Array.isArray(value)) {
    for (const v of value) {
      if (deeperThan(v, max - 1)) {
        return true;
      }
    }
    return false;
  }
  for (const k in value) {
    if (deeperThan((value as Record<string, unknown>)[k], max - 1)) {
      return true;
    }
  }
  return false;
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
 * Hot path: one regex test for base64, native base64/UTF-8/JSON decoding, and the depth/number checks only when a
 * cheap pre-check (bracket count, long digit runs) says they could fail. A UTF-8 byte order mark is ignored.
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
  const problem = base64Problem(base64Data);
  if (problem !== undefined) {
    return bad('decode', `record data is not valid base64: ${problem}`, 0);
  }
  const size = base64DecodedLength(base64Data);
  if (size > limits.maxBytes) {
    return bad('oversize', `record is ${size} bytes, more than the ${limits.maxBytes} bytes allowed`, size);
  }
  const bytes = Buffer.from(base64Data, 'base64');
  let text: string;
  try {
    text = UTF8.decode(bytes);
  } catch {
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
  if (moreOpenersThan(text, maxDepth) && deeperThan(value, maxDepth)) {
    return bad('decode', `record JSON is nested deeper than the ${maxDepth} levels allowed`, size);
  }
  if (numberHint(maxNumberDigits).test(text)) {
    const numberIssue = scanNumbers(text, maxNumberDigits);
    if (numberIssue !== undefined) {
      return bad('decode', `record JSON has a number that cannot be represented exactly: ${numberIssue}`, size);
    }
  }
  return { ok: true, value: value as Record<string, unknown>, bytes: size };
}
