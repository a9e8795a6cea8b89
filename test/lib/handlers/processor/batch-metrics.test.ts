import { Metrics } from '@aws-lambda-powertools/metrics';
import { afterEach, describe, expect, it } from 'vitest';
import { METRIC, METRICS_NAMESPACE } from '../../../../constructs/contract';
import { countOutcome, emitBatchMetrics, MAX_METRIC_VALUES, MetricSample, newBatchStats } from '../../../../lib/handlers/processor/batch-metrics';
import { captureStdout } from '../support/kinesis';

let out: ReturnType<typeof captureStdout> | undefined;
afterEach(() => out?.restore());

describe('MetricSample', () => {
  it('keeps every value up to the cap', () => {
    const s = new MetricSample(3, () => 0.5);
    [5, 1, 9].forEach((v) => s.add(v));
    expect(s.take()).toEqual([5, 1, 9]);
  });

  it('keeps at most cap values beyond it, always including the exact maximum', () => {
    let x = 0;
    const s = new MetricSample(10, () => ((x = (x * 9301 + 49297) % 233280) / 233280));
    for (let i = 0; i < 1000; i++) s.add(i === 517 ? 1e9 : i);
    const t = s.take();
    expect(t).toHaveLength(10);
    expect(t).toContain(1e9);
  });
});

describe('batch stats', () => {
  it('counts each outcome in its own counter', () => {
    const stats = newBatchStats(Math.random);
    for (const o of ['written', 'written', 'duplicate', 'stale', 'filtered', 'dead-lettered', 'canary'] as const) countOutcome(stats, o);
    expect(stats).toMatchObject({ written: 2, duplicates: 1, stale: 1, filtered: 1, deadLettered: 1, canaries: 1 });
  });

  it('emits one EMF document with the contract metrics and samples', () => {
    out = captureStdout();
    const metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName: 'svc' });
    const stats = newBatchStats(() => 0.5);
    countOutcome(stats, 'written');
    for (let i = 0; i < 150; i++) stats.latency.add(i);
    stats.age.add(40);
    emitBatchMetrics(metrics, stats, 3, 2);
    const docs = out.json().filter((l) => '_aws' in l);
    out.restore();
    expect(docs).toHaveLength(1);
    const d = docs[0];
    expect(d[METRIC.recordsIn]).toBe(3);
    expect(d[METRIC.recordsWritten]).toBe(1);
    expect(d[METRIC.batchItemFailures]).toBe(1);
    expect(d[METRIC.processingLatencyMs]).toHaveLength(MAX_METRIC_VALUES);
    expect(d[METRIC.processingLatencyMs]).toContain(149);
    expect(d[METRIC.endToEndAgeMs]).toBe(40);
  });
});
