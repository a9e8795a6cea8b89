/**
 * Retry budget step: a record that failed transiently is retried in-process with full-jitter backoff, gated by the
 * container's retry-token bucket, within PHX_RETRY_BUDGET_MS bounded by the invocation's time left.
 */
import type { Context } from 'aws-lambda';
import { retryAfterFirstFailure, type RetryOptions, type RetryOutcome, type RetryTokenBucket } from '../../core';
import type { IngestConfig } from '../config';
import type { Clock } from './types';

/** The backoff, bucket and clock of a processor's retries, and its per-record budget. */
export interface RetryPolicy {
  readonly options: Omit<RetryOptions, 'budgetMs'>;
  /** PHX_RETRY_BUDGET_MS. */
  readonly budgetMs: number;
}

export function retryPolicy(cfg: IngestConfig, bucket: RetryTokenBucket, clock: Clock): RetryPolicy {
  return {
    options: {
      baseMs: cfg.retry.baseMs,
      capMs: cfg.retry.capMs,
      maxAttempts: cfg.retry.maxAttempts,
      bucket,
      now: clock.now,
      sleep: clock.sleep,
      random: clock.random,
    },
    budgetMs: cfg.retry.budgetMs,
  };
}

/** Time a record may still use: the invocation's remaining time less the safety margin (<= 0: start no record). */
export function timeLeftMs(context: Pick<Context, 'getRemainingTimeInMillis'>, marginMs: number): number {
  return context.getRemainingTimeInMillis() - marginMs;
}

/**
 * Retries `attempt` (called with attempt numbers from 2) after the first attempt failed with `firstError`, within
 * min(policy budget, `timeLeft`) from `startMs`. Never rejects for the attempt's errors: the outcome says why it stopped.
 */
export function retryInBudget<T>(
  policy: RetryPolicy,
  attempt: (n: number) => Promise<T>,
  firstError: unknown,
  startMs: number,
  timeLeft: number,
): Promise<RetryOutcome<T>> {
  return retryAfterFirstFailure(attempt, firstError, startMs, { ...policy.options, budgetMs: Math.min(policy.budgetMs, timeLeft) });
}
