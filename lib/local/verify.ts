import { createHash } from 'node:crypto';
import { ScanCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { GetRecordsCommand, GetShardIteratorCommand, ListShardsCommand } from '@aws-sdk/client-kinesis';
import { GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { canonicalJson, decodeDlqMessage, decodePayload, type DlqMessage } from '../core';
import { LOCAL_CREDENTIALS, type LocalClients } from './clients';
import { parseS3Target } from '../handlers/ports/s3';

/** A record as stored in the sink (the envelope). */
export interface SinkEnvelope {
  readonly id: string;
  readonly correlationId?: string;
  readonly eventTime?: string;
  readonly hops: ReadonlyArray<{ stage: string; in: number; out?: number; attempt: number }>;
  readonly payload: unknown;
  /** Where it was read from (table/key or bucket/key). */
  readonly location: string;
}

/** A dead letter found in a DLQ location, with the original record bytes when they could be recovered. */
export interface DeadLetter {
  /** Reason class (`decode`, `schema`, ..., `esm-exhausted` for batches an event source mapping gave up on). */
  readonly reason: string;
  readonly message?: string;
  readonly id?: string | null;
  readonly correlationId?: string | null;
  /** Original record bytes; undefined when not recoverable (then `problem` says why). */
  readonly data?: Buffer;
  readonly problem?: string;
  /** Queue URL or s3://bucket/key where it was found. */
  readonly location: string;
}

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
export { sha256 };

const MAX_PAGES = 10_000;

/** Reads every envelope of the sink (PHX_SINK_KIND / PHX_SINK_TARGET). */
export async function readSink(clients: LocalClients, kind: string, target: string): Promise<SinkEnvelope[]> {
  switch (kind) {
    case 'dynamodb': return readDynamoSink(clients, target);
    case 's3': return readS3Sink(clients, target);
    case 'kinesis': return readKinesisSink(clients, target);
    case 'none': return [];
    default: throw new Error(`unknown sink kind ${kind} (PHX_SINK_KIND)`);
  }
}

function envelopeFrom(text: string, location: string): SinkEnvelope | undefined {
  try {
    const e = JSON.parse(text) as { id?: unknown; correlationId?: string; eventTime?: string; hops?: SinkEnvelope['hops']; payload?: unknown };
    if (typeof e.id !== 'string') return undefined;
    const hops = Array.isArray(e.hops) ? e.hops : [];
    return { id: e.id, correlationId: e.correlationId, eventTime: e.eventTime, hops, payload: e.payload, location };
  } catch {
    return undefined;
  }
}

async function readDynamoSink(clients: LocalClients, table: string): Promise<SinkEnvelope[]> {
  const out: SinkEnvelope[] = [];
  let start: Record<string, AttributeValue> | undefined;
  for (let page = 0; page < MAX_PAGES; page++) {
    const res = await clients.dynamodb.send(new ScanCommand({ TableName: table, ExclusiveStartKey: start }));
    for (const item of res.Items ?? []) {
      const pk = item.pk?.S ?? '?';
      const env = item.envelope?.S !== undefined ? envelopeFrom(item.envelope.S, `${table}/${pk}`) : undefined;
      out.push(env ?? { id: pk, hops: [], payload: undefined, location: `${table}/${pk} (no envelope attribute)` });
    }
    start = res.LastEvaluatedKey;
    if (!start) return out;
  }
  throw new Error(`scanning ${table} took more than ${MAX_PAGES} pages`);
}

async function listObjects(clients: LocalClients, bucket: string, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  for (let page = 0; page < MAX_PAGES; page++) {
    const res = await clients.s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix || undefined, ContinuationToken: token }));
    for (const o of res.Contents ?? []) if (o.Key) keys.push(o.Key);
    if (!res.IsTruncated) return keys;
    token = res.NextContinuationToken;
  }
  throw new Error(`listing s3://${bucket}/${prefix} took more than ${MAX_PAGES} pages`);
}

async function getObject(clients: LocalClients, bucket: string, key: string): Promise<Buffer> {
  const res = await clients.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return Buffer.from(await res.Body!.transformToByteArray());
}

/** Runs `fn` over items with at most `limit` in flight. */
async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]);
    }
  }));
  return out;
}

