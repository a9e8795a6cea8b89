import type { RunContext, RunPoller } from './context';
import type { StartedStack } from './start';
import type { LocalRunReport, TraceResult } from './types';
import { METRIC, METRICS_NAMESPACE } from '../../../constructs/contract';
import type { Accounting, ProducedLog } from '../accounting';
import type { LocalFunction } from '../functions';
import type { TrafficReport } from '../gates/traffic';
import type { AccessDeniedSummary } from '../iam';
import { summarize, type MetricsStore } from '../metrics';
import type { ProducerStats } from '../producer';
import type { ProvisionedStack } from '../provision';
import { evaluateCondition } from '../template/intrinsics';
import type { LocalStack } from '../template/stack';
import type { SinkEnvelope } from '../verify';
import type { Workload } from '../workloads';

/** CfnOutputs with local values (a value that cannot be resolved locally says why instead of failing the run). */
export function resolveOutputs(stack: LocalStack): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, o] of Object.entries(stack.template.Outputs ?? {})) {
    try {
      if (o.Condition !== undefined && !evaluateCondition(o.Condition, stack, { logicalId: name, type: 'Output' })) continue;
      const v = stack.resolve(o.Value, { logicalId: name, type: 'Output' });
      out[name] = typeof v === 'string' ? v : JSON.stringify(v);
    } catch (e) {
      out[name] = `(no local value: ${(e as Error).message})`;
    }
  }
  return out;
}

export interface ReportInput {
  stack: string;
  workload: Workload;
  produced: ProducedLog;
  producerStats: ProducerStats;
  accounting: Accounting;
  drained: boolean;
  provisioned: ProvisionedStack;
  sink: readonly SinkEnvelope[];
  started: StartedStack;
  outputs: Record<string, string>;
  /** Metric dimensions of the pipeline stage under test. */
  stageDimensions: Record<string, string>;
  /** Kinesis traffic per consumer and writer (the emulator host's limit gate). */
  traffic: TrafficReport;
  iamEnforced: boolean;
  accessDenied: AccessDeniedSummary;
}

/** Report phase: the run's report (written as summary.json by the orchestrator). */
export function buildReport(ctx: RunContext, i: ReportInput): LocalRunReport {
  const { opts, metrics, pollers, functions } = ctx;
  const { accounting: a, started } = i;
  const problems = invariantProblems(a, i, pollers);
  const report: LocalRunReport = {
    stack: i.stack,
    runDir: ctx.runDir,
    seed: opts.seed,
    workload: {
      source: opts.input ? 'file' : 'generator',
      records: i.workload.total,
      rate: opts.rate,
      poisonRate: opts.poisonRate,
      duplicateRate: opts.duplicateRate,
      input: opts.input,
      notes: [...i.workload.notes],
    },
    recordsIn: a.recordsIn,
    producerFailed: i.producerStats.failed,
    validRecords: a.validRecords,
    poisonRecords: a.poisonRecords,
    duplicatesPut: a.duplicatesPut,
    sinkRecords: a.sinkRecords,
    dlqRecords: a.dlqRecords,
    dlqMessages: a.dlqMessages,
    dlqQueueMessages: a.dlqQueueMessages,
    dlqOnFailureCaptures: a.dlqOnFailureCaptures,
    duplicatesInSink: a.duplicatesInSink,
    lost: a.lost,
    dlqByReason: a.dlqByReason,
    recordsPerSecond: recordsPerSecond(a, i.produced),
    latencyMs: a.latencyMs,
    invariant: { holds: problems.length === 0, problems },
    accounting: a,
    duplicatesSuppressed: metrics.total(METRIC.duplicatesSuppressed) + metrics.total(METRIC.staleSuppressed),
    duplicatesRewritten: Math.max(0,
      metrics.total(METRIC.recordsWritten, METRICS_NAMESPACE, i.stageDimensions) - a.sinkExpectedFound - a.newerVersionsPut),
    retries: {
      handlerRecordRetries: metrics.total(METRIC.recordsRetried),
      esmBatchRetries: pollers.reduce((n, p) => n + p.poller.stats.retries, 0),
      producerRetriedEntries: i.producerStats.retriedEntries,
    },
    faults: {
      sinkFailureRate: opts.sinkFailureRate,
      throttleRate: opts.throttleRate,
      crashRate: opts.crashRate,
      sinkProxies: Object.fromEntries(started.proxies.map((p) => [p.service, { ...p.stats, byKind: { ...p.stats.byKind } }])),
      injectedThrottles: functions.reduce((n, f) => n + f.stats.injectedThrottles, 0),
      injectedCrashes: functions.reduce((n, f) => n + f.stats.injectedCrashes, 0),
      stalledSink: [...started.stalled],
    },
    functions: functionReports(functions),
    eventSourceMappings: Object.fromEntries(pollers.map((p) => [p.logicalId, { ...p.poller.stats, source: p.source, function: p.fn }])),
    schedules: snapshot(started.schedules.stats),
    deliveryStreams: snapshot(started.delivery.stats),
    bucketNotifications: snapshot(started.notifications.stats),
    metrics: metricTotals(metrics),
    drained: i.drained,
    durationsMs: ctx.durations,
    resources: { created: createdCounts(i.provisioned), accepted: i.provisioned.accepted.length, notes: [...i.provisioned.notes] },
    outputs: i.outputs,
    unemulatedCalls: { ...started.unemulated.calls },
    alarms: started.monitoring.alarmsReport(),
    canary: started.monitoring.canaryReport(),
    limits: { scale: opts.limitsScale ?? 1, latency: opts.latency ?? 'none', ...withThroughput(i.traffic, i.produced.firstPutAt, Date.now()) },
    iamEnforced: i.iamEnforced,
    accessDenied: i.accessDenied,
  };
  if (opts.trace && opts.trace.length > 0) {
    report.traces = opts.trace.map((q) => ({ query: q, found: traceRecords(i.sink, q, i.produced) }));
  }
  return report;
}

