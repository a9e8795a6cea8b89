/**
 * The drill's stack deletion: the account model decides, the emulators follow (fake clients record the calls). A
 * non-empty bucket without auto-delete fails as S3 would; an auto-delete bucket is emptied and deleted; a retained
 * bucket is orphaned and left alone.
 */
import { describe, expect, it } from 'vitest';
import type { LocalClients } from '../../../../lib/local/clients';
import { destroyStack } from '../../../../lib/local/drill/destroy';
import type { ProvisionedStack } from '../../../../lib/local/provision';
import { localAccountModel } from '../../../../lib/local/run/context';
import { deployStack } from '../../../../lib/local/run/provision';
import { LocalStack } from '../../../../lib/local/template/stack';

const AUTO_DELETE_TAG = [{ Key: 'aws-cdk:auto-delete-objects', Value: 'true' }];

/** Clients whose buckets hold `objects` keys each; every call is recorded as `<Command> <target>`. */
function fakeClients(objects: Record<string, number>): { clients: LocalClients; calls: string[] } {
  const calls: string[] = [];
  const client = (): { send: (cmd: { constructor: { name: string }; input: Record<string, unknown> }) => Promise<unknown> } => ({
    send: async (cmd) => {
      const name = cmd.constructor.name;
      const target = String(cmd.input.Bucket ?? cmd.input.StreamName ?? cmd.input.QueueUrl ?? cmd.input.TableName ?? '');
      if (name === 'ListObjectsV2Command') {
        const n = objects[target] ?? 0;
        return { Contents: Array.from({ length: n }, (_, i) => ({ Key: `k${i}` })), IsTruncated: false };
      }
      calls.push(`${name} ${target}`);
      if (name === 'DeleteObjectCommand') objects[target]--;
      if (name === 'ListShardsCommand') throw new Error('ResourceNotFoundException');
      return {};
    },
  });
  return { clients: { s3: client(), kinesis: client(), sqs: client(), dynamodb: client() } as unknown as LocalClients, calls };
}

function provisioned(stack: LocalStack, buckets: string[]): ProvisionedStack {
  const name = (id: string): string => String(stack.ref(id, { logicalId: id, type: 'test' }));
  return { buckets: buckets.map((id) => ({ logicalId: id, name: name(id), arn: '' })), streams: [], queues: [], tables: [] } as unknown as ProvisionedStack;
}

describe('destroyStack', () => {
  it('deletes what the model deletes (emptying auto-delete buckets), leaves the retained bucket, fails a non-empty plain bucket', async () => {
    const stack = new LocalStack('Demo', {
      Resources: {
        Archive: { Type: 'AWS::S3::Bucket', DeletionPolicy: 'Retain' },
        Overflow: { Type: 'AWS::S3::Bucket', Properties: { Tags: AUTO_DELETE_TAG }, DeletionPolicy: 'Delete' },
        OverflowAutoDelete: { Type: 'Custom::S3AutoDeleteObjects', Properties: { ServiceToken: 'arn:fn', BucketName: { Ref: 'Overflow' } } },
        Plain: { Type: 'AWS::S3::Bucket', DeletionPolicy: 'Delete' },
        Stream: { Type: 'AWS::Kinesis::Stream', Properties: { ShardCount: 1 } },
      },
    });
    const model = localAccountModel();
    deployStack(model, stack, (m) => new Error(m));
    const p = provisioned(stack, ['Archive', 'Overflow', 'Plain']);
    const [archive, overflow, plain] = p.buckets.map((b) => b.name);
    const streamName = String(stack.ref('Stream', { logicalId: 'Stream', type: 'test' }));
    const { clients, calls } = fakeClients({ [archive]: 3, [overflow]: 2, [plain]: 1 });

    const { result, destroyed } = await destroyStack(clients, model, stack, p);

    expect(result.status).toBe('DELETE_FAILED');
    expect(result.failed.map((f) => [f.logicalId, f.reason])).toEqual([
      ['Plain', 'The bucket you tried to delete is not empty (Service: Amazon S3; Status Code: 409; Error Code: BucketNotEmpty)'],
    ]);
    expect(result.orphaned.map((o) => o.physicalId)).toEqual([archive]);
    expect(calls).toEqual([
      `DeleteStreamCommand ${streamName}`,
      `DeleteObjectCommand ${overflow}`, `DeleteObjectCommand ${overflow}`, `DeleteBucketCommand ${overflow}`,
      `ListShardsCommand ${streamName}`,
    ]);
    expect(destroyed).toEqual({ streams: 1, queues: 0, tables: 0, buckets: 1 });
    expect(model.find('AWS::S3::Bucket', archive, stack.region)).toMatchObject({ stackId: undefined, objects: 3 });
  });
});
