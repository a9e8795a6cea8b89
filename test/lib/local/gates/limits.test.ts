import { describe, expect, it } from 'vitest';
import { LimitsGate } from '../../../../lib/local/gates/limits';
import { dynamodbItemSize } from '../../../../lib/local/gates/limits-item-size';
import { hashKey, shardFor, type ShardShape } from '../../../../lib/local/gates/limits-shards';
import type { LimitsCall } from '../../../../lib/local/gates/limits-types';
import type { KinesisRecordSize } from '../../../../lib/local/gates/types';

const ACCOUNT = '123456789012';
const STREAM = `arn:aws:kinesis:us-east-1:${ACCOUNT}:stream/clicks`;
const HALF = (2n ** 127n).toString();
const TWO_SHARDS: ShardShape[] = [
  { ShardId: 'shardId-000000000000', HashKeyRange: { StartingHashKey: '0', EndingHashKey: (2n ** 127n - 1n).toString() } },
  { ShardId: 'shardId-000000000001', HashKeyRange: { StartingHashKey: HALF, EndingHashKey: (2n ** 128n - 1n).toString() } },
];
const principal = { arn: 'arn:aws:iam::123456789012:role/r', kind: 'role' as const };

function call(service: LimitsCall['service'], operation: string, more: Partial<LimitsCall> = {}): LimitsCall {
  return { service, operation, action: `${service}:${operation}`, resources: [STREAM], principal, requestBytes: 100, ...more };
}

/** A partition key routed to the given shard (searched, so the test does not depend on a hard-coded MD5). */
function keyFor(shard: 0 | 1, n: number): string {
  for (let i = n; ; i++) if (shardFor(TWO_SHARDS, `k${i}`) === `shardId-00000000000${shard}`) return `k${i}`;
}

function gate(scale = 1): LimitsGate {
  const g = new LimitsGate({ accountId: ACCOUNT, limitsScale: scale });
  g.setStream(STREAM, TWO_SHARDS);
  return g;
}

const rec = (partitionKey: string, dataBytes: number): KinesisRecordSize => ({ partitionKey, bytes: dataBytes + Buffer.byteLength(partitionKey) });
const rate = (shard: string): string => `Rate exceeded for shard ${shard} in stream clicks under account ${ACCOUNT}.`;

