import { describe, expect, it } from 'vitest';
import { accessKeyIdOf, describeRequest, type HttpRequestInfo, type RequestContextInfo } from '../../../../lib/local/iam/requests';

const A = '000000000000';
const STREAM = `arn:aws:kinesis:us-east-1:${A}:stream/s`;
const QUEUE = `arn:aws:sqs:us-east-1:${A}:q`;
const TOPIC = `arn:aws:sns:us-east-1:${A}:t`;
const KEY = `arn:aws:kms:us-east-1:${A}:key/k`;
const ctx: RequestContextInfo = {
  region: 'us-east-1',
  account: A,
  encryption: new Map([[STREAM, KEY], [QUEUE, KEY], [TOPIC, KEY], ['arn:aws:s3:::b', KEY]]),
  decodeIterator: (iterator) => (iterator === 'ITER' ? { streamName: 's', shardId: 'shardId-000000000001' } : undefined),
};
const auth = (key: string) => ({ authorization: `AWS4-HMAC-SHA256 Credential=${key}/20260101/us-east-1/kinesis/aws4_request, SignedHeaders=host, Signature=abc` });
const json = (target: string, body: object, extra: Record<string, string> = {}): HttpRequestInfo => ({
  method: 'POST', url: '/', headers: { 'x-amz-target': target, 'content-type': 'application/x-amz-json-1.0', ...auth('PHXL1'), ...extra }, body: Buffer.from(JSON.stringify(body)),
});
const summary = (d: ReturnType<typeof describeRequest>) => d.calls.map((c) => `${c.action} ${c.resources.join(',')}`);

