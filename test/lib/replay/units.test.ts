import { gunzipSync, gzipSync } from 'node:zlib';
import { DescribeStreamSummaryCommand, KinesisClient, PutRecordsCommand } from '@aws-sdk/client-kinesis';
import { S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { describe, expect, it } from 'vitest';
import { dlqStats, renderPayload } from '../../../lib/cli/inspect';
import { decodeData, idNamespaceFor, toEnvelope, type DlqMessage } from '../../../lib/core';
import { outputNameOf, pipelineOutputs } from '../../../lib/local/pipeline-outputs';
import { archiveHourOfKey, archiveKeyInRange, archiveListPrefixes, frameFirehoseRecords, parseArchiveObject } from '../../../lib/replay/archive';
import { runReplay, type ReplayProgress } from '../../../lib/replay/engine';
import { InputError, matchesDlq, parseFilter } from '../../../lib/replay/filter';
import { compareSequenceNumbers, dlqMessagesFor, expiredMessage, OnFailureFormatError, parseOnFailure } from '../../../lib/replay/on-failure';
import { KinesisPutter, PutPipeline, type PutItem, type PutOutcome } from '../../../lib/replay/putter';
import { replayData } from '../../../lib/replay/records';
import { archiveObject, mockArchiveBucket } from '../../support/archive';
import { deadLetter } from '../../support/dlq';
import { cli } from '../../support/replay';

const NOW = Date.parse('2025-11-30T12:00:00.000Z');
const NS = idNamespaceFor('orders');
const AT = new Date('2025-12-01T00:00:00.000Z');

/** An order's schema dead letter of 10:15 on 2025-11-30. */
function msg(over: Partial<DlqMessage> = {}): DlqMessage {
  const at = '2025-11-30T10:15:00.000Z';
  return deadLetter({ id: 'id-1', correlationId: 'c-1', reason: { class: 'schema', message: 'bad' }, firstFailedAt: at, lastFailedAt: at, ...over });
}

describe('filter parsing', () => {
  it('rejects malformed input with one line naming the flag', () => {
    expect(() => parseFilter({ since: '2025-13-01T00:00:00Z' }, NOW)).toThrow(/--since "2025-13-01T00:00:00Z" is not a time/);
    expect(() => parseFilter({ since: '2025-11-30T08:00:00' }, NOW)).toThrow(InputError); // no zone: ambiguous
    expect(() => parseFilter({ since: '2025-11-30T10:00:00Z', until: '2025-11-30T09:00:00Z' }, NOW)).toThrow(/--since .* is after --until/);
    for (const l of ['0', '-1', '1.5', 'ten', '1e3']) expect(() => parseFilter({ limit: l }, NOW)).toThrow(/--limit .* must be a positive integer/);
    expect(() => parseFilter({ reason: 'nope' }, NOW)).toThrow(/--reason "nope" is not a reason class/);
  });

  it('accepts ISO times, dates, epoch ms and durations; lists by repetition or commas', () => {
    const f = parseFilter({ since: '2h', until: '2025-12-01', id: ['a,b', 'c'], reason: 'schema,decode', limit: '5' }, NOW);
    expect(f.sinceMs).toBe(NOW - 7_200_000);
    expect(f.untilMs).toBe(Date.parse('2025-12-01T00:00:00Z'));
    expect([...f.ids!]).toEqual(['a', 'b', 'c']);
    expect([...f.reasons!]).toEqual(['schema', 'decode']);
    expect(f.limit).toBe(5);
    expect(parseFilter({ since: String(NOW) }, NOW).sinceMs).toBe(NOW);
  });

  it('matches every criterion (AND) and any listed value (OR)', () => {
    const m = msg();
    expect(matchesDlq(parseFilter({ id: 'x,id-1', reason: 'schema' }, NOW), m)).toBe(true);
    expect(matchesDlq(parseFilter({ id: 'id-1', reason: 'decode' }, NOW), m)).toBe(false);
    expect(matchesDlq(parseFilter({ correlationId: 'c-1' }, NOW), m)).toBe(true);
    expect(matchesDlq(parseFilter({ id: 'id-1' }, NOW), msg({ id: null }))).toBe(false);
    expect(matchesDlq(parseFilter({ since: '2025-11-30T10:15:00Z', until: '2025-11-30T10:15:00Z' }, NOW), m)).toBe(true);
    expect(matchesDlq(parseFilter({ since: '2025-11-30T10:15:00.001Z' }, NOW), m)).toBe(false);
  });
});

describe('replay records', () => {
  const ctx = { namespace: NS, keyFields: ['orderId'], source: 'orders', arrivedAtMs: Date.parse('2025-12-05T00:00:00Z') };

  it('wraps a raw payload without re-serializing it; the handler derives the same id, correlation id and event time', () => {
    const original = Buffer.from('{ "orderId":"o1",  "amount": 1.50, "n": 12345678901234567890 }');
    const orig = decodeData(original.toString('base64'), { maxBytes: 1e6 });
    // A huge integer is not exactly representable: the handler rejects it, and the replay must not "fix" it.
    expect(orig.ok).toBe(false);
    const r = replayData(original, { of: 'dlq', id: 'i', arrivedAt: '2025-11-30T10:00:00Z' }, AT);
    expect(r.kind).toBe('raw');
    expect(r.data.equals(original)).toBe(true);

    const good = Buffer.from('{ "orderId":"o1",  "amount": 1.50 }');
    const env0 = toEnvelope(JSON.parse(good.toString()), { ...ctx, arrivedAtMs: Date.parse('2025-11-30T10:00:00Z') });
    const w = replayData(good, { of: 'dlq', id: env0.id, correlationId: env0.correlationId, arrivedAt: '2025-11-30T10:00:00.000Z' }, AT);
    expect(w.kind).toBe('envelope');
    expect(w.data.toString()).toContain('"payload":{ "orderId":"o1",  "amount": 1.50 }}');
    const dec = decodeData(w.data.toString('base64'), { maxBytes: 1e6 });
    expect(dec.ok).toBe(true);
    const env1 = toEnvelope((dec as { value: Record<string, unknown> }).value, ctx);
    expect(env1.id).toBe(env0.id);
    expect(env1.correlationId).toBe(env0.correlationId);
    expect(env1.eventTime).toBe(env0.eventTime); // the original arrival, not the replay's
    expect(env1.replay).toEqual({ of: 'dlq', at: AT.toISOString(), count: 1 });
  });

  it('keeps a payload event time; marks a producer envelope; re-puts undecodable bytes unchanged', () => {
    const withTime = Buffer.from(JSON.stringify({ orderId: 'o2', eventTime: '2025-01-01T00:00:00Z' }));
    const w = replayData(withTime, { of: 'archive', arrivedAt: '2025-11-30T10:00:00Z' }, AT);
    expect(JSON.parse(w.data.toString()).eventTime).toBeUndefined();
    expect(toEnvelope(JSON.parse(w.data.toString()), ctx).eventTime).toBe('2025-01-01T00:00:00.000Z');

    const env = Buffer.from(JSON.stringify({ v: 1, correlationId: 'cc', payload: { orderId: 'o3' } }));
    const e = JSON.parse(replayData(env, { of: 'dlq', arrivedAt: '2025-11-30T10:00:00Z' }, AT).data.toString());
    expect(e).toMatchObject({ v: 1, correlationId: 'cc', eventTime: '2025-11-30T10:00:00.000Z', replay: { of: 'dlq' }, payload: { orderId: 'o3' } });

    for (const bad of [Buffer.from([0xc3, 0x28, 0xff]), Buffer.from('not json'), Buffer.from('[1,2]')]) {
      const r = replayData(bad, { of: 'dlq', id: null }, AT);
      expect(r).toEqual({ kind: 'raw', data: bad });
    }
  });
});

describe('archive format', () => {
  it('frames Firehose records as archive record lines and parses them back byte for byte', () => {
    const datas = [Buffer.from('{"a":1}\n{"b":2}'), Buffer.from([0, 1, 2, 0x0a, 0xff])];
    const res = frameFirehoseRecords({
      sourceKinesisStreamArn: 'arn:aws:kinesis:us-east-1:1:stream/s',
      records: datas.map((d, i) => ({ recordId: `r${i}`, data: d.toString('base64'), kinesisRecordMetadata: { shardId: 'shardId-0', partitionKey: `k${i}`, approximateArrivalTimestamp: 1764500000000 + i, sequenceNumber: `${i}` } })),
    });
    expect(res.records.map((r) => r.result)).toEqual(['Ok', 'Ok']);
    const text = gzipSync(Buffer.concat(res.records.map((r) => Buffer.from(r.data, 'base64'))));
    const parsed = parseArchiveObject(gunzipSync(text).toString('utf8'));
    expect(parsed.bad).toBe(0);
    expect(parsed.records.map((r) => Buffer.from(r.data, 'base64'))).toEqual(datas);
    expect(parsed.records[1]).toMatchObject({ partitionKey: 'k1', arrivedAt: new Date(1764500000001).toISOString(), streamArn: 'arn:aws:kinesis:us-east-1:1:stream/s' });
    expect(parseArchiveObject('garbage\n\n{"v":2}\n').badLines).toEqual([1, 3]);
  });

  it('reads the framer\'s failures that Firehose writes under errors/processing-failed/ (replay --prefix errors/processing-failed/)', () => {
    const raw = Buffer.from([0x7b, 0xff, 0x0a]);
    const line = JSON.stringify({ attemptsMade: 4, arrivalTimestamp: 1764500000000, errorCode: 'Lambda.FunctionError', errorMessage: 'boom', attemptEndingTimestamp: 1764500060000, rawData: raw.toString('base64'), lambdaArn: 'arn:aws:lambda:us-east-1:1:function:f' });
    const parsed = parseArchiveObject(`${line}\n{"rawData":"AA==","arrivalTimestamp":"soon"}\n`);
    expect(parsed.badLines).toEqual([2]);
    expect(parsed.records).toEqual([{ v: 1, data: raw.toString('base64'), partitionKey: '', arrivedAt: new Date(1764500000000).toISOString(), sequenceNumber: '', shardId: '' }]);
    expect(archiveHourOfKey('errors/processing-failed/2025/11/30/07/x.gz', 'errors/processing-failed/')).toBe(Date.parse('2025-11-30T07:00:00Z'));
  });

  it('lists day prefixes of a bounded range and keeps keys whose hour overlaps it', () => {
    expect(archiveListPrefixes('raw/', Date.parse('2025-11-30T22:00:00Z'), Date.parse('2025-12-01T01:00:00Z'))).toEqual(['raw/2025/11/30/', 'raw/2025/12/01/']);
    expect(archiveListPrefixes('raw/', undefined, NOW)).toEqual(['raw/']);
    expect(archiveHourOfKey('raw/2025/11/30/07/x.gz', 'raw/')).toBe(Date.parse('2025-11-30T07:00:00Z'));
    const since = Date.parse('2025-11-30T10:30:00Z');
    const until = Date.parse('2025-11-30T11:30:00Z');
    expect(archiveKeyInRange('raw/2025/11/30/07/x', 'raw/', since, until)).toBe(false);
    expect(archiveKeyInRange('raw/2025/11/30/09/x', 'raw/', since, until)).toBe(true); // a buffer may span the next hour
    expect(archiveKeyInRange('raw/2025/11/30/11/x', 'raw/', since, until)).toBe(true);
    expect(archiveKeyInRange('raw/2025/11/30/12/x', 'raw/', since, until)).toBe(false);
  });
});

describe('on-failure records', () => {
  const info = { shardId: 'shardId-000000000001', startSequenceNumber: '49590338271490256608559692538361571095921575989136588898', endSequenceNumber: '49590338271490256608559692540925702759324208523137515618', batchSize: 2, streamArn: 'arn:aws:kinesis:us-east-1:1:stream/orders', approximateArrivalOfFirstRecord: '2025-11-30T10:00:00Z', approximateArrivalOfLastRecord: '2025-11-30T10:00:01Z' };
  const event = { Records: [0, 1].map((i) => ({ eventID: `shardId-000000000001:${i}`, eventSourceARN: info.streamArn, kinesis: { data: Buffer.from(JSON.stringify({ orderId: `o${i}` })).toString('base64'), partitionKey: `k${i}`, sequenceNumber: `${i}`, approximateArrivalTimestamp: 1764496800 } })) };
  const base = { requestContext: { condition: 'RetryAttemptsExhausted', approximateInvokeCount: 11 }, timestamp: '2025-11-30T10:05:00.000Z', KinesisBatchInfo: info };

  it('accepts the payload as a JSON string, an object or base64 JSON, and makes one esm-exhausted message per record', () => {
    for (const payload of [JSON.stringify(event), event, Buffer.from(JSON.stringify(event)).toString('base64'), JSON.stringify(JSON.stringify(event))]) {
      const f = parseOnFailure(JSON.stringify({ ...base, payload }));
      expect(f.records).toHaveLength(2);
      const msgs = dlqMessagesFor(f, f.records!, 'ingest', { namespace: NS, keyFields: ['orderId'], maxRecordBytes: 1e6 });
      expect(msgs.map((m) => m.reason.class)).toEqual(['esm-exhausted', 'esm-exhausted']);
      expect(msgs[0].reason.message).toMatch(/^RetryAttemptsExhausted/);
      expect(msgs[1]).toMatchObject({ source: { shardId: 'shardId-000000000001', partitionKey: 'k1', sequenceNumber: '1' }, payload: event.Records[1].kinesis.data, attempts: 11 });
      expect(msgs[0].id).toBe(toEnvelope({ orderId: 'o0' }, { namespace: NS, keyFields: ['orderId'], source: 'x', arrivedAtMs: 0 }).id);
    }
  });

  it('keeps metadata-only records for read-back, builds expired messages, rejects what is not an on-failure record', () => {
    const f = parseOnFailure(JSON.stringify(base));
    expect(f.records).toBeUndefined();
    expect(f.batchInfo?.endSequenceNumber).toBe(info.endSequenceNumber);
    const e = expiredMessage(f, 'ingest', 'past the retention');
    expect(e).toMatchObject({ payload: null, payloadRef: null, id: null, reason: { class: 'esm-exhausted' } });
    expect(e.reason.message).toMatch(/^expired: past the retention/);
    expect(() => parseOnFailure('{"hello":1}')).toThrow(OnFailureFormatError);
    expect(() => parseOnFailure('nope')).toThrow(OnFailureFormatError);
  });

  it('compares sequence numbers as integers, not strings or Numbers', () => {
    expect(compareSequenceNumbers('9', '10')).toBe(-1); // string order would say 1
    const a = '49590338271490256608559692538361571095921575989136588898';
    const b = '49590338271490256608559692538361571095921575989136588899'; // equal as Numbers
    expect(Number(a) === Number(b)).toBe(true);
    expect(compareSequenceNumbers(a, b)).toBe(-1);
    expect(compareSequenceNumbers(b, b)).toBe(0);
  });
});

describe('inspection', () => {
  it('counts by reason, stage and hour', () => {
    const s = dlqStats([msg(), msg({ reason: { class: 'decode', message: 'x' }, lastFailedAt: '2025-11-30T11:59:00Z' }), msg({ payload: null, stage: 'enrich' })], 2);
    expect(s).toMatchObject({ total: 3, invalid: 2, byReason: { schema: 2, decode: 1 }, byStage: { ingest: 2, enrich: 1 }, withoutPayload: 1 });
    expect(s.byHour).toEqual({ '2025-11-30T10:00Z': 2, '2025-11-30T11:00Z': 1 });
  });

  it('renders JSON pretty, text as is, binary as hex (small) or base64 (large)', () => {
    expect(renderPayload(Buffer.from('{"a":[1]}'))).toEqual({ encoding: 'json', bytes: 9, text: '{\n  "a": [\n    1\n  ]\n}' });
    expect(renderPayload(Buffer.from('plain text')).encoding).toBe('text');
    const hex = renderPayload(Buffer.from([0xc3, 0x28, 0x41]));
    expect(hex.encoding).toBe('hex');
    expect(hex.text).toContain('c3 28 41');
    expect(renderPayload(Buffer.alloc(5000, 0xff)).encoding).toBe('base64');
  });
});

describe('stack outputs', () => {
  it('finds outputs by CDK logical id and chooses the pipeline from the description', () => {
    expect(outputNameOf('ClickstreamDlqUrl1A2B3C4D')).toBe('DlqUrl');
    expect(outputNameOf('ClickstreamStreamArnABCDEF12')).toBe('StreamArn');
    expect(outputNameOf('Unrelated')).toBeUndefined();
    const outs = [
      { OutputKey: 'ADlqUrl11111111', OutputValue: 'qa', Description: 'Dead-letter queue URL (DLQ message v1) (pipeline a)' },
      { OutputKey: 'BDlqUrl22222222', OutputValue: 'qb', Description: 'Dead-letter queue URL (DLQ message v1) (pipeline b)' },
    ];
    expect(pipelineOutputs(outs, 'S', 'b').DlqUrl).toBe('qb');
    expect(() => pipelineOutputs(outs, 'S')).toThrow(/2 pipelines \(a, b\): choose one with --pipeline/);
  });
});

describe('KinesisPutter', () => {
  it('sends at most 500 entries per call and retries only the entries that failed', async () => {
    const mock = mockClient(KinesisClient);
    const seen = new Set<string>();
    mock.on(PutRecordsCommand).callsFake((input: { Records: Array<{ PartitionKey: string }> }) => {
      // The first time an entry is sent, every third entry of the call fails (throttling: test/lib/replay/putter.test.ts).
      const records = input.Records.map((r, i) => {
        const first = !seen.has(r.PartitionKey);
        seen.add(r.PartitionKey);
        return first && i % 3 === 0
          ? { ErrorCode: 'InternalFailure', ErrorMessage: 'try again' }
          : { SequenceNumber: `${r.PartitionKey}`, ShardId: 'shardId-0' };
      });
      return { FailedRecordCount: records.filter((r) => 'ErrorCode' in r).length, Records: records };
    });
    const putter = new KinesisPutter(new KinesisClient({ region: 'us-east-1' }), { lanes: 1, sleep: async () => undefined, random: () => 0 });
    const items = Array.from({ length: 1200 }, (_, i) => ({ stream: 's', partitionKey: `k${i}`, data: Buffer.from(`r${i}`), tag: i }));
    const out = await putter.putAll(items);
    expect(out.failed).toEqual([]);
    expect(out.accepted.sort((a, b) => a - b)).toEqual(items.map((i) => i.tag));
    const sizes = mock.commandCalls(PutRecordsCommand).map((c) => c.args[0].input.Records!.length);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(500);
    // 3 batches (500, 500, 200) then one retry per batch with only its failed third.
    expect(sizes).toEqual([500, 167, 500, 167, 200, 67]);
    mock.restore();
  });

  it('reports entries that keep failing after the last attempt, without throwing', async () => {
    const mock = mockClient(KinesisClient);
    mock.on(PutRecordsCommand).callsFake((input: { Records: unknown[] }) => ({
      FailedRecordCount: 1,
      Records: input.Records.map((_, i) => (i === 0 ? { ErrorCode: 'InternalFailure', ErrorMessage: 'boom' } : { SequenceNumber: '1', ShardId: 's' })),
    }));
    const putter = new KinesisPutter(new KinesisClient({ region: 'us-east-1' }), { lanes: 1, maxAttempts: 3, sleep: async () => undefined });
    const out = await putter.putAll([0, 1, 2].map((i) => ({ stream: 's', partitionKey: 'k', data: Buffer.from('x'), tag: i })));
    expect(out.accepted).toEqual([1, 2]);
    expect(out.failed).toEqual([{ tag: 0, error: 'InternalFailure: boom' }]);
    expect(mock.commandCalls(PutRecordsCommand)).toHaveLength(3);
    mock.restore();
  });
});

describe('PutPipeline', () => {
  /** A putBatch that records its calls and settles each one when the test says so. */
  function fakeLanes(): {
    calls: Array<{ stream: string; tags: number[]; settle(failTags?: number[]): void }>;
    putBatch: (stream: string, batch: Array<PutItem<number>>, out: PutOutcome<number>) => Promise<void>;
  } {
    const calls: Array<{ stream: string; tags: number[]; settle(failTags?: number[]): void }> = [];
    return {
      calls,
      putBatch: (stream, batch, out) => new Promise<void>((resolve) => {
        out.calls++;
        calls.push({
          stream,
          tags: batch.map((b) => b.tag),
          settle(failTags = []) {
            for (const b of batch) {
              if (failTags.includes(b.tag)) out.failed.push({ tag: b.tag, error: 'InternalFailure: boom' });
              else out.accepted.push(b.tag);
            }
            resolve();
          },
        });
      }),
    };
  }
  const tick = (): Promise<void> => new Promise((r) => setImmediate(r));
  const item = (tag: number, partitionKey: string, stream = 's'): PutItem<number> => ({ stream, partitionKey, data: Buffer.from(`r${tag}`), tag });

  it('sends full calls while items are added, one call in flight per lane, the rest on drain, in the order added', async () => {
    const f = fakeLanes();
    const settled: Array<PutOutcome<number>> = [];
    const p = new PutPipeline<number>(1, f.putBatch, (o) => settled.push(o), { maxBatch: 3, maxBuffered: 100 });
    for (let i = 0; i < 7; i++) await p.add(item(i, 'k'));
    // 3 full calls' worth added: the first is in flight, the second waits for it (same lane keeps key order).
    expect(f.calls.map((c) => c.tags)).toEqual([[0, 1, 2]]);
    f.calls[0].settle();
    await tick();
    expect(f.calls.map((c) => c.tags)).toEqual([[0, 1, 2], [3, 4, 5]]);
    const drained = p.drain();
    f.calls[1].settle();
    await tick();
    // The last, partial call goes out on drain only.
    expect(f.calls.map((c) => c.tags)).toEqual([[0, 1, 2], [3, 4, 5], [6]]);
    f.calls[2].settle([6]);
    await drained;
    expect(settled.flatMap((o) => o.accepted)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(settled.flatMap((o) => o.failed)).toEqual([{ tag: 6, error: 'InternalFailure: boom' }]);
  });

  it('keeps each partition key in one lane, a call holds one stream, and add() waits while maxBuffered items are unsettled', async () => {
    const f = fakeLanes();
    const p = new PutPipeline<number>(4, f.putBatch, () => undefined, { maxBatch: 2, maxBuffered: 8 });
    let added = 0;
    const adding = (async () => {
      for (let i = 0; i < 40; i++) {
        await p.add(item(i, `k${i % 5}`, i < 20 ? 'a' : 'b'));
        added++;
      }
    })();
    for (let round = 0; round < 5; round++) await tick();
    // Nothing settled yet: the 8th add() is still waiting.
    expect(added).toBe(7);
    for (let round = 0; round < 200 && added < 40; round++) {
      await tick();
      for (const c of f.calls.filter((x) => !(x as { done?: boolean }).done)) {
        (c as { done?: boolean }).done = true;
        c.settle();
      }
    }
    await adding;
    const drained = p.drain();
    for (let round = 0; round < 50; round++) {
      await tick();
      for (const c of f.calls.filter((x) => !(x as { done?: boolean }).done)) {
        (c as { done?: boolean }).done = true;
        c.settle();
      }
    }
    await drained;
    const sent = f.calls.flatMap((c) => c.tags);
    expect([...sent].sort((a, b) => a - b)).toEqual(Array.from({ length: 40 }, (_, i) => i));
    for (const c of f.calls) {
      expect(c.tags.length).toBeLessThanOrEqual(2);
      expect(new Set(c.tags.map((t) => (t < 20 ? 'a' : 'b')))).toEqual(new Set([c.stream]));
    }
    // Per key: sent in the order added.
    for (let k = 0; k < 5; k++) {
      const ofKey = sent.filter((t) => t % 5 === k);
      expect(ofKey).toEqual([...ofKey].sort((a, b) => a - b));
    }
  });

  it('rejects add() and drain() with an error of a whole call that cannot be retried', async () => {
    const err = new Error('target stream s does not exist');
    const p = new PutPipeline<number>(1, () => Promise.reject(err), () => undefined, { maxBatch: 2, maxBuffered: 10 });
    await p.add(item(0, 'k'));
    await p.add(item(1, 'k'));
    await tick();
    await expect(p.add(item(2, 'k'))).rejects.toBe(err);
    await expect(p.drain()).rejects.toBe(err);
  });
});

describe('runReplay from the archive', () => {
  it('puts every record once, in archive order per partition key, retrying throttled entries, with progress', async () => {
    const arn = 'arn:aws:kinesis:us-east-1:000000000000:stream/orders';
    // 5 objects of 700 records over 13 keys (each object gzip'd, as Firehose writes them).
    const objects = Array.from({ length: 5 }, (_o, o) => archiveObject(arn, Array.from({ length: 700 }, (_, k) => {
      const j = o * 700 + k;
      return { payload: { orderId: `o${j}`, seq: j }, partitionKey: `k${j % 13}`, seq: j + 1, arrivedAtMs: NOW + j };
    })));
    const s3 = mockArchiveBucket(objects);
    const kinesis = mockClient(KinesisClient);
    kinesis.on(DescribeStreamSummaryCommand).resolves({ StreamDescriptionSummary: { StreamStatus: 'ACTIVE' } as never });
    const accepted: Array<{ key: string; seq: number }> = [];
    let calls = 0;
    kinesis.on(PutRecordsCommand).callsFake((input: { Records: Array<{ PartitionKey: string; Data: Uint8Array }> }) => {
      calls++;
      // Every 4th call throttles its entries of one key (the first entry's): they are retried before the lane goes on.
      const throttledKey = calls % 4 === 0 ? input.Records[0].PartitionKey : undefined;
      const records = input.Records.map((r) => {
        if (r.PartitionKey === throttledKey) return { ErrorCode: 'ProvisionedThroughputExceededException', ErrorMessage: 'slow down' };
        accepted.push({ key: r.PartitionKey, seq: (JSON.parse(Buffer.from(r.Data).toString()) as { payload: { seq: number } }).payload.seq });
        return { SequenceNumber: String(accepted.length), ShardId: 'shardId-000000000000' };
      });
      return { FailedRecordCount: records.filter((r) => 'ErrorCode' in r).length, Records: records };
    });
    const progress: ReplayProgress[] = [];
    const summary = await runReplay({
      source: { kind: 'archive', bucket: 'b', prefix: 'raw/' },
      filter: parseFilter({}),
      clients: { kinesis: new KinesisClient({ region: 'us-east-1' }), s3: new S3Client({ region: 'us-east-1' }) },
      onProgress: (p) => progress.push(p),
    });
    expect(summary.replayed).toBe(3500);
    expect(summary.failed).toBe(0);
    expect(summary.retried).toBeGreaterThan(0);
    expect(summary.targets).toEqual({ [arn]: 3500 });
    expect(accepted.map((a) => a.seq).sort((a, b) => a - b)).toEqual(Array.from({ length: 3500 }, (_, j) => j));
    for (let k = 0; k < 13; k++) {
      const ofKey = accepted.filter((a) => a.key === `k${k}`).map((a) => a.seq);
      expect(ofKey).toEqual([...ofKey].sort((a, b) => a - b));
    }
    for (const call of kinesis.commandCalls(PutRecordsCommand)) expect(call.args[0].input.Records!.length).toBeLessThanOrEqual(500);
    expect(progress.at(-1)).toMatchObject({ scanned: 3500, matched: 3500, replayed: 3500, failed: 0 });
    expect(progress.map((p) => p.replayed)).toEqual([...progress.map((p) => p.replayed)].sort((a, b) => a - b));
    s3.restore();
    kinesis.restore();
  });
});

describe('CLI input errors', () => {
  const q = ['--queue-url', 'http://127.0.0.1:1/000000000000/dlq', '--region', 'us-east-1'];
  it.each([
    [['replay', '--from', 'dlq', ...q, '--since', 'yesterday'], /--since "yesterday" is not a time/],
    [['replay', '--from', 'dlq', ...q, '--since', '2025-11-30T10:00:00Z', '--until', '2025-11-29T00:00:00Z'], /is after --until/],
    [['replay', '--from', 'dlq', ...q, '--limit', '0'], /--limit "0" must be a positive integer/],
    [['replay', '--from', 'dlq', ...q, '--rate', 'fast'], /--rate must be a positive number/],
    [['replay', '--from', 'queue', ...q], /--from must be dlq or archive/],
    [['replay', '--from', 'archive', '--bucket', 'b', '--reason', 'schema'], /--reason applies to --from dlq/],
    [['replay', '--from', 'dlq'], /say which DLQ/],
    [['dlq', 'list', ...q, '--reason', 'bogus'], /--reason "bogus" is not a reason class/],
    [['dlq', 'stats'], /say which DLQ/],
  ])('%j -> exit 2 with one line', async (args, pattern) => {
    // The queue URL points at a closed port: any AWS call would fail differently (exit 1), so exit 2 proves that the
    // input was rejected before anything was read or deleted.
    const r = await cli(args as string[]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(pattern);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stdout).toBe('');
  });
});
