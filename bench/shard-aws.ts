/**
 * Fake AWS SDK clients for the shard benchmark: each `send` waits a draw of its operation's latency (the local
 * environment's latency model, lib/local/gates/latency-table.ts) and applies the service's semantics to in-memory
 * state. DynamoDB and S3 requests go through at most 50 connections (the SDK's default `maxSockets` for HTTP/1.1);
 * Kinesis shares one HTTP/2 session. Every write is logged when the service applies it or finds its condition false (id or partition key, event time),
 * for the order checks.
 */
import { createHash } from 'node:crypto';
import {
  ConditionalCheckFailedException, GetItemCommand, PutItemCommand, type AttributeValue, type PutItemCommandInput,
} from '@aws-sdk/client-dynamodb';
import {
  PutRecordCommand, PutRecordsCommand, ProvisionedThroughputExceededException, type PutRecordsRequestEntry, type PutRecordsResultEntry,
} from '@aws-sdk/client-kinesis';
import { HeadObjectCommand, PutObjectCommand, S3ServiceException } from '@aws-sdk/client-s3';
import { PhoenixError } from '../lib/core/errors';
import { DYNAMODB_CONDITION } from '../lib/handlers/ports/dynamodb';
import { S3_META_EVENT_TIME } from '../lib/handlers/ports/s3';
import { fitLogNormal, sampleLogNormal, type LogNormal } from '../lib/local/gates/latency';
import { LATENCY_TABLE } from '../lib/local/gates/latency-table';

/** The SDK's default connection pool per client (HTTP/1.1 agent `maxSockets`). */
export const SDK_MAX_SOCKETS = 50;
/** Kinesis write limits per shard (records/s, bytes/s). */
export const SHARD_RECORDS_PER_S = 1_000;
export const SHARD_BYTES_PER_S = 1_048_576;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Latency draws per `<service>:<operation>` of the latency table, from one seeded generator. */
export class Latency {
  private readonly fitted = new Map<string, LogNormal>();
  constructor(private readonly rng: () => number) {}
  draw(op: string): number {
    let d = this.fitted.get(op);
    if (d === undefined) {
      const f = LATENCY_TABLE[op];
      if (f === undefined) throw new PhoenixError('BENCH_NO_LATENCY', `no latency figure for ${op} in lib/local/gates/latency-table.ts`);
      this.fitted.set(op, (d = fitLogNormal(f)));
    }
    return sampleLogNormal(d, this.rng);
  }
}

/** A counting semaphore: requests beyond `max` wait for a connection. */
class Pool {
  private inUse = 0;
  private readonly waiting: Array<() => void> = [];
  constructor(private readonly max: number) {}
  async use<T>(fn: () => Promise<T>): Promise<T> {
    if (this.inUse >= this.max) await new Promise<void>((r) => this.waiting.push(r));
    else this.inUse++;
    try {
      return await fn();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.inUse--;
    }
  }
}

/** One logged write: the key whose order is checked and the version's event time. */
export interface WriteLog {
  readonly key: string;
  readonly eventTime: string;
}

/** What every fake exposes to the benchmark. */
export abstract class FakeService {
  readonly calls: Record<string, number> = {};
  /** Writes in the order the service took them (DynamoDB, S3: applied or condition false; Kinesis: appended). */
  readonly writes: WriteLog[] = [];
  private readonly pool: Pool;
  constructor(protected readonly latency: Latency, maxConnections: number) {
    this.pool = new Pool(maxConnections);
  }
  /** Final event time per record id (from the stored envelopes). */
  abstract finalEventTimes(): Map<string, string>;
  protected call<T>(op: string, apply: () => T): Promise<T> {
    this.calls[op] = (this.calls[op] ?? 0) + 1;
    return this.pool.use(async () => {
      await sleep(this.latency.draw(op));
      return apply();
    });
  }
}

function unsupported(cmd: unknown): never {
  throw new PhoenixError('BENCH_UNSUPPORTED', `fake client: ${(cmd as object).constructor.name} is not modelled`);
}

