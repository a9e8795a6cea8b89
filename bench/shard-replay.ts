/**
 * Replay at the target's capacity (issue #16, item 5): archive and DLQ replays into a stream of `shards` shards behind
 * the local environment's service-limit gate (`--limits-scale`: each shard takes 1,000 / scale records/s), as fast as
 * the replay engine goes. Per source it gives records/s against the stream's aggregate write limit, the entries the
 * gate throttled (ProvisionedThroughputExceededException) and retried, and, read back from the stream, records
 * missing or put twice.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { KinesisClient, ListShardsCommand } from '@aws-sdk/client-kinesis';
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { CreateQueueCommand, SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { BenchResult } from './types';
import { dlqMessageAttributes, encodeDlqMessage } from '../lib/core';
import { startEmulators } from '../lib/local/emulators';
import { KINESIS } from '../lib/local/gates/limits';
import { runReplay, type ReplaySource } from '../lib/replay/engine';
import { parseFilter } from '../lib/replay/filter';
import { createActiveStream } from '../test/lib/local/esm/support';
import { archiveObject } from '../test/support/archive';
import { payloadDeadLetter } from '../test/support/dlq';
import { countOrderIds, missingAndExtra } from '../test/support/replay';

export interface ShardReplayBenchOptions {
  /** Records per source. Default 3,000. */
  readonly records?: number;
  /** Shards of the target stream. Default 2. */
  readonly shards?: number;
  /** Divides the Kinesis rate limits, as `phoenix local run --limits-scale`. Default 10. */
  readonly limitsScale?: number;
}

const REGION = 'us-east-1';
const credentials = { accessKeyId: 'local', secretAccessKey: 'local' };
/** Partition keys of the replayed records (spread over every shard). */
const KEYS = 256;

function order(tag: string, j: number): Record<string, unknown> {
  return { orderId: `${tag}-${j}`, customer: `c-${j % KEYS}`, amount: (j % 1000) / 10, note: 'x'.repeat(64) };
}

/** Archive objects (framed, GZIP) of `n` records, 1,000 per object; record j's orderId is `<tag>-<j>`. */
export async function writeArchive(s3: S3Client, bucket: string, streamArn: string, n: number, tag: string): Promise<void> {
  const t = Date.now();
  for (let i = 0; i < n; i += 1000) {
    const body = archiveObject(streamArn, Array.from({ length: Math.min(1000, n - i) }, (_, k) => ({
      payload: order(tag, i + k), partitionKey: `c-${(i + k) % KEYS}`, seq: i + k + 1, arrivedAtMs: t + i + k,
    })));
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `raw/${tag}-${String(i).padStart(8, '0')}.gz`, Body: body }));
  }
}

/** `n` DLQ messages v1 (schema failures), 10 per SendMessageBatch. */
async function fillDlq(sqs: SQSClient, queueUrl: string, streamArn: string, n: number, tag: string): Promise<void> {
  const at = new Date().toISOString();
  for (let i = 0; i < n; i += 10) {
    const entries = Array.from({ length: Math.min(10, n - i) }, (_, k) => {
      const j = i + k;
      const msg = payloadDeadLetter(Buffer.from(JSON.stringify(order(tag, j))), { streamArn, seq: j + 1, partitionKey: `c-${j % KEYS}`, at });
      const attrs = Object.entries(dlqMessageAttributes(msg)).filter(([, v]) => v !== '');
      return {
        Id: String(k),
        MessageBody: encodeDlqMessage(msg, 262_144).body,
        MessageAttributes: Object.fromEntries(attrs.map(([name, v]) => [name, { DataType: 'String', StringValue: v }])),
      };
    });
    const r = await sqs.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: entries }));
    if (r.Failed?.length) throw new Error(`DLQ fill: ${r.Failed.length} messages refused (${r.Failed[0].Message})`);
  }
}

interface SourceFigures {
  readonly recordsPerSecond: number;
  /** records/s over the stream's aggregate write limit (shards x 1,000 / scale). */
  readonly ratioToWriteLimit: number;
  readonly seconds: number;
  readonly putRecordsCalls: number;
  /** Entries throttled and put again (each retry of each entry counts). */
  readonly retriedEntries: number;
  readonly failed: number;
  readonly missing: number;
  readonly duplicated: number;
}

