import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { describe, expect, it } from 'vitest';
import { harnessPerTest, type Harness } from './support/harness';
import { captureStdout, FakeClock, kinesisEvent, lambdaContext } from './support/kinesis';
import { CANARY_SOURCE, METRIC, METRICS_NAMESPACE } from '../../../constructs/contract';
import { idNamespaceFor, RetryTokenBucket } from '../../../lib/core';
import { loadConfig } from '../../../lib/handlers/config';
import { MemoryDlq, MemorySink } from '../../../lib/handlers/ports/memory';
import { createProcessor } from '../../../lib/handlers/processor';

const harness = harnessPerTest();

function canary(sentAt: string): Record<string, unknown> {
  return { v: 1, source: CANARY_SOURCE, payload: { canary: true, sentAt, pipeline: 'orders' } };
}

function order(n: number, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { orderId: `o-${n}`, price: n, eventTime: '2026-01-01T00:00:00.000Z', ...extra };
}

type Emf = Record<string, unknown> & {
  _aws: { CloudWatchMetrics: Array<{ Namespace: string; Dimensions: string[][]; Metrics: Array<{ Name: string; Unit: string }> }> };
};

function emfDocs(hh: Harness): Emf[] {
  return hh.stdout.json().filter((l) => typeof l._aws === 'object') as Emf[];
}

describe('EMF metrics', () => {
  it('emits one document per batch in the contract namespace with exactly the { Pipeline, Stage } dimensions', async () => {
    const h = harness({ PHX_RETRY_MAX_ATTEMPTS: '3' });
    h.ddb.failNext.push(Object.assign(new Error('slow down'), { name: 'ThrottlingException', $metadata: { httpStatusCode: 400 } }));
    // written, duplicate, stale, dead-lettered (not JSON), written, canary
    const sentAt = new Date(h.clock.t - 1234).toISOString();
    await h.run(kinesisEvent([
      order(1, { eventTime: '2026-01-02T00:00:00.000Z' }),
      order(1, { eventTime: '2026-01-02T00:00:00.000Z' }),
      order(1, { eventTime: '2026-01-01T00:00:00.000Z' }),
      'not json',
      order(2, { eventTime: '2025-06-01T00:00:00.000Z' }),
      canary(sentAt),
    ]));
    const docs = emfDocs(h);
    expect(docs).toHaveLength(1);
    const [doc] = docs;
    const [directive] = doc._aws.CloudWatchMetrics;
    expect(directive.Namespace).toBe(METRICS_NAMESPACE);
    expect(directive.Dimensions).toEqual([['Pipeline', 'Stage']]);
    expect(doc.Pipeline).toBe('orders');
    expect(doc.Stage).toBe('ingest');
    expect(doc.service).toBeUndefined();
    expect(directive.Metrics.map((m) => m.Name).sort()).toEqual(Object.values(METRIC).sort());
    expect(doc[METRIC.recordsIn]).toBe(6);
    expect(doc[METRIC.canariesReceived]).toBe(1);
    // The canary is the last record: the clock does not move after it is received.
    expect(doc[METRIC.canaryLatencyMs]).toBe(h.clock.t - Date.parse(sentAt));
    expect(doc[METRIC.recordsWritten]).toBe(2);
    expect(doc[METRIC.duplicatesSuppressed]).toBe(1);
    expect(doc[METRIC.staleSuppressed]).toBe(1);
    expect(doc[METRIC.recordsDeadLettered]).toBe(1);
    expect(doc[METRIC.recordsRetried]).toBe(1);
    expect(doc[METRIC.batchItemFailures]).toBe(0);
    const units = Object.fromEntries(directive.Metrics.map((m) => [m.Name, m.Unit]));
    expect(units[METRIC.processingLatencyMs]).toBe('Milliseconds');
    expect(units[METRIC.recordsIn]).toBe('Count');
    // One latency and age value per record that reached the sink (4), as an EMF multi-value array.
    expect(doc[METRIC.processingLatencyMs]).toHaveLength(4);
    const ages = doc[METRIC.endToEndAgeMs] as number[];
    expect(ages).toHaveLength(4);
    const ageOfRecord2 = h.clock.t - Date.parse('2025-06-01T00:00:00.000Z');
    expect(ages).toContain(ageOfRecord2);
  });

  it('caps latency values at 99 per batch (one EMF document per batch) and keeps the exact maximum', async () => {
    const h = harness();
    let n = 0;
    const clock = h.clock;
    const inner = h.sink.write.bind(h.sink);
    h.sink.write = async (env, meta) => {
      n++;
      clock.t += n === 137 ? 5_000 : 1; // one slow record
      return inner(env, meta);
    };
    const records = Array.from({ length: 250 }, (_, i) => order(i));
    await h.run(kinesisEvent(records));
    const docs = emfDocs(h);
    expect(docs).toHaveLength(1);
    const [doc] = docs;
    const latencies = doc[METRIC.processingLatencyMs] as number[];
    expect(latencies).toHaveLength(99);
    expect(doc[METRIC.endToEndAgeMs]).toHaveLength(99);
    expect(Math.max(...latencies)).toBe(5_000);
    expect(doc[METRIC.recordsIn]).toBe(250);
  });

  it('counts a batch item failure when the batch stops early', async () => {
    const h = harness({ PHX_RETRY_MAX_ATTEMPTS: '1' });
    h.ddb.failNext.push(Object.assign(new Error('x'), { name: 'InternalServerError', $metadata: { httpStatusCode: 500 } }));
    await h.run(kinesisEvent([order(1), order(2)]));
    const [doc] = emfDocs(h);
    expect(doc[METRIC.batchItemFailures]).toBe(1);
    expect(doc[METRIC.recordsWritten]).toBe(0);
  });
});

