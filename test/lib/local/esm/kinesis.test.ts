import { randomUUID } from 'node:crypto';
import { GetObjectCommand, CreateBucketCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { CreateQueueCommand, GetQueueAttributesCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ACCOUNT, concurrencyProbe, FakeFunction, REGION, fail, ok, putRecords, startFauxqs, startKinesalite, type Fauxqs, type Kinesalite } from './support';
import { IngestStage } from '../../../../constructs';
import { KinesisEventSourcePoller } from '../../../../lib/local/esm/kinesis';
import { MappingAccessDeniedError, parseKinesisMapping } from '../../../../lib/local/esm/parse';
import type { KinesisMappingConfig, PollerOptions } from '../../../../lib/local/esm/types';
import { iamGateConfig, inProcessAuthorizer, mappingAuthorizer } from '../../../../lib/local/iam';
import { LocalStack } from '../../../../lib/local/template/stack';
import type { CfnTemplate } from '../../../../lib/local/template/types';
import { templateOf } from '../../../support/stacks';

let kinesis: Kinesalite;
let faux: Fauxqs;
const queues = new Map<string, string>();
const pollers: KinesisEventSourcePoller[] = [];

beforeAll(async () => {
  [kinesis, faux] = await Promise.all([startKinesalite(), startFauxqs()]);
});
afterEach(async () => {
  await Promise.all(pollers.splice(0).map((p) => p.stop()));
});
afterAll(async () => {
  await Promise.all([kinesis?.stop(), faux?.stop()]);
});

async function stream(shards = 1): Promise<{ name: string; arn: string }> {
  const name = `s-${randomUUID().slice(0, 8)}`;
  return { name, arn: await kinesis.createStream(name, shards) };
}

async function queue(): Promise<{ url: string; arn: string }> {
  const res = await faux.sqs.send(new CreateQueueCommand({ QueueName: `q-${randomUUID().slice(0, 8)}` }));
  const attrs = await faux.sqs.send(new GetQueueAttributesCommand({ QueueUrl: res.QueueUrl!, AttributeNames: ['QueueArn'] }));
  const arn = attrs.Attributes!.QueueArn!;
  queues.set(arn, res.QueueUrl!);
  return { url: res.QueueUrl!, arn };
}

function mapping(props: Record<string, unknown>): KinesisMappingConfig {
  return parseKinesisMapping(
    { StartingPosition: 'TRIM_HORIZON', FunctionName: 'fake-fn', ...props },
    {
      uuid: randomUUID(),
      region: REGION,
      accountId: ACCOUNT,
      queueUrlForArn: (arn) => {
        const url = queues.get(arn);
        if (!url) throw new Error('unknown queue');
        return url;
      },
    },
  );
}

function poller(config: KinesisMappingConfig, fn: FakeFunction, opts: PollerOptions = {}): KinesisEventSourcePoller {
  const p = new KinesisEventSourcePoller(config, fn, { kinesis: kinesis.client, sqs: faux.sqs, s3: faux.s3 }, {
    pollIntervalMs: 20,
    retryBackoffMs: 5,
    retryBackoffCapMs: 20,
    ...opts,
  });
  pollers.push(p);
  p.start();
  return p;
}

async function receiveAll(url: string, expected: number): Promise<any[]> {
  const out: any[] = [];
  for (let i = 0; i < 20 && out.length < expected; i++) {
    const res = await faux.sqs.send(new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
    for (const m of res.Messages ?? []) out.push(JSON.parse(m.Body!));
  }
  return out;
}

const data = (n: number, prefix = 'r'): Array<{ key: string; data: string }> =>
  Array.from({ length: n }, (_, i) => ({ key: `k${i % 4}`, data: `${prefix}${i}` }));

describe('KinesisEventSourcePoller', () => {
  it('delivers a shard in order, in batches of BatchSize, with the AWS event shape', async () => {
    const s = await stream();
    const seqs = await putRecords(kinesis.client, s.name, data(250));
    const fn = new FakeFunction();
    const config = mapping({ EventSourceArn: s.arn, BatchSize: 100 });
    const p = poller(config, fn);
    expect(await p.drain({ timeoutMs: 10_000 })).toBe(true);

    expect(fn.kinesisBatches().map((b) => b.length)).toEqual([100, 100, 50]);
    expect(fn.kinesisBatches().flat()).toEqual(data(250).map((d) => d.data));
    const first = fn.events[0].Records[0];
    expect(first).toEqual({
      kinesis: {
        kinesisSchemaVersion: '1.0',
        partitionKey: 'k0',
        sequenceNumber: seqs[0],
        data: Buffer.from('r0').toString('base64'),
        approximateArrivalTimestamp: expect.any(Number),
      },
      eventSource: 'aws:kinesis',
      eventVersion: '1.0',
      eventID: `shardId-000000000000:${seqs[0]}`,
      eventName: 'aws:kinesis:record',
      invokeIdentityArn: `arn:aws:iam::${ACCOUNT}:role/fake-fn-role`,
      awsRegion: REGION,
      eventSourceARN: s.arn,
    });
    expect(Math.abs(first.kinesis.approximateArrivalTimestamp * 1000 - Date.now())).toBeLessThan(60_000);
    expect(Object.keys(fn.events[0])).toEqual(['Records']);
    expect(p.stats).toMatchObject({ batches: 3, invocations: 3, recordsDelivered: 250, functionErrors: 0 });
  });

  it('StartingPosition LATEST delivers only records added after start()', async () => {
    const s = await stream();
    await putRecords(kinesis.client, s.name, data(3, 'old'));
    await new Promise((r) => setTimeout(r, 5)); // arrival timestamps have millisecond resolution
    const fn = new FakeFunction();
    const p = poller(mapping({ EventSourceArn: s.arn, StartingPosition: 'LATEST' }), fn);
    await putRecords(kinesis.client, s.name, data(2, 'new'));
    expect(await p.drain({ timeoutMs: 10_000 })).toBe(true);
    expect(fn.kinesisBatches().flat()).toEqual(['new0', 'new1']);
  });

  it('StartingPosition LATEST on an empty stream reads the records put after start() (kinesalite never answers AT_TIMESTAMP there)', async () => {
    const s = await stream(2);
    const fn = new FakeFunction();
    const p = poller(mapping({ EventSourceArn: s.arn, StartingPosition: 'LATEST' }), fn);
    await new Promise((r) => setTimeout(r, 100)); // the shards' first reads happen on the empty stream
    await putRecords(kinesis.client, s.name, data(6, 'new'));
    expect(await p.drain({ timeoutMs: 10_000 })).toBe(true);
    expect(fn.kinesisBatches().flat().sort()).toEqual(['new0', 'new1', 'new2', 'new3', 'new4', 'new5']);
  });

  it('StartingPosition AT_TIMESTAMP delivers the records that arrived from the timestamp on', async () => {
    const s = await stream();
    await putRecords(kinesis.client, s.name, data(2, 'old'));
    await new Promise((r) => setTimeout(r, 1100)); // the timestamp has whole seconds
    const at = Math.ceil(Date.now() / 1000);
    await new Promise((r) => setTimeout(r, at * 1000 - Date.now() + 5));
    await putRecords(kinesis.client, s.name, data(2, 'new'));
    const fn = new FakeFunction();
    const p = poller(mapping({ EventSourceArn: s.arn, StartingPosition: 'AT_TIMESTAMP', StartingPositionTimestamp: at }), fn);
    expect(await p.drain({ timeoutMs: 10_000 })).toBe(true);
    expect(fn.kinesisBatches().flat()).toEqual(['new0', 'new1']);
  });

  it('SNS on-failure destination publishes the metadata record', async () => {
    const s = await stream();
    const seqs = await putRecords(kinesis.client, s.name, data(1));
    const published: Array<{ TopicArn: string; Message: string }> = [];
    const topicArn = `arn:aws:sns:${REGION}:${ACCOUNT}:esm-failures`;
    const config = mapping({ EventSourceArn: s.arn, MaximumRetryAttempts: 0, DestinationConfig: { OnFailure: { Destination: topicArn } } });
    const fn = new FakeFunction(() => fail('error'));
    expect(() => new KinesisEventSourcePoller(config, fn, { kinesis: kinesis.client, sqs: faux.sqs, s3: faux.s3 })).toThrow(/needs clients.sns/);
    const sns = { publish: async (input: { TopicArn: string; Message: string }) => { published.push(input); } };
    const p = new KinesisEventSourcePoller(config, fn, { kinesis: kinesis.client, sqs: faux.sqs, s3: faux.s3, sns }, { pollIntervalMs: 20 });
    pollers.push(p);
    p.start();
    expect(await p.drain({ timeoutMs: 10_000 })).toBe(true);
    expect(published).toHaveLength(1);
    expect(published[0].TopicArn).toBe(topicArn);
    const msg = JSON.parse(published[0].Message);
    expect(msg.KinesisBatchInfo).toMatchObject({ startSequenceNumber: seqs[0], endSequenceNumber: seqs[0], batchSize: 1, streamArn: s.arn });
    expect(msg.payload).toBeUndefined();
  });

  it('reads every shard; order holds per shard', async () => {
    const s = await stream(3);
    const records = Array.from({ length: 90 }, (_, i) => ({ key: `key-${i % 9}`, data: `${i % 9}:${i}` }));
    await putRecords(kinesis.client, s.name, records);
    const fn = new FakeFunction();
    const p = poller(mapping({ EventSourceArn: s.arn, BatchSize: 7 }), fn);
    expect(await p.drain({ timeoutMs: 10_000 })).toBe(true);

    const delivered = fn.kinesisBatches().flat();
    expect([...delivered].sort()).toEqual(records.map((r) => r.data).sort());
    const shardsSeen = new Set(fn.events.flatMap((e) => e.Records.map((r: any) => r.eventID.split(':')[0])));
    expect(shardsSeen.size).toBeGreaterThan(1);
    // Within a shard, sequence numbers arrive strictly increasing.
    const lastByShard = new Map<string, bigint>();
    for (const e of fn.events) {
      for (const r of e.Records) {
        const shard = r.eventID.split(':')[0];
        const seq = BigInt(r.kinesis.sequenceNumber);
        expect(seq > (lastByShard.get(shard) ?? -1n)).toBe(true);
        lastByShard.set(shard, seq);
      }
    }
  });

  it('ParallelizationFactor runs concurrent batches per shard and keeps order per partition key', async () => {
    const s = await stream(1);
    const keys = Array.from({ length: 12 }, (_, i) => `key-${i}`);
    const records = Array.from({ length: 120 }, (_, i) => ({ key: keys[i % keys.length], data: `${keys[i % keys.length]}#${Math.floor(i / keys.length)}` }));
    await putRecords(kinesis.client, s.name, records);

    const { fn, maxInFlight } = concurrencyProbe();
    const p = poller(mapping({ EventSourceArn: s.arn, BatchSize: 5, ParallelizationFactor: 4 }), fn);
    expect(await p.drain({ timeoutMs: 15_000 })).toBe(true);

    expect(maxInFlight()).toBeGreaterThan(1);
    expect(maxInFlight()).toBeLessThanOrEqual(4);
    const delivered = fn.kinesisBatches();
    expect(delivered.flat().sort()).toEqual(records.map((r) => r.data).sort());
    // Per key: 0, 1, 2, ... in delivery order.
    const next = new Map<string, number>();
    for (const rec of delivered.flat()) {
      const [key, n] = rec.split('#');
      expect(Number(n)).toBe(next.get(key) ?? 0);
      next.set(key, Number(n) + 1);
    }
    // A key always lands in the same lane: no batch mixes keys from two lanes' key sets in conflicting ways.
    expect(p.stats.batches).toBeGreaterThanOrEqual(120 / 5);
  });

  it('partial batch failure checkpoints at the lowest failed sequence number and redelivers from it', async () => {
    const s = await stream();
    const seqs = await putRecords(kinesis.client, s.name, data(10));
    const fn = new FakeFunction((_e, call) =>
      // Reported out of order: the lowest (index 3) must win, compared as numbers, not by list position.
      call === 1 ? ok({ batchItemFailures: [{ itemIdentifier: seqs[6] }, { itemIdentifier: seqs[3] }] }) : ok({ batchItemFailures: [] }),
    );
    const p = poller(mapping({ EventSourceArn: s.arn, BatchSize: 10, FunctionResponseTypes: ['ReportBatchItemFailures'] }), fn);
    expect(await p.drain({ timeoutMs: 10_000 })).toBe(true);

    expect(fn.kinesisBatches()).toEqual([
      data(10).map((d) => d.data),
      data(10).slice(3).map((d) => d.data),
    ]);
    expect(p.stats).toMatchObject({ partialFailures: 1, retries: 1, invocations: 2 });
  });

  it('a malformed itemIdentifier fails the whole batch; without ReportBatchItemFailures the response is ignored', async () => {
    const s = await stream();
    await putRecords(kinesis.client, s.name, data(4));
    const malformed = new FakeFunction((_e, call) => (call === 1 ? ok({ batchItemFailures: [{ itemIdentifier: 'not-in-batch' }] }) : ok({})));
    const p1 = poller(mapping({ EventSourceArn: s.arn, FunctionResponseTypes: ['ReportBatchItemFailures'] }), malformed);
    expect(await p1.drain({ timeoutMs: 10_000 })).toBe(true);
    expect(malformed.kinesisBatches()).toEqual([['r0', 'r1', 'r2', 'r3'], ['r0', 'r1', 'r2', 'r3']]);

    const nonString = new FakeFunction((_e, call) => (call === 1 ? ok({ batchItemFailures: [{ itemIdentifier: 42 }] }) : ok(null)));
    const p2 = poller(mapping({ EventSourceArn: s.arn, FunctionResponseTypes: ['ReportBatchItemFailures'] }), nonString);
    expect(await p2.drain({ timeoutMs: 10_000 })).toBe(true);
    expect(nonString.kinesisBatches()).toHaveLength(2);

    const ignored = new FakeFunction(() => ok({ batchItemFailures: [{ itemIdentifier: 'whatever' }] }));
    const p3 = poller(mapping({ EventSourceArn: s.arn }), ignored);
    expect(await p3.drain({ timeoutMs: 10_000 })).toBe(true);
    expect(ignored.kinesisBatches()).toEqual([['r0', 'r1', 'r2', 'r3']]);
  });

  it('BisectBatchOnFunctionError narrows a failing batch down to the poison record without using retry attempts', async () => {
    const s = await stream();
    const q = await queue();
    const seqs = await putRecords(kinesis.client, s.name, data(8));
    const fn = new FakeFunction((e) =>
      e.Records.some((r: any) => Buffer.from(r.kinesis.data, 'base64').toString() === 'r5') ? fail('error', 'poison') : ok(null),
    );
    const p = poller(
      mapping({
        EventSourceArn: s.arn,
        BatchSize: 8,
        BisectBatchOnFunctionError: true,
        MaximumRetryAttempts: 0,
        DestinationConfig: { OnFailure: { Destination: q.arn } },
      }),
      fn,
    );
    expect(await p.drain({ timeoutMs: 10_000 })).toBe(true);

    expect(fn.kinesisBatches()).toEqual([
      ['r0', 'r1', 'r2', 'r3', 'r4', 'r5', 'r6', 'r7'],
      ['r0', 'r1', 'r2', 'r3'],
      ['r4', 'r5', 'r6', 'r7'],
      ['r4', 'r5'],
      ['r4'],
      ['r5'],
      ['r6', 'r7'],
    ]);
    const [msg] = await receiveAll(q.url, 1);
    expect(msg.KinesisBatchInfo).toMatchObject({ startSequenceNumber: seqs[5], endSequenceNumber: seqs[5], batchSize: 1 });
    expect(msg.requestContext.condition).toBe('RetryAttemptsExhausted');
    expect(p.stats).toMatchObject({ bisections: 3, retries: 0, discardedToOnFailure: 1 });
  });

  it('retries exhausted: SQS on-failure gets metadata only, then the shard moves on (timeouts are failures)', async () => {
    const s = await stream();
    const q = await queue();
    const seqs = await putRecords(kinesis.client, s.name, data(5));
    const fn = new FakeFunction((e) => (e.Records.length === 3 ? fail('timeout', 'Task timed out after 3.00 seconds') : ok(null)));
    const onFailure = { OnFailure: { Destination: q.arn } };
    const config = mapping({ EventSourceArn: s.arn, BatchSize: 3, MaximumRetryAttempts: 2, DestinationConfig: onFailure });
    const p = poller(config, fn);
    expect(await p.drain({ timeoutMs: 10_000 })).toBe(true);

    expect(fn.kinesisBatches()).toEqual([['r0', 'r1', 'r2'], ['r0', 'r1', 'r2'], ['r0', 'r1', 'r2'], ['r3', 'r4']]);
    const msgs = await receiveAll(q.url, 1);
    expect(msgs).toHaveLength(1);
    const msg = msgs[0];
    expect(Object.keys(msg).sort()).toEqual(['KinesisBatchInfo', 'requestContext', 'responseContext', 'timestamp', 'version']);
    expect(msg).toMatchObject({
      requestContext: { functionArn: fn.functionArn, condition: 'RetryAttemptsExhausted', approximateInvokeCount: 3, requestId: expect.any(String) },
      responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
      version: '1.0',
      KinesisBatchInfo: {
        shardId: 'shardId-000000000000',
        startSequenceNumber: seqs[0],
        endSequenceNumber: seqs[2],
        approximateArrivalOfFirstRecord: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
        approximateArrivalOfLastRecord: expect.stringMatching(/Z$/),
        batchSize: 3,
        streamArn: s.arn,
      },
    });
    expect(Number.isNaN(Date.parse(msg.timestamp))).toBe(false);
    expect(p.stats).toMatchObject({ retries: 2, functionErrors: 3, discardedToOnFailure: 3 });
  });

  it('S3 on-failure object holds the metadata and the whole invocation payload under the documented key (crash = failure)', async () => {
    const s = await stream();
    const bucket = `b-${randomUUID().slice(0, 8)}`;
    await faux.s3.send(new CreateBucketCommand({ Bucket: bucket }));
    const seqs = await putRecords(kinesis.client, s.name, data(2));
    const fn = new FakeFunction(() => fail('crash', 'Runtime.ExitError'));
    const config = mapping({
      EventSourceArn: s.arn,
      MaximumRetryAttempts: 0,
      DestinationConfig: { OnFailure: { Destination: `arn:aws:s3:::${bucket}` } },
    });
    const p = poller(config, fn);
    expect(await p.drain({ timeoutMs: 10_000 })).toBe(true);

    const listed = await faux.s3.send(new ListObjectsV2Command({ Bucket: bucket }));
    expect(listed.Contents).toHaveLength(1);
    const key = listed.Contents![0].Key!;
    const uuid = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';
    const m = new RegExp(`^aws/lambda/${config.uuid}/shardId-000000000000/(\\d{4})/(\\d\\d)/(\\d\\d)/(\\d{4})-(\\d\\d)-(\\d\\d)T\\d\\d\\.\\d\\d\\.\\d\\d-${uuid}$`).exec(key);
    expect(m, key).not.toBeNull();
    expect([m![1], m![2], m![3]]).toEqual([m![4], m![5], m![6]]);
    const obj = await faux.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    const body = JSON.parse(await obj.Body!.transformToString());
    expect(body.KinesisBatchInfo).toMatchObject({ startSequenceNumber: seqs[0], endSequenceNumber: seqs[1], batchSize: 2 });
    expect(body.requestContext).toMatchObject({ condition: 'RetryAttemptsExhausted', approximateInvokeCount: 1 });
    expect(typeof body.payload).toBe('string');
    expect(JSON.parse(body.payload)).toEqual(fn.events[0]);
  });

  it('MaximumRecordAgeInSeconds: records past the age go on-failure as RecordAgeExceeded instead of being retried', async () => {
    const s = await stream();
    const q = await queue();
    const seqs = await putRecords(kinesis.client, s.name, data(3));
    let offsetMs = 0;
    // The first invocation fails; by the retry the (fake) clock says the records are two minutes old.
    const fn = new FakeFunction(() => {
      offsetMs = 120_000;
      return fail('error');
    });
    const p = poller(
      mapping({ EventSourceArn: s.arn, MaximumRecordAgeInSeconds: 60, DestinationConfig: { OnFailure: { Destination: q.arn } } }),
      fn,
      { now: () => Date.now() + offsetMs },
    );
    expect(await p.drain({ timeoutMs: 10_000 })).toBe(true);

    expect(fn.kinesisBatches()).toEqual([['r0', 'r1', 'r2']]);
    const [msg] = await receiveAll(q.url, 1);
    expect(msg.requestContext).toMatchObject({ condition: 'RecordAgeExceeded', approximateInvokeCount: 1 });
    expect(msg.KinesisBatchInfo).toMatchObject({ startSequenceNumber: seqs[0], endSequenceNumber: seqs[2], batchSize: 3 });
    expect(p.stats).toMatchObject({ expiredByAge: 3, discardedToOnFailure: 3 });
  });

  it('throttled invocations are retried without consuming retry attempts', async () => {
    const s = await stream();
    await putRecords(kinesis.client, s.name, data(2));
    const fn = new FakeFunction((_e, call) => (call <= 3 ? fail('throttled', 'Rate Exceeded') : ok(null)));
    const p = poller(mapping({ EventSourceArn: s.arn, MaximumRetryAttempts: 0 }), fn);
    expect(await p.drain({ timeoutMs: 10_000 })).toBe(true);
    expect(fn.kinesisBatches()).toHaveLength(4);
    expect(p.stats).toMatchObject({ retries: 0, discardedToOnFailure: 0, discardedWithoutDestination: 0, recordsDelivered: 2 });
  });

  it('a poison record with infinite retries blocks its shard: drain reports false', async () => {
    const s = await stream();
    await putRecords(kinesis.client, s.name, data(2));
    const fn = new FakeFunction(() => fail('error'));
    const p = poller(mapping({ EventSourceArn: s.arn }), fn);
    expect(await p.drain({ timeoutMs: 600 })).toBe(false);
    expect(p.stats.retries).toBeGreaterThan(0);
    expect(p.stats.discardedToOnFailure + p.stats.discardedWithoutDestination).toBe(0);
  });

  it('tumbling windows carry state between invocations and end with a final invocation', async () => {
    const s = await stream();
    await putRecords(kinesis.client, s.name, data(5));
    let offsetMs = 0;
    const fn = new FakeFunction((e) => ok({ state: { count: (e.state.count ?? 0) + e.Records.length } }));
    const p = poller(mapping({ EventSourceArn: s.arn, BatchSize: 2, TumblingWindowInSeconds: 60 }), fn, { now: () => Date.now() + offsetMs });
    expect(await p.drain({ timeoutMs: 10_000 })).toBe(true);

    expect(fn.events.map((e) => [e.Records.length, e.state, e.isFinalInvokeForWindow])).toEqual([
      [2, {}, false],
      [2, { count: 2 }, false],
      [1, { count: 4 }, false],
    ]);
    const { window } = fn.events[0];
    expect(Date.parse(window.end) - Date.parse(window.start)).toBe(60_000);
    expect(window.start).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:00Z$/);
    expect(fn.events[0]).toMatchObject({ shardId: 'shardId-000000000000', eventSourceARN: s.arn, isWindowTerminatedEarly: false });

    offsetMs = 60_000; // the window is over: the next caught-up read closes it
    for (let i = 0; i < 200 && fn.events.length < 4; i++) await new Promise((r) => setTimeout(r, 20));
    expect(fn.events[3]).toMatchObject({ Records: [], state: { count: 5 }, window, isFinalInvokeForWindow: true, isWindowTerminatedEarly: false });
  });

  it('closeWindows(): final invocations for the open windows now, then one for the next window without records or state', async () => {
    const s = await stream(2);
    await putRecords(kinesis.client, s.name, data(8));
    const fn = new FakeFunction((e) => ok({ state: e.isFinalInvokeForWindow ? {} : { count: (e.state.count ?? 0) + e.Records.length } }));
    const p = poller(mapping({ EventSourceArn: s.arn, BatchSize: 100, TumblingWindowInSeconds: 60 }), fn);
    expect(await p.drain({ timeoutMs: 10_000 })).toBe(true);
    const delivered = fn.events.length;
    expect(fn.events.every((e) => !e.isFinalInvokeForWindow)).toBe(true);
    const windows = new Map(fn.events.map((e) => [e.shardId, e.window]));

    const closed = await p.closeWindows({ timeoutMs: 10_000 });
    const finals = fn.events.slice(delivered);
    // Both shards had records: each closes its own window with its aggregated state, then each gets the next window.
    expect(closed).toEqual({ closed: 2, followUps: 2, complete: true });
    const own = finals.slice(0, 2);
    expect(own.map((e) => e.shardId).sort()).toEqual([...windows.keys()].sort());
    for (const e of own) {
      expect(e).toMatchObject({ Records: [], isFinalInvokeForWindow: true, isWindowTerminatedEarly: false, window: windows.get(e.shardId) });
    }
    expect(own.reduce((n, e) => n + e.state.count, 0)).toBe(8);
    const latestEnd = Math.max(...[...windows.values()].map((w) => Date.parse(w.end)));
    for (const e of finals.slice(2)) {
      expect(e).toMatchObject({ Records: [], state: {}, isFinalInvokeForWindow: true, isWindowTerminatedEarly: false, eventSourceARN: s.arn });
      expect(Date.parse(e.window.start)).toBe(latestEnd);
      expect(Date.parse(e.window.end) - Date.parse(e.window.start)).toBe(60_000);
    }
    expect(finals).toHaveLength(4);

    // Nothing open any more: a second call sends only the follow-ups again (same next window).
    const again = await p.closeWindows({ timeoutMs: 10_000 });
    expect(again).toEqual({ closed: 0, followUps: 2, complete: true });
  });

  it('tumbling windows: a response without state is a failure; state above 1 MB terminates the window early', async () => {
    const s = await stream();
    await putRecords(kinesis.client, s.name, data(2));
    const big = 'x'.repeat(1024 * 1024 + 1);
    const fn = new FakeFunction((e, call) => {
      if (call === 1) return ok({});
      if (e.isFinalInvokeForWindow) return ok({});
      return ok({ state: { big } });
    });
    const p = poller(mapping({ EventSourceArn: s.arn, BatchSize: 1, TumblingWindowInSeconds: 60 }), fn);
    expect(await p.drain({ timeoutMs: 10_000 })).toBe(true);
    const shape = fn.events.map((e) => [e.Records.length, e.isFinalInvokeForWindow, e.isWindowTerminatedEarly, e.state.big ? 'big' : e.state]);
    expect(shape).toEqual([
      [1, false, false, {}], // no state in the response: failed, retried
      [1, false, false, {}],
      [0, true, true, 'big'], // state past 1 MB: early final invocation
      [1, false, false, {}], // same window, fresh state
      [0, true, true, 'big'],
    ]);
  });
});

describe('a mapping through an enhanced fan-out consumer (IngestStage enhancedFanOut)', () => {
  /** The stage's template as a local stack, with `mutate` applied to its JSON first. */
  function efoStack(mutate: (template: Record<string, any>) => void = () => undefined): LocalStack {
    const json = templateOf((s) => new IngestStage(s, 'Ingest', { pipelineName: 'orders', enhancedFanOut: true })).toJSON();
    mutate(json);
    const stack = new LocalStack('EfoTest', json as CfnTemplate);
    stack.bindEndpoints({ sqs: 'http://127.0.0.1:0' });
    return stack;
  }

  /** The poller of the stack's one mapping, created as the local run creates it (parsed, then the role's checks). */
  function createPoller(stack: LocalStack): KinesisEventSourcePoller {
    const m = [...stack.resources.values()].find((r) => r.type === 'AWS::Lambda::EventSourceMapping')!;
    const consumer = [...stack.resources.values()].find((r) => r.type === 'AWS::Kinesis::StreamConsumer')!;
    const consumerArn = String(stack.getAtt(consumer.logicalId, 'ConsumerARN', { logicalId: 'test', type: 'test' }));
    const props = stack.resolvedProperties(m.logicalId);
    const config = parseKinesisMapping(props, {
      uuid: 'u', region: stack.region, accountId: stack.accountId, queueUrlForArn: () => 'http://127.0.0.1:0/q', consumerArns: [consumerArn],
    });
    const authz = inProcessAuthorizer(iamGateConfig(stack));
    const fn = Object.assign(new FakeFunction(), { functionName: String(props.FunctionName) });
    const clients = { kinesis: kinesis.client, sqs: faux.sqs, s3: faux.s3 };
    return new KinesisEventSourcePoller(config, fn, clients, mappingAuthorizer(authz, fn.functionName));
  }

  it('reads the stream named by the consumer ARN and keeps the consumer ARN', () => {
    const stack = efoStack();
    const { config } = createPoller(stack);
    expect(config.consumerArn).toMatch(new RegExp(`^${config.streamArn}/consumer/[A-Za-z0-9_.-]+-ingest:\\d+$`));
    expect(config.streamArn).toMatch(/^arn:aws:kinesis:[^:]+:\d{12}:stream\/[^/]+$/);
  });

  it('without kinesis:SubscribeToShard on the consumer, the role\'s checks refuse the mapping as Lambda does', () => {
    const stack = efoStack((t) => {
      for (const r of Object.values(t.Resources as Record<string, any>)) {
        if (r.Type !== 'AWS::IAM::Policy') continue;
        for (const st of r.Properties.PolicyDocument.Statement as Array<{ Action: string | string[] }>) {
          const actions = [st.Action].flat().filter((a) => a !== 'kinesis:SubscribeToShard');
          st.Action = actions.length === 1 ? actions[0] : actions;
        }
      }
    });
    const err = (() => {
      try {
        createPoller(stack);
        return undefined;
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(MappingAccessDeniedError);
    expect(err).toMatchObject({ code: 'MAPPING_ACCESS_DENIED', errorType: 'InvalidParameterValueException' });
    expect((err as Error).message).toMatch(/^InvalidParameterValueException: Cannot access stream consumer arn:aws:kinesis:.*\/consumer\/.*\(denied: kinesis:SubscribeToShard on arn:aws:kinesis:[^;]*\)$/);
  });

  it('a consumer ARN that is not a consumer of the stack is refused', () => {
    const stack = efoStack();
    const m = [...stack.resources.values()].find((r) => r.type === 'AWS::Lambda::EventSourceMapping')!;
    const props = stack.resolvedProperties(m.logicalId);
    expect(() => parseKinesisMapping(props, { uuid: 'u', region: REGION, accountId: ACCOUNT, queueUrlForArn: () => 'x', consumerArns: [] }))
      .toThrow(/EventSourceArn: stream consumer arn:aws:kinesis:.*\/consumer\/.* not found \(consumers of the stack: none\)/);
  });
});