async function readS3Sink(clients: LocalClients, target: string): Promise<SinkEnvelope[]> {
  const { bucket, prefix } = parseS3Target(target);
  const keys = (await listObjects(clients, bucket, prefix)).filter((k) => k.endsWith('.json'));
  const envs = await mapLimit(keys, 16, async (key) => {
    const text = (await getObject(clients, bucket, key)).toString('utf8');
    return envelopeFrom(text, `s3://${bucket}/${key}`) ?? { id: key, hops: [], payload: undefined, location: `s3://${bucket}/${key} (not an envelope)` };
  });
  return envs;
}

/** Every record of a stream, all shards from TRIM_HORIZON to the current end. */
export async function readStream(clients: LocalClients, stream: string): Promise<Array<{ data: Buffer; shardId: string; sequenceNumber: string }>> {
  const streamName = stream.startsWith('arn:') ? stream.split('/').pop()! : stream;
  const shards = (await clients.kinesis.send(new ListShardsCommand({ StreamName: streamName }))).Shards ?? [];
  const out: Array<{ data: Buffer; shardId: string; sequenceNumber: string }> = [];
  for (const shard of shards) {
    let it = (await clients.kinesis.send(new GetShardIteratorCommand({ StreamName: streamName, ShardId: shard.ShardId!, ShardIteratorType: 'TRIM_HORIZON' }))).ShardIterator;
    for (let page = 0; it && page < MAX_PAGES; page++) {
      const res = await clients.kinesis.send(new GetRecordsCommand({ ShardIterator: it, Limit: 10_000 }));
      for (const r of res.Records ?? []) {
        out.push({ data: Buffer.from(r.Data ?? new Uint8Array()), shardId: shard.ShardId!, sequenceNumber: r.SequenceNumber! });
      }
      if ((res.Records ?? []).length === 0 && (res.MillisBehindLatest ?? 0) === 0) break;
      it = res.NextShardIterator;
    }
  }
  return out;
}

async function readKinesisSink(clients: LocalClients, stream: string): Promise<SinkEnvelope[]> {
  const records = await readStream(clients, stream);
  const out: SinkEnvelope[] = [];
  for (const r of records) {
    const env = envelopeFrom(r.data.toString('utf8'), `${stream}/${r.shardId}/${r.sequenceNumber}`);
    if (env) out.push(env);
  }
  return out;
}

/**
 * Reads every message of a queue without consuming it (fauxqs' inspection endpoint: ready, delayed and in flight),
 * signed as the operator so that the IAM gate lets it through.
 */
export async function inspectQueue(fauxqsEndpoint: string, queueName: string): Promise<string[]> {
  const authorization = `AWS4-HMAC-SHA256 Credential=${LOCAL_CREDENTIALS.accessKeyId}/20200101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=local`;
  const res = await fetch(`${fauxqsEndpoint}/_fauxqs/queues/${encodeURIComponent(queueName)}`, { headers: { authorization } });
  if (!res.ok) throw new Error(`cannot inspect queue ${queueName}: HTTP ${res.status}`);
  type Body = { body: string };
  type Inspection = { messages: { ready: Body[]; delayed: Body[]; inflight: Array<{ message: Body }> } };
  const q = (await res.json()) as Inspection;
  return [...q.messages.ready.map((m) => m.body), ...q.messages.delayed.map((m) => m.body), ...q.messages.inflight.map((m) => m.message.body)];
}

async function payloadFromRef(clients: LocalClients, ref: string): Promise<Buffer> {
  const m = /^s3:\/\/([^/]+)\/(.+)$/.exec(ref);
  if (!m) throw new Error(`payloadRef ${ref} is not s3://bucket/key`);
  const text = (await getObject(clients, m[1], m[2])).toString('ascii').trim();
  return Buffer.from(text, 'base64');
}

/** Records of a Kinesis ESM invocation event (`{ Records: [{ kinesis: { data } }] }`). */
function eventRecords(event: unknown): Buffer[] {
  const recs = (event as { Records?: Array<{ kinesis?: { data?: string } }> } | undefined)?.Records;
  if (!Array.isArray(recs)) return [];
  return recs.map((r) => r.kinesis?.data).filter((d): d is string => typeof d === 'string').map((d) => Buffer.from(d, 'base64'));
}

