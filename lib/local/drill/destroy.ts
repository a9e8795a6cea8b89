import { DeleteTableCommand } from '@aws-sdk/client-dynamodb';
import { DeleteStreamCommand, ListShardsCommand } from '@aws-sdk/client-kinesis';
import { DeleteBucketCommand, DeleteObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { DeleteQueueCommand } from '@aws-sdk/client-sqs';
import type { LocalClients } from '../clients';
import type { ProvisionedStack } from '../provision';
import { DrillError, type DrillReport } from './types';

/** Deletes every stream, queue, table and bucket of the stack except the archive bucket; waits until the streams are gone. */
export async function destroyAllButArchive(clients: LocalClients, p: ProvisionedStack, archiveBucket: string): Promise<DrillReport['destroyed']> {
  const destroyed = { streams: 0, queues: 0, tables: 0, buckets: 0 };
  for (const s of p.streams) {
    await clients.kinesis.send(new DeleteStreamCommand({ StreamName: s.name, EnforceConsumerDeletion: true }));
    destroyed.streams++;
  }
  for (const q of p.queues) {
    await clients.sqs.send(new DeleteQueueCommand({ QueueUrl: q.url }));
    destroyed.queues++;
  }
  for (const tb of p.tables) {
    await clients.dynamodb.send(new DeleteTableCommand({ TableName: tb.name }));
    destroyed.tables++;
  }
  for (const b of p.buckets) {
    if (b.name === archiveBucket) continue;
    await emptyBucket(clients, b.name);
    await clients.s3.send(new DeleteBucketCommand({ Bucket: b.name }));
    destroyed.buckets++;
  }
  await waitStreamsGone(clients, p.streams.map((s) => s.name));
  return destroyed;
}

async function emptyBucket(clients: LocalClients, bucket: string): Promise<void> {
  let token: string | undefined;
  for (let i = 0; i < 10_000; i++) {
    const r = await clients.s3.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }));
    for (const o of r.Contents ?? []) await clients.s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: o.Key! }));
    if (!r.IsTruncated) return;
    token = r.NextContinuationToken;
  }
}

async function waitStreamsGone(clients: LocalClients, names: string[]): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const left = [];
    for (const n of names) {
      try {
        await clients.kinesis.send(new ListShardsCommand({ StreamName: n }));
        left.push(n);
      } catch {
        // gone
      }
    }
    if (left.length === 0) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new DrillError(`streams ${names.join(', ')} were not deleted`);
}
