import { describe, expect, it } from 'vitest';
import { fixture } from './support';
import { RetryTokenBucket, TransientError } from '../../../../lib/core';
import { retryInBudget, retryPolicy, timeLeftMs } from '../../../../lib/handlers/processor/retry-budget';
import { FakeClock, lambdaContext } from '../support/kinesis';

describe('retry budget', () => {
  it('takes the backoff parameters and budget from the configuration', () => {
    const f = fixture({ PHX_RETRY_BUDGET_MS: '700', PHX_RETRY_BASE_MS: '5', PHX_RETRY_CAP_MS: '50', PHX_RETRY_MAX_ATTEMPTS: '3' });
    const bucket = new RetryTokenBucket();
    const p = retryPolicy(f.config, bucket, f.clock);
    expect(p.budgetMs).toBe(700);
    expect(p.options).toMatchObject({ baseMs: 5, capMs: 50, maxAttempts: 3, bucket });
  });

  it('time left is the remaining invocation time less the margin', () => {
    const clock = new FakeClock();
    const context = lambdaContext(clock, 10_000);
    clock.t += 4_000;
    expect(timeLeftMs(context, 1_000)).toBe(5_000);
  });

  it('retries from attempt 2 until success', async () => {
    const f = fixture({ PHX_RETRY_MAX_ATTEMPTS: '5' });
    const p = retryPolicy(f.config, new RetryTokenBucket(), f.clock);
    const seen: number[] = [];
    const r = await retryInBudget(p, async (n) => {
      seen.push(n);
      if (n < 3) throw new TransientError('again');
      return 'ok';
    }, new TransientError('first'), f.clock.now(), 60_000);
    expect(r).toMatchObject({ ok: true, value: 'ok', attempts: 3, retries: 2 });
    expect(seen).toEqual([2, 3]);
  });

  it('stops when the time left is smaller than the configured budget', async () => {
    const f = fixture({ PHX_RETRY_BUDGET_MS: '10000', PHX_RETRY_BASE_MS: '100', PHX_RETRY_CAP_MS: '100', PHX_RETRY_MAX_ATTEMPTS: '50' });
    const p = retryPolicy(f.config, new RetryTokenBucket(), f.clock);
    const start = f.clock.now();
    const r = await retryInBudget(p, async () => {
      throw new TransientError('down');
    }, new TransientError('down'), start, 300);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.exhausted).toBe('budget');
    expect(f.clock.now() - start).toBeLessThanOrEqual(300);
  });
});
