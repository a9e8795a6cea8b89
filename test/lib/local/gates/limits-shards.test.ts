import { describe, expect, it } from 'vitest';
import { PerSecondBudget } from '../../../../lib/local/gates/limits-shards';

describe('PerSecondBudget under a scaled limit', () => {
  it('a limit below one per second allows one per window of ceil(1 / limit) seconds (5 GetRecords/s / 10 = one per 2 s)', () => {
    const b = new PerSecondBudget(0.5);
    expect(b.take(1, 0)).toBe(true);
    expect(b.take(1, 1_999)).toBe(false);
    expect(b.take(1, 2_000)).toBe(true);
    expect(b.take(1, 3_000)).toBe(false);
  });

  it('an amount over a window\'s budget goes into an unused window and uses up the next ones (average rate kept)', () => {
    const b = new PerSecondBudget(1000); // 1 MiB/s / ~1000
    expect(b.take(2500, 0)).toBe(true);
    expect(b.take(1, 500)).toBe(false);
    expect(b.take(1, 1_000)).toBe(false); // second 1 still owes 500 beyond its own 1,000
    expect(b.take(600, 2_000)).toBe(false); // second 2: 500 owed, 500 left
    expect(b.take(500, 2_000)).toBe(true);
    expect(b.take(1, 2_999)).toBe(false);
    expect(b.take(1000, 3_000)).toBe(true);
  });

  it('a negative amount gives back what was taken', () => {
    const b = new PerSecondBudget(1);
    expect(b.take(1, 0)).toBe(true);
    expect(b.take(-1, 0)).toBe(true);
    expect(b.take(1, 0)).toBe(true);
  });
});
