import * as crypto from 'node:crypto';
import { PermanentError } from './failure';

/*
 * Canonical JSON after RFC 8785 (JSON Canonicalization Scheme): object keys sorted by UTF-16 code units at every
 * depth, no whitespace, numbers and strings serialized as ECMAScript JSON.stringify does (which is what RFC 8785
 * specifies). Hand-written rather than taken from a package: the canonicalize/json-canonicalize packages silently
 * turn non-finite numbers into null and recurse without cycle detection, and ids depend on this function byte for
 * byte, so it must reject what it cannot represent rather than guess.
 *
 * Differences from JSON.stringify, all deliberate:
 *  - NaN/Infinity, BigInt, functions, symbols, Map/Set and cycles throw PermanentError('decode') instead of being
 *    turned into null/{} or dropped;
 *  - object properties whose value is undefined are dropped (like JSON.stringify); undefined in an array is an error
 *    (JSON.stringify would write null, which would make two different inputs hash alike).
 */

/** Walk state: ancestors (cycle detection) and the current path, kept as a stack so that no string is built per node. */
interface Walk {
  readonly ancestors: Set<object>;
  readonly path: Array<string | number>;
}

function fail(walk: Walk, what: string): never {
  const path = walk.path.map((s) => (typeof s === 'number' ? `[${s}]` : `.${s}`)).join('');
  throw new PermanentError('decode', `cannot canonicalize ${what} at $${path}: only JSON values are allowed`);
}

function write(value: unknown, walk: Walk): string {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'number':
      if (!Number.isFinite(value)) {
        fail(walk, `non-finite number ${String(value)}`);
      }
      return JSON.stringify(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'bigint':
      return fail(walk, `BigInt ${String(value)}n`);
    case 'undefined':
      return fail(walk, 'undefined');
    case 'function':
    case 'symbol':
      return fail(walk, `a ${typeof value}`);
    default:
      break;
  }
  if (value === null) {
    return 'null';
  }
  const obj = value as object;
  const ancestors = walk.ancestors;
  if (ancestors.has(obj)) {
    fail(walk, 'a circular reference');
  }
  if (typeof (obj as { toJSON?: unknown }).toJSON === 'function') {
    // Date, Buffer and user classes define their JSON form; use it as JSON.stringify would.
    const replaced = (obj as { toJSON: (key: string) => unknown }).toJSON('');
    ancestors.add(obj);
    try {
      return write(replaced, walk);
    } finally {
      ancestors.delete(obj);
    }
  }
  if (obj instanceof Map || obj instanceof Set || obj instanceof WeakMap || obj instanceof WeakSet) {
    fail(walk, `a ${obj.constructor.name} (JSON would silently write {})`);
  }
  ancestors.add(obj);
  try {
    if (Array.isArray(obj)) {
      let out = '[';
      for (let i = 0; i < obj.length; i++) {
        if (i > 0) {
          out += ',';
        }
        walk.path.push(i);
        out += write(obj[i], walk);
        walk.path.pop();
      }
      return out + ']';
    }
    // Array.prototype.sort without a comparator orders strings by UTF-16 code units, as RFC 8785 requires.
    const keys = Object.keys(obj).sort();
    let out = '{';
    let first = true;
    for (const key of keys) {
      const v = (obj as Record<string, unknown>)[key];
      if (v === undefined) {
        continue;
      }
      if (!first) {
        out += ',';
      }
      first = false;
      walk.path.push(key);
      out += JSON.stringify(key) + ':' + write(v, walk);
      walk.path.pop();
    }
    return out + '}';
  } finally {
    ancestors.delete(obj);
  }
}

// Nesting deeper than this is left to the checked walk: a cycle (which the fast walk does not track) or a value far
// deeper than any record passes (decodeData allows 32 levels by default).
const FAST_MAX_DEPTH = 128;

/**
 * The hot path of {@link canonicalJson}: plain objects, arrays and JSON primitives only, no cycle set, no path stack.
 * Returns undefined as soon as it meets anything else (a non-finite number, toJSON, a class instance, undefined in an
 * array, nesting beyond FAST_MAX_DEPTH...): the checked walk then produces the text or the error with its path.
 */
