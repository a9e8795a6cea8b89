import { DeleteTableCommand } from '@aws-sdk/client-dynamodb';
import { DeleteStreamCommand, ListShardsCommand } from '@aws-sdk/client-kinesis';
import { DeleteBucketCommand, DeleteObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { DeleteQueueCommand } from '@aws-sdk/client-sqs';
import type { LocalClients } from '../clients';
import type { CloudFormationModel, DestroyResult, ResourceOutcome } from '../cloudformation/lifecycle';
import type { ProvisionedStack } from '../provision';
import { DrillError, type DrillReport } from './types';
import type { LocalStack } from '../template/stack';

/** Bound on listing a bucket (pages of up to 1000 keys). */
const MAX_PAGES = 10_000;

/**
 * DeleteStack as CloudFormation does it (the account model decides): every bucket's object count is told to the model
 * first, so that a non-empty bucket without CDK's auto-delete fails as S3 would; then what the model deleted is deleted
 * on the emulators (buckets emptied first: their auto-delete resource did it), what it orphaned stays with its data.
 */
export async function destroyStack(
  clients: LocalClients, model: CloudFormationModel, stack: LocalStack, p: ProvisionedStack,
): Promise<{ result: DestroyResult; destroyed: DrillReport['destroyed'] }> {
  for (const b of p.buckets) {
    const known = model.find('AWS::S3::Bucket', b.name, stack.region)?.objects ?? 0;
    model.putObjects(b.name, (await listKeys(clients, b.name)).length - known);
  }
  const result = model.destroy(stack.stackName, stack.region);
  const destroyed = { streams: 0, queues: 0, tables: 0, buckets: 0 };
  for (const r of result.deleted) {
    const kind = await deletePhysical(clients, p, r);
    if (kind) destroyed[kind]++;
  }
  await waitStreamsGone(clients, result.deleted.filter((r) => r.type === 'AWS::Kinesis::Stream').map((r) => r.physicalId));
  return { result, destroyed };
}

function named(r: ResourceOutcome): { logicalId: string; type: string; physicalName: string } {
  return { logicalId: r.logicalId, type: r.type, physicalName: r.physicalId };
}

/** The deletion's part of the drill report. */
export function deletionReport(
  result: DestroyResult, destroyed: DrillReport['destroyed'],
): Pick<DrillReport, 'destroyed' | 'orphaned' | 'deleted' | 'failed'> {
  return {
    destroyed,
    orphaned: result.orphaned.map(named),
    deleted: result.deleted.length,
    failed: result.failed.map((f) => ({ ...named(f), reason: f.reason })),
  };
}

/** Deletes a resource the model deleted, if the emulators hold it; returns its kind. */
async function deletePhysical(clients: LocalClients, p: ProvisionedStack, r: ResourceOutcome): Promise<keyof DrillReport['destroyed'] | undefined> {
  switch (r.type) {
    case 'AWS::Kinesis::Stream':
      await clients.kinesis.send(new DeleteStreamCommand({ StreamName: r.physicalId, EnforceConsumerDeletion: true }));
      return 'streams';
    case 'AWS::SQS::Queue': {
      const q = p.queues.find((x) => x.name === r.physicalId);
      if (!q) throw new DrillError(`queue ${r.physicalId} (${r.logicalId}) was not provisioned`);
      await clients.sqs.send(new DeleteQueueCommand({ QueueUrl: q.url }));
      return 'queues';
    }
    case 'AWS::DynamoDB::Table':
      await clients.dynamodb.send(new DeleteTableCommand({ TableName: r.physicalId }));
      return 'tables';
    case 'AWS::S3::Bucket':
      for (const key of await listKeys(clients, r.physicalId)) {
        await clients.s3.send(new DeleteObjectCommand({ Bucket: r.physicalId, Key: key }));
      }
      await clients.s3.send(new DeleteBucketCommand({ Bucket: r.physicalId }));
      return 'buckets';
    default:
      return undefined;
  }
}

async function listKeys(clients: LocalClients, bucket: string): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  for (let i = 0; i < MAX_PAGES; i++) {
    const r = await clients.s3.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }));
    for (const o of r.Contents ?? []) keys.push(o.Key!);
    if (!r.IsTruncated) return keys;
    token = r.NextContinuationToken;
  }
  throw new DrillError(`bucket ${bucket} has more than ${MAX_PAGES} pages of objects`);
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
