import type { IConstruct } from 'constructs';
import { validationError } from './errors';

/**
 * Structural checks of a JSON Schema given to a construct at synth time.
 *
 * The handler compiles the schema with Ajv at cold start. Ajv is not a dependency of the construct library
 * (jsii consumers would not have it), so synth does a structural check instead: it catches the mistakes
 * that would otherwise only show up as a crash loop of the deployed function.
 */

const JSON_TYPES = new Set(['object', 'array', 'string', 'number', 'integer', 'boolean', 'null']);
/** Keywords whose value is a map of property name -> subschema. */
const SCHEMA_MAPS = ['properties', 'patternProperties', 'definitions', '$defs', 'dependentSchemas'];
/** Keywords whose value is a subschema. */
const SCHEMA_VALUES = ['items', 'additionalProperties', 'not', 'if', 'then', 'else', 'contains', 'propertyNames', 'unevaluatedProperties', 'unevaluatedItems', 'additionalItems'];
/** Keywords whose value is an array of subschemas. */
const SCHEMA_ARRAYS = ['allOf', 'anyOf', 'oneOf', 'prefixItems'];

/**
 * Checks that `schema` is a JSON Schema for JSON objects; returns its minified JSON text.
 * @throws Error naming the JSON pointer of the first problem.
 */
export function checkSchema(owner: IConstruct, schema: unknown): string {
  if (!isPlainObject(schema)) {
    throw validationError(owner, `schema must be a JSON Schema object (given ${describe(schema)})`);
  }
  if (schema.type !== 'object') {
    throw validationError(owner, `schema must describe JSON objects: its top-level "type" must be "object" (given ${describe(schema.type)})`);
  }
  checkSubschema(owner, schema, '#');
  let text: string;
  try {
    text = JSON.stringify(schema);
  } catch (e) {
    throw validationError(owner, `schema must be JSON-serializable (${(e as Error).message})`);
  }
  return text;
}

function checkSubschema(owner: IConstruct, s: unknown, at: string): void {
  if (typeof s === 'boolean') {
    return;
  }
  if (!isPlainObject(s)) {
    throw validationError(owner, `schema at ${at} must be a schema object or boolean (given ${describe(s)})`);
  }
  for (const [k, v] of Object.entries(s)) {
    if (typeof v === 'function' || typeof v === 'symbol' || typeof v === 'bigint' || v === undefined) {
      throw validationError(owner, `schema at ${at}/${k} must be a JSON value (given ${typeof v})`);
    }
  }
  if (s.type !== undefined) {
    const types = Array.isArray(s.type) ? s.type : [s.type];
    for (const t of types) {
      if (typeof t !== 'string' || !JSON_TYPES.has(t)) {
        throw validationError(owner, `schema at ${at}/type must be one of ${[...JSON_TYPES].join(', ')} (given ${describe(t)})`);
      }
    }
  }
  if (s.required !== undefined) {
    if (!Array.isArray(s.required) || s.required.some((r) => typeof r !== 'string')) {
      throw validationError(owner, `schema at ${at}/required must be an array of property names (given ${describe(s.required)})`);
    }
  }
  if (s.enum !== undefined && (!Array.isArray(s.enum) || s.enum.length === 0)) {
    throw validationError(owner, `schema at ${at}/enum must be a non-empty array (given ${describe(s.enum)})`);
  }
  if (s.pattern !== undefined) {
    try {
      new RegExp(String(s.pattern), 'u');
    } catch {
      throw validationError(owner, `schema at ${at}/pattern is not a valid regular expression (given ${describe(s.pattern)})`);
    }
  }
  for (const key of SCHEMA_MAPS) {
    const map = s[key];
    if (map === undefined) continue;
    if (!isPlainObject(map)) {
      throw validationError(owner, `schema at ${at}/${key} must be an object of subschemas (given ${describe(map)})`);
    }
    for (const [name, sub] of Object.entries(map)) {
      checkSubschema(owner, sub, `${at}/${key}/${escapePointer(name)}`);
    }
  }
  for (const key of SCHEMA_VALUES) {
    const sub = s[key];
    if (sub === undefined) continue;
    if (key === 'items' && Array.isArray(sub)) {
      sub.forEach((x, i) => checkSubschema(owner, x, `${at}/items/${i}`));
    } else {
      checkSubschema(owner, sub, `${at}/${key}`);
    }
  }
  for (const key of SCHEMA_ARRAYS) {
    const arr = s[key];
    if (arr === undefined) continue;
    if (!Array.isArray(arr) || arr.length === 0) {
      throw validationError(owner, `schema at ${at}/${key} must be a non-empty array of subschemas (given ${describe(arr)})`);
    }
    arr.forEach((x, i) => checkSubschema(owner, x, `${at}/${key}/${i}`));
  }
}

/**
 * Checks natural-key field paths: non-empty dot paths without duplicates and, when a schema is given,
 * declared in the schema's (nested) `properties`.
 */
export function checkKeyFields(owner: IConstruct, keyFields: readonly string[], schema: Record<string, unknown> | undefined): void {
  const seen = new Set<string>();
  for (const field of keyFields) {
    if (typeof field !== 'string' || !/^[^.]+(\.[^.]+)*$/.test(field)) {
      throw validationError(owner, `keyFields entries must be non-empty dot paths such as 'user.id' (given ${describe(field)})`);
    }
    if (seen.has(field)) {
      throw validationError(owner, `keyFields must not repeat a field (given '${field}' twice)`);
    }
    seen.add(field);
    checkDeclared(owner, 'keyFields entry', field, schema);
  }
}

/** A single dot-path prop (e.g. eventTimeField): well formed and, with a schema, declared in its properties. */
export function checkFieldPath(owner: IConstruct, prop: string, field: string, schema: Record<string, unknown> | undefined): void {
  if (typeof field !== 'string' || !/^[^.]+(\.[^.]+)*$/.test(field)) {
    throw validationError(owner, `${prop} must be a non-empty dot path such as 'event.time' (given ${describe(field)})`);
  }
  checkDeclared(owner, prop, field, schema);
}

function checkDeclared(owner: IConstruct, what: string, field: string, schema: Record<string, unknown> | undefined): void {
  if (schema === undefined) return;
  let node: unknown = schema;
  const segments = field.split('.');
  for (let i = 0; i < segments.length; i++) {
    const props = isPlainObject(node) && isPlainObject(node.properties) ? node.properties : undefined;
    if (!props || !Object.prototype.hasOwnProperty.call(props, segments[i])) {
      const parent = i === 0 ? 'the schema' : `'${segments.slice(0, i).join('.')}'`;
      const known = props ? Object.keys(props).join(', ') || 'none' : 'none (no "properties")';
      throw validationError(owner, `${what} '${field}' is not a property of ${parent} (declared properties: ${known})`);
    }
    node = props[segments[i]];
  }
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && (Object.getPrototypeOf(v) === Object.prototype || Object.getPrototypeOf(v) === null);
}

function escapePointer(s: string): string {
  return s.replace(/~/g, '~0').replace(/\//g, '~1');
}

function describe(v: unknown): string {
  if (v === undefined) return 'undefined';
  if (Array.isArray(v)) return `array ${truncate(JSON.stringify(v))}`;
  if (v === null) return 'null';
  if (typeof v === 'object') return `object ${truncate(safeJson(v))}`;
  if (typeof v === 'string') return `'${truncate(v)}'`;
  return `${typeof v} ${String(v)}`;
}

function safeJson(v: unknown): string {
  try {
    return JSON.stringify(v);
  } catch {
    return '[unserializable]';
  }
}

function truncate(s: string): string {
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}
