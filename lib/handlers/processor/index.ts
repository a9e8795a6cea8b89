/**
 * The ingest batch processor: Kinesis batch in, idempotent writes / dead letters / one batchItemFailure out.
 * Pure orchestration over injected ports (sink, DLQ, logger, metrics, clock), so that tests and benchmarks run the
 * production path without AWS. The contracts are in docs/ARCHITECTURE.md.
 *
 * Per record: decode (decode-step) -> envelope + deterministic id, schema (envelope-step) -> payload or transform
 * (payload-step) -> close hop and idempotent write (write-step). Permanent failures are dead-lettered at once
 * (dead-letter-step) and count as handled; transient failures are retried in-process (retry-budget). A record that
 * still fails stops the batch (batch): no later record is started and the lowest failed-or-not-started sequence
 * number is the only batchItemFailure. One EMF document per invocation (batch-metrics).
 */
import type { Context, KinesisStreamBatchResponse, KinesisStreamEvent } from 'aws-lambda';
import { processBatch, type BatchDeps } from './batch';
import { retryPolicy } from './retry-budget';
import { DEFAULT_SAFETY_MARGIN_MS, stepContext, type ProcessorDeps } from './types';

export { MAX_METRIC_VALUES, MetricSample, emitBatchMetrics, newBatchStats, type BatchStats } from './batch-metrics';
export {
  DEFAULT_SAFETY_MARGIN_MS, systemClock, type Clock, type ProcessorDeps, type RecordOutcome, type Transform, type TransformContext,
} from './types';

/** Creates the batch handler. Call once per container (cold start); the result handles every invocation. */
export function createProcessor(deps: ProcessorDeps): (event: KinesisStreamEvent, context: Context) => Promise<KinesisStreamBatchResponse> {
  const ctx = stepContext(deps);
  const batch: BatchDeps = {
    ctx,
    logger: deps.logger,
    metrics: deps.metrics,
    tokenBucket: deps.tokenBucket,
    retry: retryPolicy(deps.config, deps.tokenBucket, ctx.clock),
    marginMs: deps.safetyMarginMs ?? DEFAULT_SAFETY_MARGIN_MS,
  };
  return function handle(event: KinesisStreamEvent, context: Context): Promise<KinesisStreamBatchResponse> {
    return processBatch(batch, event.Records ?? [], context);
  };
}
