import { describe, expect, it } from 'vitest';
import { GateChain } from '../../../../lib/local/gates/chain';
import { rejectionReply } from '../../../../lib/local/gates/respond';
import type { AwsCall, GateVerdict, RequestGate } from '../../../../lib/local/gates/types';
import type { RequestDescription } from '../../../../lib/local/iam/requests';

const ROLE = { kind: 'role' as const, arn: 'arn:aws:iam::000000000000:role/r' };
const description = (service: RequestDescription['service'], protocol: RequestDescription['protocol']): RequestDescription => ({
  service,
  protocol,
  accessKeyId: 'K',
  calls: [
    { service, operation: 'Op', action: `${service}:Op`, resources: ['arn:x'], requestBytes: 1 },
    { service: 'kms', via: service, operation: 'Decrypt', action: 'kms:Decrypt', resources: ['arn:k'], requestBytes: 0 },
  ],
});
const gate = (name: string, decide: (c: AwsCall) => GateVerdict, seen: string[] = []): RequestGate => ({
  name, before: (c) => { seen.push(`${name} ${c.action}`); return decide(c); }, after: (c, bytes) => { seen.push(`${name} after ${c.action} ${bytes}`); },
});
const chainOf = (gates: RequestGate[], d = description('kinesis', 'json')) =>
  new GateChain({ describe: () => d, authenticate: (x) => (x.accessKeyId === 'K' ? ROLE : { kind: 'reject', status: 400, errorType: 'UnrecognizedClientException', message: 'bad' }), gates });
const req = { method: 'POST', url: '/', headers: {}, body: undefined };

describe('gate chain', () => {
  it('runs every call through every gate in order; delays add up; after() sees the API call only', () => {
    const seen: string[] = [];
    const chain = chainOf([gate('a', () => ({ kind: 'delay', ms: 5 }), seen), gate('b', () => ({ kind: 'allow' }), seen)]);
    const r = chain.check('kinesis', req, 0);
    expect(r).toMatchObject({ kind: 'forward', delayMs: 10 });
    expect(seen).toEqual(['a kinesis:Op', 'b kinesis:Op', 'a kms:Decrypt', 'b kms:Decrypt']);
    if (r.kind === 'forward') chain.after(r.calls, 42, 0);
    expect(seen.slice(4)).toEqual(['a after kinesis:Op 42', 'b after kinesis:Op 42']);
  });

  it('the first rejection answers, later gates are not asked', () => {
    const seen: string[] = [];
    const chain = chainOf([gate('iam', (c) => (c.service === 'kms' ? { kind: 'reject', status: 400, errorType: 'KMSAccessDeniedException', message: 'no' } : { kind: 'allow' }), seen), gate('limits', () => ({ kind: 'allow' }), seen)]);
    const r = chain.check('kinesis', req, 0);
    expect(r).toMatchObject({ kind: 'reject', reply: { status: 400, headers: { 'x-amzn-errortype': 'KMSAccessDeniedException' } } });
    expect(seen).toEqual(['iam kinesis:Op', 'limits kinesis:Op', 'iam kms:Decrypt']);
  });

  it('an unknown signer is rejected before any gate', () => {
    const seen: string[] = [];
    const d = { ...description('dynamodb', 'json'), accessKeyId: 'X' };
    const r = chainOf([gate('iam', () => ({ kind: 'allow' }), seen)], d).check('dynamodb', req, 0);
    expect(r.kind === 'reject' && JSON.parse(r.reply.body)).toEqual({ __type: 'com.amazonaws.dynamodb.v20120810#UnrecognizedClientException', message: 'bad' });
    expect(seen).toEqual([]);
  });
});

describe('rejection replies in the service\'s error shape', () => {
  const v = { kind: 'reject' as const, status: 403, errorType: 'AccessDenied', message: 'User: a is not authorized <x>' };
  it('JSON: __type and message; SQS also names its Query error code', () => {
    const r = rejectionReply('json', 'sqs', v);
    expect(r).toMatchObject({ status: 403, headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-query-error': 'AccessDenied;Sender' } });
    expect(JSON.parse(r.body)).toEqual({ __type: 'AccessDenied', message: v.message });
    expect(rejectionReply('json', 'kinesis', v).headers['content-type']).toBe('application/x-amz-json-1.1');
  });
  it('SNS Query: ErrorResponse XML; S3: Error XML, escaped', () => {
    expect(rejectionReply('query', 'sns', v).body).toMatch(/^<ErrorResponse xmlns="http:\/\/sns.amazonaws.com\/doc\/2010-03-31\/"><Error><Type>Sender<\/Type><Code>AccessDenied<\/Code><Message>User: a is not authorized &lt;x&gt;<\/Message><\/Error><RequestId>/);
    expect(rejectionReply('s3', 's3', v).body).toMatch(/<Error><Code>AccessDenied<\/Code><Message>User: a is not authorized &lt;x&gt;<\/Message><RequestId>/);
  });
});
