/**
 * Test support for the replay suites: kinesalite + fauxqs on 127.0.0.1 (stopped by `stop()`), reading a stream back
 * into Lambda Kinesis events, and running the real ingest handler over them.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { Logger } from '@aws-lambda-powertools/logger';
import { GetRecordsCommand, GetShardIteratorCommand, ListShardsCommand, PutRecordsCommand, type KinesisClient, type _Record as KinesisRecord } from '@aws-sdk/client-kinesis';
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { CreateQueueCommand, GetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { KinesisStreamEvent, KinesisStreamRecord } from 'aws-lambda';
import { lambdaContext } from './lambda';
import { createIngestHandler, MemoryDlq, MemorySink, type IngestHandlerOptions } from '../../lib/runtime';
import { startFauxqs, startKinesalite, REGION, type Fauxqs, type Kinesalite } from '../lib/local/esm/support';

export { REGION };

process.env.POWERTOOLS_METRICS_DISABLED = 'true';
process.env.POWERTOOLS_DEV = 'false';

export interface ReplayEnv {
  readonly kinesis: Kinesalite;
  readonly fauxqs: Fauxqs;
  /** Environment for a child `phoenix` process: endpoints, region, dummy credentials. */
  readonly childEnv: NodeJS.ProcessEnv;
  createStream(name: string, shards?: number): Promise<string>;
  createQueue(name: string): Promise<string>;
  createBucket(name: string): Promise<void>;
  stop(): Promise<void>;
}

export async function startReplayEnv(): Promise<ReplayEnv> {
  const kinesis = await startKinesalite();
  let fauxqs: Fauxqs;
  try {
    fauxqs = await startFauxqs();
  } catch (e) {
    await kinesis.stop();
    throw e;
  }
  return {
    kinesis,
    fauxqs,
    childEnv: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      AWS_REGION: REGION,
      AWS_ACCESS_KEY_ID: 'local',
      AWS_SECRET_ACCESS_KEY: 'local',
      AWS_ENDPOINT_URL_KINESIS: kinesis.endpoint,
      AWS_ENDPOINT_URL_SQS: fauxqs.endpoint,
      AWS_ENDPOINT_URL_S3: fauxqs.endpoint,
      AWS_S3_FORCE_PATH_STYLE: 'true',
    },
    createStream: (name, shards = 2) => kinesis.createStream(name, shards),
    async createQueue(name) {
      const r = await fauxqs.sqs.send(new CreateQueueCommand({ QueueName: name }));
      return r.QueueUrl!;
    },
    async createBucket(name) {
      await fauxqs.s3.send(new CreateBucketCommand({ Bucket: name }));
    },
    async stop() {
      await fauxqs.stop();
      await kinesis.stop();
    },
  };
}

/** A stream, a dead-letter queue and its overflow bucket on started emulators. */
export interface ReplayPipeline {
  readonly env: ReplayEnv;
  readonly streamArn: string;
  readonly queueUrl: string;
}

/** Starts the emulators, points this process's SDK clients at them and creates the stream, queue and bucket named. */
export async function startReplayPipeline(names: { stream: string; shards: number; queue: string; bucket: string }): Promise<ReplayPipeline> {
  const env = await startReplayEnv();
  Object.assign(process.env, env.childEnv);
  const streamArn = await env.createStream(names.stream, names.shards);
  const queueUrl = await env.createQueue(names.queue);
  await env.createBucket(names.bucket);
  return { env, streamArn, queueUrl };
}

/** Puts records (500 per call); throws if any entry fails. */
export async function putAll(client: KinesisClient, stream: string, records: Array<{ data: Buffer; partitionKey: string }>): Promise<void> {
  for (let i = 0; i < records.length; i += 500) {
    const chunk = records.slice(i, i + 500);
    const Records = chunk.map((c) => ({ Data: c.data, PartitionKey: c.partitionKey }));
    const r = await client.send(new PutRecordsCommand({ StreamName: stream, Records }));
    if (r.FailedRecordCount) throw new Error(`${r.FailedRecordCount} records failed`);
  }
}

/**
 * Calls `each` with every record of the stream (all shards, from TRIM_HORIZON), per shard in order. A throttled
 * GetRecords (the local gates' read limit) is tried again after a second; at most 1,000 calls per shard.
 */
export async function forEachStreamRecord(
  client: KinesisClient, stream: string, each: (rec: KinesisRecord, shardId: string) => void,
): Promise<void> {
  for (const s of (await client.send(new ListShardsCommand({ StreamName: stream }))).Shards ?? []) {
    let it = (await client.send(new GetShardIteratorCommand({ StreamName: stream, ShardId: s.ShardId!, ShardIteratorType: 'TRIM_HORIZON' }))).ShardIterator;
    for (let i = 0; i < 1000 && it; i++) {
      const r = await client.send(new GetRecordsCommand({ ShardIterator: it, Limit: 10_000 })).catch((e: Error) => {
        if (e.name === 'ProvisionedThroughputExceededException') return undefined;
        throw e;
      });
      if (r === undefined) {
        await delay(1000);
        continue;
      }
      for (const rec of r.Records ?? []) each(rec, s.ShardId!);
      if ((r.Records ?? []).length === 0 && (r.MillisBehindLatest ?? 0) === 0) break;
      it = r.NextShardIterator;
    }
  }
}