function fastWrite(value: unknown, depth: number): string | undefined {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'number':
      return Number.isFinite(value) ? JSON.stringify(value) : undefined;
    case 'boolean':
      return value ? 'true' : 'false';
    case 'object':
      break;
    default:
      return undefined;
  }
  if (value === null) {
    return 'null';
  }
  if (depth >= FAST_MAX_DEPTH) {
    return undefined;
  }
  if (Array.isArray(value)) {
    let out = '[';
    for (let i = 0; i < value.length; i++) {
      const item = value[i];
      if (item === undefined) {
        return undefined;
      }
      const s = fastWrite(item, depth + 1);
      if (s === undefined) {
        return undefined;
      }
      out += i > 0 ? ',' + s : s;
    }
    return out + ']';
  }
  const obj = value as Record<string, unknown>;
  if (Object.getPrototypeOf(obj) !== Object.prototype || typeof obj.toJSON === 'function') {
    return undefined;
  }
  const keys = Object.keys(obj).sort();
  let out = '{';
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i];
    const v = obj[key];
    if (v === undefined) {
      continue;
    }
    const s = fastWrite(v, depth + 1);
    if (s === undefined) {
      return undefined;
    }
    out += (out.length > 1 ? ',' : '') + JSON.stringify(key) + ':' + s;
  }
  return out + '}';
}

/**
 * Canonical JSON text of a JSON value (RFC 8785 style): sorted keys at every depth, no whitespace, JSON number
 * formatting. Throws PermanentError('decode') for values JSON cannot represent exactly (non-finite numbers, BigInt,
 * functions, symbols, Map/Set, undefined array items, cycles).
 */
export function canonicalJson(value: unknown): string {
  return fastWrite(value, 0) ?? write(value, { ancestors: new Set(), path: [] });
}

/**
 * Throws PermanentError('decode'), naming the path, when JSON.stringify(value) would not represent `value` exactly
 * (the values {@link canonicalJson} rejects); returns nothing otherwise. For values that do not come from JSON.parse,
 * such as a transform's output, before they are serialized with JSON.stringify.
 */
export function assertJsonValue(value: unknown): void {
  canonicalJson(value);
}

// crypto.hash (one-shot, Node >= 20.12 / 21.7) skips the Hash object createHash allocates; same digest.
const oneShot = (crypto as { hash?: (algorithm: string, data: string | Uint8Array, encoding: 'hex') => string }).hash;

/** SHA-256 (lowercase hex) of the UTF-8 bytes of `text`. */
export function sha256Hex(text: string): string {
  return oneShot !== undefined ? oneShot('sha256', text, 'hex') : crypto.createHash('sha256').update(text, 'utf8').digest('hex');
}

/** SHA-256 (lowercase hex) of the UTF-8 canonical JSON of `value`: equal for equal JSON values whatever their key order. */
export function contentHash(value: unknown): string {
  return sha256Hex(canonicalJson(value));
}

/**
 * The sinks' content hash of a payload (docs/ARCHITECTURE.md, "Idempotent sinks"): SHA-256 (lowercase hex) of the
 * payload's JSON text exactly as written into the stored envelope. Deterministic for a given text, so a replay of the
 * same record (same bytes, hence the same parsed key order) hashes the same; it is not key-order independent.
 */
export function payloadTextHash(payloadJson: string): string {
  return sha256Hex(payloadJson);
}

/**
 * {@link payloadTextHash} of the text whose UTF-8 bytes are `utf8`, hashed as they are (no re-encoding of the string):
 * payloadBytesHash(Buffer.from(t, 'utf8')) === payloadTextHash(t).
 */
export function payloadBytesHash(utf8: Uint8Array): string {
  return oneShot !== undefined ? oneShot('sha256', utf8, 'hex') : crypto.createHash('sha256').update(utf8).digest('hex');
}
