/**
 * The failure normalizer with shared dead letters: each pipeline's normalizer takes only its own event source
 * mapping's captures (PHX_ON_FAILURE_PREFIX) and gives their records the ids that pipeline's stage gives.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { KinesisStreamEvent, S3Event } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { harness } from './support/harness';
import { kinesisEvent, SHARD_ID, STREAM_ARN } from './support/kinesis';
import { ENV, onFailurePrefixOf } from '../../../constructs/contract';
import { idNamespaceFor, recordId, type DlqMessage } from '../../../lib/core';
import { createFailureNormalizer, normalizerConfig } from '../../../lib/handlers/failure-normalizer';
import type { DlqPort } from '../../../lib/handlers/ports/types';
import { onFailureRecord, s3OnFailureKey } from '../../../lib/local/esm/on-failure';

const BUCKET = 'shared-overflow';
/** Pipeline A owns the dead letters; pipeline B shares them with its own name and key fields. */
const A = { pipeline: 'orders', keyFields: ['orderId'], mapping: '0f1e2d3c-aaaa-4bbb-8ccc-000000000001' };
const B = { pipeline: 'clicks', keyFields: ['userId', 'seq'], mapping: '0f1e2d3c-aaaa-4bbb-8ccc-000000000002' };
// No event time: the record's arrival stands for it (the capture's records arrived in 2018, the AWS sample's time).
const PAYLOAD = { orderId: 'o-1', userId: 'u-7', seq: 3 };

const objects = new Map<string, string>();

beforeAll(() => {
  process.env.AWS_REGION ??= 'us-east-2';
});
afterEach(() => {
  objects.clear();
});

/** An S3 client (this instance mocked: the ingest harness mocks the class) serving `objects`; counts its GetObjects. */
function s3Client(): { client: S3Client; gets: () => number } {
  const client = new S3Client({ region: 'us-east-2' });
  const mock = mockClient(client);
  mock.on(GetObjectCommand).callsFake((input: { Bucket: string; Key: string }) => {
    const body = objects.get(input.Key);
    if (input.Bucket !== BUCKET || body === undefined) throw Object.assign(new Error('NoSuchKey'), { name: 'NoSuchKey' });
    return { Body: { transformToString: async () => body } };
  });
  return { client, gets: () => mock.commandCalls(GetObjectCommand).length };
}

/** The id pipeline `p`'s ingest stage gives PAYLOAD (the real handler, its sink's envelope). */
async function stageId(p: typeof B): Promise<string> {
  const h = harness({ PHX_PIPELINE: p.pipeline, PHX_KEY_FIELDS: JSON.stringify(p.keyFields) });
  try {
    await h.run(kinesisEvent([PAYLOAD]));
    expect(h.sink.envelopes).toHaveLength(1);
    return h.sink.envelopes[0].id;
  } finally {
    h.restore();
  }
}

/** An on-failure capture of `event` written by mapping `mapping`, as Lambda's S3 destination writes it. */
function putCapture(mapping: string, event: KinesisStreamEvent): string {
  const key = s3OnFailureKey(mapping, SHARD_ID, Date.now());
  const recs = event.Records;
  const batchInfo = {
    shardId: SHARD_ID,
    startSequenceNumber: recs[0].kinesis.sequenceNumber,
    endSequenceNumber: recs[recs.length - 1].kinesis.sequenceNumber,
    approximateArrivalOfFirstRecord: new Date().toISOString(),
    approximateArrivalOfLastRecord: new Date().toISOString(),
    batchSize: recs.length,
    streamArn: STREAM_ARN,
  };
  const record = onFailureRecord('arn:aws:lambda:us-east-2:123456789012:function:p', { condition: 'RetryAttemptsExhausted', approximateInvokeCount: 4, batchInfo, event }, Date.now());
  objects.set(key, JSON.stringify({ ...record, payload: JSON.stringify(event) }));
  return key;
}

function s3Event(key: string): S3Event {
  return { Records: [{ eventSource: 'aws:s3', s3: { bucket: { name: BUCKET }, object: { key } } }] } as unknown as S3Event;
}

/** A normalizer of the given environment (as the FailureNormalizer construct sets it) sending to `sent`. */
function normalizer(env: Record<string, string>, sent: DlqMessage[], s3 = s3Client().client) {
  const dlq: DlqPort = { sendMessage: async (body) => { sent.push(JSON.parse(body) as DlqMessage); } };
  // No stream read-back here: every capture carries its records.
  return createFailureNormalizer({ config: normalizerConfig(env), s3, kinesis: undefined as never, dlq, logger: new Logger({ serviceName: 'test', logLevel: 'SILENT' }) });
}

/** Pipeline `p`'s normalizer in a DataPipeline: its name, key fields and mapping prefix. */
function normalizerOf(p: typeof B, sent: DlqMessage[], s3?: S3Client) {
  return normalizer({
    [ENV.pipeline]: p.pipeline,
    [ENV.stage]: 'ingest',
    [ENV.keyFields]: JSON.stringify(p.keyFields),
    [ENV.onFailurePrefix]: onFailurePrefixOf(p.mapping),
  }, sent, s3);
}

describe('failure normalizer with shared dead letters', () => {
  it('normalizes pipeline B\'s capture with B\'s namespace and key fields: the id B\'s stage gives', async () => {
    const expected = await stageId(B);
    expect(expected).toBe(recordId(PAYLOAD, idNamespaceFor(B.pipeline), B.keyFields));
    expect(expected).not.toBe(await stageId(A));
    const sent: DlqMessage[] = [];
    const res = await normalizerOf(B, sent).handle(s3Event(putCapture(B.mapping, kinesisEvent([PAYLOAD]))));
    expect(res).toEqual({ messages: 1, readBack: 0, expired: 0, ignored: 0 });
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatchObject({ id: expected, stage: 'ingest', reason: { class: 'esm-exhausted' } });
  });

  it('leaves another mapping\'s capture alone (its own normalizer takes it), sending nothing', async () => {
    const sent: DlqMessage[] = [];
    const s3 = s3Client();
    const res = await normalizerOf(B, sent, s3.client).handle(s3Event(putCapture(A.mapping, kinesisEvent([PAYLOAD]))));
    expect(res).toEqual({ messages: 0, readBack: 0, expired: 0, ignored: 1 });
    expect(sent).toEqual([]);
    expect(s3.gets()).toBe(0);
  });

  it('without PHX_ON_FAILURE_PREFIX (a normalizer of the whole bucket) it takes every capture', async () => {
    const sent: DlqMessage[] = [];
    const n = normalizer({ [ENV.pipeline]: A.pipeline, [ENV.keyFields]: JSON.stringify(A.keyFields) }, sent);
    await n.handle(s3Event(putCapture(B.mapping, kinesisEvent([PAYLOAD]))));
    expect(sent.map((m) => m.id)).toEqual([recordId(PAYLOAD, idNamespaceFor(A.pipeline), A.keyFields)]);
  });
});
