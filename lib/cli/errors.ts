import { PhoenixError } from '../core/errors';

/** A CLI input error: reported as one line with exit code 2. */
export class UsageError extends PhoenixError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('USAGE', message, options);
  }
}
