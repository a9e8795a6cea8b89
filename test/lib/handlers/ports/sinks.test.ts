import { DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { KinesisClient, PutRecordCommand, PutRecordsCommand } from '@aws-sdk/client-kinesis';
import { S3Client } from '@aws-sdk/client-s3';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { contentHash, PermanentError, type Envelope } from '../../../../lib/core';
import { DynamoDbSink } from '../../../../lib/handlers/ports/dynamodb';
import { KinesisSink } from '../../../../lib/handlers/ports/kinesis';
import { MemorySink } from '../../../../lib/handlers/ports/memory';
import { parseS3Target, S3Sink } from '../../../../lib/handlers/ports/s3';
import { SqsDlq } from '../../../../lib/handlers/ports/sqs-dlq';
import { fakeDynamoDb, fakeS3, putFakeObject } from '../support/fake-aws';

const restorers: Array<() => void> = [];

/** An S3Sink writing to `target` (bucket and optional prefix) on a fake S3, restored after the test. */
function s3SinkOn(target: string): { s3: ReturnType<typeof fakeS3>; sink: S3Sink } {
  const s3 = fakeS3();
  restorers.push(() => s3.mock.restore());
  return { s3, sink: new S3Sink(new S3Client({ region: 'us-east-2' }), target) };
}
afterEach(() => {
  while (restorers.length) restorers.pop()!();
});

function env(eventTime: string, payload: Record<string, unknown> = { a: 1 }): Envelope {
  return { v: 1, id: '9613b6ef-b2fe-5458-84cf-23be3c6f4870', correlationId: 'c', source: 's', eventTime, hops: [], payload };
}
function meta(e: Envelope) {
  return { partitionKey: 'pk-1', sequenceNumber: '1', contentHash: contentHash(e.payload) };
}

describe('S3 sink', () => {
  it('parses bucket and prefix targets', () => {
    expect(parseS3Target('b')).toEqual({ bucket: 'b', prefix: '' });
    expect(parseS3Target('b/data/')).toEqual({ bucket: 'b', prefix: 'data/' });
    expect(parseS3Target('s3://b/x/y/')).toEqual({ bucket: 'b', prefix: 'x/y/' });
  });

  it('creates a new object with If-None-Match, version metadata and the envelope as body', async () => {
    const { s3, sink } = s3SinkOn('bkt/out/');
    const e = env('2026-01-01T00:00:00.000Z');
    expect(await sink.write(e, meta(e))).toBe('written');
    expect(s3.puts[0]).toMatchObject({
      Bucket: 'bkt',
      Key: `out/${e.id}.json`,
      IfNoneMatch: '*',
      ContentType: 'application/json',
      Metadata: { 'phx-event-time': e.eventTime, 'phx-content-hash': meta(e).contentHash },
    });
    expect(JSON.parse(s3.objects.get(`bkt/out/${e.id}.json`)!.body)).toEqual(e);
  });

  it('replaces an older version with If-Match, and does not write an equal or older one', async () => {
    const { s3, sink } = s3SinkOn('bkt');
    const v1 = env('2026-01-01T00:00:00.000Z', { a: 1 });
    const v2 = env('2026-01-02T00:00:00.000Z', { a: 2 });
    expect(await sink.write(v1, meta(v1))).toBe('written');
    expect(await sink.write(v2, meta(v2))).toBe('written');
    expect(s3.puts[1].IfMatch).toMatch(/^"e\d+"$/);
    expect(await sink.write(v2, meta(v2))).toBe('duplicate');
    expect(await sink.write(v1, meta(v1))).toBe('stale');
    expect(s3.puts).toHaveLength(2);
    expect(JSON.parse(s3.objects.get(`bkt/${v1.id}.json`)!.body).payload).toEqual({ a: 2 });
  });

  it('re-reads and decides again when a concurrent writer wins the conditional PUT (412)', async () => {
    const { s3, sink } = s3SinkOn('bkt');
    const mine = env('2026-01-01T00:00:00.000Z', { a: 1 });
    const theirs = env('2026-01-03T00:00:00.000Z', { a: 3 });
    s3.beforePut = () => {
      s3.beforePut = undefined;
      putFakeObject(s3, `bkt/${theirs.id}.json`, JSON.stringify(theirs), {
        'phx-event-time': theirs.eventTime,
        'phx-content-hash': contentHash(theirs.payload),
      });
    };
    expect(await sink.write(mine, meta(mine))).toBe('stale');
    expect(JSON.parse(s3.objects.get(`bkt/${mine.id}.json`)!.body).payload).toEqual({ a: 3 });
  });
});

describe('DynamoDB sink', () => {
  it('sends a conditional PutItem with ALL_OLD on failure', async () => {
    const ddb = fakeDynamoDb();
    restorers.push(() => ddb.mock.restore());
    const sink = new DynamoDbSink(new DynamoDBClient({ region: 'us-east-2' }), 't');
    const e = env('2026-01-01T00:00:00Z');
    await sink.write(e, meta(e));
    const input = ddb.mock.commandCalls(PutItemCommand)[0].args[0].input;
    expect(input).toMatchObject({
      TableName: 't',
      ConditionExpression: 'attribute_not_exists(pk) OR eventTime < :et OR (eventTime = :et AND contentHash < :h)',
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      ExpressionAttributeValues: { ':et': { S: '2026-01-01T00:00:00.000Z' }, ':h': { S: meta(e).contentHash } },
    });
  });

  it('converges to the same final state whatever the arrival order (content-hash tie-break)', async () => {
    const a = env('2026-01-01T00:00:00.000Z', { v: 'a' });
    const b = env('2026-01-01T00:00:00.000Z', { v: 'b' });
    const finals: unknown[] = [];
    for (const order of [[a, b], [b, a]]) {
      const ddb = fakeDynamoDb();
      const sink = new DynamoDbSink(new DynamoDBClient({ region: 'us-east-2' }), 't');
      for (const e of order) await sink.write(e, meta(e));
      finals.push(JSON.parse(ddb.table.get(a.id)!.envelope.S!).payload);
      ddb.mock.restore();
    }
    expect(finals[0]).toEqual(finals[1]);
  });

  it('maps ValidationException to PermanentError(sink-rejected) and lets other errors through', async () => {
    const mock = mockClient(DynamoDBClient);
    restorers.push(() => mock.restore());
    const sink = new DynamoDbSink(new DynamoDBClient({ region: 'us-east-2' }), 't');
    const e = env('2026-01-01T00:00:00.000Z');
    mock.on(PutItemCommand).rejectsOnce(Object.assign(new Error('Item size has exceeded the maximum allowed size'), { name: 'ValidationException' }));
    const err = await sink.write(e, meta(e)).catch((x: unknown) => x);
    expect(err).toBeInstanceOf(PermanentError);
    expect((err as PermanentError).reasonClass).toBe('sink-rejected');
    const throttle = Object.assign(new Error('slow'), { name: 'ProvisionedThroughputExceededException' });
    mock.on(PutItemCommand).rejects(throttle);
    await expect(sink.write(e, meta(e))).rejects.toBe(throttle);
  });
});

describe('Kinesis sink', () => {
  it('puts the envelope with the original partition key, to a stream by name or ARN', async () => {
    const mock = mockClient(KinesisClient);
    restorers.push(() => mock.restore());
    mock.on(PutRecordsCommand).resolves({ Records: [{ SequenceNumber: '1', ShardId: 'shardId-0' }] });
    const e = env('2026-01-01T00:00:00.000Z');
    await new KinesisSink(new KinesisClient({ region: 'us-east-2' }), 'next-stage').write(e, meta(e));
    const arn = 'arn:aws:kinesis:us-east-2:123456789012:stream/next';
    await new KinesisSink(new KinesisClient({ region: 'us-east-2' }), arn).write(e, meta(e));
    const [first, second] = mock.commandCalls(PutRecordsCommand).map((c) => c.args[0].input);
    expect(first).toMatchObject({ StreamName: 'next-stage', Records: [{ PartitionKey: 'pk-1' }] });
    expect(JSON.parse(Buffer.from(first.Records![0].Data!).toString('utf8'))).toEqual(e);
    expect(second).toMatchObject({ StreamARN: arn });
    expect(second.StreamName).toBeUndefined();
  });

  it('maps a too-large record to PermanentError(sink-rejected)', async () => {
    const mock = mockClient(KinesisClient);
    restorers.push(() => mock.restore());
    const tooLarge = Object.assign(new Error('Record size exceeds 1 MiB'), { name: 'ValidationException' });
    mock.on(PutRecordsCommand).rejects(tooLarge);
    mock.on(PutRecordCommand).rejects(tooLarge);
    const e = env('2026-01-01T00:00:00.000Z');
    const err = await new KinesisSink(new KinesisClient({ region: 'us-east-2' }), 's').write(e, meta(e)).catch((x: unknown) => x);
    expect((err as PermanentError).reasonClass).toBe('sink-rejected');
  });
});

describe('memory sink', () => {
  it('has the same version semantics', async () => {
    const sink = new MemorySink();
    const old = env('2026-01-01T00:00:00.000Z', { a: 1 });
    const nu = env('2026-01-02T00:00:00.000Z', { a: 2 });
    expect(await sink.write(nu, meta(nu))).toBe('written');
    expect(await sink.write(old, meta(old))).toBe('stale');
    expect(await sink.write(nu, meta(nu))).toBe('duplicate');
  });
});

describe('SQS DLQ', () => {
  it('sends the body with String message attributes to the queue URL', async () => {
    const mock = mockClient(SQSClient);
    restorers.push(() => mock.restore());
    mock.on(SendMessageCommand).resolves({ MessageId: '1' });
    const url = 'https://sqs.us-east-2.amazonaws.com/123456789012/dlq';
    await new SqsDlq(new SQSClient({ region: 'us-east-2', useQueueUrlAsEndpoint: false }), url).sendMessage('{"v":1}', { reasonClass: 'decode', stage: 'ingest', id: '' });
    expect(mock.commandCalls(SendMessageCommand)[0].args[0].input).toEqual({
      QueueUrl: url,
      MessageBody: '{"v":1}',
      MessageAttributes: {
        reasonClass: { DataType: 'String', StringValue: 'decode' },
        stage: { DataType: 'String', StringValue: 'ingest' },
      },
    });
  });

  it('stores overflow payloads in S3 (loaded on first use) and returns the s3:// reference', async () => {
    const s3 = fakeS3();
    restorers.push(() => s3.mock.restore());
    const dlq = new SqsDlq(new SQSClient({ region: 'us-east-2' }), 'https://q', { bucket: 'ovf' });
    expect(await dlq.putOverflow!('dlq-payloads/ingest/x/1.b64', 'AAAA')).toBe('s3://ovf/dlq-payloads/ingest/x/1.b64');
    expect(s3.objects.get('ovf/dlq-payloads/ingest/x/1.b64')?.body).toBe('AAAA');
    expect(new SqsDlq(new SQSClient({ region: 'us-east-2' }), 'https://q').putOverflow).toBeUndefined();
  });
});