/**
 * Turns a DLQ location's raw entries into dead letters:
 * - DLQ message v1 (the handler's): payload (base64) or payloadRef (S3 overflow object of base64 text);
 * - an ESM on-failure record with the invocation payload (S3 destination): one dead letter per record, `esm-exhausted`;
 * - an ESM on-failure record with metadata only (SQS/SNS destination): the records are read back from the stream
 *   between startSequenceNumber and endSequenceNumber, as an operator would.
 */
export async function deadLettersFrom(clients: LocalClients, bodies: Array<{ body: string; location: string }>): Promise<DeadLetter[]> {
  const out: DeadLetter[] = [];
  const streamCache = new Map<string, Array<{ data: Buffer; shardId: string; sequenceNumber: string }>>();
  for (const { body, location } of bodies) {
    let parsed: Record<string, unknown> | undefined;
    try { parsed = JSON.parse(body) as Record<string, unknown>; } catch { parsed = undefined; }
    if (parsed && parsed.v === 1 && parsed.reason) {
      let msg: DlqMessage;
      try {
        msg = decodeDlqMessage(body);
      } catch (e) {
        out.push({ reason: 'unreadable', problem: (e as Error).message, location });
        continue;
      }
      let data: Buffer | undefined;
      let problem: string | undefined;
      try {
        data = decodePayload(msg) ?? (msg.payloadRef ? await payloadFromRef(clients, msg.payloadRef) : undefined);
        if (!data) problem = 'the message carries neither payload nor payloadRef';
      } catch (e) {
        problem = (e as Error).message;
      }
      out.push({ reason: msg.reason.class, message: msg.reason.message, id: msg.id, correlationId: msg.correlationId, data, problem, location });
      continue;
    }
    type BatchInfo = { shardId?: string; startSequenceNumber?: string; endSequenceNumber?: string; streamArn?: string };
    const batch = parsed?.KinesisBatchInfo as BatchInfo | undefined;
    if (parsed && batch) {
      const condition = String((parsed.requestContext as { condition?: string } | undefined)?.condition ?? 'unknown');
      let records: Buffer[] = [];
      if (parsed.payload !== undefined) {
        let event: unknown = parsed.payload;
        if (typeof event === 'string') { try { event = JSON.parse(event); } catch { event = undefined; } }
        records = eventRecords(event);
      } else if (batch.streamArn && batch.shardId && batch.startSequenceNumber && batch.endSequenceNumber) {
        if (!streamCache.has(batch.streamArn)) streamCache.set(batch.streamArn, await readStream(clients, batch.streamArn));
        const lo = BigInt(batch.startSequenceNumber);
        const hi = BigInt(batch.endSequenceNumber);
        records = streamCache.get(batch.streamArn)!
          .filter((r) => r.shardId === batch.shardId && BigInt(r.sequenceNumber) >= lo && BigInt(r.sequenceNumber) <= hi)
          .map((r) => r.data);
      }
      if (records.length === 0) out.push({ reason: 'esm-exhausted', message: condition, problem: 'no records recoverable from the on-failure record', location });
      for (const data of records) out.push({ reason: 'esm-exhausted', message: condition, data, location });
      continue;
    }
    out.push({ reason: 'unreadable', problem: 'neither a DLQ message v1 nor an event source mapping on-failure record', location });
  }
  return out;
}

/** Reads dead letters from queues (non-destructively) and from on-failure buckets (every object under the prefix). */
export async function readDeadLetters(
  clients: LocalClients,
  fauxqsEndpoint: string,
  queues: Array<{ name: string; url: string }>,
  buckets: Array<{ bucket: string; prefix: string }>,
): Promise<DeadLetter[]> {
  const bodies: Array<{ body: string; location: string }> = [];
  for (const q of queues) for (const body of await inspectQueue(fauxqsEndpoint, q.name)) bodies.push({ body, location: q.url });
  for (const b of buckets) {
    const keys = await listObjects(clients, b.bucket, b.prefix);
    const texts = await mapLimit(keys, 16, async (key) => ({ body: (await getObject(clients, b.bucket, key)).toString('utf8'), location: `s3://${b.bucket}/${key}` }));
    bodies.push(...texts);
  }
  return deadLettersFrom(clients, bodies);
}

/** Canonical form of a payload, to compare what the sink holds with what was produced. */
export function canonicalPayload(p: unknown): string {
  try {
    return canonicalJson(p);
  } catch {
    return JSON.stringify(p);
  }
}
