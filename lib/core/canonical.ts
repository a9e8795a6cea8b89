import { createHash } from 'node:crypto';
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

/**
 * Canonical JSON text of a JSON value (RFC 8785 style): sorted keys at every depth, no whitespace, JSON number
 * formatting. Throws PermanentError('decode') for values JSON cannot represent exactly (non-finite numbers, BigInt,
 * functions, symbols, Map/Set, undefined array items, cycles).
 */
export function canonicalJson(value: unknown): string {
  return write(value, { ancestors: new Set(), path: [] });
}

/** SHA-256 (lowercase hex) of the UTF-8 canonical JSON of `value`: equal for equal JSON values whatever their key order. */
export function contentHash(value: unknown): string {
  return createHash('sha256').update(canonicalJson(value), 'utf8').digest('hex');
}
