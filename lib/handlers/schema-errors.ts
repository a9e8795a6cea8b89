/**
 * Schema validation results, shared by the ajv validator (schema.ts) and the precompiled standalone module
 * (schema-module.ts). No ajv import: the default ingest asset bundles this file without ajv.
 */
import type { ErrorObject } from 'ajv';

/** Returns null when the payload is valid, else a one-line summary such as "/price must be number". */
export type PayloadValidator = (payload: unknown) => string | null;

/** At most this many ajv errors are listed in a DLQ reason (the rest are counted). */
export const MAX_LISTED_SCHEMA_ERRORS = 5;

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
