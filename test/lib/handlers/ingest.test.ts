import { describe, expect, it } from 'vitest';
import { DLQ_URL, harnessPerTest, OVERFLOW_BUCKET } from './support/harness';
import { expectNothingLost, kinesisEvent, SHARD_ID, STREAM_ARN, toBase64, type RecordData } from './support/kinesis';
import { contentHash, decodePayload, overflowKey, payloadTextHash, PermanentError, TransientError, type DlqMessage } from '../../../lib/core';
import { MemorySink } from '../../../lib/handlers/ports/memory';
import type { SinkPort } from '../../../lib/handlers/ports/types';

const setup = harnessPerTest();

function order(n: number, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { orderId: `o-${n}`, price: 10 + n, eventTime: '2026-01-01T00:00:00.000Z', ...extra };
}

function nested(depth: number): Record<string, unknown> {
  let v: Record<string, unknown> = { orderId: 'deep' };
  for (let i = 0; i < depth; i++) v = { orderId: 'deep', child: v };
  return v;
}

const SCHEMA = {
  type: 'object',
  required: ['orderId', 'price'],
  properties: { orderId: { type: 'string' }, price: { type: 'number' } },
};

describe('bad records go to the DLQ at once with reason, payload and source', () => {
  const bad: Array<[string, RecordData, string, RegExp]> = [
    ['invalid base64', { base64: '%%%not-base64%%%' }, 'decode', /not valid base64/],
    ['invalid UTF-8', Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]), 'decode', /not valid UTF-8/],
    ['not JSON', 'hello, this is a test.', 'decode', /not valid JSON/],
    ['JSON but not an object', '[1,2,3]', 'decode', /not an object/],
    ['schema violation', { orderId: 'o-x', price: 'ten' }, 'schema', /^\/price must be number$/],
    ['missing natural key', { price: 3 }, 'missing-key', /orderId/],
    ['oversize', { orderId: 'o-big', pad: 'x'.repeat(3000) }, 'oversize', /more than the 2048 bytes/],
    ['deeply nested', nested(40), 'decode', /nested deeper/],
    ['huge number', '{"orderId":"o-n","price":123456789012345678901234567890123}', 'decode', /number/],
    ['empty data', '', 'decode', /empty/],
  ];

  it.each(bad)('%s', async (_name, data, reasonClass, message) => {
    const hh = setup({ PHX_MAX_RECORD_BYTES: '2048', PHX_SCHEMA: JSON.stringify(SCHEMA) });
    const event = kinesisEvent([order(1), data, order(2)]);
    const res = await hh.run(event);

    expect(res.batchItemFailures).toEqual([]);
    const [msg, ...others] = hh.dlqMessages();
    expect(others).toEqual([]);
    expect(msg.reason.class).toBe(reasonClass);
    expect(msg.reason.message).toMatch(message);
    expect(msg.payload).toBe(toBase64(data));
    expect(msg.payloadRef).toBeNull();
    expect(msg.stage).toBe('ingest');
    const rec = event.Records[1];
    expect(msg.source).toEqual({
      streamArn: STREAM_ARN,
      shardId: SHARD_ID,
      sequenceNumber: rec.kinesis.sequenceNumber,
      partitionKey: rec.kinesis.partitionKey,
      arrivedAt: new Date(Math.round(rec.kinesis.approximateArrivalTimestamp * 1000)).toISOString(),
    });
    // SQS attributes mirror the reason class and stage for filtering.
    expect(hh.sqs.sent[0].QueueUrl).toBe(DLQ_URL);
    expect(hh.sqs.sent[0].MessageAttributes?.reasonClass).toEqual({ DataType: 'String', StringValue: reasonClass });
    // The valid records around it are written.
    expect(hh.ddb.table.size).toBe(2);
    expectNothingLost(event, res, { appliedSeqs: hh.appliedSeqs(), deadLetteredSeqs: hh.deadLetteredSeqs() });
  });

  it('carries the record id and correlation id when the record decoded far enough', async () => {
    const hh = setup({ PHX_SCHEMA: JSON.stringify(SCHEMA) });
    await hh.run(kinesisEvent([{ orderId: 'o-1', price: 'x', correlationId: 'corr-1' }]));
    const [msg] = hh.dlqMessages();
    expect(msg.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(msg.correlationId).toBe('corr-1');
    expect(hh.sqs.sent[0].MessageAttributes?.id?.StringValue).toBe(msg.id);
  });

  it('lists several schema violations in one reason', async () => {
    const hh = setup({ PHX_SCHEMA: JSON.stringify({ ...SCHEMA, required: ['orderId', 'price', 'sku'] }) });
    await hh.run(kinesisEvent([{ orderId: 'o-1', price: 'x' }]));
    expect(hh.dlqMessages()[0].reason.message).toBe("/ must have required property 'sku'; /price must be number");
  });
});

