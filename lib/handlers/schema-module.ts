/**
 * Loads the schema validator that was compiled at synth time (schema-standalone.ts) and shipped next to the handler
 * bundle, so that the default ingest asset validates without ajv (which is most of a handler bundle's size and of its
 * module load time). The module is ajv's standalone code; the few runtime helpers it requires (ajv's deep-equal and
 * ucs2length) are served here from this bundle, and ajv-formats' format table from the file shipped next to it
 * (`SCHEMA_FORMATS_FILE`, only when the schema uses formats).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { summarizeSchemaErrors, type PayloadValidator } from './schema-errors';
import { ENV, SCHEMA_FORMATS_FILE } from '../../constructs/contract';
import { canonicalJson, sha256Hex } from '../core';
import { ConfigError, PhoenixError } from '../core/errors';

/** Environment variable naming the module file inside the function's code directory (to be added to constructs/contract.ts ENV). */
export const SCHEMA_MODULE_ENV = ENV.schemaModule;

/** What the generated module may require; the compiler refuses a schema whose code needs anything else. */
export const STANDALONE_RUNTIME_MODULES = [
  'ajv/dist/runtime/equal',
  'ajv/dist/runtime/ucs2length',
  'ajv/dist/runtime/validation_error',
  `./${SCHEMA_FORMATS_FILE}`,
] as const;

/** Identifies the schema a module was compiled from: sha256 of its canonical JSON (key order and whitespace free). */
export function schemaFingerprint(schema: object): string {
  return sha256Hex(canonicalJson(schema));
}

/* eslint-disable @typescript-eslint/no-require-imports, import/no-extraneous-dependencies */
function runtimeModule(name: string, dir: string | undefined): unknown {
  switch (name) {
    case 'ajv/dist/runtime/equal': return require('ajv/dist/runtime/equal');
    case 'ajv/dist/runtime/ucs2length': return require('ajv/dist/runtime/ucs2length');
    case 'ajv/dist/runtime/validation_error': return require('ajv/dist/runtime/validation_error');
    // A path computed at run time: the bundler leaves the format table out of the handler bundle.
    case `./${SCHEMA_FORMATS_FILE}`: return dir === undefined ? undefined : require(join(dir, SCHEMA_FORMATS_FILE));
    default: return undefined;
  }
}
/* eslint-enable @typescript-eslint/no-require-imports, import/no-extraneous-dependencies */

const MODULE_FILE = /^[A-Za-z0-9_-][A-Za-z0-9._-]*\.c?js$/;

interface StandaloneValidate {
  (data: unknown): boolean;
  errors?: Parameters<typeof summarizeSchemaErrors>[0];
  phxSchemaFingerprint?: string;
}

/**
 * Evaluates the module source produced by compileStandaloneValidator (its format table, when it uses one, read from
 * `dir`) and returns the validator. Throws a
 * {@link ConfigError} naming `variable` when the source does not evaluate to a validate function, requires a module
 * this bundle does not serve, or was compiled from a schema whose fingerprint differs from `expectedFingerprint`.
 */
export function validatorFromModuleSource(
  source: string, expectedFingerprint?: string, variable = SCHEMA_MODULE_ENV, value = '<source>', dir?: string,
): PayloadValidator {
  const mod: { exports: unknown } = { exports: {} };
  const req = (name: string): unknown => {
    const m = runtimeModule(name, dir);
    if (m === undefined) throw new PhoenixError('SCHEMA_MODULE_INVALID', `it requires ${JSON.stringify(name)}, which the handler does not provide (${STANDALONE_RUNTIME_MODULES.join(', ')})`);
    return m;
  };
  let validate: StandaloneValidate;
  try {
    // The module was written at synth by this library's compiler from the pipeline's schema (trusted like PHX_SCHEMA,
    // which ajv also turns into code with new Function).
    // eslint-disable-next-line @typescript-eslint/no-implied-eval
    new Function('module', 'exports', 'require', source)(mod, mod.exports, req);
    const exported = mod.exports as { default?: unknown };
    validate = (typeof exported === 'function' ? exported : exported.default) as StandaloneValidate;
    if (typeof validate !== 'function') throw new PhoenixError('SCHEMA_MODULE_INVALID', 'it exports no validate function');
  } catch (err) {
    throw new ConfigError(variable, value, `a schema validator module written at synth by the construct (compileStandaloneValidator) — ${(err as Error).message}`, { cause: err });
  }
  if (expectedFingerprint !== undefined && validate.phxSchemaFingerprint !== expectedFingerprint) {
    throw new ConfigError(variable, value,
      `a module compiled from the schema in PHX_SCHEMA (fingerprint ${expectedFingerprint}); it was compiled from ${validate.phxSchemaFingerprint ?? 'an unknown schema'}: synthesize and deploy again`);
  }
  return (payload) => (validate(payload) ? null : summarizeSchemaErrors(validate.errors));
}

/**
 * Loads `file` (a file name, no directories) from `dir` (the function's code directory) as a standalone validator
 * module. See {@link validatorFromModuleSource}.
 */
export function loadStandaloneValidator(dir: string, file: string, expectedFingerprint?: string): PayloadValidator {
  if (!MODULE_FILE.test(file)) {
    throw new ConfigError(SCHEMA_MODULE_ENV, file, 'a .js file name (no directory) inside the function\'s code directory, e.g. schema-validator.js');
  }
  let source: string;
  try {
    source = readFileSync(join(dir, file), 'utf8');
  } catch (err) {
    throw new ConfigError(SCHEMA_MODULE_ENV, file, `a file of the function's code directory (${dir}): ${(err as Error).message}`);
  }
  return validatorFromModuleSource(source, expectedFingerprint, SCHEMA_MODULE_ENV, file, dir);
}
