import { describe, expect, it } from 'vitest';
import { runLocal } from '../../../../lib/local/run';
import { removeDir, runOptions, synthesizedExample } from '../support';

// A local run under scaled service limits: one shard taking 1,000 / 20 = 50 records/s and one GetRecords per
// second shared by the pipeline's three consumers, the producer putting as fast as it can.
describe('phoenix local run under service limits', () => {
  const exampleDir = synthesizedExample();

  it('--limits-scale 20 on one shard: write and read throttles are counted per writer and consumer, and nothing is lost', async () => {
    const opts = runOptions(exampleDir(), { records: 300, onDemandShards: 1, limitsScale: 20, seed: 3, drainTimeoutMs: 90_000 });
    const r = await runLocal(opts);
    try {
      expect(r.invariant.problems).toEqual([]);
      expect(r.lost).toBe(0);
      expect(r.drained).toBe(true);
      expect(r.limits).toMatchObject({ scale: 20, latency: 'none' });
      // With IAM on, each writer is its principal: the producer (the operator's key) and the canary function's role.
      const producer = r.limits.writers.find((w) => w.writer === 'phoenix-local');
      expect(producer?.records).toBe(r.recordsIn);
      expect(r.limits.writers.reduce((n, w) => n + w.records, 0)).toBe(r.recordsIn + r.canary.sent);
      expect(producer?.throttled).toBeGreaterThan(0);
      const consumers = r.limits.consumers.map((c) => c.consumer).sort();
      expect(consumers.filter((c) => c.startsWith('esm:'))).toEqual([]);
      expect(consumers.filter((c) => c.startsWith('firehose:'))).toHaveLength(1); // the one standard consumer left
      // The stage and the profiler read through enhanced fan-out consumers of their own (the defaults): their own
      // budgets, never throttled.
      const efo = r.limits.consumers.filter((c) => c.kind === 'efo');
      expect(efo.map((c) => c.consumer)).toEqual([expect.stringMatching(/^efo:/), expect.stringMatching(/^efo:/)]);
      for (const c of efo) expect(c).toMatchObject({ throttles: 0, records: r.recordsIn + r.canary.sent });
      expect(r.limits.consumers.reduce((n, c) => n + c.throttles, 0)).toBeGreaterThan(0);
      for (const c of r.limits.consumers) expect(c.iteratorAgeMs.max).toBeGreaterThan(0);
    } finally {
      removeDir(opts.runsDir!);
    }
  }, 240_000);
});
