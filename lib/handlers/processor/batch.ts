/**
 * One invocation: records in order (per partition key when concurrent), each prepared, attempted and retried within
 * its budget; the first record that still fails stops the batch; one EMF document and one summary log line at the end.
 */
import type { Logger } from '@aws-lambda-powertools/logger';
import type { Metrics } from '@aws-lambda-powertools/metrics';
import type { Context, KinesisStreamBatchResponse, KinesisStreamRecord } from 'aws-lambda';
import { attemptRecord, firstAttempt } from './attempt';
import { countOutcome, emitBatchMetrics, newBatchStats, type BatchStats } from './batch-metrics';
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
    stopped: false,
    failure: undefined,
  };
  let completed = 0;
  try {
    if (deps.ctx.cfg.recordConcurrency <= 1) {
      // Strictly sequential, in batch (= sequence number) order.
      for (let i = 0; i < records.length && !run.stopped; i++) {
        if (!(await processOne(run, i))) break;
      }
    } else {
      await processByPartitionKey(records, deps.ctx.cfg.recordConcurrency, (i) => processOne(run, i), () => run.stopped);
    }
  } finally {
    completed = run.done.reduce((a, b) => a + b, 0);
    emitBatchMetrics(deps.metrics, run.stats, records.length, records.length - completed);
  }
  const lowestSeq = lowestNotCompleted(records, run.done);
  logBatch(run, records.length - completed, lowestSeq, clock.now() - batchStart);
  return { batchItemFailures: lowestSeq === undefined ? [] : [{ itemIdentifier: lowestSeq }] };
}

/** Processes records[index]; false when the batch must stop (time nearly spent, or the record failed). */
async function processOne(run: Run, index: number): Promise<boolean> {
  const { ctx, logger, marginMs } = run.deps;
  const rec = run.records[index];
  const remaining = timeLeftMs(run.context, marginMs);
  if (remaining <= 0) {
    if (!run.stopped) logger.warn('invocation time nearly spent; leaving the rest of the batch to the next delivery', { sequenceNumber: rec.kinesis.sequenceNumber, remainingMs: remaining + marginMs });
    run.stopped = true;
    return false;
  }
  const st = newRecordState(rec, ctx.clock.now());
  let outcome: RecordOutcome;
  let attempts = 1;
  try {
    // Attempt 1 without the retry machinery (no options object, closure or extra promise).
    prepare(st, run.source, ctx);
    outcome = await firstAttempt(st, ctx);
    run.deps.tokenBucket.onSuccess();
  } catch (firstError) {
    const result = await retryInBudget(run.deps.retry, (attempt) => attemptRecord(st, attempt, ctx), firstError, st.startMs, remaining);
    run.stats.retries += result.retries;
    if (!result.ok) {
      recordFailed(run, st, result);
      return false;
    }
    outcome = result.value;
    attempts = result.attempts;
  }
  recordCompleted(run, st, outcome, attempts);
  run.done[index] = 1;
  return true;
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
    notCompleted,
    failedSequenceNumber,
    failure: run.failure,
    durationMs,
  });
}

/**
 * Runs records grouped by partition key: order kept within a key, up to `concurrency` keys in flight. Once `stopped()`
 * is true no record starts; records already in flight finish.
 */
export async function processByPartitionKey(
  records: readonly KinesisStreamRecord[],
  concurrency: number,
  runOne: (index: number) => Promise<boolean>,
  stopped: () => boolean,
): Promise<void> {
  const groups = new Map<string, number[]>();
  for (let i = 0; i < records.length; i++) {
    const key = records[i].kinesis.partitionKey;
    const g = groups.get(key);
    if (g) g.push(i);
    else groups.set(key, [i]);
  }
  const queue = [...groups.values()];
  let next = 0;
  async function worker(): Promise<void> {
    while (!stopped() && next < queue.length) {
      const group = queue[next++];
      for (const index of group) {
        if (stopped() || !(await runOne(index))) return;
      }
    }
  }
  const workers: Array<Promise<void>> = [];
  for (let w = 0; w < Math.min(concurrency, queue.length); w++) workers.push(worker());
  await Promise.all(workers);
}
