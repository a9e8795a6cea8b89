/**
 * Data quality through the local environment: `runLocal` on the example clickstream app (its QualityProfiler and the
 * rules of examples/clickstream/quality.ts, unchanged) with 3-second tumbling windows and a phased workload.
 * A clean run raises nothing; a run with a null burst, a volume drop and a shifted event-type mix, each in a window
 * of its own, fails exactly the rule that watches it, in that window. The last window of each run is evaluated by
 * the final invocations the run sends when it ends.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { formatSummary } from '../../../../lib/cli/commands/local';
import type { Phase } from '../../../../lib/local/phased-workload';
import type { ProfilerQualityReport } from '../../../../lib/local/quality';
import { runLocal, type LocalRunReport } from '../../../../lib/local/run';
import { runOptions, synthExample } from '../support';

/**
 * 360 records per 3-s window: above the example's drift rules' minimum rows (300 per window, 1,000 of baseline); the
 * records of a window are put in its first 1.5 s, and a put has up to 1.1 s to arrive (puts took up to ~750 ms here).
 */
const RATE = 120;
const WINDOW_SECONDS = 3;

function profiler(r: LocalRunReport): ProfilerQualityReport {
  expect(r.quality?.profilers.map((p) => p.mapping)).toEqual([expect.stringMatching(/^ClickstreamProfilerStreamMapping/)]);
  return r.quality!.profilers[0];
}

/**
 * Every window was evaluated, holds exactly the records put for it, and the windows are in phase order. (On a busy
 * machine the workload leaves out records whose time came too late for their window: fewer records, never mixed windows.)
 */
function expectWindows(p: ProfilerQualityReport, phases: Phase[]): void {
  expect(p).toMatchObject({ windowSeconds: WINDOW_SECONDS, templateWindowSeconds: 300, drained: true });
  expect(p.closed.complete).toBe(true);
  // A window before the workload's first holds only the synthetic canary sent at start (not profiled: 0 rows).
  const planned = p.windows.filter((w) => w.phase !== undefined);
  for (const w of p.windows.filter((x) => x.phase === undefined)) {
    expect({ start: w.start, rows: w.rows, unparseable: w.unparseable }).toEqual({ start: w.start, rows: 0, unparseable: 0 });
    expect(w.start < planned[0].start).toBe(true);
  }
  expect(planned.map((w) => w.phase)).toEqual(phases);
  for (const w of planned) {
    // Else records arrived in a neighbouring window (a PutRecords slower than the workload's guard): the test says
    // so instead of judging rules on mixed windows.
    expect(w.rows + w.unparseable, `records in window ${w.start} (${w.phase})`).toBe(w.recordsPut);
    expect(Date.parse(w.end) - Date.parse(w.start)).toBe(WINDOW_SECONDS * 1000);
    expect(w.parts).toBeGreaterThanOrEqual(1);
  }
}

describe('phoenix local run: the quality profiler with injected drift', () => {
  let example: string;
  beforeAll(() => {
    example = synthExample().dir;
  }, 120_000);

  it('a clean run raises no rule in any window, the last one included', { timeout: 180_000 }, async () => {
    const phases: Phase[] = Array(7).fill('clean');
    const r = await runLocal(runOptions(example, { phases, rate: RATE, windowSeconds: WINDOW_SECONDS }));
    expect(r.invariant.problems).toEqual([]);
    const p = profiler(r);
    expectWindows(p, phases);
    expect(p.failures).toEqual([]);
    // Not vacuous: the relative volume (6 earlier windows) and the event-type drift (1,000 baseline values) were judged.
    expect(p.rules.volume.pass).toBe(p.windows.length - 6); // every window with 6 earlier ones (the canary's counts)
    expect(p.rules['eventType-mix'].pass).toBeGreaterThanOrEqual(3);
    expect(p.rules['userId-complete'].pass).toBe(7);
    // Windows of 360 clicks are below the seq-drift rule's 2,000: skipped, never judged on noise.
    expect(p.rules['seq-drift'].skipped).toBe(p.windows.length);
    // rate x window records planned per clean window (the `records` option is not used by a phased workload)
    expect(r.workload.records).toBe(7 * WINDOW_SECONDS * RATE);
    expect(r.recordsIn).toBe(p.windows.reduce((n, w) => n + (w.recordsPut ?? 0), 0));
  });

  it('a null burst, a volume drop and a shifted mix fail exactly their rule in their window', { timeout: 180_000 }, async () => {
    const phases: Phase[] = ['clean', 'nulls', 'clean', 'clean', 'clean', 'clean', 'drop', 'clean', 'shift'];
    const r = await runLocal(runOptions(example, { phases, rate: RATE, windowSeconds: WINDOW_SECONDS }));
    // The records without a user are dead-lettered (schema / missing key), every other one is in the sink.
    expect(r.invariant.problems).toEqual([]);
    const p = profiler(r);
    expectWindows(p, phases);
    expect(r.recordsIn).toBe(p.windows.reduce((n, w) => n + (w.recordsPut ?? 0), 0));
    expect(p.failures.map((f) => [f.phase, f.rule, f.status])).toEqual([
      ['nulls', 'userId-complete', 'fail'],
      ['drop', 'volume', 'fail'],
      ['shift', 'eventType-mix', 'fail'],
    ]);
    const observed = Object.fromEntries(p.failures.map((f) => [f.rule, f.observed!]));
    // Every second record of the null window had no user: the profiler's completeness and the pipeline's dead
    // letters count the same records.
    const planned = p.windows.filter((w) => w.phase !== undefined); // without a canary-only window before the workload
    const nulls = planned[1];
    expect(observed['userId-complete']).toBeGreaterThan(0.45);
    expect(observed['userId-complete']).toBeLessThan(0.55);
    expect(r.poisonRecords).toBe(Math.round(nulls.rows * (1 - observed['userId-complete'])));
    // The drop window against the mean of the 6 windows before it.
    const before = planned.slice(0, 6).reduce((n, w) => n + w.rows, 0) / 6;
    expect(observed.volume).toBeCloseTo(planned[6].rows / before, 9);
    expect(observed.volume).toBeLessThan(0.1);
    expect(observed['eventType-mix']).toBeGreaterThan(0.25);
    // The summary has the failing windows' tables.
    const summary = formatSummary(r);
    expect(summary).toMatch(new RegExp(`quality +\\S*Profiler\\S*: ${p.windows.length} window\\(s\\) of 3 s \\(template: 300 s\\) evaluated; 3 rule failure\\(s\\), 0 warning\\(s\\)`));
    expect(summary).toContain(`(nulls): ${nulls.rows} rows, ${nulls.historyWindows} history window(s)`);
    expect(nulls.historyWindows).toBe(p.windows.indexOf(nulls));
    expect(summary).toMatch(/FAIL +userId-complete +completeness +userId +0\.5 /);
  });
});