/** Replays `source` into a fresh `stream` and reads it back: every record of the tag once. */
async function measure(
  kinesis: KinesisClient, clients: { s3: S3Client; sqs: SQSClient },
  source: ReplaySource, stream: string, shards: number, limit: number, records: number, tag: string,
): Promise<SourceFigures> {
  const t0 = performance.now();
  const summary = await runReplay({ source, filter: parseFilter({}), targetStream: stream, clients: { kinesis, ...clients } });
  const seconds = (performance.now() - t0) / 1000;
  const seen = await countOrderIds(kinesis, stream);
  const { missing, extra: duplicated } = missingAndExtra(seen, tag, records);
  const rate = summary.replayed / seconds;
  return {
    recordsPerSecond: Math.round(rate),
    ratioToWriteLimit: Math.round((rate / (shards * limit)) * 100) / 100,
    seconds: Math.round(seconds * 10) / 10,
    putRecordsCalls: summary.putCalls,
    retriedEntries: summary.retried,
    failed: summary.failed,
    missing,
    duplicated,
  };
}

export async function runShardReplayBench(opts: ShardReplayBenchOptions = {}): Promise<BenchResult> {
  const records = opts.records ?? 3_000;
  const shards = opts.shards ?? 2;
  const scale = opts.limitsScale ?? 10;
  const limit = KINESIS.writeRecords / scale;
  const runDir = mkdtempSync(path.join(tmpdir(), 'phx-bench-shard-replay-'));
  const emulators = await startEmulators({ runDir, region: REGION, limits: { scale, latency: 'aws', seed: 1 } });
  const kinesis = new KinesisClient({ region: REGION, endpoint: emulators.endpoints.kinesis, credentials });
  const s3 = new S3Client({ region: REGION, endpoint: emulators.endpoints.fauxqs, credentials, forcePathStyle: true });
  const sqs = new SQSClient({ region: REGION, endpoint: emulators.endpoints.fauxqs, credentials });
  try {
    const streams: Array<{ arn: string; shards: never[] }> = [];
    for (const name of ['archive-target', 'dlq-target']) {
      const arn = await createActiveStream(kinesis, name, shards);
      const listed = (await kinesis.send(new ListShardsCommand({ StreamName: name }))).Shards ?? [];
      streams.push({ arn, shards: listed as never[] });
    }
    await emulators.registerLimits({ streams, queues: [] });
    await s3.send(new CreateBucketCommand({ Bucket: 'archive' }));
    await writeArchive(s3, 'archive', streams[0].arn, records, 'a');
    const queueUrl = (await sqs.send(new CreateQueueCommand({ QueueName: 'dlq' }))).QueueUrl!;
    await fillDlq(sqs, queueUrl, streams[1].arn, records, 'd');
    const clients = { s3, sqs };
    const archive = await measure(kinesis, clients, { kind: 'archive', bucket: 'archive', prefix: 'raw/' }, 'archive-target', shards, limit, records, 'a');
    const dlq = await measure(kinesis, clients, { kind: 'dlq', queueUrl }, 'dlq-target', shards, limit, records, 'd');
    const figures = { records, shards, limitsScale: scale, writeLimitRecordsPerSecond: shards * limit, archive, dlq };
    const line = (name: string, f: SourceFigures): string => `${name} replay: ${f.recordsPerSecond} records/s = ${f.ratioToWriteLimit}x the write limit `
      + `(${f.seconds} s, ${f.putRecordsCalls} PutRecords calls, ${f.retriedEntries} entries throttled and retried, failed ${f.failed}, missing ${f.missing}, duplicated ${f.duplicated})`;
    const exact = (f: SourceFigures): boolean => f.failed === 0 && f.missing === 0 && f.duplicated === 0;
    return {
      name: 'shard-replay',
      figures,
      targets: [
        { name: 'archive replay records/s / aggregate write limit', value: archive.ratioToWriteLimit, target: 0.8, op: '>=', pass: archive.ratioToWriteLimit >= 0.8 },
        { name: 'DLQ replay records/s / aggregate write limit', value: dlq.ratioToWriteLimit, target: 0.8, op: '>=', pass: dlq.ratioToWriteLimit >= 0.8 },
        { name: 'records lost or duplicated', value: archive.missing + archive.duplicated + dlq.missing + dlq.duplicated, target: 0, op: '<=', pass: exact(archive) && exact(dlq) },
      ],
      lines: [
        `target: ${shards} shards x ${limit} records/s (--limits-scale ${scale}, latency aws) = ${shards * limit} records/s; ${records} records per source`,
        line('archive', archive),
        line('DLQ', dlq),
      ],
    };
  } finally {
    kinesis.destroy();
    s3.destroy();
    sqs.destroy();
    await emulators.stop();
    rmSync(runDir, { recursive: true, force: true });
  }
}