describe('HTTP request -> AWS calls', () => {
  it('Kinesis PutRecords: the stream by name or ARN, record sizes, and kms:GenerateDataKey on the encrypted stream', () => {
    const d = describeRequest('kinesis', json('Kinesis_20131202.PutRecords', { StreamName: 's', Records: [{ Data: Buffer.from('abcd').toString('base64'), PartitionKey: 'pk' }] }), ctx);
    expect(d.accessKeyId).toBe('PHXL1');
    expect(summary(d)).toEqual([`kinesis:PutRecords ${STREAM}`, `kms:GenerateDataKey ${KEY}`]);
    expect(d.calls[0].kinesisRecords).toEqual([{ partitionKey: 'pk', explicitHashKey: undefined, bytes: 6 }]);
    expect(d.calls[1]).toMatchObject({ via: 'kinesis', context: { 'kms:ViaService': 'kinesis.us-east-1.amazonaws.com' } });
    expect(summary(describeRequest('kinesis', json('Kinesis_20131202.DescribeStreamSummary', { StreamARN: STREAM }), ctx))).toEqual([`kinesis:DescribeStreamSummary ${STREAM}`]);
  });

  it('Kinesis GetRecords: the stream and shard from the iterator, kms:Decrypt; ListStreams is on "*"', () => {
    const d = describeRequest('kinesis', json('Kinesis_20131202.GetRecords', { ShardIterator: 'ITER' }), ctx);
    expect(summary(d)).toEqual([`kinesis:GetRecords ${STREAM}`, `kms:Decrypt ${KEY}`]);
    expect(d.calls[0].shardId).toBe('shardId-000000000001');
    expect(describeRequest('kinesis', json('Kinesis_20131202.GetRecords', { ShardIterator: 'bad' }), ctx).calls).toEqual([]);
    expect(summary(describeRequest('kinesis', json('Kinesis_20131202.ListStreams', {}), ctx))).toEqual(['kinesis:ListStreams *']);
  });

  it('DynamoDB: table, index, and every table of a batch', () => {
    const t = (n: string) => `arn:aws:dynamodb:us-east-1:${A}:table/${n}`;
    expect(summary(describeRequest('dynamodb', json('DynamoDB_20120810.Query', { TableName: 'T', IndexName: 'I' }), ctx))).toEqual([`dynamodb:Query ${t('T/index/I')}`]);
    expect(summary(describeRequest('dynamodb', json('DynamoDB_20120810.BatchWriteItem', { RequestItems: { A: [], B: [] } }), ctx))).toEqual([`dynamodb:BatchWriteItem ${t('A')},${t('B')}`]);
  });

  it('SQS JSON: queue from its URL; SendMessage implies kms:GenerateDataKey and kms:Decrypt, ReceiveMessage kms:Decrypt', () => {
    const send = describeRequest('fauxqs', json('AmazonSQS.SendMessage', { QueueUrl: `http://127.0.0.1:9/${A}/q`, MessageBody: 'x' }), ctx);
    expect(send.service).toBe('sqs');
    expect(summary(send)).toEqual([`sqs:SendMessage ${QUEUE}`, `kms:GenerateDataKey ${KEY}`, `kms:Decrypt ${KEY}`]);
    expect(summary(describeRequest('fauxqs', json('AmazonSQS.ReceiveMessage', { QueueUrl: `http://127.0.0.1:9/${A}/q` }), ctx))).toEqual([`sqs:ReceiveMessage ${QUEUE}`, `kms:Decrypt ${KEY}`]);
  });

  it('SNS Query: Publish on an encrypted topic implies kms:GenerateDataKey and kms:Decrypt; GetCallerIdentity needs no permission', () => {
    const form = (body: Record<string, string>): HttpRequestInfo => ({ method: 'POST', url: '/', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body });
    const d = describeRequest('fauxqs', form({ Action: 'Publish', TopicArn: TOPIC, Message: 'm' }), ctx);
    expect(d).toMatchObject({ service: 'sns', protocol: 'query', accessKeyId: undefined });
    expect(summary(d)).toEqual([`sns:Publish ${TOPIC}`, `kms:GenerateDataKey ${KEY}`, `kms:Decrypt ${KEY}`]);
    expect(describeRequest('fauxqs', form({ Action: 'GetCallerIdentity' }), ctx).calls).toEqual([]);
  });

  it('S3 REST: objects, listing with s3:prefix, bucket subresources, virtual hosts, SSE-KMS', () => {
    const s3 = (method: string, url: string, headers: Record<string, string> = {}): HttpRequestInfo => ({ method, url, headers: { host: '127.0.0.1:9', ...headers }, body: undefined });
    expect(summary(describeRequest('fauxqs', s3('PUT', '/b/dlq/1.json'), ctx))).toEqual(['s3:PutObject arn:aws:s3:::b/dlq/1.json', `kms:GenerateDataKey ${KEY}`]);
    expect(summary(describeRequest('fauxqs', s3('GET', '/b/a%20b'), ctx))).toEqual(['s3:GetObject arn:aws:s3:::b/a b', `kms:Decrypt ${KEY}`]);
    expect(summary(describeRequest('fauxqs', s3('HEAD', '/other/k'), ctx))).toEqual(['s3:GetObject arn:aws:s3:::other/k']);
    const list = describeRequest('fauxqs', s3('GET', '/b?list-type=2&prefix=raw%2F'), ctx);
    expect(list.calls[0]).toMatchObject({ operation: 'ListObjectsV2', action: 's3:ListBucket', resources: ['arn:aws:s3:::b'], context: { 's3:prefix': 'raw/' } });
    expect(summary(describeRequest('fauxqs', s3('PUT', '/b?notification'), ctx))).toEqual(['s3:PutBucketNotification arn:aws:s3:::b']);
    expect(summary(describeRequest('fauxqs', s3('GET', '/k', { host: 'other.s3.local:9' }), ctx))).toEqual(['s3:GetObject arn:aws:s3:::other/k']);
    expect(summary(describeRequest('fauxqs', s3('GET', '/'), ctx))).toEqual(['s3:ListAllMyBuckets *']);
  });

  it('access key id: from the Authorization header, from a presigned URL, or none', () => {
    expect(accessKeyIdOf({ url: '/', headers: auth('AKID1') })).toBe('AKID1');
    expect(accessKeyIdOf({ url: '/b/k?X-Amz-Credential=AKID2%2F20260101%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Signature=x', headers: {} })).toBe('AKID2');
    expect(accessKeyIdOf({ url: '/', headers: {} })).toBeUndefined();
  });
});
