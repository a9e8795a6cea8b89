import { Duration, Token } from 'aws-cdk-lib';

/**
 * Throws when `value` is a resolved number outside `[min, max]`.
 * Unresolved tokens (CfnParameter values, Lazy) are skipped: they are only known at deploy time.
 *
 * Message format (aws-cdk-lib style): "<Construct> <prop> must be between <min> and <max> (given <value>)".
 */
export function checkRange(owner: string, prop: string, value: number | undefined, min: number, max: number, unit = ''): void {
  if (value === undefined || Token.isUnresolved(value)) {
    return;
  }
  if (!Number.isInteger(value) || value < min || value > max) {
    const u = unit ? ` ${unit}` : '';
    throw new Error(`${owner} ${prop} must be an integer between ${fmt(min)} and ${fmt(max)}${u} (given ${value}${u})`);
  }
}

/** As {@link checkRange}, for a Duration compared in whole seconds. */
export function checkSeconds(owner: string, prop: string, value: Duration | undefined, min: number, max: number): void {
  if (value === undefined || value.isUnresolved()) {
    return;
  }
  const ms = value.toMilliseconds();
  if (ms < min * 1000 || ms > max * 1000 || ms % 1000 !== 0) {
    throw new Error(`${owner} ${prop} must be a whole number of seconds between ${fmt(min)} and ${fmt(max)} seconds (given ${value.toHumanString()})`);
  }
}

/** As {@link checkRange}, for a Duration compared in milliseconds. */
export function checkMillis(owner: string, prop: string, value: Duration | undefined, min: number, max: number): void {
  if (value === undefined || value.isUnresolved()) {
    return;
  }
  const ms = value.toMilliseconds();
  if (ms < min || ms > max) {
    throw new Error(`${owner} ${prop} must be between ${fmt(min)} and ${fmt(max)} milliseconds (given ${value.toHumanString()})`);
  }
}

/** Resource-name check: 1-64 characters of `[A-Za-z0-9_-]`. Unresolved tokens are skipped. */
export function checkName(owner: string, prop: string, value: string): void {
  if (Token.isUnresolved(value)) {
    return;
  }
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(value)) {
    throw new Error(`${owner} ${prop} must be 1-64 characters of A-Z, a-z, 0-9, '-' and '_' (given '${value}')`);
  }
}

function fmt(n: number): string {
  return String(n);
}
