import * as crypto from 'node:crypto';
// uuid is bundled into the handler assets by esbuild (lib/ is never published as source), hence a devDependency.
import { parse as uuidParse, v5 as uuidv5, validate as uuidValidate } from 'uuid';
import { canonicalJson } from './canonical';
import { InvalidArgumentError } from './errors';
import { PermanentError, describeValue } from './failure';
import { ROOT_ID_NAMESPACE } from '../../constructs/contract';

/**
 * The id namespace of a pipeline: uuidv5(pipeline, ROOT_ID_NAMESPACE). Computed at synth time and passed to the
 * handlers as PHX_ID_NAMESPACE; every record id of the pipeline is a uuid v5 in this namespace.
 */
export function idNamespaceFor(pipeline: string): string {
  if (typeof pipeline !== 'string') {
    throw new InvalidArgumentError(`idNamespaceFor: pipeline must be a non-empty string; got ${describeValue(pipeline)}`);
  }
  if (pipeline.length === 0) {
    throw new InvalidArgumentError('idNamespaceFor: pipeline must be a non-empty string; got ""');
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
    throw new InvalidArgumentError(`natural key path must be a non-empty string; got ${describeValue(path)}`);
  }
  if (path.split('.').some((s) => s.length === 0)) {
    throw new InvalidArgumentError(`natural key path ${JSON.stringify(path)} has an empty segment: use dot paths such as "user.id"`);
  }
  if (validPaths.size >= MAX_CACHED_PATHS) {
    validPaths.clear();
  }
  validPaths.add(path);
}

// Segments of paths already validated (key fields are few and fixed per pipeline; getPath runs for every record).
const pathSegments = new Map<string, readonly string[]>();

function segmentsOf(path: string): readonly string[] {
  let segs = pathSegments.get(path);
  if (segs === undefined) {
    validateKeyPath(path);
    segs = path.split('.');
    if (pathSegments.size >= MAX_CACHED_PATHS) {
      pathSegments.clear();
    }
    pathSegments.set(path, segs);
  }
  return segs;
}

/**
 * Value at a dot path (`user.id`; array items by index, `items.0.sku`). Only own properties are followed, so
 * `__proto__`, `constructor` and the like never resolve to prototype members. Returns undefined when any segment is absent.
 */
export function getPath(obj: unknown, path: string): unknown {
  const segs = segmentsOf(path);
  let cur: unknown = obj;
  for (let i = 0; i < segs.length; i++) {
    const seg = segs[i];
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
    throw new InvalidArgumentError(`key fields must be a JSON array of dot paths such as ["user.id"]; got ${describeValue(json)} (${(e as Error).message})`);
  }
  if (!Array.isArray(parsed)) {
    throw new InvalidArgumentError(`key fields must be a JSON array of dot paths such as ["user.id"]; got ${describeValue(parsed)}`);
  }
  const seen = new Set<string>();
  for (const p of parsed) {
    validateKeyPath(p as string);
    if (seen.has(p as string)) {
      throw new InvalidArgumentError(`key fields name ${JSON.stringify(p)} twice in ${json}: each path may appear once`);
    }
    seen.add(p as string);
  }
  return parsed as string[];
}

// Parsed namespaces: uuid's v5 parses a string namespace on every call, which costs more than the hash itself.
// Bounded so that a process cycling through namespaces cannot grow it without limit.
const namespaceBytes = new Map<string, Buffer>();
const MAX_CACHED_NAMESPACES = 256;

function namespaceOf(namespace: string): Buffer {
  let bytes = namespaceBytes.get(namespace);
  if (bytes === undefined) {
    if (typeof namespace !== 'string' || !uuidValidate(namespace)) {
      throw new InvalidArgumentError(`record id namespace must be a UUID (see idNamespaceFor); got ${describeValue(namespace)}`);
    }
    bytes = Buffer.from(uuidParse(namespace));
    if (namespaceBytes.size >= MAX_CACHED_NAMESPACES) {
      namespaceBytes.clear();
    }
    namespaceBytes.set(namespace, bytes);
  }
  return bytes;
}

