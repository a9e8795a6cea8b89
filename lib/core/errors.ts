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
