import { randomUUID } from 'node:crypto';
import { CreateQueueCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SendMessageBatchCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ACCOUNT, concurrencyProbe, FakeFunction, REGION, fail, ok, startFauxqs, type Fauxqs } from './support';
import { parseSqsMapping } from '../../../../lib/local/esm/parse';
import { SqsEventSourcePoller } from '../../../../lib/local/esm/sqs';
import type { PollerOptions, SqsMappingConfig } from '../../../../lib/local/esm/types';

let faux: Fauxqs;
const queues = new Map<string, string>();
const pollers: SqsEventSourcePoller[] = [];

beforeAll(async () => {
  faux = await startFauxqs();
});
afterEach(async () => {
  await Promise.all(pollers.splice(0).map((p) => p.stop()));
});
afterAll(async () => {
  await faux?.stop();
});

async function queue(attributes: Record<string, string> = {}): Promise<{ url: string; arn: string }> {
  const res = await faux.sqs.send(new CreateQueueCommand({ QueueName: `q-${randomUUID().slice(0, 8)}`, Attributes: attributes }));
  const attrs = await faux.sqs.send(new GetQueueAttributesCommand({ QueueUrl: res.QueueUrl!, AttributeNames: ['QueueArn'] }));
  queues.set(attrs.Attributes!.QueueArn!, res.QueueUrl!);
  return { url: res.QueueUrl!, arn: attrs.Attributes!.QueueArn! };
}

function mapping(props: Record<string, unknown>): SqsMappingConfig {
  return parseSqsMapping({ FunctionName: 'fake-fn', ...props }, {
    uuid: randomUUID(),
    region: REGION,
    accountId: ACCOUNT,
    queueUrlForArn: (arn) => queues.get(arn) ?? (() => { throw new Error('unknown queue'); })(),
  });
}

function poller(config: SqsMappingConfig, fn: FakeFunction, opts: PollerOptions = {}): SqsEventSourcePoller {
  const p = new SqsEventSourcePoller(config, fn, { kinesis: undefined as never, sqs: faux.sqs, s3: faux.s3 }, opts);
  pollers.push(p);
  p.start();
  return p;
}

async function send(url: string, bodies: string[]): Promise<void> {
  for (let i = 0; i < bodies.length; i += 10) {
    await faux.sqs.send(new SendMessageBatchCommand({
      QueueUrl: url,
      Entries: bodies.slice(i, i + 10).map((b, j) => ({ Id: String(j), MessageBody: b })),
    }));
  }
}

const bodies = (fn: FakeFunction): string[][] => fn.events.map((e) => e.Records.map((r: any) => r.body));

