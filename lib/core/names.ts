/**
 * The one name rule of the runtime: pipeline and stage names (metric dimensions, parts of resource names) are 1-64
 * characters of `[A-Za-z0-9_-]`, the rule the constructs check at synth (constructs/private/validate.ts).
 */
const RESOURCE_NAME = /^[A-Za-z0-9_-]{1,64}$/;

/** What {@link isResourceName} allows, worded for a ConfigError's "allowed" part. */
export const RESOURCE_NAME_ALLOWED = '1-64 characters of A-Z, a-z, 0-9, - and _';

/** True for a valid pipeline or stage name. */
export function isResourceName(x: unknown): x is string {
  return typeof x === 'string' && RESOURCE_NAME.test(x);
}
