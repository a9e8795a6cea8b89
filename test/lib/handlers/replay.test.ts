/**
 * The failure normalizer and the in-cloud replay function on emulators (kinesalite + fauxqs).
 */
import { gzipSync } from 'node:zlib';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import type { Context, S3Event, SQSEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { idNamespaceFor, recordId, type DlqMessage } from '../../../lib/core';
import { createFailureNormalizer, normalizerConfig } from '../../../lib/handlers/failure-normalizer';
import { s3OverflowStore } from '../../../lib/handlers/ports/s3-overflow';
import { SqsDlq } from '../../../lib/handlers/ports/sqs-dlq';
import { createReplayHandler, type ReplayEvent } from '../../../lib/handlers/replay';
import { onFailureRecord, s3OnFailureKey } from '../../../lib/local/esm/on-failure';
import { frameFirehoseRecords } from '../../../lib/replay/archive';
import { DlqReader } from '../../../lib/replay/dlq-reader';
import { dlqPayloadBytes } from '../../../lib/replay/engine';
import { MemorySink } from '../../../lib/runtime';
import { ingestHandler, putAll, queueDepth, readStream, silentLogger, startReplayPipeline, type ReplayEnv } from '../../support/replay';

let env: ReplayEnv;
let streamArn: string;
let queueUrl: string;
const NS = idNamespaceFor('orders');

async function drain(url: string): Promise<DlqMessage[]> {
  const reader = new DlqReader(env.fauxqs.sqs, url, { visibilityTimeoutSec: 30 });
  const out: DlqMessage[] = [];
  for await (const batch of reader.read()) out.push(...batch.map((e) => e.msg!));
  await reader.releaseAll();
  return out;
}

function normalizer(maxMessageBytes = 262_144) {
  return createFailureNormalizer({
    config: { ...normalizerConfig({ PHX_PIPELINE: 'orders', PHX_KEY_FIELDS: '["orderId"]', PHX_STAGE: 'ingest' }), maxMessageBytes },
    s3: env.fauxqs.s3,
    kinesis: env.kinesis.client,
    dlq: new SqsDlq(env.fauxqs.sqs, queueUrl, { bucket: 'overflow', store: s3OverflowStore('overflow', env.fauxqs.s3) }),
    logger: silentLogger(),
  });
}

beforeAll(async () => {
  ({ env, streamArn, queueUrl } = await startReplayPipeline({ stream: 'orders', shards: 1, queue: 'dlq', bucket: 'overflow' }));
}, 120_000);

afterAll(async () => {
  await env?.stop();
});

describe('failure normalizer', () => {
  it('turns an S3 on-failure object (the local ESM\'s format) into one esm-exhausted DLQ message per record, oversize ones via the overflow bucket', async () => {
    await putAll(env.kinesis.client, 'orders', [
      { data: Buffer.from(JSON.stringify({ orderId: 'a', amount: 1 })), partitionKey: 'k1' },
      { data: Buffer.from(JSON.stringify({ orderId: 'b', blob: 'x'.repeat(3000) })), partitionKey: 'k2' },
    ]);
    const recs = await readStream(env.kinesis.client, 'orders', streamArn);
    const event = { Records: recs };
    const failed = {
      condition: 'RetryAttemptsExhausted' as const,
      approximateInvokeCount: 11,
      batchInfo: {
        shardId: 'shardId-000000000000',
        startSequenceNumber: recs[0].kinesis.sequenceNumber,
        endSequenceNumber: recs[1].kinesis.sequenceNumber,
        approximateArrivalOfFirstRecord: new Date().toISOString(),
        approximateArrivalOfLastRecord: new Date().toISOString(),
        batchSize: 2,
        streamArn,
      },
      event,
    };
    const key = s3OnFailureKey('1111-2222', 'shardId-000000000000', Date.now());
    await env.fauxqs.s3.send(new PutObjectCommand({ Bucket: 'overflow', Key: key, Body: JSON.stringify({ ...onFailureRecord('arn:fn', failed, Date.now()), payload: JSON.stringify(event) }) }));
    const s3Event = { Records: [{ eventSource: 'aws:s3', s3: { bucket: { name: 'overflow' }, object: { key: encodeURIComponent(key).replace(/%2F/g, '/') } } }] } as unknown as S3Event;
    const res = await normalizer(2048).handle(s3Event);
    expect(res).toEqual({ messages: 2, readBack: 0, expired: 0, ignored: 0 });
    const msgs = await drain(queueUrl);
    expect(msgs).toHaveLength(2);
    const a = msgs.find((m) => m.source.partitionKey === 'k1')!;
    const b = msgs.find((m) => m.source.partitionKey === 'k2')!;
    expect(a).toMatchObject({ id: recordId({ orderId: 'a', amount: 1 }, NS, ['orderId']), reason: { class: 'esm-exhausted' }, attempts: 11, payload: recs[0].kinesis.data });
    expect(a.reason.message).toMatch(/^RetryAttemptsExhausted/);
    expect(b.payload).toBeNull();
    expect(b.payloadRef).toMatch(/^s3:\/\/overflow\/dlq-payloads\//);
    // The replay tooling reads the overflow payload back byte for byte.
    expect((await dlqPayloadBytes(b, env.fauxqs.s3))!.toString('base64')).toBe(recs[1].kinesis.data);
  });

  it('reads metadata-only records back from the stream (BigInt bounds), and marks what the stream no longer has as expired', async () => {
    const fresh = await env.createQueue('dlq-2');
    const n = createFailureNormalizer({
      config: normalizerConfig({ PHX_PIPELINE: 'orders', PHX_KEY_FIELDS: '["orderId"]' }),
      s3: env.fauxqs.s3,
      kinesis: env.kinesis.client,
      dlq: new SqsDlq(env.fauxqs.sqs, fresh),
      logger: silentLogger(),
    });
    await putAll(env.kinesis.client, 'orders', [0, 1, 2, 3].map((i) => ({ data: Buffer.from(JSON.stringify({ orderId: `m${i}` })), partitionKey: 'k' })));
    const all = await readStream(env.kinesis.client, 'orders', streamArn);
    const mine = all.slice(-4);
    // A batch of the middle two records, as an SQS on-failure destination delivers it (metadata only).
    const meta = (start: string, end: string, arn = streamArn) => JSON.stringify({
      requestContext: { condition: 'RecordAgeExceeded', approximateInvokeCount: 3 },
      timestamp: new Date().toISOString(),
      KinesisBatchInfo: { shardId: 'shardId-000000000000', startSequenceNumber: start, endSequenceNumber: end, batchSize: 2, streamArn: arn },
    });
    const sqsEvent = {
      Records: [
        { eventSource: 'aws:sqs', messageId: 'm1', body: meta(mine[1].kinesis.sequenceNumber, mine[2].kinesis.sequenceNumber) },
        { eventSource: 'aws:sqs', messageId: 'm2', body: meta('1', '2', streamArn.replace('/orders', '/deleted-stream')) },
        { eventSource: 'aws:sqs', messageId: 'm3', body: '{"not":"an on-failure record"}' },
      ],
    } as unknown as SQSEvent;
    const res = await n.handle(sqsEvent);
    expect(res).toEqual({ batchItemFailures: [] });
    const msgs = await drain(fresh);
    const back = msgs.filter((m) => m.payload !== null);
    expect(back.map((m) => m.id).sort()).toEqual(['m1', 'm2'].map((o) => recordId({ orderId: o }, NS, ['orderId'])).sort());
    expect(back.every((m) => m.reason.message.startsWith('RecordAgeExceeded'))).toBe(true);
    const expired = msgs.filter((m) => m.payload === null);
    expect(expired).toHaveLength(1);
    expect(expired[0].reason.message).toMatch(/^expired: the records cannot be read back/);
    expect(expired[0].source.streamArn).toContain('deleted-stream');
  });
});

describe('in-cloud replay function', () => {
  it('replays the DLQ with the phoenix replay filter as its event, reports the summary, rejects bad input', async () => {
    const q = await env.createQueue('dlq-replay');
    // Dead letters from the real ingest handler: amounts that schema v1 rejects.
    const before = new Set((await readStream(env.kinesis.client, 'orders', streamArn)).map((r) => r.kinesis.sequenceNumber));
    await putAll(env.kinesis.client, 'orders', [0, 1, 2].map((i) => ({ data: Buffer.from(JSON.stringify({ orderId: `r${i}`, amount: 'x' })), partitionKey: `k${i}` })));
    const fresh = (await readStream(env.kinesis.client, 'orders', streamArn)).filter((r) => !before.has(r.kinesis.sequenceNumber));
    const sink = new MemorySink();
    await ingestHandler({ sink, schema: { type: 'object', properties: { amount: { type: 'number' } } }, dlq: new SqsDlq(env.fauxqs.sqs, q) })(fresh);
    expect(sink.items.size).toBe(0);
    const replay = createReplayHandler({
      env: { PHX_REPLAY_QUEUE_URL: q, PHX_REPLAY_RATE: '100' },
      clients: { sqs: env.fauxqs.sqs, s3: env.fauxqs.s3, kinesis: env.kinesis.client },
      logger: silentLogger(),
    });
    await expect(replay({ since: 'not a time' })).rejects.toThrow(/--since "not a time" is not a time/);
    await expect(replay({ from: 'archive' })).rejects.toThrow(/has no archive/);
    expect(await queueDepth(env.fauxqs.sqs, q)).toEqual({ visible: 3, notVisible: 0 });

    const dry = await replay({ reason: ['schema'], dryRun: true });
    expect(dry).toMatchObject({ dryRun: true, matched: 3, replayed: 3, deleted: 0 });
    const one = await replay({ correlationId: [recordId({ orderId: 'r1', amount: 'x' }, NS, ['orderId'])] });
    expect(one).toMatchObject({ matched: 1, replayed: 1, deleted: 1, failed: 0 });
    const rest = await replay({});
    expect(rest).toMatchObject({ matched: 2, replayed: 2, deleted: 2 });
    expect(await queueDepth(env.fauxqs.sqs, q)).toEqual({ visible: 0, notVisible: 0 });
    const replayed = (await readStream(env.kinesis.client, 'orders', streamArn)).filter((r) => !before.has(r.kinesis.sequenceNumber)).slice(3);
    await ingestHandler({ sink })(replayed);
    expect([...sink.items.values()].map((s) => s.envelope.payload.orderId).sort()).toEqual(['r0', 'r1', 'r2']);
  });
});

/** Puts an archive object of `count` orders records (`<prefix><k>`) framed as Firehose delivers them; returns its key. */
async function archiveObject(key: string, prefix: string, count: number): Promise<string> {
  const framed = frameFirehoseRecords({
    sourceKinesisStreamArn: 'arn:aws:kinesis:us-east-1:000000000000:stream/gone',
    records: Array.from({ length: count }, (_, k) => ({
      recordId: String(k),
      data: Buffer.from(JSON.stringify({ orderId: `${prefix}${k}`, amount: k })).toString('base64'),
      kinesisRecordMetadata: { shardId: 'shardId-000000000000', partitionKey: `${prefix}${k}`, sequenceNumber: String(k + 1), approximateArrivalTimestamp: 1_764_000_000_000 },
    })),
  }, 'orders');
  const body = gzipSync(Buffer.concat(framed.records.map((r) => Buffer.from(r.data, 'base64'))));
  await env.fauxqs.s3.send(new PutObjectCommand({ Bucket: 'overflow', Key: key, Body: body }));
  return key;
}

describe('replay function: archive cursor', () => {
  it('an invocation that stops early returns its cursor; the next one, given it, puts the rest onto the current stream', async () => {
    const key = await archiveObject('raw/2025/11/24/16/cursor.gz', 'c', 6);
    const replay = createReplayHandler({
      env: { PHX_REPLAY_ARCHIVE_BUCKET: 'overflow', PHX_REPLAY_ARCHIVE_PREFIX: 'raw/', PHX_REPLAY_TARGET_STREAM: streamArn, PHX_PIPELINE: 'orders' },
      clients: { sqs: env.fauxqs.sqs, s3: env.fauxqs.s3, kinesis: env.kinesis.client },
      logger: silentLogger(),
    });
    const first = await replay({ from: 'archive', limit: 4 });
    expect(first).toMatchObject({ replayed: 4, failed: 0, cursor: { key, line: 4 } });
    const rest = await replay({ from: 'archive', resume: first.cursor });
    expect(rest).toMatchObject({ replayed: 2, scanned: 2, failed: 0, targets: { [streamArn]: 2 } });
    expect(rest.cursor).toBeUndefined();
  });
  it('continueUntilDone: an invocation stopped for time invokes the next at its cursor, which finishes; maxChainLinks bounds the chain', async () => {
    await archiveObject('chain/2025/11/24/16/chain.gz', 'h', 60);
    const next: ReplayEvent[] = [];
    const replay = createReplayHandler({
      env: { PHX_REPLAY_ARCHIVE_BUCKET: 'overflow', PHX_REPLAY_ARCHIVE_PREFIX: 'chain/', PHX_REPLAY_TARGET_STREAM: streamArn, PHX_PIPELINE: 'orders' },
      clients: { sqs: env.fauxqs.sqs, s3: env.fauxqs.s3, kinesis: env.kinesis.client },
      logger: silentLogger(),
      invokeNext: async (e) => { next.push(e); },
    });
    // 11 s left: the invocation stops starting work after 1 s; at 2 records/s it has put one flush of 10 at most.
    const short = { getRemainingTimeInMillis: () => 11_000 } as Context;
    const first = await replay({ from: 'archive', rate: 2, continueUntilDone: true }, short);
    expect(first.interrupted).toBe(true);
    expect(first.replayed).toBeGreaterThan(0);
    expect(first.replayed).toBeLessThan(60);
    expect(first.chain).toEqual({ link: 1, status: 'continued', cursor: first.cursor });
    expect(next).toEqual([{ from: 'archive', rate: 2, continueUntilDone: true, resume: first.cursor, chainLink: 2 }]);
    // The same event as the last link of a chain of 2: stops for time and does not invoke again.
    const last = await replay({ ...next[0], maxChainLinks: 2 }, short);
    expect(last.chain).toEqual({ link: 2, status: 'stopped', cursor: last.cursor });
    expect(next).toHaveLength(1);
    // Given time, the next link finishes the archive: nothing left to chain.
    const done = await replay({ ...next[0], rate: 1000 });
    expect(done.chain).toEqual({ link: 2, status: 'done' });
    expect(first.replayed + done.replayed).toBe(60);
    expect(next).toHaveLength(1);
  }, 60_000);

  it('continueUntilDone: bad chain settings are refused before anything is read; a chained limit carries what is left', async () => {
    const next: ReplayEvent[] = [];
    const replay = createReplayHandler({
      env: { PHX_REPLAY_ARCHIVE_BUCKET: 'overflow', PHX_REPLAY_ARCHIVE_PREFIX: 'chain/', PHX_REPLAY_QUEUE_URL: queueUrl, PHX_REPLAY_TARGET_STREAM: streamArn, PHX_PIPELINE: 'orders' },
      clients: { sqs: env.fauxqs.sqs, s3: env.fauxqs.s3, kinesis: env.kinesis.client },
      logger: silentLogger(),
      invokeNext: async (e) => { next.push(e); },
    });
    await expect(replay({ from: 'dlq', continueUntilDone: true })).rejects.toThrow(/^continueUntilDone applies to archive replays only/);
    await expect(replay({ from: 'archive', continueUntilDone: true, maxChainLinks: 0 })).rejects.toThrow(/^maxChainLinks must be a positive integer; got 0$/);
    expect(next).toEqual([]);
    const short = { getRemainingTimeInMillis: () => 11_000 } as Context;
    const first = await replay({ from: 'archive', rate: 2, limit: 50, continueUntilDone: true }, short);
    expect(first.chain?.status).toBe('continued');
    expect(next).toEqual([expect.objectContaining({ limit: 50 - first.matched, chainLink: 2, resume: first.cursor })]);
  }, 60_000);
});

