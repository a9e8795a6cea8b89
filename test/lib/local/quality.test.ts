/** The local environment's data-quality pieces without emulators: phases, the phased workload's clock, windows, summary. */
import type { KinesisClient } from '@aws-sdk/client-kinesis';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { QualityRuleKind } from '../../../constructs/quality-rules';
import { clickEventKeyFields, clickEventSchema } from '../../../examples/clickstream/schema';
import { compileValidator } from '../../../lib/handlers/schema';
import { describePhases, parsePhases, PhasedWorkload, type Phase } from '../../../lib/local/phased-workload';
import { produce, type ProducerStats } from '../../../lib/local/producer';
import { DEFAULT_LOCAL_WINDOW_SECONDS, formatQuality, localWindowSeconds, type LocalQualityReport } from '../../../lib/local/quality';
import type { PipelineRules, WorkloadRecord } from '../../../lib/local/workloads';

const rules: PipelineRules = {
  namespace: '3f1c8f0e-3b5a-5d3e-9a77-2b1f0c9d4e10',
  keyFields: clickEventKeyFields,
  validate: compileValidator(clickEventSchema),
  maxRecordBytes: 1_048_576,
};

afterEach(() => {
  vi.useRealTimers();
});

describe('phases', () => {
  it('parses a list with repeats and names what is wrong', () => {
    expect(parsePhases('clean*3, nulls,clean,drop,shift')).toEqual(['clean', 'clean', 'clean', 'nulls', 'clean', 'drop', 'shift']);
    expect(describePhases(parsePhases('clean*3,nulls,clean*2'))).toBe('clean*3, nulls, clean*2');
    expect(() => parsePhases('clean,spike')).toThrow('--phases: "spike" is not a phase (allowed: clean, nulls, drop, shift, each optionally followed by *N, comma-separated)');
    expect(() => parsePhases('clean*0')).toThrow('--phases: "clean*0" repeats a phase 0 times; the list may have 1 to 1000 windows in all');
    expect(() => parsePhases('clean*999,drop*2')).toThrow(/may have 1 to 1000 windows/);
    expect(() => parsePhases('')).toThrow(/"" is not a phase/);
  });
});

/** Takes every record when the workload says it is due (`lateBy`: a stall before the n-th), on a fake clock. */
function takeAll(w: PhasedWorkload, lateBy: (n: number) => number = () => 0): Array<{ at: number; rec: WorkloadRecord }> {
  const out: Array<{ at: number; rec: WorkloadRecord }> = [];
  for (let n = 0; n < 100_000; n++) {
    // As the producer does: wait until the workload says a record is due (after a stall too), then take it.
    vi.setSystemTime(Date.now() + w.waitMs(Date.now()) + lateBy(n));
    vi.setSystemTime(Date.now() + w.waitMs(Date.now()));
    const rec = w.next();
    if (!rec) return out;
    out.push({ at: Date.now(), rec });
  }
  throw new Error('the workload did not end');
}

