/** Fixtures of the processor step tests: a step context over in-memory ports and a fake clock. */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { METRICS_NAMESPACE } from '../../../../constructs/contract';
import { idNamespaceFor, RetryTokenBucket } from '../../../../lib/core';
import { loadConfig, type IngestConfig } from '../../../../lib/handlers/config';
import { MemoryDlq, MemorySink } from '../../../../lib/handlers/ports/memory';
import type { DlqPort, SinkPort } from '../../../../lib/handlers/ports/types';
import type { BatchDeps } from '../../../../lib/handlers/processor/batch';
import { retryPolicy } from '../../../../lib/handlers/processor/retry-budget';
import { stepContext, newRecordState, type ProcessorDeps, type RecordState, type StepContext } from '../../../../lib/handlers/processor/types';
import { FIXTURE_FUTURE_SKEW_MS } from '../support/harness';
import { FakeClock, kinesisRecord, type RecordData, type RecordOptions } from '../support/kinesis';

export const NAMESPACE = idNamespaceFor('orders');
/** The canary key of the step fixtures (set as already loaded). */
export const TEST_CANARY_KEY = Buffer.alloc(32, 7);

export interface Fixture {
  readonly ctx: StepContext;
  readonly sink: MemorySink;
  readonly dlq: MemoryDlq;
  readonly clock: FakeClock;
  readonly config: IngestConfig;
}

export function fixture(env: Record<string, string> = {}, deps: Partial<Pick<ProcessorDeps, 'transform' | 'validate' | 'terminal'>> & { sink?: SinkPort; dlq?: DlqPort } = {}): Fixture {
  const config = loadConfig({
    PHX_PIPELINE: 'orders',
    PHX_KEY_FIELDS: '["orderId"]',
    PHX_SINK_KIND: 'dynamodb',
    PHX_SINK_TARGET: 'orders-table',
    PHX_MAX_FUTURE_SKEW_MS: String(FIXTURE_FUTURE_SKEW_MS),
    ...env,
  });
  const sink = new MemorySink();
  const dlq = new MemoryDlq();
  const clock = new FakeClock();
  const ctx = stepContext({
    config,
    namespace: NAMESPACE,
    sink: deps.sink ?? sink,
    dlq: deps.dlq ?? dlq,
    logger: undefined as never,
    metrics: undefined as never,
    tokenBucket: undefined as never,
    clock,
    transform: deps.transform,
    validate: deps.validate,
    terminal: deps.terminal,
  });
  ctx.canaryKey.key = TEST_CANARY_KEY;
  return { ctx, sink, dlq, clock, config };
}

/** A record state for `data` (the index sets its sequence number and arrival time). */
export function state(data: RecordData, clock: FakeClock, index = 0, opts: RecordOptions = {}): RecordState {
  return newRecordState(kinesisRecord(data, index, opts), clock.now());
}

/** What processBatch needs around a fixture: Powertools logger and metrics, a token bucket, the retry policy. */
export function batchDeps(f: ReturnType<typeof fixture>): BatchDeps {
  const bucket = new RetryTokenBucket();
  return {
    ctx: f.ctx,
    logger: new Logger({ serviceName: 'test' }),
    metrics: new Metrics({ namespace: METRICS_NAMESPACE, serviceName: 'test' }),
    tokenBucket: bucket,
    retry: retryPolicy(f.config, bucket, f.clock),
    marginMs: 1_000,
  };
}
