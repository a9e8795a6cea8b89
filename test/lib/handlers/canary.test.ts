import { Logger } from '@aws-lambda-powertools/logger';
import { KinesisClient, PutRecordCommand } from '@aws-sdk/client-kinesis';
import { mockClient } from 'aws-sdk-client-mock';
import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { captureStdout, FakeClock, kinesisEvent, lambdaContext } from './support/kinesis';
import { CANARY_SOURCE, METRIC } from '../../../constructs/contract';
import { idNamespaceFor, recordId, toEnvelope } from '../../../lib/core';
import { buildCanaryEnvelope, canaryCorrelationId, canaryLatencyMs, isCanary, canaryEnvelope } from '../../../lib/core/canary';
import { ConfigError } from '../../../lib/core/errors';
import { canaryMetrics, createCanary, handler as canaryHandler, kinesisCanaryStream, loadCanaryConfig } from '../../../lib/handlers/canary';
import { MemoryDlq, MemorySink } from '../../../lib/handlers/ports/memory';
import { createIngestHandler } from '../../../lib/runtime';
import { emittedMetrics } from '../../constructs/monitoring/support/metrics';

const T0 = 1_764_000_000_000;
const KEY = Buffer.alloc(32, 7);
const STREAM_ARN = 'arn:aws:kinesis:eu-west-1:123456789012:stream/orders-ingest';

describe('canary envelope (lib/core/canary)', () => {
  const env = buildCanaryEnvelope('orders', T0, KEY);

  it('follows the contract: source, payload, correlation id canary-<pipeline>-<ms>, event time = sentAt', () => {
    expect(env).toMatchObject({
      v: 1,
      source: CANARY_SOURCE,
      correlationId: `canary-orders-${T0}`,
      eventTime: '2025-11-24T16:00:00.000Z',
      hops: [],
      payload: { canary: true, sentAt: '2025-11-24T16:00:00.000Z', pipeline: 'orders' },
    });
    expect(canaryCorrelationId('orders', T0)).toBe(env.correlationId);
  });

  it('carries the id the ingest handler recomputes (whole canonical payload in the pipeline namespace)', () => {
    expect(env.id).toBe(recordId(env.payload as unknown as Record<string, unknown>, idNamespaceFor('orders'), []));
    const again = toEnvelope(JSON.parse(JSON.stringify(env)), { namespace: idNamespaceFor('orders'), keyFields: [], source: 's', arrivedAtMs: T0 + 5 });
    expect(again.id).toBe(env.id);
    expect(again.correlationId).toBe(env.correlationId);
  });

  it('every canary is unique (its send time is in the payload)', () => {
    expect(buildCanaryEnvelope('orders', T0 + 1, KEY).id).not.toBe(env.id);
  });

  it('is recognized by isCanary and by the ingest processor, with the same id and correlation id', () => {
    const decoded = JSON.parse(JSON.stringify(env));
    expect(isCanary(decoded)).toBe(true);
    const seen = canaryEnvelope(decoded, KEY);
    expect(seen).toMatchObject({ id: env.id, correlationId: env.correlationId, eventTime: env.payload.sentAt });
  });

  it('the processor recognizes a canary only as sent: any change to it makes an ordinary record (property)', () => {
    const base = JSON.parse(JSON.stringify(env));
    const identity = (_: any) => undefined;
    const mutation = fc.oneof(
      fc.constant((x: any) => { x.source = 'phoenix'; }),
      fc.constant((x: any) => { x.v = 2; }),
      fc.constant((x: any) => { if (x.payload) { x.payload.canary = 'true'; } }),
      fc.constant((x: any) => { if (x.payload) { delete x.payload.sentAt; } }),
      fc.constant((x: any) => { if (x.payload) { x.payload.sentAt = 'yesterday'; } }),
      fc.constant((x: any) => { if (x.payload) { x.payload.sentAt = T0 + 1; } }),
      fc.constant((x: any) => { if (x.payload) { x.payload.pipeline = 'other'; } }),
      fc.constant((x: any) => { if (x.payload) { x.payload.pipeline = 42; } }),
      fc.constant((x: any) => { x.payload = null; }),
      fc.constant((x: any) => { x.correlationId = 'canary-orders-1'; }),
      fc.constant((x: any) => { if (typeof x.mac === 'string') x.mac = x.mac.replace(/^./, (c: string) => (c === '0' ? '1' : '0')); }),
      fc.constant((x: any) => { delete x.mac; }),
      fc.constant((x: any) => { x.replay = { of: 'archive', at: '2025-11-24T16:00:00.000Z', count: 1 }; }),
      fc.constant((x: any) => { x.extra = 1; }),
      fc.constant(identity),
    );
    fc.assert(fc.property(fc.array(mutation, { maxLength: 3 }), (ms) => {
      const x = JSON.parse(JSON.stringify(base));
      for (const m of ms) m(x);
      const seen = canaryEnvelope(x, KEY) !== undefined;
      expect(seen).toBe(ms.every((m) => m === identity));
      if (seen) expect(isCanary(x)).toBe(true);
      expect(canaryEnvelope(x, Buffer.alloc(32, 8))).toBeUndefined();
      expect(canaryEnvelope(x, undefined)).toBeUndefined();
    }));
  });

  it('a business record with a canary field is not a canary', () => {
    expect(isCanary({ canary: true, sentAt: '2026-01-01T00:00:00Z', pipeline: 'orders' })).toBe(false);
    expect(isCanary({ v: 1, source: 'web', payload: { canary: true, sentAt: '2026-01-01T00:00:00Z', pipeline: 'orders' } })).toBe(false);
  });

  it('canaryLatencyMs is receipt minus sentAt, never negative', () => {
    expect(canaryLatencyMs(env, T0 + 1_234)).toBe(1_234);
    expect(canaryLatencyMs(env, T0 - 50)).toBe(0);
  });

  it('rejects an empty pipeline and a non-integer time, naming the value', () => {
    expect(() => buildCanaryEnvelope('', T0, KEY)).toThrow(/pipeline must be a non-empty string; got/);
    expect(() => buildCanaryEnvelope('orders', Number.NaN, KEY)).toThrow(/nowMs must be integer epoch milliseconds.*got/);
    expect(() => buildCanaryEnvelope('orders', 1.5, KEY)).toThrow(/nowMs must be integer epoch milliseconds/);
  });
});