describe('canaries', () => {
  it('counts a canary and keeps it out of a terminal sink, without validation or natural key', async () => {
    const h = harness({ PHX_SCHEMA: JSON.stringify({ type: 'object', required: ['orderId'] }) });
    const res = await h.run(kinesisEvent([canary(new Date(h.clock.t - 50).toISOString()), order(1)]));
    expect(res.batchItemFailures).toEqual([]);
    expect(h.ddb.table.size).toBe(1);
    expect(h.dlqMessages()).toEqual([]);
    const [doc] = emfDocs(h);
    expect(doc[METRIC.canariesReceived]).toBe(1);
    expect(doc[METRIC.canaryLatencyMs]).toBe(50);
    expect(doc[METRIC.recordsWritten]).toBe(1);
  });

  it('forwards a canary to a Kinesis next stage (not terminal)', async () => {
    const next = new MemorySink();
    const clock = new FakeClock();
    const out = captureStdout();
    try {
      const process = createProcessor({
        config: loadConfig({ PHX_PIPELINE: 'orders', PHX_SINK_KIND: 'kinesis', PHX_SINK_TARGET: 'next', PHX_KEY_FIELDS: '["orderId"]' }),
        namespace: idNamespaceFor('orders'),
        sink: next,
        dlq: new MemoryDlq(),
        logger: new Logger({ serviceName: 't' }),
        metrics: new Metrics({ namespace: METRICS_NAMESPACE }),
        tokenBucket: new RetryTokenBucket(),
        clock,
      });
      await process(kinesisEvent([canary('2026-01-01T00:00:00.000Z')]), lambdaContext(clock));
    } finally {
      out.restore();
    }
    const [forwarded] = [...next.items.values()];
    expect(forwarded.envelope.source).toBe(CANARY_SOURCE);
    expect(forwarded.envelope.hops.map((hop) => hop.stage)).toEqual(['ingest']);
  });

});

describe('logs', () => {
  it('writes one INFO summary per batch, and nothing per record at INFO', async () => {
    const h = harness();
    await h.run(kinesisEvent([order(1), order(2), order(3)]));
    const logs = h.stdout.json().filter((l) => typeof l.level === 'string');
    expect(logs.map((l) => l.message)).toEqual(['batch processed']);
    expect(logs[0]).toMatchObject({ level: 'INFO', records: 3, written: 3, deadLettered: 0, pipeline: 'orders', stage: 'ingest' });
  });

  it('carries recordId and correlationId on every per-record line (DEBUG), without leaking them to other lines', async () => {
    const h = harness({}, { logger: new Logger({ serviceName: 'test', logLevel: 'DEBUG' }) });
    const event = kinesisEvent([order(1, { correlationId: 'corr-A' }), order(2, { correlationId: 'corr-B' }), 'bad']);
    await h.run(event);
    const logs = h.stdout.json().filter((l) => typeof l.level === 'string');
    const perRecord = logs.filter((l) => l.sequenceNumber !== undefined);
    expect(perRecord.map((l) => [l.level, l.correlationId])).toEqual([
      ['DEBUG', 'corr-A'],
      ['DEBUG', 'corr-B'],
      ['WARN', undefined], // not decodable: no ids (Powertools drops null keys)
    ]);
    for (const l of perRecord.slice(0, 2)) expect(l.recordId).toMatch(/^[0-9a-f-]{36}$/);
    expect(perRecord[2]).toMatchObject({ message: 'record dead-lettered', reason: { class: 'decode' } });
    expect(perRecord[2].recordId).toBeUndefined();
    const summary = logs.find((l) => l.message === 'batch processed')!;
    expect(summary.correlationId).toBeUndefined();
    expect(summary.recordId).toBeUndefined();
    // The written envelopes carry the same correlation ids.
    expect(h.sink.envelopes.map((e) => e.correlationId)).toEqual(['corr-A', 'corr-B']);
  });
});