/** DynamoDB: PutItem with the sink's condition (ALL_OLD on failure) and GetItem, on one table keyed by pk. */
export class FakeDynamoDb extends FakeService {
  readonly table = new Map<string, Record<string, AttributeValue>>();
  constructor(latency: Latency, maxSockets = SDK_MAX_SOCKETS) {
    super(latency, maxSockets);
  }
  send(cmd: unknown): Promise<unknown> {
    if (cmd instanceof PutItemCommand) {
      const input = cmd.input;
      return this.call('dynamodb:PutItem', () => this.put(input));
    }
    if (cmd instanceof GetItemCommand) return this.call('dynamodb:GetItem', () => ({ Item: this.table.get(cmd.input.Key!.pk.S!) }));
    return unsupported(cmd);
  }
  private put(input: PutItemCommandInput): object {
    if (input.ConditionExpression !== DYNAMODB_CONDITION) throw new PhoenixError('BENCH_UNSUPPORTED', `condition ${input.ConditionExpression}`);
    const pk = input.Item!.pk.S!;
    this.writes.push({ key: pk, eventTime: input.Item!.eventTime.S! });
    const old = this.table.get(pk);
    const et = input.ExpressionAttributeValues![':et'].S!;
    const h = input.ExpressionAttributeValues![':h'].S!;
    if (old !== undefined && !(old.eventTime.S! < et || (old.eventTime.S === et && old.contentHash.S! < h))) {
      throw new ConditionalCheckFailedException({
        message: 'The conditional request failed',
        $metadata: { httpStatusCode: 400 },
        ...(input.ReturnValuesOnConditionCheckFailure === 'ALL_OLD' ? { Item: old } : {}),
      });
    }
    this.table.set(pk, input.Item!);
    return {};
  }
  finalEventTimes(): Map<string, string> {
    return new Map([...this.table].map(([k, v]) => [k, v.eventTime.S!]));
  }
}

interface S3Object {
  readonly etag: string;
  readonly metadata: Record<string, string>;
}

function s3Error(name: string, status: number): S3ServiceException {
  return new S3ServiceException({ name, $fault: 'client', message: name, $metadata: { httpStatusCode: status } });
}

/** S3: HeadObject and PutObject with If-None-Match: * and If-Match: <etag>, on one bucket. */
export class FakeS3 extends FakeService {
  readonly objects = new Map<string, S3Object>();
  private etags = 0;
  constructor(latency: Latency, maxSockets = SDK_MAX_SOCKETS) {
    super(latency, maxSockets);
  }
  send(cmd: unknown): Promise<unknown> {
    if (cmd instanceof HeadObjectCommand) {
      return this.call('s3:HeadObject', () => {
        const o = this.objects.get(cmd.input.Key!);
        if (!o) throw s3Error('NotFound', 404);
        return { ETag: o.etag, Metadata: { ...o.metadata } };
      });
    }
    if (cmd instanceof PutObjectCommand) {
      const input = cmd.input;
      return this.call('s3:PutObject', () => {
        this.writes.push({ key: input.Key!, eventTime: input.Metadata![S3_META_EVENT_TIME] });
        const existing = this.objects.get(input.Key!);
        if (input.IfNoneMatch === '*' && existing) throw s3Error('PreconditionFailed', 412);
        if (input.IfMatch !== undefined && existing?.etag !== input.IfMatch) throw s3Error(existing ? 'PreconditionFailed' : 'NoSuchKey', existing ? 412 : 404);
        const etag = `"e${++this.etags}"`;
        this.objects.set(input.Key!, { etag, metadata: { ...input.Metadata } });
        return { ETag: etag };
      });
    }
    return unsupported(cmd);
  }
  finalEventTimes(): Map<string, string> {
    return new Map([...this.objects].map(([k, v]) => [k.replace(/^.*\/|\.json$/g, ''), v.metadata[S3_META_EVENT_TIME]]));
  }
}