describe('canary handler configuration', () => {
  const ok = { PHX_PIPELINE: 'orders', PHX_CANARY_STREAM_ARN: STREAM_ARN, PHX_CANARY_KEY_URI: 's3://orders-overflow/control/canary-key' };
  it('reads pipeline, stream ARN, key URI and entry stage (default ingest)', () => {
    expect(loadCanaryConfig(ok)).toEqual({ pipeline: 'orders', entryStage: 'ingest', streamArn: STREAM_ARN, keyUri: 's3://orders-overflow/control/canary-key' });
    expect(loadCanaryConfig({ ...ok, PHX_CANARY_ENTRY_STAGE: 'raw' }).entryStage).toBe('raw');
  });
  it('fails naming the variable, its value and what is allowed', () => {
    expect(() => loadCanaryConfig({ PHX_CANARY_STREAM_ARN: STREAM_ARN })).toThrow(ConfigError);
    expect(() => loadCanaryConfig({ PHX_CANARY_STREAM_ARN: STREAM_ARN })).toThrow(/PHX_PIPELINE=<unset>; allowed: 1-64 characters/);
    expect(() => loadCanaryConfig({ ...ok, PHX_CANARY_STREAM_ARN: 'orders-ingest' })).toThrow(/PHX_CANARY_STREAM_ARN="orders-ingest"; allowed: a Kinesis stream ARN/);
    expect(() => loadCanaryConfig({ ...ok, PHX_CANARY_ENTRY_STAGE: 'a b' })).toThrow(/PHX_CANARY_ENTRY_STAGE="a b"/);
  });
});

