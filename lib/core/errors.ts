/**
 * The package's error model. Every runtime error is a {@link PhoenixError} with a stable `code` (documented in
 * docs/ARCHITECTURE.md, "Errors"): callers and tests branch on `code`, never on `name` or the message text.
 */
export class PhoenixError extends Error {
  /** Stable machine-readable code, e.g. `PERMANENT`, `CONFIG`, `USAGE`. Never changes with wording or minification. */
  public readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/**
 * A configuration problem detected at cold start (environment variables, handler options). The message names the
 * variable, the value given and what is allowed: `Invalid configuration: NAME="value"; allowed: ...`.
 */
export class ConfigError extends PhoenixError {
  constructor(
    readonly variable: string,
    readonly value: string | undefined,
    readonly allowed: string,
    options?: { cause?: unknown },
  ) {
    super('CONFIG', `Invalid configuration: ${variable}=${quoteValue(value)}; allowed: ${allowed}`, options);
  }
}

/** The value as shown in a ConfigError: `<unset>`, else JSON text (values over 200 characters cut, with their length). */
function quoteValue(value: string | undefined): string {
  if (value === undefined) return '<unset>';
  const v = value.length > 200 ? `${value.slice(0, 200)}...(${value.length} chars)` : value;
  return JSON.stringify(v);
}

/** A function called with an argument outside its contract (a caller's bug, not bad record data). */
export class InvalidArgumentError extends PhoenixError {
  constructor(message: string) {
    super('INVALID_ARGUMENT', message);
  }
}

/** A data-quality profile that cannot be built, merged or read (bad sizes or conditions, another version, corrupt state). */
export class ProfileError extends PhoenixError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('PROFILE', message, options);
  }
}

/** A serialized sketch (KLL, HLL, frequent items, float array) that does not decode: read as a corrupt profile state. */
export class CorruptSketchError extends PhoenixError {
  constructor(message: string) {
    super('CORRUPT_SKETCH', message);
  }
}