/** Which of `n` equal ranges of the MD5 hash space a partition key falls in (how Kinesis and Lambda split keys). */
export function hashRangeIndex(partitionKey: string, n: number): number {
  return Math.floor((Number.parseInt(createHash('md5').update(partitionKey).digest('hex').slice(0, 8), 16) * n) / 2 ** 32);
}

/** Token bucket of one shard limit, refilled continuously, holding at most one second of it. */
class Bucket {
  private tokens: number;
  private at = Date.now();
  constructor(private readonly perSecond: number) {
    this.tokens = perSecond;
  }
  take(n: number): boolean {
    const now = Date.now();
    this.tokens = Math.min(this.perSecond, this.tokens + ((now - this.at) / 1000) * this.perSecond);
    this.at = now;
    if (this.tokens < n) return false;
    this.tokens -= n;
    return true;
  }
}

/**
 * Kinesis next-stage stream: PutRecord / PutRecords to `shards` shards (partition key MD5 over equal hash ranges),
 * each limited to 1,000 records/s and 1 MiB/s; an entry over a limit fails with ProvisionedThroughputExceeded.
 */
export class FakeKinesis extends FakeService {
  private readonly limits: Array<{ records: Bucket; bytes: Bucket }>;
  /** Appended records, all shards: [partition key, envelope JSON]. */
  readonly appended: Array<[string, string]> = [];
  throttled = 0;
  constructor(latency: Latency, readonly shards: number) {
    super(latency, Number.MAX_SAFE_INTEGER);
    this.limits = Array.from({ length: shards }, () => ({ records: new Bucket(SHARD_RECORDS_PER_S), bytes: new Bucket(SHARD_BYTES_PER_S) }));
  }
  send(cmd: unknown): Promise<unknown> {
    if (cmd instanceof PutRecordsCommand) return this.call('kinesis:PutRecords', () => this.putRecords(cmd.input.Records!));
    if (cmd instanceof PutRecordCommand) {
      return this.call('kinesis:PutRecord', () => {
        const r = this.append({ PartitionKey: cmd.input.PartitionKey, Data: cmd.input.Data });
        if (r.ErrorCode !== undefined) throw new ProvisionedThroughputExceededException({ message: r.ErrorMessage!, $metadata: {} });
        return r;
      });
    }
    return unsupported(cmd);
  }
  private putRecords(entries: readonly PutRecordsRequestEntry[]): object {
    const bytes = entries.reduce((a, e) => a + e.Data!.byteLength + Buffer.byteLength(e.PartitionKey!), 0);
    if (entries.length > 500 || bytes > 5 * 1_048_576) throw new PhoenixError('BENCH_LIMIT', `PutRecords over 500 records or 5 MiB (${entries.length}, ${bytes} B)`);
    const records = entries.map((e) => this.append(e));
    return { FailedRecordCount: records.filter((r) => r.ErrorCode !== undefined).length, Records: records };
  }
  private append(e: PutRecordsRequestEntry): PutRecordsResultEntry {
    const shard = hashRangeIndex(e.PartitionKey!, this.shards);
    const limit = this.limits[shard];
    const size = e.Data!.byteLength + Buffer.byteLength(e.PartitionKey!);
    if (!limit.records.take(1) || !limit.bytes.take(size)) {
      this.throttled++;
      return { ErrorCode: 'ProvisionedThroughputExceededException', ErrorMessage: `Rate exceeded for shard shardId-${shard}` };
    }
    const json = Buffer.from(e.Data!).toString('utf8');
    this.appended.push([e.PartitionKey!, json]);
    this.writes.push({ key: e.PartitionKey!, eventTime: (JSON.parse(json) as { eventTime: string }).eventTime });
    return { SequenceNumber: String(this.appended.length), ShardId: `shardId-${shard}` };
  }
  finalEventTimes(): Map<string, string> {
    const out = new Map<string, string>();
    for (const [, json] of this.appended) {
      const env = JSON.parse(json) as { id: string; eventTime: string };
      const old = out.get(env.id);
      if (old === undefined || old < env.eventTime) out.set(env.id, env.eventTime);
    }
    return out;
  }
}