/** Every record of the stream (all shards, from TRIM_HORIZON), as Lambda Kinesis records, per shard in order. */
export async function readStream(client: KinesisClient, stream: string, streamArn: string): Promise<KinesisStreamRecord[]> {
  const out: KinesisStreamRecord[] = [];
  await forEachStreamRecord(client, stream, (rec, shardId) => out.push({
    kinesis: {
      kinesisSchemaVersion: '1.0',
      partitionKey: rec.PartitionKey!,
      sequenceNumber: rec.SequenceNumber!,
      data: Buffer.from(rec.Data!).toString('base64'),
      approximateArrivalTimestamp: rec.ApproximateArrivalTimestamp!.getTime() / 1000,
    },
    eventSource: 'aws:kinesis',
    eventVersion: '1.0',
    eventID: `${shardId}:${rec.SequenceNumber}`,
    eventName: 'aws:kinesis:record',
    invokeIdentityArn: 'arn:aws:iam::000000000000:role/test',
    awsRegion: REGION,
    eventSourceARN: streamArn,
  }));
  return out;
}

/** orderId -> copies on the stream, whether a record is a raw payload or an envelope carrying it. */
export async function countOrderIds(client: KinesisClient, stream: string): Promise<Map<string, number>> {
  const seen = new Map<string, number>();
  await forEachStreamRecord(client, stream, (rec) => {
    const id = /"orderId":"([^"]+)"/.exec(Buffer.from(rec.Data!).toString('utf8'))?.[1] ?? '?';
    seen.set(id, (seen.get(id) ?? 0) + 1);
  });
  return seen;
}

/** Of the orderIds `<tag>-0` to `<tag>-<n - 1>`: how many `seen` lacks, and how many copies it has beyond one each. */
export function missingAndExtra(seen: ReadonlyMap<string, number>, tag: string, n: number): { missing: number; extra: number } {
  let missing = 0;
  let extra = 0;
  for (let j = 0; j < n; j++) {
    const c = seen.get(`${tag}-${j}`) ?? 0;
    if (c === 0) missing++;
    if (c > 1) extra += c - 1;
  }
  return { missing, extra };
}


export const silentLogger = (): Logger => new Logger({ serviceName: 'test', logLevel: 'SILENT' });

/** The real ingest handler on a given sink and DLQ (pipeline `orders`, key `orderId`). */
export function ingestHandler(opts: IngestHandlerOptions & { sink: MemorySink }): (records: KinesisStreamRecord[]) => Promise<void> {
  const handler = createIngestHandler({
    env: {},
    pipeline: 'orders',
    keyFields: ['orderId'],
    logger: silentLogger(),
    retry: { budgetMs: 1000, baseMs: 5, capMs: 20, maxAttempts: 2 },
    ...opts,
    dlq: opts.dlq ?? new MemoryDlq(),
  });
  return async (records) => {
    // One batch per shard, in order, 100 records at a time (like an event source mapping).
    const byShard = new Map<string, KinesisStreamRecord[]>();
    for (const r of records) {
      const shard = r.eventID.split(':')[0];
      byShard.set(shard, [...(byShard.get(shard) ?? []), r]);
    }
    for (const list of byShard.values()) {
      for (let i = 0; i < list.length; i += 100) {
        const event: KinesisStreamEvent = { Records: list.slice(i, i + 100) };
        const res = await handler(event, lambdaContext({ functionName: 'ingest', memoryMb: 512 }));
        if (res.batchItemFailures.length > 0) throw new Error(`handler reported failures: ${JSON.stringify(res.batchItemFailures)}`);
      }
    }
  };
}

/** Visible + in-flight messages of a queue. */
export async function queueDepth(sqs: SQSClient, url: string): Promise<{ visible: number; notVisible: number }> {
  const r = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }));
  const a = r.Attributes ?? {};
  return { visible: Number(a.ApproximateNumberOfMessages ?? 0), notVisible: Number(a.ApproximateNumberOfMessagesNotVisible ?? 0) };
}

/** Sink state as comparable data: id -> eventTime and payload (hops and replay marks excluded). */
export function sinkState(sink: MemorySink): Record<string, { eventTime: string; payload: unknown }> {
  const out: Record<string, { eventTime: string; payload: unknown }> = {};
  for (const id of [...sink.items.keys()].sort()) {
    const e = sink.items.get(id)!.envelope;
    out[id] = { eventTime: e.eventTime, payload: e.payload };
  }
  return out;
}

export { cli } from './cli';
