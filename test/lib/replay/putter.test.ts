import { KinesisClient, PutRecordsCommand } from '@aws-sdk/client-kinesis';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { AdaptiveRate, KinesisPutter } from '../../../lib/replay/putter';

/** A clock the sleeps advance. */
function fakeClock(): { now: () => number; sleep: (ms: number) => Promise<void>; slept: number[] } {
  let t = 0;
  const slept: number[] = [];
  return { now: () => t, sleep: async (ms) => { slept.push(ms); t += ms; }, slept };
}

describe('AdaptiveRate', () => {
  it('is unlimited until an entry is throttled, then 10 % above what went in during the last second', () => {
    const c = fakeClock();
    const r = new AdaptiveRate(undefined, c.now, c.sleep);
    r.observe(500, 0);
    expect(r.rate).toBeUndefined();
    r.observe(200, 300);
    expect(r.rate).toBeCloseTo(770);
  });

  it('follows the accepted rate while throttled (at most once a second), rises 10 % a second without, never above the ceiling', async () => {
    const c = fakeClock();
    const r = new AdaptiveRate(1000, c.now, c.sleep);
    expect(r.rate).toBe(1000);
    r.observe(100, 10);
    expect(r.rate).toBeCloseTo(110);
    r.observe(100, 10); // the same second: other lanes reporting the same throttling
    expect(r.rate).toBeCloseTo(110);
    await c.sleep(1000);
    r.observe(300, 5); // 100 + 100 + 300 accepted from t = 0 s to t = 1 s: 500/s
    expect(r.rate).toBeCloseTo(550);
    await c.sleep(1500);
    r.observe(200, 5); // 300 + 200 accepted from t = 1 s to t = 2.5 s: 333/s
    expect(r.rate).toBeCloseTo(366.7, 0);
    await c.sleep(1000);
    r.observe(100, 0);
    expect(r.rate).toBeCloseTo(403.3, 0);
    for (let i = 0; i < 20; i++) {
      await c.sleep(1000);
      r.observe(100, 0);
    }
    expect(r.rate).toBe(1000);
  });

  it('starts at half the refused call when nothing went in', () => {
    const c = fakeClock();
    const r = new AdaptiveRate(undefined, c.now, c.sleep);
    r.observe(0, 500);
    expect(r.rate).toBe(250);
  });
});

describe('KinesisPutter under throttling', () => {
  let mock: ReturnType<typeof mockClient> | undefined;
  afterEach(() => mock?.restore());

  it('puts throttled entries again beyond maxAttempts until they go in, at an adapted rate, once each', async () => {
    mock = mockClient(KinesisClient);
    const c = fakeClock();
    // The target takes 100 entries per (fake) second; the rest of a call is throttled.
    let second = -1;
    let used = 0;
    const written: string[] = [];
    mock.on(PutRecordsCommand).callsFake((input: { Records: Array<{ PartitionKey: string }> }) => {
      const s = Math.floor(c.now() / 1000);
      if (s !== second) { second = s; used = 0; }
      const Records = input.Records.map((rec) => {
        if (used >= 100) return { ErrorCode: 'ProvisionedThroughputExceededException', ErrorMessage: 'Rate exceeded' };
        used++;
        written.push(rec.PartitionKey);
        return { SequenceNumber: '1', ShardId: 'shardId-0' };
      });
      return { FailedRecordCount: Records.filter((x) => 'ErrorCode' in x).length, Records };
    });
    const putter = new KinesisPutter(new KinesisClient({ region: 'us-east-1' }), { lanes: 1, maxAttempts: 2, sleep: c.sleep, now: c.now, random: () => 0.5 });
    const items = Array.from({ length: 1000 }, (_, i) => ({ stream: 's', partitionKey: `k${i}`, data: Buffer.from('x'), tag: i }));
    const out = await putter.putAll(items);
    expect(out.failed).toEqual([]);
    expect(out.accepted).toHaveLength(1000);
    expect(new Set(written).size).toBe(1000);
    expect(written).toHaveLength(1000);
    // Paced near the target's rate: 1,000 entries at 100/s take at least 9 s and, once adapted, at most a quarter more.
    expect(c.now()).toBeGreaterThanOrEqual(9000);
    expect(c.now()).toBeLessThan(12_500);
  });

  it('gives throttled entries up once the batch made no progress for throttleStallMs', async () => {
    mock = mockClient(KinesisClient);
    const c = fakeClock();
    mock.on(PutRecordsCommand).callsFake((input: { Records: unknown[] }) => ({
      FailedRecordCount: input.Records.length,
      Records: input.Records.map(() => ({ ErrorCode: 'ProvisionedThroughputExceededException', ErrorMessage: 'Rate exceeded' })),
    }));
    const putter = new KinesisPutter(new KinesisClient({ region: 'us-east-1' }), { lanes: 1, throttleStallMs: 30_000, sleep: c.sleep, now: c.now, random: () => 0.5 });
    const out = await putter.putAll([{ stream: 's', partitionKey: 'k', data: Buffer.from('x'), tag: 0 }]);
    expect(out.failed).toEqual([{ tag: 0, error: 'no entry accepted for 30000 ms (throttleStallMs), last error: ProvisionedThroughputExceededException: Rate exceeded' }]);
    expect(c.now()).toBeGreaterThanOrEqual(30_000);
    expect(c.now()).toBeLessThan(40_000);
  });

  it('refuses a throttleStallMs that is not a positive number of milliseconds, naming it', () => {
    expect(() => new KinesisPutter(new KinesisClient({ region: 'us-east-1' }), { throttleStallMs: 0 })).toThrow(/throttleStallMs must be a positive finite number of milliseconds; got 0/);
  });

  it('waits a full-jitter backoff between throttled rounds, growing up to capMs', async () => {
    mock = mockClient(KinesisClient);
    const c = fakeClock();
    let calls = 0;
    // A whole call refused six times (the call's error, not per entry), then accepted.
    mock.on(PutRecordsCommand).callsFake((input: { Records: unknown[] }) => {
      if (++calls <= 6) throw Object.assign(new Error('Rate exceeded'), { name: 'ProvisionedThroughputExceededException', $fault: 'client' });
      return { FailedRecordCount: 0, Records: input.Records.map(() => ({ SequenceNumber: '1', ShardId: 'shardId-0' })) };
    });
    const randoms = [0.37, 0.61, 0.13, 0.29, 0.71, 0.53];
    const putter = new KinesisPutter(new KinesisClient({ region: 'us-east-1' }), {
      lanes: 1, maxAttempts: 2, baseMs: 100, capMs: 1000, sleep: c.sleep, now: c.now, random: () => randoms.shift() ?? 0,
    });
    const out = await putter.putAll([{ stream: 's', partitionKey: 'k', data: Buffer.from('x'), tag: 0 }]);
    expect(out.accepted).toEqual([0]);
    expect(out.failed).toEqual([]);
    expect(out.retried).toBe(6);
    // random() x min(capMs, baseMs x 2^round), in order; the adapted rate's own waits come in between.
    const expected = [37, 122, 52, 232, 710, 530];
    expect(c.slept.filter((ms) => expected.some((e) => Math.abs(e - ms) < 1e-6)).map(Math.round)).toEqual(expected);
  });
});
