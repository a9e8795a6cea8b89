/**
 * `phoenix dlq redrive-failures` core on mocked SDK clients: each failed event is normalized with the function's
 * configuration and its message deleted only after success; a dry run changes nothing.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { KinesisClient } from '@aws-sdk/client-kinesis';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import {
  ChangeMessageVisibilityBatchCommand, DeleteMessageBatchCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SendMessageCommand, SQSClient,
  type SendMessageCommandInput,
} from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { describe, expect, it } from 'vitest';
import { ENV, onFailurePrefixOf } from '../../../constructs/contract';
import { UsageError } from '../../../lib/cli/errors';
import { formatRedrive, redriveConfig, redriveFailures, s3EventOf } from '../../../lib/cli/redrive-failures';
import type { Clients } from '../../../lib/cli/targets';
import { idNamespaceFor, recordId, type DlqMessage } from '../../../lib/core';
import { onFailureRecord, s3OnFailureKey } from '../../../lib/local/esm/on-failure';
import { kinesisEvent, SHARD_ID, STREAM_ARN } from '../handlers/support/kinesis';

const FAILED_URL = 'https://sqs.us-east-2.amazonaws.com/123456789012/failed-events';
const DLQ_URL = 'https://sqs.us-east-2.amazonaws.com/123456789012/dlq';
const BUCKET = 'overflow';
const MAPPING = '5a5a5a5a-0000-4000-8000-000000000001';
const CONFIG = {
  [ENV.pipeline]: 'orders',
  [ENV.stage]: 'ingest',
  [ENV.keyFields]: '["orderId"]',
  [ENV.dlqUrl]: DLQ_URL,
  [ENV.dlqOverflowBucket]: BUCKET,
  [ENV.dlqMaxMessageBytes]: '262144',
  [ENV.onFailurePrefix]: onFailurePrefixOf(MAPPING),
};

/** An S3 notification for `key`, as S3 sends it (key URL-encoded). */
function s3Notification(key: string): Record<string, unknown> {
  return { Records: [{ eventSource: 'aws:s3', s3: { bucket: { name: BUCKET }, object: { key: encodeURIComponent(key).replace(/%2F/g, '/') } } }] };
}

/** A capture of one record `{ orderId }` under the mapping's prefix. */
function capture(orderId: string): { key: string; body: string } {
  const event = kinesisEvent([{ orderId }]);
  const r = event.Records[0].kinesis;
  const batchInfo = {
    shardId: SHARD_ID,
    startSequenceNumber: r.sequenceNumber,
    endSequenceNumber: r.sequenceNumber,
    approximateArrivalOfFirstRecord: '2026-01-01T00:00:00Z',
    approximateArrivalOfLastRecord: '2026-01-01T00:00:00Z',
    batchSize: 1,
    streamArn: STREAM_ARN,
  };
  const record = onFailureRecord('arn:aws:lambda:us-east-2:123456789012:function:p', { condition: 'RetryAttemptsExhausted', approximateInvokeCount: 3, batchInfo, event }, Date.now());
  return { key: s3OnFailureKey(MAPPING, SHARD_ID, Date.now()), body: JSON.stringify({ ...record, payload: JSON.stringify(event) }) };
}

/** Mocked clients: a failed-events queue holding `bodies`, a DLQ recording sends, a bucket of `objects`. */
function world(bodies: string[], objects: Record<string, string>) {
  const sqs = new SQSClient({ region: 'us-east-2' });
  const s3 = new S3Client({ region: 'us-east-2' });
  const sqsMock = mockClient(sqs);
  const s3Mock = mockClient(s3);
  const visible = bodies.map((Body, i) => ({ MessageId: `m${i + 1}`, ReceiptHandle: `r${i + 1}`, Body }));
  const deleted: string[] = [];
  const sent: SendMessageCommandInput[] = [];
  sqsMock.on(ReceiveMessageCommand).callsFake((input) => {
    expect(input.QueueUrl).toBe(FAILED_URL);
    return { Messages: visible.splice(0, 10) };
  });
  sqsMock.on(DeleteMessageBatchCommand).callsFake((input) => {
    deleted.push(...input.Entries.map((e: { ReceiptHandle: string }) => e.ReceiptHandle));
    return { Successful: input.Entries.map((e: { Id: string }) => ({ Id: e.Id })), Failed: [] };
  });
  const allSucceed = (input: { Entries: Array<{ Id: string }> }) => ({ Successful: input.Entries.map((e) => ({ Id: e.Id })), Failed: [] });
  sqsMock.on(ChangeMessageVisibilityBatchCommand).callsFake(allSucceed);
  sqsMock.on(GetQueueAttributesCommand).callsFake(() => ({ Attributes: { ApproximateNumberOfMessages: String(visible.length), ApproximateNumberOfMessagesNotVisible: '0' } }));
  sqsMock.on(SendMessageCommand).callsFake((input: SendMessageCommandInput) => {
    sent.push(input);
    return { MessageId: `d${sent.length}` };
  });
  s3Mock.on(GetObjectCommand).callsFake((input) => {
    const body = objects[input.Key];
    if (input.Bucket !== BUCKET || body === undefined) throw Object.assign(new Error('The specified key does not exist.'), { name: 'NoSuchKey' });
    return { Body: { transformToString: async () => body } };
  });
  const clients: Clients = {
    sqs, s3, kinesis: new KinesisClient({ region: 'us-east-2' }), dynamodb: new DynamoDBClient({ region: 'us-east-2' }), destroy: () => undefined,
  };
  return { clients, deleted, sent, gets: () => s3Mock.commandCalls(GetObjectCommand).length };
}