describe('idempotent writes', () => {
  it('writes the same record twice only once (second is a duplicate)', async () => {
    const hh = setup();
    const event = kinesisEvent([order(1), order(1)]);
    const res = await hh.run(event);
    expect(res.batchItemFailures).toEqual([]);
    expect([...hh.sink.acked.values()]).toEqual(['written', 'duplicate']);
    expect(hh.ddb.table.size).toBe(1);
    expectNothingLost(event, res, { appliedSeqs: hh.appliedSeqs(), deadLetteredSeqs: hh.deadLetteredSeqs() });
  });

  it('does not apply an older version after a newer one (stale), whatever the arrival order', async () => {
    const hh = setup();
    const newer = order(1, { eventTime: '2026-01-02T00:00:00.000Z', price: 99 });
    const older = order(1, { eventTime: '2026-01-01T00:00:00.000Z', price: 11 });
    await hh.run(kinesisEvent([newer, older]));
    expect([...hh.sink.acked.values()]).toEqual(['written', 'stale']);
    const id = hh.sink.envelopes[0].id;
    expect(hh.stored(id)?.payload.price).toBe(99);
  });

  it('decides duplicate vs stale by reading the item when the conditional failure carries no ALL_OLD item', async () => {
    const hh = setup();
    hh.ddb.returnOld = false;
    await hh.run(kinesisEvent([
      order(1, { eventTime: '2026-01-02T00:00:00.000Z' }),
      order(1, { eventTime: '2026-01-02T00:00:00.000Z' }),
      order(1, { eventTime: '2026-01-01T00:00:00.000Z' }),
    ]));
    expect([...hh.sink.acked.values()]).toEqual(['written', 'duplicate', 'stale']);
  });

  it('stores the envelope with id, correlation id, event time, content hash and the closed ingest hop', async () => {
    const hh = setup();
    await hh.run(kinesisEvent([order(1, { correlationId: 'corr-42' })]));
    const [item] = [...hh.ddb.table.values()];
    const env = JSON.parse(item.envelope.S!);
    expect(item.pk.S).toBe(env.id);
    expect(item.correlationId.S).toBe('corr-42');
    expect(item.eventTime.S).toBe('2026-01-01T00:00:00.000Z');
    // Contract: sha256 of the payload's JSON text as stored (producer key order with key fields).
    const payloadText = item.envelope.S!.slice(item.envelope.S!.indexOf('"payload":') + '"payload":'.length, -1);
    expect(payloadText).toBe(JSON.stringify(order(1, { correlationId: 'corr-42' })));
    expect(item.contentHash.S).toBe(payloadTextHash(payloadText));
    expect(item.contentHash.S).toMatch(/^[0-9a-f]{64}$/);
    expect(env.correlationId).toBe('corr-42');
    expect(env.source).toBe('lambda-stream');
    expect(env.hops).toEqual([{ stage: 'ingest', in: hh.clock.t, out: hh.clock.t, attempt: 1 }]);
  });
});