describe('Kinesis writes', () => {
  it('routes by MD5 of the partition key as a 128-bit integer within the hash key ranges', () => {
    expect(hashKey('a')).toBe(BigInt('0x0cc175b9c0f1b6a831c399e269772661'));
    expect(shardFor(TWO_SHARDS, 'a')).toBe('shardId-000000000000');
    expect(shardFor(TWO_SHARDS, 'ignored', HALF)).toBe('shardId-000000000001');
  });

  it('1,000 records per second per shard: the 1,001st PutRecord is refused with AWS\'s error; the next second is fresh', () => {
    const g = gate();
    const k = keyFor(0, 0);
    for (let i = 0; i < 1000; i++) expect(g.before(call('kinesis', 'PutRecord', { kinesisRecords: [rec(k, 10)] }), 5_000)).toEqual({ kind: 'allow' });
    expect(g.before(call('kinesis', 'PutRecord', { kinesisRecords: [rec(k, 10)] }), 5_999)).toEqual({
      kind: 'reject', status: 400, errorType: 'ProvisionedThroughputExceededException', message: rate('shardId-000000000000'),
    });
    // The other shard has its own budget; the next second starts again.
    expect(g.before(call('kinesis', 'PutRecord', { kinesisRecords: [rec(keyFor(1, 0), 10)] }), 5_999).kind).toBe('allow');
    expect(g.before(call('kinesis', 'PutRecord', { kinesisRecords: [rec(k, 10)] }), 6_000).kind).toBe('allow');
  });

  it('1 MiB per second per shard counts data plus partition key', () => {
    const g = gate();
    const k = keyFor(0, 0);
    expect(g.before(call('kinesis', 'PutRecord', { kinesisRecords: [rec(k, 1024 * 1024 - k.length)] }), 0).kind).toBe('allow');
    expect(g.before(call('kinesis', 'PutRecord', { kinesisRecords: [rec(k, 1)] }), 999).kind).toBe('reject');
  });

  it('PutRecords is not refused whole: the entries over their shard\'s limit fail with ErrorCode and ErrorMessage', () => {
    const g = gate();
    const k0 = keyFor(0, 0);
    const k1 = keyFor(1, 0);
    const big = 400 * 1024;
    const v = g.before(call('kinesis', 'PutRecords', { kinesisRecords: [rec(k0, big), rec(k1, big), rec(k0, big), rec(k0, big), rec(k1, 10)] }), 0);
    expect(v).toEqual({ kind: 'partial', failures: [{ index: 3, errorCode: 'ProvisionedThroughputExceededException', errorMessage: rate('shardId-000000000000') }] });
  });

  it('a record over 1 MiB, a key over 256 characters or over 500 entries fail the request with ValidationException', () => {
    const g = gate();
    expect(g.before(call('kinesis', 'PutRecord', { kinesisRecords: [rec('k', 1024 * 1024 + 1)] }), 0)).toEqual({
      kind: 'reject',
      status: 400,
      errorType: 'ValidationException',
      message: "1 validation error detected: Value at 'data' failed to satisfy constraint: Member must have length less than or equal to 1048576",
    });
    const v = g.before(call('kinesis', 'PutRecords', { kinesisRecords: [rec('a', 1), rec('k'.repeat(257), 1)] }), 0);
    expect(v).toMatchObject({ kind: 'reject', message: "1 validation error detected: Value at 'records.2.member.partitionKey' failed to satisfy constraint: Member must have length less than or equal to 256" });
    const many = Array.from({ length: 501 }, (_, i) => rec(`k${i}`, 1));
    expect(g.before(call('kinesis', 'PutRecords', { kinesisRecords: many }), 0)).toMatchObject({ errorType: 'ValidationException', message: expect.stringContaining("at 'records' failed") });
  });

  it('--limits-scale divides the rate: 1,000 / 4 = 250 records per second', () => {
    const g = gate(4);
    const k = keyFor(0, 0);
    const verdicts = Array.from({ length: 251 }, () => g.before(call('kinesis', 'PutRecord', { kinesisRecords: [rec(k, 1)] }), 0).kind);
    expect(verdicts.filter((x) => x === 'allow')).toHaveLength(250);
    expect(verdicts[250]).toBe('reject');
    expect(() => new LimitsGate({ accountId: ACCOUNT, limitsScale: 0.5 })).toThrow(/--limits-scale must be a number >= 1/);
  });
});

describe('Kinesis reads', () => {
  const get = (shardId = 'shardId-000000000000'): LimitsCall => call('kinesis', 'GetRecords', { shardId });

  it('5 GetRecords calls per second per shard, shared by every polling consumer', () => {
    const g = gate();
    const kinds = Array.from({ length: 6 }, () => g.before(get(), 1_000).kind);
    expect(kinds).toEqual(['allow', 'allow', 'allow', 'allow', 'allow', 'reject']);
    expect(g.before(get(), 1_500)).toEqual({ kind: 'reject', status: 400, errorType: 'ProvisionedThroughputExceededException', message: rate('shardId-000000000000') });
    expect(g.before(get('shardId-000000000001'), 1_500).kind).toBe('allow');
    expect(g.before(get(), 2_000).kind).toBe('allow');
  });

  it('2 MiB/s per shard from the response sizes: after a 10 MiB response, calls within 5 seconds are refused', () => {
    const g = gate();
    expect(g.before(get(), 0).kind).toBe('allow');
    g.read(get(), 10 * 1024 * 1024, 0);
    expect(g.before(get(), 4_999).kind).toBe('reject');
    expect(g.before(get(), 5_000).kind).toBe('allow');
  });

  it('an enhanced fan-out consumer has its own 2 MiB/s per shard: it is paced (delayed), not refused, and does not use the shared budget', () => {
    const g = gate();
    const sub = call('kinesis', 'SubscribeToShard', { resources: [`${STREAM}/consumer/efo:1`], shardId: 'shardId-000000000000' });
    g.read(sub, 4 * 1024 * 1024, 0);
    expect(g.before(sub, 1_000)).toEqual({ kind: 'delay', ms: 1000 });
    expect(g.before(get(), 1_000).kind).toBe('allow');
  });
});

