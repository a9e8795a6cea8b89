/** The hostile mix of `phoenix local run --hostile-rate`: its rate, reproducibility, and its expectations agree with the suite's. */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { clickEventKeyFields, clickEventSchema } from '../../../../examples/clickstream/schema';
import { DEFAULT_EVENT_TIME_BOUNDS, idNamespaceFor } from '../../../../lib/core';
import { compileValidator } from '../../../../lib/handlers/schema';
import { createWorkload, expectedInSink, HOSTILE_CLASSES, HOSTILE_KINDS, type PipelineRules, type WorkloadRecord } from '../../../../lib/local/workloads';
import { HOSTILE_STAGE_ENV } from '../../../../lib/local/workloads/hostile-records';

const CLICKSTREAM_RULES: PipelineRules = {
  namespace: idNamespaceFor('clickstream'), keyFields: clickEventKeyFields, validate: compileValidator(clickEventSchema), maxRecordBytes: 1_048_576,
};

/** The rules of the stage the suite's outcomes hold for (HOSTILE_STAGE_ENV). */
const SUITE_RULES: PipelineRules = {
  namespace: idNamespaceFor('orders'),
  keyFields: JSON.parse(HOSTILE_STAGE_ENV.PHX_KEY_FIELDS) as string[],
  maxRecordBytes: Number(HOSTILE_STAGE_ENV.PHX_MAX_RECORD_BYTES),
  eventTimeBounds: { ...DEFAULT_EVENT_TIME_BOUNDS, maxFutureSkewMs: Number(HOSTILE_STAGE_ENV.PHX_MAX_FUTURE_SKEW_MS) },
  replayMaxCount: Number(HOSTILE_STAGE_ENV.PHX_REPLAY_MAX_COUNT),
};

async function drain(rate: number, seed: number, records = 5000): Promise<{ recs: WorkloadRecord[]; notes: readonly string[] }> {
  const w = await createWorkload({ cwd: process.cwd(), records, seed, poisonRate: 0, duplicateRate: 0, hostileRate: rate }, CLICKSTREAM_RULES);
  const recs: WorkloadRecord[] = [];
  for (let r = w.next(); r; r = w.next()) recs.push(r);
  return { recs, notes: w.notes };
}

describe('HostileMix', () => {
  // The generators stamp records with the time of the call: a fixed clock makes two runs byte-identical.
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(new Date('2026-06-01T12:00:00Z'));
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('replaces about rate of the valid records, reproducibly per seed, each with where the stage must put it', async () => {
    const a = await drain(0.02, 7);
    const b = await drain(0.02, 7);
    const clean = await drain(0, 7);
    expect(a.recs.map((r) => r.hash).join()).toBe(b.recs.map((r) => r.hash).join());
    expect(a.recs).toHaveLength(5000);
    // The generator draws the same records; the mix replaced some of them.
    const replaced = a.recs.filter((r, i) => r.hash !== clean.recs[i].hash).length;
    const put = Number(a.notes.find((n) => n.endsWith('hostile records put'))?.split(' ')[0]);
    expect(replaced).toBe(put);
    expect(put).toBeGreaterThan(60);
    expect(put).toBeLessThan(140);
    for (const r of a.recs.filter((x) => x.kind === 'poison')) expect(r.poisonKind).toBe('hostile');
    // Sink or DLQ, as the stage's own functions decide.
    for (const r of a.recs) expect(r.kind === 'poison').toBe(expectedInSink(r.data, CLICKSTREAM_RULES) === undefined);
  });

  it('makes no hostile record at rate 0, and every kind at rate 1', async () => {
    const none = await drain(0, 3, 500);
    expect(none.recs.every((r) => r.kind === 'valid')).toBe(true);
    const all = await drain(1, 3, 2000);
    expect(new Set(all.recs.map((r) => r.hash)).size).toBeGreaterThanOrEqual(HOSTILE_KINDS);
    expect(all.recs.some((r) => r.kind === 'poison')).toBe(true);
    expect(all.recs.some((r) => r.kind === 'valid')).toBe(true);
  });

  it('expects of each class of the suite what the handler does (sink or DLQ) under the suite\'s stage configuration', () => {
    const classes = HOSTILE_CLASSES.filter((c) => c.meta === undefined && Buffer.isBuffer(c.data) && !c.suiteClockOnly);
    expect(classes.length).toBeGreaterThanOrEqual(40);
    for (const c of classes) {
      const inSink = expectedInSink(c.data as Buffer, SUITE_RULES) !== undefined;
      expect(inSink, c.name).toBe('sink' in c.expect);
    }
  });
});