describe('phased workload', () => {
  it('one phase per clock-aligned window, records spread over the window before its guard, each phase as documented', () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(1_800_000_000_700);
    const phases: Phase[] = ['clean', 'nulls', 'drop', 'shift'];
    const w = new PhasedWorkload({ phases, windowSeconds: 2, rate: 100, seed: 3, poisonRate: 0, duplicateRate: 0 }, rules);
    expect(w.total).toBe(200 + 200 + 10 + 200);
    expect(w.waitMs(Date.now())).toBe(1300); // the next 2-s boundary
    const taken = takeAll(w);
    expect(taken).toHaveLength(w.total);
    expect(w.windows.map((x) => [x.startMs, x.put])).toEqual([
      [1_800_000_002_000, 200], [1_800_000_004_000, 200], [1_800_000_006_000, 10], [1_800_000_008_000, 200],
    ]);
    const guard = 1000; // half the window
    for (const { at, rec } of taken) {
      const k = Math.floor((at - 1_800_000_002_000) / 2000);
      expect(at, `record ${rec.index}`).toBeLessThan(w.windows[k].endMs! - guard);
    }
    const inWindow = (k: number) => taken.filter(({ at }) => at >= w.windows[k].startMs! && at < w.windows[k].endMs!).map((t) => t.rec);
    // clean: valid click events, the usual mix
    expect(inWindow(0).every((r) => r.kind === 'valid')).toBe(true);
    // nulls: every second record has no user, and the pipeline's schema rejects it
    const nulls = inWindow(1);
    const bad = nulls.filter((r) => r.kind === 'poison');
    expect(bad).toHaveLength(100);
    expect(w.windows[1].nulls).toBe(100);
    for (const r of bad) {
      expect(r.poisonKind).toBe('injected');
      expect(JSON.parse(r.data.toString()).userId).toBeNull();
    }
    // shift: purchases and add-to-carts dominate
    const types = (recs: WorkloadRecord[]) => recs.map((r) => JSON.parse(r.data.toString()).eventType as string);
    const share = (recs: WorkloadRecord[], t: string) => types(recs).filter((x) => x === t).length / recs.length;
    expect(share(inWindow(3), 'purchase')).toBeGreaterThan(0.3);
    expect(share(inWindow(0), 'purchase')).toBeLessThan(0.25);
    expect(inWindow(3).every((r) => r.kind === 'valid')).toBe(true);
    expect(w.notes.some((n) => n.includes('were not put'))).toBe(false);
  });

  it('a producer that falls behind: records due with less than half the guard left are not put, and it says so', () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(1_800_000_000_000);
    const w = new PhasedWorkload({ phases: ['clean', 'clean', 'clean'], windowSeconds: 2, rate: 50, seed: 1, poisonRate: 0, duplicateRate: 0 }, rules);
    // 100 records per window, 10 ms apart from the window start. Before the 51st (due 500 ms into window 0) the
    // producer stalls for 3.1 s, to 1.6 s into window 1: past the cutoff of both (750 ms before their end).
    const taken = takeAll(w, (n) => (n === 50 ? 3100 : 0));
    expect(w.windows.map((x) => x.put)).toEqual([50, 0, 100]);
    expect(taken).toHaveLength(150);
    for (const { at } of taken) expect(at % 2000).toBeLessThan(2000 - 750);
    expect(w.notes.find((n) => n.includes('were not put'))).toBe('150 record(s) were not put: their time came less than 750 ms before the end of their window (a busy machine)');
    // A stall that ends before the cutoff only delays: the records are put, later, in their own window.
    vi.setSystemTime(1_800_000_000_000);
    const v = new PhasedWorkload({ phases: ['clean', 'clean'], windowSeconds: 2, rate: 50, seed: 1, poisonRate: 0, duplicateRate: 0 }, rules);
    takeAll(v, (n) => (n === 50 ? 700 : 0)); // to 1.2 s into window 0, before its cutoff at 1.25 s
    expect(v.windows.map((x) => x.put)).toEqual([100, 100]);
  });

  it('names what is missing', () => {
    expect(() => new PhasedWorkload({ phases: ['clean'], windowSeconds: 2, rate: 0, seed: 1, poisonRate: 0, duplicateRate: 0 }, rules))
      .toThrow('--phases needs --rate above 0: the records per second of a clean window (given 0)');
    expect(() => new PhasedWorkload({ phases: ['clean'], windowSeconds: 2, rate: 0.1, seed: 1, poisonRate: 0, duplicateRate: 0 }, rules))
      .toThrow('--rate 0.1 x 2-s windows is less than one record per window');
  });

  it('the producer waits for a workload that paces itself and ignores its own rate', async () => {
    const start = Date.now();
    let i = 0;
    const records = Array.from({ length: 20 }, (_, index) => ({
      index, kind: 'valid' as const, data: Buffer.from(`{"n":${index}}`), partitionKey: 'k', hash: String(index),
    }));
    const asked: number[] = [];
    const workload = {
      total: 20,
      notes: [],
      // every record is due 20 ms after the previous one
      waitMs: (now: number) => { asked.push(now); return Math.max(0, start + 20 * i - now); },
      next: () => records[i++],
    };
    const putAt: number[] = [];
    const send = async (cmd: { input: { Records: unknown[] } }) => ({ Records: cmd.input.Records.map(() => ({})) });
    const kinesis = { send } as unknown as KinesisClient;
    const stats: ProducerStats = { put: 0, failed: 0, retriedEntries: 0, throttledEntries: 0, putRecordsCalls: 0 };
    // rate 1/s would take 19 s for 20 records: the workload's own pace (20 ms apart) is used instead.
    await produce(kinesis, workload, { streamName: 's', rate: 1, onPut: (_r, at) => putAt.push(at) }, stats);
    expect(stats.put).toBe(20);
    for (let k = 0; k < 20; k++) expect(putAt[k]).toBeGreaterThanOrEqual(start + 20 * k);
    expect(asked.length).toBeGreaterThan(20);
  });
});

