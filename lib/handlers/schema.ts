/**
 * JSON Schema validation with ajv, compiled once at cold start.
 *
 * ajv (~125 KB minified) is the largest dependency of the handler, so it is required lazily: a function without a
 * schema never evaluates it (esbuild keeps `require` calls inside functions as lazily-initialised modules).
 * Formats ("date-time", "email", "uuid", ...) come from ajv-formats; a `$schema` of draft 2020-12 uses ajv's 2020
 * class, none or draft-07/06 the default class; other drafts are rejected at cold start (ajv: no such meta-schema).
 */
import type { ValidateFunction } from 'ajv';
import { summarizeSchemaErrors, type PayloadValidator } from './schema-errors';
import { ENV } from '../../constructs/contract';
import { ConfigError } from '../core/errors';

export { MAX_LISTED_SCHEMA_ERRORS, summarizeSchemaErrors, type PayloadValidator } from './schema-errors';

export type AjvCtor = new (opts: Record<string, unknown>) => {
  compile(schema: object): ValidateFunction;
};

/**
 * The options every validator of the library is compiled with (ajv at run time, and the standalone module compiled at
 * synth, schema-standalone.ts): they must agree, or the two would not reject the same payloads.
 * allErrors: the DLQ reason lists every violation (bounded by the record size limit).
 * strict: unknown keywords and formats are errors; tuple and required checks are not (valid schemas, often generated).
 */
export const AJV_OPTIONS = { allErrors: true, strict: true, strictTuples: false, strictRequired: false, allowUnionTypes: true } as const;

/* eslint-disable @typescript-eslint/no-require-imports */
export function loadAjv(schema: object): AjvCtor {
  const declared = (schema as { $schema?: unknown }).$schema;
  const modern = typeof declared === 'string' && /draft\/2020-12\/schema/.test(declared);
  const mod = modern ? require('ajv/dist/2020') : require('ajv');
  return (mod.default ?? mod) as AjvCtor;
}

export function loadFormats(): (ajv: unknown) => void {
  // ajv-formats@3 is installed (hoisted, via fastify) but not yet declared: .projenrc.ts devDeps must add 'ajv-formats@^3'.
  // eslint-disable-next-line import/no-extraneous-dependencies
  const mod = require('ajv-formats');
  return (mod.default ?? mod) as (ajv: unknown) => void;
}
/* eslint-enable @typescript-eslint/no-require-imports */

/**
 * Compiles the schema once. Throws {@link ConfigError} naming `variable` when the schema is not a valid JSON Schema
 * (ajv strict mode: unknown keywords and formats are configuration errors, not silently ignored).
 */
export function compileValidator(schema: object, variable: string = ENV.schema): PayloadValidator {
  let validate: ValidateFunction;
  try {
    const Ajv = loadAjv(schema);
    const ajv = new Ajv({ ...AJV_OPTIONS });
    loadFormats()(ajv);
    validate = ajv.compile(schema);
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new ConfigError(variable, JSON.stringify(schema), `a valid JSON Schema (draft-07 or 2020-12) — ajv: ${why}`);
  }
  return (payload) => (validate(payload) ? null : summarizeSchemaErrors(validate.errors));
}