describe('size limits of the other services', () => {
  it('DynamoDB: an item over 400 KB', () => {
    const item = { id: { S: 'x' }, payload: { S: 'p'.repeat(400 * 1024) } };
    expect(dynamodbItemSize(item)).toBe(2 + 1 + 7 + 400 * 1024);
    expect(dynamodbItemSize({ n: { N: '-1200.50' } })).toBe(1 + 4); // 5 significant digits: ceil(5 / 2) + 1
    expect(dynamodbItemSize({ m: { M: { a: { BOOL: true } } }, l: { L: [{ NULL: true }] } })).toBe(1 + 3 + 1 + 1 + 1 + 1 + 3 + 1 + 1);
    expect(gate().before(call('dynamodb', 'PutItem', { sizes: { dynamodbItems: [dynamodbItemSize(item)] } }), 0)).toEqual({
      kind: 'reject', status: 400, errorType: 'ValidationException', message: 'Item size has exceeded the maximum allowed size',
    });
    expect(gate().before(call('dynamodb', 'PutItem', { sizes: { dynamodbItems: [400 * 1024] } }), 0).kind).toBe('allow');
  });

  it('SQS: the queue\'s MaximumMessageSize; a batch fails only its oversize entries', () => {
    const g = gate();
    const queue = `arn:aws:sqs:us-east-1:${ACCOUNT}:dlq`;
    g.setQueue(queue, 262_144);
    const message = 'One or more parameters are invalid. Reason: Message must be shorter than 262144 bytes.';
    expect(g.before(call('sqs', 'SendMessage', { resources: [queue], sizes: { sqsMessages: [262_145] } }), 0)).toEqual({ kind: 'reject', status: 400, errorType: 'InvalidParameterValue', message });
    expect(g.before(call('sqs', 'SendMessage', { resources: [queue], sizes: { sqsMessages: [262_144] } }), 0).kind).toBe('allow');
    expect(g.before(call('sqs', 'SendMessageBatch', { resources: [queue], sizes: { sqsMessages: [10, 300_000] } }), 0)).toEqual({
      kind: 'partial', failures: [{ index: 1, errorCode: 'InvalidParameterValue', errorMessage: message }],
    });
    // A queue without MaximumMessageSize takes SQS's default, 1 MiB.
    expect(g.before(call('sqs', 'SendMessage', { resources: ['arn:aws:sqs:us-east-1:1:other'], sizes: { sqsMessages: [1024 * 1024 + 1] } }), 0).kind).toBe('reject');
  });

  it('Lambda: a synchronous Invoke request over 6 MB', () => {
    expect(gate().before(call('lambda', 'Invoke', { requestBytes: 6 * 1024 * 1024 + 1 }), 0)).toEqual({
      kind: 'reject', status: 413, errorType: 'RequestEntityTooLargeException', message: 'Request must be smaller than 6291456 bytes for the InvokeFunction operation',
    });
    expect(gate().before(call('lambda', 'Invoke', { requestBytes: 6 * 1024 * 1024 }), 0).kind).toBe('allow');
  });

  it('Firehose: a record over 1,000 KiB', () => {
    expect(gate().before(call('firehose', 'PutRecordBatch', { sizes: { firehoseRecords: [10, 1000 * 1024 + 1] } }), 0)).toEqual({
      kind: 'reject',
      status: 400,
      errorType: 'ValidationException',
      message: "1 validation error detected: Value at 'records.2.member.data' failed to satisfy constraint: Member must have length less than or equal to 1024000",
    });
    expect(gate().before(call('firehose', 'PutRecord', { sizes: { firehoseRecords: [1000 * 1024] } }), 0).kind).toBe('allow');
  });
});