describe('local windows and the quality summary', () => {
  it('shortens long tumbling windows to the default, keeps short ones, and takes --window-seconds', () => {
    expect(localWindowSeconds(300)).toBe(DEFAULT_LOCAL_WINDOW_SECONDS);
    expect(localWindowSeconds(3)).toBe(3);
    expect(localWindowSeconds(300, 2)).toBe(2);
    expect(localWindowSeconds(3, 60)).toBe(60);
    expect(localWindowSeconds(0, 2)).toBe(0); // no tumbling window: none is added
    expect(() => localWindowSeconds(300, 0)).toThrow('--window-seconds must be an integer between 1 and 900 (given 0)');
    expect(() => localWindowSeconds(300, 1.5)).toThrow(/given 1.5/);
  });

  it('prints per rule the windows by status and the table of each window that warned or failed', () => {
    const reason = 'ratio to the mean row count of the previous windows';
    const fail = { rule: 'volume', kind: QualityRuleKind.VOLUME, column: null, status: 'fail' as const, observed: 0.05, fail: { min: 0.1 }, reason };
    const pass = { rule: 'amount-complete', kind: QualityRuleKind.COMPLETENESS, column: 'amount', status: 'pass' as const, observed: 1, fail: { min: 0.99 } };
    const q: LocalQualityReport = {
      notes: ['M: tumbling windows of 2 s instead of the template\'s 300 s (--window-seconds)'],
      profilers: [{
        mapping: 'M',
        function: 'fn',
        pipeline: 'orders',
        bucket: 'b',
        windowSeconds: 2,
        templateWindowSeconds: 300,
        drained: true,
        closed: { windows: 1, followUps: 1, complete: true },
        windows: [
          { start: '2026-01-01T00:00:00Z', end: '2026-01-01T00:00:02Z', rows: 100, unparseable: 0, parts: 1, historyWindows: 0, results: [pass] },
          { start: '2026-01-01T00:00:02Z', end: '2026-01-01T00:00:04Z', rows: 5, unparseable: 1, parts: 1, historyWindows: 1, phase: 'drop', results: [pass, fail] },
        ],
        rules: { 'amount-complete': { pass: 2, warn: 0, fail: 0, skipped: 0 }, 'volume': { pass: 0, warn: 0, fail: 1, skipped: 1 } },
        failures: [{ window: '2026-01-01T00:00:02Z', phase: 'drop', rule: 'volume', status: 'fail', observed: 0.05 }],
      }],
    };
    expect(formatQuality(q)).toEqual([
      'quality           fn: 2 window(s) of 2 s (template: 300 s) evaluated; 1 rule failure(s), 0 warning(s); results s3://b/profiles/',
      '  rule             pass  warn  fail  skipped',
      '  amount-complete  2     0     0     0',
      '  volume           0     0     1     1',
      '  window 2026-01-01T00:00:02Z .. 2026-01-01T00:00:04Z (drop): 5 rows, 1 unparseable, 1 history window(s)',
      '    status  rule    kind    column  observed  warn  fail     reason',
      '    FAIL    volume  volume  -       0.05      -     [0.1, ]  ratio to the mean row count of the previous windows',
      'note              M: tumbling windows of 2 s instead of the template\'s 300 s (--window-seconds)',
    ]);
  });
});