// crypto.hash (one-shot, Node >= 20.12 / 21.7) skips the Hash object createHash allocates; same digest.
const oneShot = (crypto as { hash?: (algorithm: string, data: Uint8Array, encoding: 'hex') => string }).hash;
const VARIANT = '89ab89ab89ab89ab';
const HEX_DIGITS = '0123456789abcdef';
const SCRATCH_NAME_CHARS = 256;
const scratch = Buffer.alloc(16 + 3 * SCRATCH_NAME_CHARS);
const scratchViews: Buffer[] = [];
let scratchNs: Buffer | undefined;

/**
 * uuid v5 (RFC 9562 section 5.5) of `name` in the namespace `ns` (16 bytes, from namespaceOf: cached, never
 * modified, so its identity stands for its content): SHA-1 over namespace bytes + UTF-8 name, version and variant bits
 * set. Byte for byte what uuid's v5 returns (tests hold recordId to it), without its per-call allocations and
 * string-to-bytes loop: ids are computed for every record.
 */
function uuidV5FromBytes(name: string, ns: Buffer): string {
  let buf: Buffer;
  if (name.length <= SCRATCH_NAME_CHARS) {
    // At most 3 UTF-8 bytes per UTF-16 unit: the name fits the scratch buffer; no allocation per id.
    if (scratchNs !== ns) {
      ns.copy(scratch, 0, 0, 16);
      scratchNs = ns;
    }
    const len = scratch.write(name, 16, 'utf8');
    // Views of the scratch buffer, one per length, made once (a subarray per call costs as much as the hash).
    buf = scratchViews[len] ??= scratch.subarray(0, 16 + len);
  } else {
    const len = Buffer.byteLength(name, 'utf8');
    buf = Buffer.allocUnsafe(16 + len);
    ns.copy(buf, 0, 0, 16);
    buf.write(name, 16, len, 'utf8');
  }
  const h = oneShot !== undefined ? oneShot('sha1', buf, 'hex') : crypto.createHash('sha1').update(buf).digest('hex');
  // Version nibble 5 at hex position 12; variant 10xx at position 16 (VARIANT maps the digest nibble's low 2 bits).
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${VARIANT[HEX_DIGITS.indexOf(h[16])]}${h.slice(17, 20)}-${h.slice(20, 32)}`;
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
  return recordIdOf(payload, namespace, keyFields, undefined);
}

/** Where {@link recordIdOf} leaves the canonical payload text when it computed one (keyFields empty). */
export interface CanonicalSlot {
  canonicalPayload?: string;
}

/**
 * {@link recordId}, also handing back the canonical JSON of the whole payload in `slot.canonicalPayload` when the id
 * was computed from it (keyFields empty; otherwise the slot is set to undefined), so that a caller needing that text
 * (the ingest processor serializes the payload) does not canonicalize twice.
 */
export function recordIdOf(
  payload: Readonly<Record<string, unknown>>,
  namespace: string,
  keyFields: readonly string[],
  slot: CanonicalSlot | undefined,
): string {
  const ns = namespaceOf(namespace);
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) {
    throw new InvalidArgumentError(`recordId: payload must be an object; got ${describeValue(payload)}`);
  }
  let name: string;
  if (keyFields.length === 0) {
    name = canonicalJson(payload);
    if (slot !== undefined) {
      slot.canonicalPayload = name;
    }
  } else {
    if (slot !== undefined) {
      slot.canonicalPayload = undefined;
    }
    const first = keyFields.length === 1 ? keyValue(payload, keyFields[0]) : undefined;
    if (typeof first === 'string') {
      // The common natural key, one string: canonicalJson([first]) without the walk.
      name = `[${JSON.stringify(first)}]`;
    } else if (keyFields.length === 1) {
      name = canonicalJson([first]);
    } else {
      const values: unknown[] = new Array(keyFields.length);
      for (let i = 0; i < keyFields.length; i++) {
        values[i] = keyValue(payload, keyFields[i]);
      }
      name = canonicalJson(values);
    }
  }
  return uuidV5FromBytes(name, ns);
}
