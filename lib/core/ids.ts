// uuid is bundled into the handler assets by esbuild (lib/ is never published as source), hence a devDependency.
import { parse as uuidParse, v5 as uuidv5, validate as uuidValidate } from 'uuid';
import { canonicalJson } from './canonical';
import { PermanentError, describeValue } from './failure';
import { ROOT_ID_NAMESPACE } from '../../constructs/contract';

/**
 * The id namespace of a pipeline: uuidv5(pipeline, ROOT_ID_NAMESPACE). Computed at synth time and passed to the
 * handlers as PHX_ID_NAMESPACE; every record id of the pipeline is a uuid v5 in this namespace.
 */
export function idNamespaceFor(pipeline: string): string {
  if (typeof pipeline !== 'string') {
    throw new TypeError(`idNamespaceFor: pipeline must be a non-empty string; got ${describeValue(pipeline)}`);
  }
  if (pipeline.length === 0) {
    throw new RangeError('idNamespaceFor: pipeline must be a non-empty string; got ""');
  }
  return uuidv5(pipeline, ROOT_ID_NAMESPACE);
}

const NUMERIC_INDEX = /^(?:0|[1-9]\d*)$/;

// Paths already validated (key fields are few and fixed per pipeline; getPath runs for every record).
const validPaths = new Set<string>();
const MAX_CACHED_PATHS = 1024;

/**
 * Checks a natural-key path: dot-separated, non-empty segments (e.g. `user.id`, `items.0.sku`).
 * Throws a TypeError naming the path otherwise (a configuration error, not a record error).
 */
export function validateKeyPath(path: string): void {
  if (validPaths.has(path)) {
    return;
  }
  if (typeof path !== 'string' || path.length === 0) {
    throw new TypeError(`natural key path must be a non-empty string; got ${describeValue(path)}`);
  }
  if (path.split('.').some((s) => s.length === 0)) {
    throw new TypeError(`natural key path ${JSON.stringify(path)} has an empty segment: use dot paths such as "user.id"`);
  }
  if (validPaths.size >= MAX_CACHED_PATHS) {
    validPaths.clear();
  }
  validPaths.add(path);
}

/**
 * Value at a dot path (`user.id`; array items by index, `items.0.sku`). Only own properties are followed, so
 * `__proto__`, `constructor` and the like never resolve to prototype members. Returns undefined when any segment is absent.
 */
export function getPath(obj: unknown, path: string): unknown {
  validateKeyPath(path);
  let cur: unknown = obj;
  let start = 0;
  while (start <= path.length) {
    let end = path.indexOf('.', start);
    if (end < 0) {
      end = path.length;
    }
    const seg = path.slice(start, end);
    if (typeof cur !== 'object' || cur === null) {
      return undefined;
    }
    if (Array.isArray(cur)) {
      if (!NUMERIC_INDEX.test(seg)) {
        return undefined;
      }
      cur = cur[Number(seg)];
    } else if (Object.prototype.hasOwnProperty.call(cur, seg)) {
      cur = (cur as Record<string, unknown>)[seg];
    } else {
      return undefined;
    }
    start = end + 1;
  }
  return cur;
}

/**
 * Parses the PHX_KEY_FIELDS value: a JSON array of distinct dot paths (`[]` = whole canonical payload).
 * Throws a TypeError naming the value and what is allowed.
 */
export function parseKeyFields(json: string | undefined): string[] {
  if (json === undefined || json.trim() === '') {
    return [];
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch (e) {
    throw new TypeError(`key fields must be a JSON array of dot paths such as ["user.id"]; got ${describeValue(json)} (${(e as Error).message})`);
  }
  if (!Array.isArray(parsed)) {
    throw new TypeError(`key fields must be a JSON array of dot paths such as ["user.id"]; got ${describeValue(parsed)}`);
  }
  const seen = new Set<string>();
  for (const p of parsed) {
    validateKeyPath(p as string);
    if (seen.has(p as string)) {
      throw new TypeError(`key fields name ${JSON.stringify(p)} twice in ${json}: each path may appear once`);
    }
    seen.add(p as string);
  }
  return parsed as string[];
}

// Parsed namespaces: uuid's v5 parses a string namespace on every call, which costs more than the hash itself.
// Bounded so that a process cycling through namespaces cannot grow it without limit.
const namespaceBytes = new Map<string, Uint8Array>();
const MAX_CACHED_NAMESPACES = 256;

function namespaceOf(namespace: string): Uint8Array {
  let bytes = namespaceBytes.get(namespace);
  if (bytes === undefined) {
    if (typeof namespace !== 'string' || !uuidValidate(namespace)) {
      throw new TypeError(`record id namespace must be a UUID (see idNamespaceFor); got ${describeValue(namespace)}`);
    }
    bytes = uuidParse(namespace);
    if (namespaceBytes.size >= MAX_CACHED_NAMESPACES) {
      namespaceBytes.clear();
    }
    namespaceBytes.set(namespace, bytes);
  }
  return bytes;
}

function keyValue(payload: Readonly<Record<string, unknown>>, field: string): unknown {
  const v = getPath(payload, field);
  if (v === undefined || v === null || v === '') {
    const got = v === undefined ? 'absent' : v === null ? 'null' : 'an empty string';
    throw new PermanentError('missing-key', `natural key field '${field}' is missing: the value is ${got}`);
  }
  return v;
}

/**
 * Deterministic record id: uuid v5 in `namespace` of
 * - canonicalJson([value of keyFields[0], value of keyFields[1], ...]) when keyFields is non-empty (the natural key), or
 * - canonicalJson(payload) when keyFields is empty (the whole content).
 *
 * The same logical record always gets the same id, whatever the key order or whitespace of its serialized form, the
 * number of producer retries or redeliveries. A missing, null or empty-string key field throws
 * PermanentError('missing-key'); object and array key values are allowed (canonicalized).
 */
export function recordId(payload: Readonly<Record<string, unknown>>, namespace: string, keyFields: readonly string[]): string {
  const ns = namespaceOf(namespace);
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) {
    throw new TypeError(`recordId: payload must be an object; got ${describeValue(payload)}`);
  }
  let name: string;
  if (keyFields.length === 0) {
    name = canonicalJson(payload);
  } else {
    const values: unknown[] = new Array(keyFields.length);
    for (let i = 0; i < keyFields.length; i++) {
      values[i] = keyValue(payload, keyFields[i]);
    }
    name = canonicalJson(values);
  }
  return uuidv5(name, ns);
}
