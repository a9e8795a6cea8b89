/**
 * A configured ingest handler on mocked AWS clients and a fake clock, plus helpers to read what it did.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { KinesisStreamBatchResponse, KinesisStreamEvent } from 'aws-lambda';
import { afterEach, beforeAll } from 'vitest';
import { fakeDynamoDb, fakeS3, fakeSqs, type FakeDynamo, type FakeS3, type FakeSqs } from './fake-aws';
import { captureStdout, FakeClock, lambdaContext } from './kinesis';
import type { DlqMessage, Envelope } from '../../../../lib/core';
import { DynamoDbSink } from '../../../../lib/handlers/ports/dynamodb';
import type { SinkPort, SinkWriteMeta, WriteResult } from '../../../../lib/handlers/ports/types';
import { createIngestHandler, type IngestHandlerOptions } from '../../../../lib/runtime';

export const TABLE = 'orders-table';
/** A future-skew bound (PHX_MAX_FUTURE_SKEW_MS) that lets the fixtures' 2026 event times through. */
export const FIXTURE_FUTURE_SKEW_MS = 366 * 86_400_000;
export const DLQ_URL = 'https://sqs.us-east-2.amazonaws.com/123456789012/orders-dlq';
export const OVERFLOW_BUCKET = 'orders-dlq-overflow';

export const BASE_ENV: Readonly<Record<string, string>> = {
  PHX_PIPELINE: 'orders',
  PHX_STAGE: 'ingest',
  PHX_KEY_FIELDS: '["orderId"]',
  PHX_SINK_KIND: 'dynamodb',
  PHX_SINK_TARGET: TABLE,
  PHX_DLQ_URL: DLQ_URL,
  PHX_DLQ_OVERFLOW_BUCKET: OVERFLOW_BUCKET,
  PHX_RETRY_BUDGET_MS: '5000',
  PHX_RETRY_BASE_MS: '10',
  PHX_RETRY_CAP_MS: '200',
  PHX_RETRY_MAX_ATTEMPTS: '4',
  // The fixtures' event times (2026) are ahead of the fake clock (2025-11-24): the bound itself is tested in hostile/.
  PHX_MAX_FUTURE_SKEW_MS: String(FIXTURE_FUTURE_SKEW_MS),
};

/** Wraps a sink and records the outcome of every acknowledged write by source sequence number. */
export class RecordingSink implements SinkPort {
  readonly acked = new Map<string, WriteResult>();
  readonly envelopes: Envelope[] = [];
  readonly order: string[] = [];
  constructor(private readonly inner: SinkPort) {}
  async write(env: Envelope, meta: SinkWriteMeta): Promise<WriteResult> {
    this.order.push(meta.sequenceNumber);
    const r = await this.inner.write(env, meta);
    this.acked.set(meta.sequenceNumber, r);
    this.envelopes.push(env);
    return r;
  }
}

export interface Harness {
  readonly clock: FakeClock;
  readonly ddb: FakeDynamo;
  readonly sqs: FakeSqs;
  readonly s3: FakeS3;
  readonly sink: RecordingSink;
  readonly stdout: ReturnType<typeof captureStdout>;
  run(event: KinesisStreamEvent, timeoutMs?: number): Promise<KinesisStreamBatchResponse>;
  dlqMessages(): DlqMessage[];
  deadLetteredSeqs(): Set<string>;
  appliedSeqs(): Set<string>;
  stored(id: string): Envelope | undefined;
  restore(): void;
}

/**
 * The production handler (createIngestHandler, env configuration, SQS DLQ with S3 overflow on mocked clients) with
 * the real DynamoDB adapter on a mocked client, wrapped to record outcomes per sequence number.
 */
export function harness(env: Record<string, string> = {}, options: IngestHandlerOptions = {}): Harness {
  const clock = new FakeClock();
  const ddb = fakeDynamoDb();
  const sqs = fakeSqs();
  const s3 = fakeS3();
  const sink = new RecordingSink(options.sink ?? new DynamoDbSink(new DynamoDBClient({ region: 'us-east-2' }), TABLE));
  const stdout = captureStdout();
  let handler;
  try {
    handler = createIngestHandler({ env: { ...BASE_ENV, ...env }, clock, ...options, sink });
  } catch (err) {
    stdout.restore();
    throw err;
  }
  const h: Harness = {
    clock,
    ddb,
    sqs,
    s3,
    sink,
    stdout,
    run: (event, timeoutMs = 60_000) => handler(event, lambdaContext(clock, timeoutMs)),
    dlqMessages: () => sqs.sent.map((m) => JSON.parse(m.MessageBody!) as DlqMessage),
    deadLetteredSeqs: () => new Set(h.dlqMessages().map((m) => m.source.sequenceNumber!)),
    appliedSeqs: () => new Set(sink.acked.keys()),
    stored: (id) => {
      const item = ddb.table.get(id);
      return item ? (JSON.parse(item.envelope.S!) as Envelope) : undefined;
    },
    restore: () => {
      stdout.restore();
      ddb.mock.restore();
      sqs.mock.restore();
      s3.mock.restore();
    },
  };
  return h;
}

/**
 * Registers hooks that restore each test's harness after it; returns the factory the tests call. A new harness in the
 * same test (a property's next run) restores the previous one first.
 */
export function harnessPerTest(): typeof harness {
  let current: Harness | undefined;
  beforeAll(() => {
    process.env.AWS_REGION ??= 'us-east-2';
  });
  afterEach(() => {
    current?.restore();
    current = undefined;
  });
  return (...args) => {
    current?.restore();
    return (current = harness(...args));
  };
}
