import { InvalidArgumentError } from './errors';
import { Classification, classifyError, describeValue } from './failure';

/** Exponential backoff parameters: the delay ceiling of attempt n is min(capMs, baseMs * 2^n). */
export interface BackoffOptions {
  readonly baseMs: number;
  readonly capMs: number;
}

function checkBackoff(fn: string, opts: BackoffOptions): void {
  if (typeof opts.baseMs !== 'number' || !Number.isFinite(opts.baseMs) || opts.baseMs <= 0) {
    throw new InvalidArgumentError(`${fn}: baseMs must be a finite number > 0; got ${describeValue(opts.baseMs)}`);
  }
  if (typeof opts.capMs !== 'number' || !Number.isFinite(opts.capMs) || opts.capMs < opts.baseMs) {
    throw new InvalidArgumentError(`${fn}: capMs must be a finite number >= baseMs (${opts.baseMs}); got ${describeValue(opts.capMs)}`);
  }
}

function jitter(ceiling: number, random: () => number): number {
  const r = random();
  if (typeof r !== 'number' || !(r >= 0 && r <= 1)) {
    throw new InvalidArgumentError(`random() must return a number in [0, 1]; got ${describeValue(r)}`);
  }
  return r * ceiling;
}

/**
 * "Full jitter" delay of the AWS Architecture Blog post "Exponential Backoff And Jitter": U(0, min(cap, base * 2^attempt)),
 * attempt >= 0 (0 = the delay before the first retry).
 */
export function fullJitterDelayMs(attempt: number, opts: BackoffOptions, random: () => number = Math.random): number {
  checkBackoff('fullJitterDelayMs', opts);
  if (!Number.isInteger(attempt) || attempt < 0) {
    throw new InvalidArgumentError(`fullJitterDelayMs: attempt must be an integer >= 0; got ${describeValue(attempt)}`);
  }
  // 2 ** attempt is Infinity for attempt > 1023; Math.min then yields capMs.
  return jitter(Math.min(opts.capMs, opts.baseMs * 2 ** attempt), random);
}

/** Retry-token bucket parameters; defaults are those of the AWS SDK v3 standard retry strategy. */
export interface TokenBucketOptions {
  /** Tokens when full. Default 500. */
  readonly capacity?: number;
  /** Cost of a retry. Default 5. */
  readonly retryCost?: number;
  /** Cost of a retry after a timeout/connection failure. Default 10. */
  readonly timeoutCost?: number;
  /** Tokens given back by a success that needed no retry. Default 1. */
  readonly noRetryIncrement?: number;
}

function tokenOption(name: string, value: number | undefined, dflt: number, min: number, strict: boolean): number {
  if (value === undefined) {
    return dflt;
  }
  if (typeof value !== 'number' || !Number.isFinite(value) || (strict ? value <= min : value < min)) {
    throw new InvalidArgumentError(`RetryTokenBucket: ${name} must be a finite number ${strict ? '>' : '>='} ${min}; got ${describeValue(value)}`);
  }
  return value;
}

/**
 * The AWS SDK v3 standard retry-token bucket: every retry costs tokens (more for timeouts); when the bucket is empty no
 * retry is made, which stops a container from amplifying an outage. A success after a retry refunds that retry's cost,
 * a success without retry adds `noRetryIncrement`; the bucket never exceeds its capacity nor goes below zero.
 * Meant to be shared by all records handled by one container.
 */
export class RetryTokenBucket {
  public readonly capacity: number;
  public readonly retryCost: number;
  public readonly timeoutCost: number;
  public readonly noRetryIncrement: number;
  private tokens: number;

  constructor(opts: TokenBucketOptions = {}) {
    this.capacity = tokenOption('capacity', opts.capacity, 500, 0, true);
    this.retryCost = tokenOption('retryCost', opts.retryCost, 5, 0, false);
    this.timeoutCost = tokenOption('timeoutCost', opts.timeoutCost, 10, 0, false);
    this.noRetryIncrement = tokenOption('noRetryIncrement', opts.noRetryIncrement, 1, 0, false);
    this.tokens = this.capacity;
  }

  /** Tokens left. */
  public get available(): number {
    return this.tokens;
  }

  /** Takes the cost of one retry; returns the cost taken, or undefined (nothing taken) when too few tokens are left. */
  public tryAcquire(timeout: boolean): number | undefined {
    const cost = timeout ? this.timeoutCost : this.retryCost;
    if (this.tokens < cost) {
      return undefined;
    }
    this.tokens -= cost;
    return cost;
  }

  /**
   * Records a success: refunds `acquiredCost` (the cost of the retry that succeeded) or, for a success without retry,
   * adds `noRetryIncrement`. Capped at capacity.
   */
  public onSuccess(acquiredCost?: number): void {
    if (acquiredCost !== undefined && (typeof acquiredCost !== 'number' || !Number.isFinite(acquiredCost) || acquiredCost < 0)) {
      throw new InvalidArgumentError(`RetryTokenBucket.onSuccess: acquiredCost must be a finite number >= 0; got ${describeValue(acquiredCost)}`);
    }
    this.tokens = Math.min(this.capacity, this.tokens + (acquiredCost ?? this.noRetryIncrement));
  }
}

