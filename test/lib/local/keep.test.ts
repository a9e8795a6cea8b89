/** kept-status.json: the series `phoenix verify --local` judges, written whole. */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { METRIC, METRICS_NAMESPACE } from '../../../constructs/contract';
import { keepUntilAborted, KEPT_STATUS_FILE, keptMetricSeries, writeKeptStatus, type KeptActivity } from '../../../lib/local/keep';
import { MetricsStore } from '../../../lib/local/metrics';

const dirs: string[] = [];
afterEach(() => { for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true }); });

describe('kept status', () => {
  it('keeps the canary latency and IteratorAge series only, their last 500 points', () => {
    const m = new MetricsStore();
    const dims = { Pipeline: 'p', Stage: 'ingest' };
    for (let i = 0; i < 600; i++) m.add({ namespace: METRICS_NAMESPACE, name: METRIC.canaryLatencyMs, dimensions: dims }, [i], 1000 + i);
    m.add({ namespace: 'AWS/Lambda', name: 'IteratorAge', dimensions: { FunctionName: 'f' } }, [7], 5);
    m.add({ namespace: METRICS_NAMESPACE, name: METRIC.recordsIn, dimensions: dims }, [1], 5);
    const series = keptMetricSeries(m);
    expect(series.map((s) => s.name).sort()).toEqual(['CanaryLatencyMs', 'IteratorAge']);
    const canary = series.find((s) => s.name === METRIC.canaryLatencyMs)!;
    expect(canary.points).toHaveLength(500);
    expect(canary.points[499]).toEqual([1599, 599]);
  });

  it('writes the file whole (no temporary file left)', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'phx-kept-'));
    dirs.push(dir);
    const file = writeKeptStatus(dir, { at: '2026-12-07T12:00:00.000Z', alarms: [], mappings: [{ id: 'M', functionName: 'f', state: 'Enabled' }], metrics: [] });
    expect(file).toBe(path.join(dir, KEPT_STATUS_FILE));
    expect(JSON.parse(readFileSync(file, 'utf8')).mappings).toHaveLength(1);
    expect(existsSync(`${file}.tmp`)).toBe(false);
  });

  it('keepUntilAborted calls onTick every 2 s until aborted', async () => {
    const ac = new AbortController();
    let ticks = 0;
    setTimeout(() => ac.abort(), 4500);
    const activity = (): KeptActivity => ({ written: 0, deadLettered: 0, duplicatesSuppressed: 0 });
    await keepUntilAborted(ac.signal, new Promise<never>(() => undefined), activity, () => undefined, () => { ticks++; });
    expect(ticks).toBe(2);
  }, 10_000);
});