describe('SqsEventSourcePoller', () => {
  it('delivers AWS-shaped records and deletes the batch on success', async () => {
    const q = await queue();
    await faux.sqs.send(new SendMessageCommand({
      QueueUrl: q.url,
      MessageBody: 'hello',
      MessageAttributes: {
        kind: { DataType: 'String', StringValue: 'greeting' },
        blob: { DataType: 'Binary', BinaryValue: Buffer.from('bin') },
      },
    }));
    const fn = new FakeFunction();
    const p = poller(mapping({ EventSourceArn: q.arn }), fn);
    expect(await p.drain({ timeoutMs: 10_000 })).toBe(true);

    expect(fn.events).toHaveLength(1);
    const [record] = fn.events[0].Records;
    expect(record).toMatchObject({
      messageId: expect.any(String),
      receiptHandle: expect.any(String),
      body: 'hello',
      attributes: {
        ApproximateReceiveCount: '1',
        SentTimestamp: expect.stringMatching(/^\d+$/),
        SenderId: expect.any(String),
        ApproximateFirstReceiveTimestamp: expect.stringMatching(/^\d+$/),
      },
      messageAttributes: {
        kind: { stringValue: 'greeting', stringListValues: [], binaryListValues: [], dataType: 'String' },
        blob: { binaryValue: Buffer.from('bin').toString('base64'), stringListValues: [], binaryListValues: [], dataType: 'Binary' },
      },
      md5OfBody: '5d41402abc4b2a76b9719d911017c592',
      eventSource: 'aws:sqs',
      eventSourceARN: q.arn,
      awsRegion: REGION,
    });
    expect(p.stats).toMatchObject({ batches: 1, invocations: 1, recordsDelivered: 1, functionErrors: 0 });
  });

  it('gathers batches above 10 within the batching window', async () => {
    const q = await queue();
    await send(q.url, Array.from({ length: 25 }, (_, i) => `m${i}`));
    const fn = new FakeFunction();
    const p = poller(mapping({ EventSourceArn: q.arn, BatchSize: 25, MaximumBatchingWindowInSeconds: 2 }), fn, { sqsPollers: 1 });
    expect(await p.drain({ timeoutMs: 10_000 })).toBe(true);
    expect(bodies(fn).map((b) => b.length)).toEqual([25]);
  });

  it('partial batch failure deletes all but the reported messages; the queue redrives them after maxReceiveCount', async () => {
    const dlq = await queue();
    const q = await queue({ VisibilityTimeout: '1', RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlq.arn, maxReceiveCount: 2 }) });
    await send(q.url, ['good-1', 'bad', 'good-2']);
    const fn = new FakeFunction((e) => ok({
      batchItemFailures: e.Records.filter((r: any) => r.body === 'bad').map((r: any) => ({ itemIdentifier: r.messageId })),
    }));
    const p = poller(mapping({ EventSourceArn: q.arn, FunctionResponseTypes: ['ReportBatchItemFailures'] }), fn, { sqsPollers: 1 });
    expect(await p.drain({ timeoutMs: 15_000 })).toBe(true);

    const delivered = bodies(fn).flat();
    expect(delivered.filter((b) => b.startsWith('good')).sort()).toEqual(['good-1', 'good-2']);
    const badReceives = fn.events.flatMap((e) => e.Records).filter((r: any) => r.body === 'bad').map((r: any) => r.attributes.ApproximateReceiveCount);
    expect(badReceives).toEqual(['1', '2']);
    const moved = await faux.sqs.send(new ReceiveMessageCommand({ QueueUrl: dlq.url, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
    expect((moved.Messages ?? []).map((m) => m.Body)).toEqual(['bad']);
    expect(p.stats.partialFailures).toBe(2);
  });

  it('a received batch larger than the 6 MB invocation payload is delivered in several events, each within it', async () => {
    const q = await queue({ MaximumMessageSize: '1048576' });
    const big = Array.from({ length: 10 }, (_, i) => `${i}`.padEnd(900_000, 'x'));
    for (const b of big) await faux.sqs.send(new SendMessageCommand({ QueueUrl: q.url, MessageBody: b }));
    const fn = new FakeFunction(() => ok(null));
    const p = poller(mapping({ EventSourceArn: q.arn, BatchSize: 10, MaximumBatchingWindowInSeconds: 1 }), fn, { sqsPollers: 1 });
    expect(await p.drain({ timeoutMs: 20_000 })).toBe(true);
    expect(bodies(fn).flat().map((b) => b[0]).sort()).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
    expect(fn.events.length).toBeGreaterThan(1);
    for (const e of fn.events) expect(Buffer.byteLength(JSON.stringify(e))).toBeLessThanOrEqual(6 * 1024 * 1024);
  }, 30_000);

  it('a function error deletes nothing: the whole batch comes back after the visibility timeout', async () => {
    const q = await queue({ VisibilityTimeout: '1' });
    await send(q.url, ['a', 'b', 'c']);
    const fn = new FakeFunction((_e, call) => (call === 1 ? fail('error', 'boom') : ok(null)));
    const p = poller(mapping({ EventSourceArn: q.arn }), fn, { sqsPollers: 1 });
    expect(await p.drain({ timeoutMs: 15_000 })).toBe(true);
    const all = fn.events.flatMap((e) => e.Records);
    expect(all.map((r: any) => r.body).sort()).toEqual(['a', 'a', 'b', 'b', 'c', 'c']);
    expect(all.filter((r: any) => r.attributes.ApproximateReceiveCount === '2').map((r: any) => r.body).sort()).toEqual(['a', 'b', 'c']);
    expect(p.stats.functionErrors).toBe(1);
  });

  it('a malformed itemIdentifier deletes nothing; without ReportBatchItemFailures a response is ignored', async () => {
    const q = await queue({ VisibilityTimeout: '1' });
    await send(q.url, ['x', 'y']);
    const fn = new FakeFunction((_e, call) => ok(call === 1 ? { batchItemFailures: [{ itemIdentifier: '' }] } : {}));
    const p = poller(mapping({ EventSourceArn: q.arn, FunctionResponseTypes: ['ReportBatchItemFailures'] }), fn, { sqsPollers: 1 });
    expect(await p.drain({ timeoutMs: 15_000 })).toBe(true);
    expect(bodies(fn).flat().sort()).toEqual(['x', 'x', 'y', 'y']);

    const q2 = await queue({ VisibilityTimeout: '1' });
    await send(q2.url, ['z']);
    const ignoring = new FakeFunction((e) => ok({ batchItemFailures: [{ itemIdentifier: e.Records[0].messageId }] }));
    const p2 = poller(mapping({ EventSourceArn: q2.arn }), ignoring, { sqsPollers: 1 });
    expect(await p2.drain({ timeoutMs: 10_000 })).toBe(true);
    expect(bodies(ignoring)).toEqual([['z']]);
  });

  it('MaximumConcurrency bounds concurrent invocations', async () => {
    const q = await queue();
    await send(q.url, Array.from({ length: 12 }, (_, i) => `c${i}`));
    const { fn, maxInFlight } = concurrencyProbe(5);
    const p = poller(mapping({ EventSourceArn: q.arn, BatchSize: 1, ScalingConfig: { MaximumConcurrency: 2 } }), fn);
    expect(await p.drain({ timeoutMs: 15_000 })).toBe(true);
    expect(maxInFlight()).toBe(2);
    expect(bodies(fn).flat().sort()).toEqual(Array.from({ length: 12 }, (_, i) => `c${i}`).sort());
  });
});