describe('redriveFailures', () => {
  it('normalizes each failed event with the function\'s configuration and deletes only the ones that succeeded', async () => {
    const ok = capture('o-1');
    const expired = capture('o-2');
    const w = world(
      [JSON.stringify(s3Notification(ok.key)), JSON.stringify({ requestPayload: s3Notification(expired.key) }), 'not json'],
      { [ok.key]: ok.body },
    );
    const report = await redriveFailures({ clients: w.clients, queueUrl: FAILED_URL, config: CONFIG, visibilityTimeoutSec: 300, dryRun: false });
    expect(report).toMatchObject({ read: 3, redriven: 1, failed: 1, skipped: 1, dlqMessages: 1, interrupted: false });
    expect(report.items.map((i) => [i.messageId, i.outcome])).toEqual([['m1', 'redriven'], ['m2', 'failed'], ['m3', 'not-an-s3-event']]);
    expect(report.items[1].error).toMatch(/NoSuchKey/);
    expect(report.items[1].objects).toEqual([`s3://${BUCKET}/${expired.key}`]);
    expect(w.deleted).toEqual(['r1']);
    expect(w.sent.map((m) => m.QueueUrl)).toEqual([DLQ_URL]);
    const msg = JSON.parse(w.sent[0].MessageBody!) as DlqMessage;
    expect(msg).toMatchObject({ id: recordId({ orderId: 'o-1' }, idNamespaceFor('orders'), ['orderId']), reason: { class: 'esm-exhausted' } });
    expect(formatRedrive(report)).toMatch(/3 failed event\(s\) read from .*: 1 redriven \(1 DLQ message\(s\) sent\), 1 failed, 1 not S3 events\n$/);
  });

  it('--dry-run lists the events and their objects: no read of the objects, no DLQ message, no delete', async () => {
    const c = capture('o-3');
    const w = world([JSON.stringify(s3Notification(c.key))], { [c.key]: c.body });
    const report = await redriveFailures({ clients: w.clients, queueUrl: FAILED_URL, config: CONFIG, visibilityTimeoutSec: 300, dryRun: true });
    expect(report.items).toEqual([{ messageId: 'm1', outcome: 'pending', objects: [`s3://${BUCKET}/${c.key}`] }]);
    expect([w.gets(), w.sent.length, w.deleted.length]).toEqual([0, 0, 0]);
    expect(formatRedrive(report)).toMatch(/1 failed event\(s\) read from .*: 1 would redrive, 0 failed/);
  });
});

describe('failed-event parsing and configuration', () => {
  it('takes the body as the S3 event, or its requestPayload; anything else is not an S3 event', () => {
    const n = s3Notification('aws/lambda/x/y');
    expect(s3EventOf(JSON.stringify(n))).toEqual(n);
    expect(s3EventOf(JSON.stringify({ requestContext: {}, requestPayload: n }))).toEqual(n);
    for (const bad of ['', 'null', '[]', '{"Records":[]}', '{"Records":[{"s3":{}}]}', '{"requestPayload":{"Records":[{"kinesis":{}}]}}']) {
      expect(s3EventOf(bad), bad).toBeUndefined();
    }
  });

  it('refuses a missing or malformed FailureNormalizerConfig with one line naming the problem', () => {
    expect(redriveConfig(JSON.stringify(CONFIG), 'stack S')).toEqual(CONFIG);
    expect(() => redriveConfig(undefined, 'stack S')).toThrow(new UsageError('stack S has no FailureNormalizerConfig output: deploy the pipeline with this version (DataPipeline adds it)'));
    expect(() => redriveConfig('{', 'stack S')).toThrow(/^stack S: FailureNormalizerConfig is not JSON/);
    expect(() => redriveConfig('{"PHX_STAGE":1}', 'stack S')).toThrow('stack S: FailureNormalizerConfig must be a JSON object of strings (PHX_* variables)');
    expect(() => redriveConfig(JSON.stringify({ ...CONFIG, [ENV.dlqUrl]: '' }), 'stack S')).toThrow('stack S: FailureNormalizerConfig lacks PHX_DLQ_URL');
    expect(() => redriveConfig(JSON.stringify({ ...CONFIG, [ENV.dlqMaxMessageBytes]: '12' }), 'stack S')).toThrow(/^stack S: FailureNormalizerConfig: .*PHX_DLQ_MAX_MESSAGE_BYTES/);
  });
});