/** Why the invariant does not hold (empty when it holds). */
function invariantProblems(a: Accounting, i: ReportInput, pollers: readonly RunPoller[]): string[] {
  const problems: string[] = [];
  if (a.lostValid > 0) {
    problems.push(i.started.stalled.length > 0
      ? `${a.lostValid} valid record(s) neither in the sink nor dead-lettered: with --stall-sink they stay in the stream, unacknowledged by the `
        + `event source mapping (records it discarded without a destination: ${pollers.reduce((n, p) => n + p.poller.stats.discardedWithoutDestination, 0)})`
      : `${a.lostValid} valid record(s) neither in the sink nor dead-lettered`);
  }
  if (a.lostPoison > 0) problems.push(`${a.lostPoison} bad record(s) not dead-lettered`);
  if (a.validInDlq > 0) problems.push(`${a.validInDlq} valid record(s) dead-lettered instead of written`);
  if (a.duplicatesInSink > 0) problems.push(`${a.duplicatesInSink} duplicate or conflicting version(s) in the sink`);
  if (a.unexpectedSinkItems > 0) problems.push(`${a.unexpectedSinkItems} sink item(s) this run did not produce as valid records`);
  if (a.canariesInSink > 0) problems.push(`${a.canariesInSink} synthetic canary(ies) in the sink (the terminal stage must keep them out)`);
  if (a.dlqUnmatched > 0) problems.push(`${a.dlqUnmatched} dead letter(s) without a recoverable payload of this run`);
  if (i.producerStats.failed > 0) problems.push(`${i.producerStats.failed} record(s) could not be put on the stream`);
  if (!i.drained) problems.push('the pipeline did not drain within the timeout');
  return problems;
}

/** Each consumer's records and bytes read per second, from the first put to `nowMs`. */
function withThroughput(traffic: TrafficReport, firstPutAt: number | undefined, nowMs: number): TrafficReport {
  const seconds = firstPutAt !== undefined && nowMs > firstPutAt ? (nowMs - firstPutAt) / 1000 : 0;
  const rate = (n: number): number => (seconds > 0 ? Math.round((n / seconds) * 10) / 10 : 0);
  const consumers = traffic.consumers.map((c) => ({ ...c, throughput: { recordsPerSecond: rate(c.records), bytesPerSecond: rate(c.bytes) } }));
  return { ...traffic, consumers };
}

/** Records in per second, from the first put to the last completion (or put). */
function recordsPerSecond(a: Accounting, produced: ProducedLog): number {
  const windowStart = produced.firstPutAt;
  const windowEnd = Math.max(a.lastCompletionAt ?? 0, produced.lastPutAt ?? 0);
  const windowSeconds = windowStart !== undefined && windowEnd > windowStart ? (windowEnd - windowStart) / 1000 : 0;
  return windowSeconds > 0 ? Math.round((a.recordsIn / windowSeconds) * 10) / 10 : 0;
}

function functionReports(functions: readonly LocalFunction[]): LocalRunReport['functions'] {
  const out: LocalRunReport['functions'] = {};
  for (const f of functions) {
    const { durationsMs, ...rest } = f.stats;
    out[f.functionName] = { ...rest, durationMs: summarize(durationsMs), logFile: f.logFile };
  }
  return out;
}

function metricTotals(metrics: MetricsStore): Record<string, number> {
  const totals: Record<string, number> = {};
  for (const s of metrics.all()) totals[s.name] = (totals[s.name] ?? 0) + s.sum;
  return totals;
}

function createdCounts(p: ProvisionedStack): Record<string, number> {
  return {
    streams: p.streams.length,
    queues: p.queues.length,
    tables: p.tables.length,
    buckets: p.buckets.length,
    topics: p.topics.length,
    functions: p.functions.length,
    eventSourceMappings: p.mappings.length,
    schedules: p.schedules.length,
    deliveryStreams: p.deliveryStreams.length,
    bucketNotifications: p.bucketNotifications.length,
  };
}

/** A deep copy of live counters, so that the report does not change after it is built. */
function snapshot<T>(stats: T): T {
  return JSON.parse(JSON.stringify(stats)) as T;
}

/** The sink records whose correlation id or id is `query`, with per-hop times. */
export function traceRecords(sink: readonly SinkEnvelope[], query: string, produced?: ProducedLog): TraceResult[] {
  return sink.filter((s) => s.correlationId === query || s.id === query).map((s) => {
    const producedAt = produced?.valid.get(s.id)?.firstAttemptAt ?? (s as SinkEnvelope & { producedAt?: number }).producedAt;
    const last = s.hops[s.hops.length - 1];
    return {
      id: s.id,
      correlationId: s.correlationId,
      eventTime: s.eventTime,
      location: s.location,
      hops: s.hops.map((h) => ({ ...h, ms: typeof h.out === 'number' ? h.out - h.in : undefined })),
      producedAt,
      endToEndMs: producedAt !== undefined && last && typeof last.out === 'number' ? last.out - producedAt : undefined,
    };
  });
}