/** Options of {@link retryWithBackoff}. */
export interface RetryOptions {
  readonly baseMs: number;
  readonly capMs: number;
  /** Most calls of fn, first included: 1..100. */
  readonly maxAttempts: number;
  /** Time budget from the first call: no sleep is started that would end after start + budgetMs. */
  readonly budgetMs: number;
  /** Shared retry-token bucket; without one, retries are limited by maxAttempts and budgetMs only. */
  readonly bucket?: RetryTokenBucket;
  readonly now?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly random?: () => number;
  /** Default {@link classifyError}. */
  readonly classify?: (err: unknown) => Classification;
}

/** Result of {@link retryWithBackoff}; never rejects for errors of fn. */
export type RetryOutcome<T> =
  | { ok: true; value: T; attempts: number; retries: number }
  | {
    ok: false;
    error: unknown;
    classification: Classification;
    attempts: number;
    retries: number;
    exhausted: 'permanent' | 'attempts' | 'budget' | 'tokens';
  };

export const MAX_ATTEMPTS_LIMIT = 100;

function checkRetryOptions(opts: RetryOptions): void {
  checkBackoff('retryWithBackoff', opts);
  if (!Number.isInteger(opts.maxAttempts) || opts.maxAttempts < 1 || opts.maxAttempts > MAX_ATTEMPTS_LIMIT) {
    throw new InvalidArgumentError(`retryWithBackoff: maxAttempts must be an integer in 1..${MAX_ATTEMPTS_LIMIT}; got ${describeValue(opts.maxAttempts)}`);
  }
  if (typeof opts.budgetMs !== 'number' || Number.isNaN(opts.budgetMs) || opts.budgetMs < 0) {
    throw new InvalidArgumentError(`retryWithBackoff: budgetMs must be a number >= 0; got ${describeValue(opts.budgetMs)}`);
  }
}

const defaultSleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Calls fn (with the attempt number, 1 first) until it resolves, with full-jitter backoff between attempts.
 * Stops with:
 * - `permanent`: the error is classified permanent (after that single attempt);
 * - `attempts`: maxAttempts calls failed;
 * - `budget`: the next sleep would end after start + budgetMs (it is not started);
 * - `tokens`: the shared retry-token bucket is empty.
 * A success refunds the bucket (the cost of the last retry, or the no-retry increment).
 */
export async function retryWithBackoff<T>(fn: (attempt: number) => Promise<T>, opts: RetryOptions): Promise<RetryOutcome<T>> {
  checkRetryOptions(opts);
  return retryLoop(fn, opts, (opts.now ?? Date.now)(), undefined);
}

/**
 * The rest of {@link retryWithBackoff} for a caller that made attempt 1 itself (a hot path that should not pay for
 * this function's promise, options object and closures when the first attempt succeeds, which is the common case):
 * `firstError` is what attempt 1 threw and `startMs` (opts.now clock) when it started. Returns exactly what
 * retryWithBackoff would have returned had it made that attempt (attempts and retries count it).
 * On a first-attempt success the caller calls `bucket.onSuccess()` itself, as retryWithBackoff would have.
 */
export async function retryAfterFirstFailure<T>(
  fn: (attempt: number) => Promise<T>,
  firstError: unknown,
  startMs: number,
  opts: RetryOptions,
): Promise<RetryOutcome<T>> {
  checkRetryOptions(opts);
  return retryLoop(fn, opts, startMs, { error: firstError });
}

async function retryLoop<T>(
  fn: (attempt: number) => Promise<T>,
  opts: RetryOptions,
  start: number,
  first: { error: unknown } | undefined,
): Promise<RetryOutcome<T>> {
  const now = opts.now ?? Date.now;
  const sleep = opts.sleep ?? defaultSleep;
  const random = opts.random ?? Math.random;
  const classify = opts.classify ?? ((err: unknown) => classifyError(err));
  let attempts = 0;
  let retries = 0;
  let lastCost: number | undefined;
  for (;;) {
    attempts++;
    let error: unknown;
    if (attempts === 1 && first !== undefined) {
      error = first.error;
    } else {
      try {
        const value = await fn(attempts);
        opts.bucket?.onSuccess(lastCost);
        return { ok: true, value, attempts, retries };
      } catch (err) {
        error = err;
      }
    }
    const classification = classify(error);
    const stop = (exhausted: 'permanent' | 'attempts' | 'budget' | 'tokens'): RetryOutcome<T> =>
      ({ ok: false, error, classification, attempts, retries, exhausted });
    if (classification.kind === 'permanent') {
      return stop('permanent');
    }
    if (attempts >= opts.maxAttempts) {
      return stop('attempts');
    }
    const delay = fullJitterDelayMs(attempts - 1, opts, random);
    if (now() - start + delay > opts.budgetMs) {
      return stop('budget');
    }
    if (opts.bucket !== undefined) {
      const cost = opts.bucket.tryAcquire(classification.timeout);
      if (cost === undefined) {
        return stop('tokens');
      }
      lastCost = cost;
    }
    await sleep(delay);
    retries++;
  }
}