describe('transient failures', () => {
  function throttled(): Error {
    return Object.assign(new Error('Rate exceeded'), { name: 'ProvisionedThroughputExceededException', $metadata: { httpStatusCode: 400 } });
  }


  it('without key fields stores the canonical payload text and hashes it (one canonicalization for id and hash)', async () => {
    const hh = setup({ PHX_KEY_FIELDS: '[]' });
    await hh.run(kinesisEvent([{ price: 11, orderId: 'o-1', eventTime: '2026-01-01T00:00:00.000Z', z: { b: 1, a: 2 } }]));
    const [item] = [...hh.ddb.table.values()];
    const payload = JSON.parse(item.envelope.S!).payload;
    expect(item.envelope.S!).toContain('"payload":{"eventTime":"2026-01-01T00:00:00.000Z","orderId":"o-1","price":11,"z":{"a":2,"b":1}}}');
    expect(item.contentHash.S).toBe(contentHash(payload));
  });

  it('ends in the same stored version whatever the arrival order of equal-time versions (hash tie-break)', async () => {
    // Same id and event time, different content (and key order): the higher hash wins in both arrival orders.
    const a = { orderId: 'o-7', price: 1, eventTime: '2026-01-01T00:00:00.000Z' };
    const b = { eventTime: '2026-01-01T00:00:00.000Z', price: 1, orderId: 'o-7' };
    const c = { orderId: 'o-7', price: 2, eventTime: '2026-01-01T00:00:00.000Z' };
    const finals: string[] = [];
    for (const batch of [[a, b, c], [c, b, a], [b, c, a]]) {
      const hh = setup();
      expect((await hh.run(kinesisEvent(batch))).batchItemFailures).toEqual([]);
      const [item] = [...hh.ddb.table.values()];
      finals.push(`${item.contentHash.S} ${JSON.stringify(JSON.parse(item.envelope.S!).payload)}`);
      hh.restore();
    }
    expect(new Set(finals).size).toBe(1);
    const hashes = [a, b, c].map((p) => payloadTextHash(JSON.stringify(p))).sort();
    expect(finals[0].split(' ')[0]).toBe(hashes[2]);
  });
  it('retries a transient sink failure in-process, then succeeds', async () => {
    const hh = setup();
    hh.ddb.failNext.push(throttled(), throttled());
    const event = kinesisEvent([order(1), order(2)]);
    const res = await hh.run(event);
    expect(res.batchItemFailures).toEqual([]);
    expect(hh.ddb.puts).toHaveLength(4);
    expect(hh.ddb.table.size).toBe(2);
    expect(hh.clock.sleeps).toHaveLength(2);
    const env = hh.sink.envelopes[0];
    expect(env.hops[0].attempt).toBe(3);
  });

  it('stops at a record whose retries are exhausted and reports only its sequence number; no later record is written', async () => {
    const hh = setup({ PHX_RETRY_MAX_ATTEMPTS: '3' });
    const event = kinesisEvent([order(1), order(2), order(3), order(4)]);
    // Record 1 succeeds; record 2 fails on every attempt.
    const failing = throttled();
    let calls = 0;
    const inner = hh.sink.write.bind(hh.sink);
    hh.sink.write = async (env, meta) => {
      calls++;
      if (env.payload.orderId === 'o-2') throw failing;
      return inner(env, meta);
    };
    const res = await hh.run(event);
    expect(res.batchItemFailures).toEqual([{ itemIdentifier: event.Records[1].kinesis.sequenceNumber }]);
    expect(calls).toBe(1 + 3);
    const writtenOrders = hh.ddb.puts.map((p) => JSON.parse(p.Item!.envelope.S!).payload.orderId);
    expect(writtenOrders).toEqual(['o-1']);
    expectNothingLost(event, res, { appliedSeqs: hh.appliedSeqs(), deadLetteredSeqs: hh.deadLetteredSeqs() });
  });

  it('bounds the retries by the retry budget', async () => {
    const hh = setup({ PHX_RETRY_BUDGET_MS: '100', PHX_RETRY_BASE_MS: '60', PHX_RETRY_CAP_MS: '1000', PHX_RETRY_MAX_ATTEMPTS: '50' });
    for (let i = 0; i < 50; i++) hh.ddb.failNext.push(throttled());
    const event = kinesisEvent([order(1), order(2)]);
    const res = await hh.run(event);
    expect(res.batchItemFailures).toEqual([{ itemIdentifier: event.Records[0].kinesis.sequenceNumber }]);
    expect(hh.clock.sleeps.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(100);
    expect(hh.ddb.puts.length).toBeLessThan(50);
  });

  it('bounds the retries by the remaining invocation time', async () => {
    const hh = setup({ PHX_RETRY_BUDGET_MS: '60000', PHX_RETRY_BASE_MS: '1000', PHX_RETRY_CAP_MS: '20000', PHX_RETRY_MAX_ATTEMPTS: '100' });
    for (let i = 0; i < 100; i++) hh.ddb.failNext.push(throttled());
    const event = kinesisEvent([order(1)]);
    const start = hh.clock.t;
    const res = await hh.run(event, 5_000);
    expect(res.batchItemFailures).toHaveLength(1);
    // Never sleeps into the safety margin (1 s) before the 5 s timeout.
    expect(hh.clock.t - start).toBeLessThanOrEqual(4_000);
  });

  it('does not start records when the invocation is about to time out, and reports the first of them', async () => {
    const hh = setup();
    const event = kinesisEvent([order(1), order(2)]);
    const res = await hh.run(event, 900);
    expect(res.batchItemFailures).toEqual([{ itemIdentifier: event.Records[0].kinesis.sequenceNumber }]);
    expect(hh.ddb.puts).toHaveLength(0);
  });

  it('treats a DLQ that cannot be written as a transient failure: the record is reported, not lost', async () => {
    const hh = setup({ PHX_RETRY_MAX_ATTEMPTS: '3' });
    const sqsDown = Object.assign(new Error('Service unavailable'), { name: 'ServiceUnavailable', $metadata: { httpStatusCode: 503 } });
    hh.sqs.failNext.push(sqsDown, sqsDown, sqsDown);
    const event = kinesisEvent([order(1), 'not json', order(3)]);
    const res = await hh.run(event);
    expect(res.batchItemFailures).toEqual([{ itemIdentifier: event.Records[1].kinesis.sequenceNumber }]);
    expect(hh.dlqMessages()).toEqual([]);
    expect(hh.ddb.table.size).toBe(1);
    expectNothingLost(event, res, { appliedSeqs: hh.appliedSeqs(), deadLetteredSeqs: hh.deadLetteredSeqs() });
  });

  it('recovers when the DLQ comes back within the budget', async () => {
    const hh = setup();
    hh.sqs.failNext.push(Object.assign(new Error('x'), { name: 'InternalError', $metadata: { httpStatusCode: 500 } }));
    const res = await hh.run(kinesisEvent(['not json']));
    expect(res.batchItemFailures).toEqual([]);
    expect(hh.dlqMessages()[0].attempts).toBe(2);
  });

  it('dead-letters a record the sink rejects permanently (item too large)', async () => {
    const hh = setup();
    hh.ddb.failNext.push(Object.assign(new Error('Item size has exceeded the maximum allowed size'), { name: 'ValidationException', $metadata: { httpStatusCode: 400 } }));
    const event = kinesisEvent([order(1), order(2)]);
    const res = await hh.run(event);
    expect(res.batchItemFailures).toEqual([]);
    const [msg] = hh.dlqMessages();
    expect(msg.reason.class).toBe('sink-rejected');
    expect(msg.reason.message).toMatch(/Item size has exceeded/);
    expect(msg.source.sequenceNumber).toBe(event.Records[0].kinesis.sequenceNumber);
    expect(hh.ddb.table.size).toBe(1);
  });
});

describe('DLQ overflow', () => {
  it('puts a payload too large for the queue in the overflow bucket and sends a payloadRef', async () => {
    const hh = setup({ PHX_DLQ_MAX_MESSAGE_BYTES: '4096', PHX_MAX_RECORD_BYTES: '5000' });
    const event = kinesisEvent([{ orderId: 'o-big', pad: 'y'.repeat(6000) }]);
    // An oversize 6 KB record: its DLQ message (8 KB of base64) cannot fit in 4 KB.
    const res = await hh.run(event);
    expect(res.batchItemFailures).toEqual([]);
    const [msg] = hh.dlqMessages();
    expect(msg.reason.class).toBe('oversize');
    expect(msg.payload).toBeNull();
    const expectedKey = overflowKey({ ...msg, payload: event.Records[0].kinesis.data, payloadRef: null } as DlqMessage);
    expect(msg.payloadRef).toBe(`s3://${OVERFLOW_BUCKET}/${expectedKey}`);
    const obj = hh.s3.objects.get(`${OVERFLOW_BUCKET}/${expectedKey}`);
    expect(obj?.body).toBe(event.Records[0].kinesis.data);
    expect(Buffer.byteLength(hh.sqs.sent[0].MessageBody!)).toBeLessThan(4096);
  });

  it('keeps small dead letters inline', async () => {
    const hh = setup({ PHX_DLQ_MAX_MESSAGE_BYTES: '4096' });
    await hh.run(kinesisEvent(['nope']));
    const [msg] = hh.dlqMessages();
    expect(decodePayload(msg)?.toString()).toBe('nope');
    expect(hh.s3.puts).toHaveLength(0);
  });
});

describe('transform', () => {
  it('drops a record when the transform returns null (filtered: neither written nor dead-lettered)', async () => {
    const hh = setup({}, { transform: (p) => (p.orderId === 'o-2' ? null : p) });
    const event = kinesisEvent([order(1), order(2), order(3)]);
    const res = await hh.run(event);
    expect(res.batchItemFailures).toEqual([]);
    expect(hh.ddb.table.size).toBe(2);
    expect(hh.dlqMessages()).toEqual([]);
    const summary = hh.stdout.json().find((l) => l.message === 'batch processed');
    expect(summary?.filtered).toBe(1);
  });

  it('writes the payload the transform returns (id from the received payload, hash from the new one)', async () => {
    const hh = setup({}, { transform: (p) => ({ ...p, priceCents: Math.round((p.price as number) * 100) }) });
    await hh.run(kinesisEvent([order(1)]));
    const env = hh.sink.envelopes[0];
    expect(env.payload.priceCents).toBe(1100);
    const [item] = [...hh.ddb.table.values()];
    expect(item.contentHash.S).toBe(payloadTextHash(JSON.stringify(env.payload)));
    expect(JSON.parse(item.envelope.S!).payload).toEqual(env.payload);
  });

  it('dead-letters a record whose transform throws PermanentError', async () => {
    const hh = setup({}, { transform: () => { throw new PermanentError('transform', 'price is negative'); } });
    await hh.run(kinesisEvent([order(1)]));
    expect(hh.dlqMessages()[0].reason).toEqual({ class: 'transform', message: 'price is negative' });
  });

  it('dead-letters a record whose transform throws a plain error (a bug is not retried forever)', async () => {
    const hh = setup({}, {
      transform: (p) => {
        if (p.orderId === 'o-2') throw new TypeError("Cannot read properties of undefined (reading 'x')");
        return p;
      },
    });
    const event = kinesisEvent([order(1), order(2), order(3)]);
    const res = await hh.run(event);
    expect(res.batchItemFailures).toEqual([]);
    const [msg] = hh.dlqMessages();
    expect(msg.reason.class).toBe('transform');
    expect(msg.reason.message).toMatch(/TypeError: Cannot read properties/);
    expect(msg.attempts).toBe(1);
    expect(hh.ddb.table.size).toBe(2);
  });

  it('retries a transform that throws TransientError, without re-running it after it succeeded', async () => {
    let calls = 0;
    const hh = setup({}, {
      transform: (p) => {
        calls++;
        if (calls === 1) throw new TransientError('lookup service timed out', { timeout: true });
        return p;
      },
    });
    hh.ddb.failNext.push(Object.assign(new Error('x'), { name: 'ThrottlingException', $metadata: { httpStatusCode: 400 } }));
    await hh.run(kinesisEvent([order(1)]));
    expect(calls).toBe(2);
    expect(hh.ddb.table.size).toBe(1);
  });

  it('dead-letters a transform result that is not an object', async () => {
    const hh = setup({}, { transform: () => [1, 2] as unknown as Record<string, unknown> });
    await hh.run(kinesisEvent([order(1)]));
    expect(hh.dlqMessages()[0].reason.class).toBe('transform');
  });

  it('gives the transform the record context', async () => {
    const seen: unknown[] = [];
    const hh = setup({}, { transform: (p, ctx) => { seen.push(ctx); return p; } });
    const event = kinesisEvent([order(1, { correlationId: 'c-1' })]);
    await hh.run(event);
    expect(seen[0]).toMatchObject({
      correlationId: 'c-1',
      partitionKey: '1',
      sequenceNumber: event.Records[0].kinesis.sequenceNumber,
      eventTime: '2026-01-01T00:00:00.000Z',
    });
  });
});

describe('ordering and concurrency', () => {
  it('processes strictly in batch order by default', async () => {
    const hh = setup();
    const event = kinesisEvent([order(1), order(2), order(3)].map((d, i) => ({ data: d, opts: { partitionKey: `k${i % 2}` } })));
    await hh.run(event);
    expect(hh.sink.order).toEqual(event.Records.map((r) => r.kinesis.sequenceNumber));
  });

  it('keeps order within a partition key with several keys in flight, and reports the lowest failed sequence number as a BigInt', async () => {
    // Sequence numbers of different lengths: string order would pick the wrong one.
    const seqs = ['900', '950', '1000', '1001', '1200', '1300'];
    const keys = ['a', 'b', 'a', 'b', 'c', 'c'];
    const event = kinesisEvent(seqs.map((s, i) => ({ data: order(i), opts: { sequenceNumber: s, partitionKey: keys[i] } })));
    const memory = new MemorySink();
    let inFlight = 0;
    let maxInFlight = 0;
    const slow: SinkPort = {
      write: async (env, meta) => {
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        await new Promise((r) => setImmediate(r));
        inFlight--;
        if (meta.sequenceNumber === '1001' || meta.sequenceNumber === '1300') {
          throw new PermanentError('sink-rejected', 'no');
        }
        return memory.write(env, meta);
      },
    };
    const hh = setup({ PHX_RECORD_CONCURRENCY: '3' }, { sink: slow });
    const res = await hh.run(event);
    expect(maxInFlight).toBeGreaterThan(1);
    expect(maxInFlight).toBeLessThanOrEqual(3);
    for (const k of ['a', 'b', 'c']) {
      const ofKey = hh.sink.order.filter((s) => keys[seqs.indexOf(s)] === k);
      expect(ofKey).toEqual([...ofKey].sort((x, y) => Number(BigInt(x) - BigInt(y))));
    }
    expect(res.batchItemFailures).toEqual([]);
    expect([...hh.deadLetteredSeqs()].sort()).toEqual(['1001', '1300']);
  });

  it('with several keys in flight, stops starting records after a failure and reports the lowest incomplete one', async () => {
    const seqs = ['99', '100', '101', '102', '103', '104'];
    const keys = ['a', 'b', 'a', 'b', 'a', 'b'];
    const event = kinesisEvent(seqs.map((s, i) => ({ data: order(i), opts: { sequenceNumber: s, partitionKey: keys[i] } })));
    const memory = new MemorySink();
    const failing: SinkPort = {
      write: async (env, meta) => {
        await new Promise((r) => setImmediate(r));
        if (meta.sequenceNumber === '102') throw new TransientError('down');
        return memory.write(env, meta);
      },
    };
    const hh = setup({ PHX_RECORD_CONCURRENCY: '2', PHX_RETRY_MAX_ATTEMPTS: '2' }, { sink: failing });
    const res = await hh.run(event);
    expect(res.batchItemFailures).toHaveLength(1);
    const failed = BigInt(res.batchItemFailures[0].itemIdentifier);
    expect(failed).toBeLessThanOrEqual(102n);
    // Key b never gets past 102.
    expect(hh.sink.acked.has('104')).toBe(false);
    expectNothingLost(event, res, { appliedSeqs: hh.appliedSeqs(), deadLetteredSeqs: hh.deadLetteredSeqs() });
  });
});

describe('sinks other than DynamoDB through the same processor', () => {
  it('accepts a custom sink port (no PHX_SINK_TARGET needed)', async () => {
    const memory = new MemorySink();
    const hh = setup({ PHX_SINK_KIND: '', PHX_SINK_TARGET: '' }, { sink: memory });
    await hh.run(kinesisEvent([order(1), order(1)]));
    expect(memory.calls.map((c) => c.result)).toEqual(['written', 'duplicate']);
  });
});
