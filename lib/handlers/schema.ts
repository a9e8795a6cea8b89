/**
 * JSON Schema validation with ajv, compiled once at cold start.
 *
 * ajv (~125 KB minified) is the largest dependency of the handler, so it is required lazily: a function without a
 * schema never evaluates it (esbuild keeps `require` calls inside functions as lazily-initialised modules).
 * Formats ("date-time", "email", "uuid", ...) come from ajv-formats; a `$schema` of draft 2020-12 uses ajv's 2020
 * class, none or draft-07/06 the default class; other drafts are rejected at cold start (ajv: no such meta-schema).
 */
import type { ErrorObject, ValidateFunction } from 'ajv';
import { ConfigError } from './config';
import { ENV } from '../../constructs/contract';

/** Returns null when the payload is valid, else a one-line summary such as "/price must be number". */
export type PayloadValidator = (payload: unknown) => string | null;

/** At most this many ajv errors are listed in a DLQ reason (the rest are counted). */
export const MAX_LISTED_SCHEMA_ERRORS = 5;

type AjvCtor = new (opts: Record<string, unknown>) => {
  compile(schema: object): ValidateFunction;
};

/* eslint-disable @typescript-eslint/no-require-imports */
function loadAjv(schema: object): AjvCtor {
  const declared = (schema as { $schema?: unknown }).$schema;
  const modern = typeof declared === 'string' && /draft\/2020-12\/schema/.test(declared);
  const mod = modern ? require('ajv/dist/2020') : require('ajv');
  return (mod.default ?? mod) as AjvCtor;
}

function loadFormats(): (ajv: unknown) => void {
  // ajv-formats@3 is installed (hoisted, via fastify) but not yet declared: .projenrc.ts devDeps must add 'ajv-formats@^3'.
  // eslint-disable-next-line import/no-extraneous-dependencies
  const mod = require('ajv-formats');
  return (mod.default ?? mod) as (ajv: unknown) => void;
}
/* eslint-enable @typescript-eslint/no-require-imports */

/** Summarizes ajv errors, e.g. `/price must be number; / must have required property 'sku'`. */
export function summarizeSchemaErrors(errors: readonly ErrorObject[] | null | undefined): string {
  if (!errors || errors.length === 0) return 'payload does not match the schema';
  const listed = errors.slice(0, MAX_LISTED_SCHEMA_ERRORS).map((e) => {
    const where = e.instancePath === '' ? '/' : e.instancePath;
    const extra = e.keyword === 'additionalProperties' ? ` '${String((e.params as { additionalProperty?: unknown }).additionalProperty)}'` : '';
    return `${where} ${e.message ?? e.keyword}${extra}`;
  });
  const more = errors.length > MAX_LISTED_SCHEMA_ERRORS ? ` (+${errors.length - MAX_LISTED_SCHEMA_ERRORS} more)` : '';
  return listed.join('; ') + more;
}

/**
 * Compiles the schema once. Throws {@link ConfigError} naming `variable` when the schema is not a valid JSON Schema
 * (ajv strict mode: unknown keywords and formats are configuration errors, not silently ignored).
 */
export function compileValidator(schema: object, variable: string = ENV.schema): PayloadValidator {
  let validate: ValidateFunction;
  try {
    const Ajv = loadAjv(schema);
    // allErrors: the DLQ reason lists every violation (bounded by the record size limit).
    // strict: unknown keywords and formats are errors; tuple and required checks are not (valid schemas, often generated).
    const ajv = new Ajv({ allErrors: true, strict: true, strictTuples: false, strictRequired: false, allowUnionTypes: true });
    loadFormats()(ajv);
    validate = ajv.compile(schema);
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new ConfigError(variable, JSON.stringify(schema), `a valid JSON Schema (draft-07 or 2020-12) — ajv: ${why}`);
  }
  return (payload) => (validate(payload) ? null : summarizeSchemaErrors(validate.errors));
}
