/**
 * One invocation: records in order (per partition key when concurrent), each prepared, attempted and retried within
 * its budget; the first record that still fails stops the batch; one EMF document and one summary log line at the end.
 */
import type { Logger } from '@aws-lambda-powertools/logger';
import type { Metrics } from '@aws-lambda-powertools/metrics';
import type { Context, KinesisStreamBatchResponse, KinesisStreamRecord } from 'aws-lambda';
import { attemptRecord, firstAttempt } from './attempt';
import { countOutcome, emitBatchMetrics, newBatchStats, type BatchStats } from './batch-metrics';
import { planGroup, prepareAll, runCoalesced } from './coalesce';
import { shardIdOf } from './dead-letter-step';
import { ensureCanaryKey, prepare } from './envelope-step';
import { retryInBudget, timeLeftMs, type RetryPolicy } from './retry-budget';
import { newRecordState, type RecordOutcome, type RecordState, type StepContext } from './types';
import { describeError, eventTimeMs, type RetryOutcome, type RetryTokenBucket } from '../../core';

/** What a processor holds for every invocation. */
export interface BatchDeps {
  readonly ctx: StepContext;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly tokenBucket: RetryTokenBucket;
  readonly retry: RetryPolicy;
  readonly marginMs: number;
}

/** The record that stopped the batch, as logged in the summary line. */
interface BatchFailure {
  sequenceNumber: string;
  recordId: string | null;
  correlationId: string | null;
  error: string;
  exhausted: string;
  attempts: number;
}

/** State of one invocation. */
interface Run {
  readonly deps: BatchDeps;
  readonly records: readonly KinesisStreamRecord[];
  readonly context: Context;
  readonly stats: BatchStats;
  /** Stream name written as the source of new envelopes (else the pipeline name). */
  readonly source: string;
  readonly debug: boolean;
  /** 1 at the index of each completed record. */
  readonly done: Uint8Array;
  /** Every record prepared before the first write (prepareAll); undefined entries are prepared when they start. */
  readonly states: ReadonlyArray<RecordState | undefined>;
  /** Records completed as superseded by a higher version of their id in the batch (coalesce). */
  coalesced: number;
  stopped: boolean;
  failure: BatchFailure | undefined;
}

function streamNameOf(arn: unknown): string | undefined {
  const i = typeof arn === 'string' ? arn.lastIndexOf(':stream/') : -1;
  return i >= 0 ? (arn as string).slice(i + ':stream/'.length) || undefined : undefined;
}

/** Processes one batch: the handler's result is at most one batchItemFailure, the lowest record not completed. */
export async function processBatch(deps: BatchDeps, records: readonly KinesisStreamRecord[], context: Context): Promise<KinesisStreamBatchResponse> {
  const clock = deps.ctx.clock;
  await ensureCanaryKey(deps.ctx);
  const batchStart = clock.now();
  deps.logger.addContext(context);
  const level = deps.logger.getLevelName();
  const run: Run = {
    deps,
    records,
    context,
    stats: newBatchStats(clock.random),
    source: streamNameOf(records[0]?.eventSourceARN) ?? deps.ctx.cfg.pipeline,
    debug: level === 'DEBUG' || level === 'TRACE',
    done: new Uint8Array(records.length),
    states: [],
    coalesced: 0,
    stopped: false,
    failure: undefined,
  };
  let completed = 0;
  try {
    (run as { states: Run['states'] }).states = prepareAll(records, run.source, deps.ctx);
    const group = (indices: readonly number[]): Promise<boolean> => runCoalesced(
      indices, planGroup(indices, run.states, deps.ctx), (i) => processOne(run, i), (i, o) => completeSuperseded(run, i, o), () => run.stopped);
    if (deps.ctx.cfg.recordConcurrency <= 1) {
      // Strictly sequential, in batch (= sequence number) order.
      await group(records.map((_, i) => i));
    } else {
      await runGroups(groupByPartitionKey(records), deps.ctx.cfg.recordConcurrency, group, () => run.stopped);
    }
  } finally {
    completed = run.done.reduce((a, b) => a + b, 0);
    emitBatchMetrics(deps.metrics, run.stats, records.length, records.length - completed);
  }
  const lowestSeq = lowestNotCompleted(records, run.done);
  logBatch(run, records.length - completed, lowestSeq, clock.now() - batchStart);
  return { batchItemFailures: lowestSeq === undefined ? [] : [{ itemIdentifier: lowestSeq }] };
}