describe('canary handler run', () => {
  let out: ReturnType<typeof captureStdout> | undefined;
  afterEach(() => {
    out?.restore();
    out = undefined;
  });

  function run(put: (data: Uint8Array, key: string) => Promise<{ shardId?: string; sequenceNumber?: string }>) {
    out = captureStdout();
    return createCanary({
      pipeline: 'orders',
      entryStage: 'ingest',
      stream: { put },
      logger: new Logger({ serviceName: 'orders', persistentKeys: { pipeline: 'orders', stage: 'canary' } }),
      metrics: canaryMetrics('orders', 'ingest'),
      key: async () => KEY,
      now: () => T0,
    })();
  }

  it('puts one canary envelope keyed by its correlation id, logs it and counts CanariesSent 1', async () => {
    const puts: Array<{ data: unknown; key: string }> = [];
    const result = await run(async (data, k) => {
      puts.push({ data: JSON.parse(Buffer.from(data).toString('utf8')), key: k });
      return { shardId: 'shardId-000000000001', sequenceNumber: '42' };
    });
    expect(puts).toEqual([{ data: buildCanaryEnvelope('orders', T0, KEY), key: `canary-orders-${T0}` }]);
    expect(result).toEqual({
      correlationId: `canary-orders-${T0}`,
      recordId: buildCanaryEnvelope('orders', T0, KEY).id,
      sentAt: '2025-11-24T16:00:00.000Z',
      shardId: 'shardId-000000000001',
      sequenceNumber: '42',
    });
    const lines = out!.json();
    expect(lines.find((l) => l.message === 'canary sent')).toMatchObject({ level: 'INFO', correlationId: `canary-orders-${T0}`, stage: 'canary', sequenceNumber: '42' });
    const metrics = lines.filter((l) => l._aws);
    expect(metrics).toHaveLength(1);
    expect(emittedMetrics(metrics)).toEqual([{ namespace: 'PhoenixPipelines', name: 'CanariesSent', dimensions: { Pipeline: 'orders', Stage: 'ingest' } }]);
    expect(metrics[0].CanariesSent).toBe(1);
  });

  it('a failed put is logged with the correlation id, counted as CanariesSent 0 and rethrown (the invocation fails)', async () => {
    await expect(run(async () => { throw Object.assign(new Error('Rate exceeded'), { name: 'ProvisionedThroughputExceededException' }); }))
      .rejects.toThrow(/Rate exceeded/);
    const lines = out!.json();
    expect(lines.find((l) => l.message === 'canary put failed')).toMatchObject({ level: 'ERROR', correlationId: `canary-orders-${T0}` });
    expect(lines.find((l) => l._aws)!.CanariesSent).toBe(0);
  });

  it('the Kinesis adapter calls PutRecord with the stream ARN, partition key and data', async () => {
    const kinesis = mockClient(KinesisClient);
    try {
      kinesis.on(PutRecordCommand).resolves({ ShardId: 'shardId-000000000003', SequenceNumber: '7' });
      const port = kinesisCanaryStream(new KinesisClient({ region: 'eu-west-1' }), STREAM_ARN);
      await expect(port.put(Buffer.from('{}'), 'k')).resolves.toEqual({ shardId: 'shardId-000000000003', sequenceNumber: '7' });
      const input = kinesis.commandCalls(PutRecordCommand)[0].args[0].input;
      expect(input).toMatchObject({ StreamARN: STREAM_ARN, PartitionKey: 'k' });
      expect(Buffer.from(input.Data!).toString()).toBe('{}');
    } finally {
      kinesis.restore();
    }
  });

  it('the Lambda handler is configured from the environment on first use and reports a bad configuration', async () => {
    vi.stubEnv('PHX_PIPELINE', '');
    try {
      await expect(canaryHandler({}, lambdaContext({ now: () => T0 }))).rejects.toThrow(/PHX_PIPELINE=""/);
    } finally {
      vi.unstubAllEnvs();
    }
  });
});

describe('a canary through the terminal ingest stage', () => {
  it('is counted and measured, never written to the sink nor dead-lettered, even with natural-key fields', async () => {
    const clock = new FakeClock(T0 + 2_500);
    const sink = new MemorySink();
    const dlq = new MemoryDlq();
    const handler = createIngestHandler({
      env: { PHX_PIPELINE: 'orders', PHX_KEY_FIELDS: '["orderId"]', PHX_SCHEMA: '{"type":"object","required":["orderId"]}', PHX_SINK_KIND: 'none' },
      sink,
      dlq,
      clock,
      canaryKey: KEY,
    });
    const out = captureStdout();
    let res;
    try {
      res = await handler(kinesisEvent([buildCanaryEnvelope('orders', T0, KEY) as unknown as Record<string, unknown>, { orderId: 'o-1' }]), lambdaContext(clock));
    } finally {
      out.restore();
    }
    expect(res.batchItemFailures).toEqual([]);
    expect(sink.calls.map((c) => c.result)).toEqual(['written']);
    expect(dlq.messages).toEqual([]);
    const doc = out.json().find((l) => l._aws)!;
    expect(doc[METRIC.canariesReceived]).toBe(1);
    expect(doc[METRIC.canaryLatencyMs]).toBe(2_500);
    // The line the monitor's saved queries read (constructs/monitoring/private/queries.ts: canaryLatencyMs).
    const canary = buildCanaryEnvelope('orders', T0, KEY);
    expect(out.json().find((l) => l.message === 'canary received')).toMatchObject({
      level: 'INFO', correlationId: canary.correlationId, recordId: canary.id, canaryLatencyMs: 2_500, stage: 'ingest',
    });
  });
});
