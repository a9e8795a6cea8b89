/** Batch metrics step: what one invocation counted, published as one EMF document (docs/ARCHITECTURE.md, "Metrics"). */
import { MetricUnit, type Metrics } from '@aws-lambda-powertools/metrics';
import type { RecordOutcome } from './types';
import { METRIC } from '../../../constructs/contract';

/**
 * Latency/age values emitted per batch at most. EMF allows 100 values per metric in one document, and Powertools
 * flushes a document as soon as one metric holds 100 values: 99 keeps each batch in a single EMF document.
 */
export const MAX_METRIC_VALUES = 99;

/**
 * Bounded sample of per-record values for one EMF multi-value metric: all values when there are at most `cap`,
 * else a uniform reservoir sample (Algorithm R) that always holds the exact maximum. CloudWatch then has an exact
 * Maximum and sample-based percentiles; SampleCount is min(n, cap) (use RecordsIn for counts).
 */
export class MetricSample {
  private readonly values: number[] = [];
  private seen = 0;
  private max = -Infinity;

  constructor(
    private readonly cap: number,
    private readonly random: () => number,
  ) {}

  add(v: number): void {
    this.seen++;
    if (v > this.max) this.max = v;
    if (this.values.length < this.cap) {
      this.values.push(v);
      return;
    }
    const j = Math.floor(this.random() * this.seen);
    if (j < this.cap) this.values[j] = v;
  }

  /** The sample (a copy), the exact maximum included. */
  take(): number[] {
    const out = this.values.slice();
    if (this.seen > this.cap && !out.includes(this.max)) {
      out[Math.floor(this.random() * out.length)] = this.max;
    }
    return out;
  }
}

/** What one invocation counted; emitted as one EMF document by {@link emitBatchMetrics}. */
export interface BatchStats {
  written: number;
  duplicates: number;
  stale: number;
  filtered: number;
  deadLettered: number;
  overflowed: number;
  retries: number;
  canaries: number;
  latency: MetricSample;
  age: MetricSample;
  canaryLatency: MetricSample;
}

/** Empty batch counters with latency/age samples of at most MAX_METRIC_VALUES values. */
export function newBatchStats(random: () => number): BatchStats {
  return {
    written: 0,
    duplicates: 0,
    stale: 0,
    filtered: 0,
    deadLettered: 0,
    overflowed: 0,
    retries: 0,
    canaries: 0,
    latency: new MetricSample(MAX_METRIC_VALUES, random),
    age: new MetricSample(MAX_METRIC_VALUES, random),
    canaryLatency: new MetricSample(MAX_METRIC_VALUES, random),
  };
}

/** Counts one completed record's outcome. */
export function countOutcome(stats: BatchStats, outcome: RecordOutcome): void {
  switch (outcome) {
    case 'written': stats.written++; break;
    case 'duplicate': stats.duplicates++; break;
    case 'stale': stats.stale++; break;
    case 'filtered': stats.filtered++; break;
    case 'dead-lettered': stats.deadLettered++; break;
    case 'canary': stats.canaries++; break;
  }
}

/**
 * Publishes one invocation's metrics as one EMF document (docs/ARCHITECTURE.md, "Metrics"). `incomplete` = records
 * not completed (failed or not started).
 */
export function emitBatchMetrics(metrics: Metrics, stats: BatchStats, recordsIn: number, incomplete: number): void {
  metrics.addMetric(METRIC.recordsIn, MetricUnit.Count, recordsIn);
  metrics.addMetric(METRIC.recordsWritten, MetricUnit.Count, stats.written);
  metrics.addMetric(METRIC.duplicatesSuppressed, MetricUnit.Count, stats.duplicates);
  metrics.addMetric(METRIC.staleSuppressed, MetricUnit.Count, stats.stale);
  metrics.addMetric(METRIC.recordsDeadLettered, MetricUnit.Count, stats.deadLettered);
  metrics.addMetric(METRIC.recordsRetried, MetricUnit.Count, stats.retries);
  metrics.addMetric(METRIC.batchItemFailures, MetricUnit.Count, incomplete > 0 ? 1 : 0);
  // Several addMetric calls with one name make an EMF multi-value array (at most MAX_METRIC_VALUES values).
  for (const v of stats.latency.take()) metrics.addMetric(METRIC.processingLatencyMs, MetricUnit.Milliseconds, v);
  for (const v of stats.age.take()) metrics.addMetric(METRIC.endToEndAgeMs, MetricUnit.Milliseconds, v);
  metrics.addMetric(METRIC.canariesReceived, MetricUnit.Count, stats.canaries);
  for (const v of stats.canaryLatency.take()) metrics.addMetric(METRIC.canaryLatencyMs, MetricUnit.Milliseconds, v);
  metrics.publishStoredMetrics();
}