/**
 * Processes records[index]: its outcome, or undefined when the batch must stop (time nearly spent, or the record
 * failed).
 */
async function processOne(run: Run, index: number): Promise<RecordOutcome | undefined> {
  const { ctx, logger, marginMs } = run.deps;
  const rec = run.records[index];
  const remaining = timeLeftMs(run.context, marginMs);
  if (remaining <= 0) {
    if (!run.stopped) logger.warn('invocation time nearly spent; leaving the rest of the batch to the next delivery', { sequenceNumber: rec.kinesis.sequenceNumber, remainingMs: remaining + marginMs });
    run.stopped = true;
    return undefined;
  }
  const prepared = run.states[index];
  // The record's hop starts now, not when the batch was prepared.
  const st = prepared !== undefined ? { ...prepared, startMs: ctx.clock.now() } : newRecordState(rec, ctx.clock.now());
  let outcome: RecordOutcome;
  let attempts = 1;
  try {
    // Attempt 1 without the retry machinery (no options object, closure or extra promise).
    if (prepared === undefined) prepare(st, run.source, ctx);
    outcome = await firstAttempt(st, ctx);
    run.deps.tokenBucket.onSuccess();
  } catch (firstError) {
    const result = await retryInBudget(run.deps.retry, (attempt) => attemptRecord(st, attempt, ctx), firstError, st.startMs, remaining);
    run.stats.retries += result.retries;
    if (!result.ok) {
      recordFailed(run, st, result);
      return undefined;
    }
    outcome = result.value;
    attempts = result.attempts;
  }
  recordCompleted(run, st, outcome, attempts);
  run.done[index] = 1;
  return outcome;
}

/** records[index] was superseded by a higher (or the same) version of its id in the batch, and that one was applied. */
function completeSuperseded(run: Run, index: number, outcome: 'duplicate' | 'stale'): void {
  run.coalesced++;
  recordCompleted(run, run.states[index]!, outcome, 1);
  run.done[index] = 1;
}

/** A record that failed after its retries: the batch stops there. */
function recordFailed(run: Run, st: RecordState, result: Extract<RetryOutcome<RecordOutcome>, { ok: false }>): void {
  const kinesis = st.rec.kinesis;
  run.failure = {
    sequenceNumber: kinesis.sequenceNumber,
    recordId: st.id,
    correlationId: st.correlationId,
    error: describeError(result.error),
    exhausted: result.exhausted,
    attempts: result.attempts,
  };
  run.stopped = true;
  run.deps.logger.error('record failed after in-process retries; no later record is started', {
    recordId: st.id,
    correlationId: st.correlationId,
    sequenceNumber: kinesis.sequenceNumber,
    partitionKey: kinesis.partitionKey,
    attempts: result.attempts,
    exhausted: result.exhausted,
    error: run.failure.error,
  });
}

