import { PhoenixError } from '../../core/errors';
import { UnsupportedTemplateError } from '../template/errors';

/** An error of the run with a one-line message (the CLI prints it and exits non-zero). */
export class LocalRunError extends PhoenixError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('LOCAL_RUN', message, options);
  }
}

/** A run refused for its options (e.g. a --stack the assembly does not have): the CLI exits 2 with the line. */
export class LocalRunUsageError extends PhoenixError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('LOCAL_RUN_USAGE', message, options);
  }
}

/** What `runLocal` rejects with: its own errors and template errors as they are, anything else as one line. */
export function asRunError(e: unknown): Error {
  if (e instanceof UnsupportedTemplateError || e instanceof LocalRunError || e instanceof LocalRunUsageError) return e;
  const m = e instanceof Error ? e.message : String(e);
  return new LocalRunError(m.split('\n')[0], { cause: e });
}