/** Counts a completed record and logs it: canaries and dead letters always, other outcomes at DEBUG. */
function recordCompleted(run: Run, st: RecordState, outcome: RecordOutcome, attempts: number): void {
  const { stats } = run;
  const logger = run.deps.logger;
  const endMs = run.deps.ctx.clock.now();
  const kinesis = st.rec.kinesis;
  countOutcome(stats, outcome);
  if (outcome === 'canary') {
    // One line per canary (every few minutes), at INFO: the monitor's saved queries read canaryLatencyMs from it.
    const canaryLatencyMs = Math.max(0, endMs - eventTimeMs(st.env!.eventTime));
    stats.canaryLatency.add(canaryLatencyMs);
    logger.info('canary received', {
      recordId: st.id, correlationId: st.correlationId, sequenceNumber: kinesis.sequenceNumber, sentAt: st.env!.eventTime, canaryLatencyMs,
    });
  } else if (outcome === 'dead-lettered') {
    const payloadRef = st.payloadRef;
    if (payloadRef !== undefined) stats.overflowed++;
    logger.warn('record dead-lettered', {
      recordId: st.id,
      correlationId: st.correlationId,
      sequenceNumber: kinesis.sequenceNumber,
      partitionKey: kinesis.partitionKey,
      reason: st.dead,
      attempts,
      ...(payloadRef !== undefined ? { payloadRef } : {}),
    });
  } else {
    stats.latency.add(endMs - st.startMs);
    if (st.env) stats.age.add(Math.max(0, endMs - eventTimeMs(st.env.eventTime)));
    if (run.debug) {
      logger.debug(`record ${outcome}`, {
        recordId: st.id,
        correlationId: st.correlationId,
        sequenceNumber: kinesis.sequenceNumber,
        partitionKey: kinesis.partitionKey,
        attempts,
        latencyMs: endMs - st.startMs,
      });
    }
  }
}

/**
 * The lowest sequence number not completed (failed or never started): Lambda checkpoints there and redelivers
 * everything after it (records already applied are deduplicated by the idempotent sinks).
 */
export function lowestNotCompleted(records: readonly KinesisStreamRecord[], done: Uint8Array): string | undefined {
  let lowest: bigint | undefined;
  let lowestSeq: string | undefined;
  for (let i = 0; i < records.length; i++) {
    if (done[i]) continue;
    const seq = records[i].kinesis?.sequenceNumber;
    // Records come in sequence order: a malformed sequence number (never from Kinesis) keeps the first one not completed.
    if (typeof seq !== 'string' || !/^\d{1,128}$/.test(seq)) return lowestSeq ?? seq;
    const n = BigInt(seq);
    if (lowest === undefined || n < lowest) {
      lowest = n;
      lowestSeq = seq;
    }
  }
  return lowestSeq;
}

/** The invocation's summary log line. */
function logBatch(run: Run, notCompleted: number, failedSequenceNumber: string | undefined, durationMs: number): void {
  const { records, stats } = run;
  run.deps.logger.info('batch processed', {
    shardId: records.length > 0 ? shardIdOf(records[0]) : undefined,
    records: records.length,
    written: stats.written,
    duplicates: stats.duplicates,
    stale: stats.stale,
    filtered: stats.filtered,
    deadLettered: stats.deadLettered,
    overflowed: stats.overflowed,
    retries: stats.retries,
    canaries: stats.canaries,
    coalesced: run.coalesced,
    notCompleted,
    failedSequenceNumber,
    failure: run.failure,
    durationMs,
  });
}

/** Indices of the records of each partition key, in batch order; keys in order of first appearance. */
export function groupByPartitionKey(records: readonly KinesisStreamRecord[]): number[][] {
  const groups = new Map<string, number[]>();
  for (let i = 0; i < records.length; i++) {
    const key = records[i].kinesis.partitionKey;
    const g = groups.get(key);
    if (g) g.push(i);
    else groups.set(key, [i]);
  }
  return [...groups.values()];
}

/** Runs up to `concurrency` groups at once; once `stopped()` is true no group starts. */
export async function runGroups(
  groups: readonly number[][],
  concurrency: number,
  runGroup: (indices: readonly number[]) => Promise<boolean>,
  stopped: () => boolean,
): Promise<void> {
  let next = 0;
  async function worker(): Promise<void> {
    while (!stopped() && next < groups.length) {
      if (!(await runGroup(groups[next++]))) return;
    }
  }
  const workers: Array<Promise<void>> = [];
  for (let w = 0; w < Math.min(concurrency, groups.length); w++) workers.push(worker());
  await Promise.all(workers);
}
