import { describe, expect, it } from 'vitest';
import { CloudFormationModel, StackOperationError } from '../../../../lib/local/cloudformation/lifecycle';
import { TemplateValidationError } from '../../../../lib/local/cloudformation/policies';
import { Random } from '../../../../lib/local/random';
import type { CfnResource, CfnTemplate } from '../../../../lib/local/template/types';
import { thrownBy } from '../../../support/errors';

const ACCOUNT = '123456789012';
function model(seed = 1): CloudFormationModel {
  const r = new Random(seed);
  return new CloudFormationModel({ accountId: ACCOUNT, rng: () => r.next() });
}

/** The shapes CDK synthesizes: a retained archive bucket with a policy, a DESTROY bucket with auto-delete. */
function pipeline(extra: Record<string, CfnResource> = {}): CfnTemplate {
  return {
    Resources: {
      Stream: { Type: 'AWS::Kinesis::Stream', Properties: { ShardCount: 1 } },
      Table: {
        Type: 'AWS::DynamoDB::Table', Properties: { KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }] }, DeletionPolicy: 'Delete', UpdateReplacePolicy: 'Retain',
      },
      Archive: { Type: 'AWS::S3::Bucket', DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' },
      ArchivePolicy: { Type: 'AWS::S3::BucketPolicy', Properties: { Bucket: { Ref: 'Archive' }, PolicyDocument: {} } },
      Overflow: { Type: 'AWS::S3::Bucket', Properties: { Tags: [{ Key: 'aws-cdk:auto-delete-objects', Value: 'true' }] }, DeletionPolicy: 'Delete' },
      OverflowAutoDelete: { Type: 'Custom::S3AutoDeleteObjects', Properties: { ServiceToken: 'arn:fn', BucketName: { Ref: 'Overflow' } }, DependsOn: ['Overflow'] },
      ...extra,
    },
  };
}

function named(type: string, prop: string, name: string, more: Partial<CfnResource> = {}): CfnResource {
  return { Type: type, Properties: { [prop]: name }, ...more };
}

describe('CloudFormation create', () => {
  it('a stream consumer: id <name>:<creation epoch>, deleted with the stack', () => {
    const m = model();
    const consumer: CfnResource = { Type: 'AWS::Kinesis::StreamConsumer', Properties: { StreamARN: { 'Fn::GetAtt': ['Stream', 'Arn'] }, ConsumerName: 'stage' } };
    const created = m.deploy({ stackName: 'Phoenix', region: 'us-east-1', template: pipeline({ Consumer: consumer }) }).created;
    expect(created.find((r) => r.logicalId === 'Consumer')!.physicalId).toMatch(/^stage:\d{10}$/);
    const destroyed = m.destroy('Phoenix', 'us-east-1');
    expect(destroyed.deleted.map((r) => r.logicalId)).toContain('Consumer');
    expect(destroyed.orphaned.map((r) => r.logicalId)).not.toContain('Consumer');
  });

  it('creates every resource with a generated name, new on every creation of the stack', () => {
    const m = model();
    const first = m.deploy({ stackName: 'Phoenix', region: 'us-east-1', template: pipeline() });
    expect(first.status).toBe('CREATE_COMPLETE');
    expect(first.stackId).toMatch(/^arn:aws:cloudformation:us-east-1:123456789012:stack\/Phoenix\/[0-9a-f-]{36}$/);
    const stream1 = first.created.find((r) => r.logicalId === 'Stream')!;
    expect(stream1.physicalId).toMatch(/^Phoenix-Stream-[A-Z0-9]{12,13}$/);
    m.destroy('Phoenix', 'us-east-1');
    const second = m.deploy({ stackName: 'Phoenix', region: 'us-east-1', template: pipeline() });
    expect(second.created.find((r) => r.logicalId === 'Stream')!.physicalId).not.toBe(stream1.physicalId);
    expect(second.stackId).not.toBe(first.stackId);
  });

  it('an explicit name another stack has fails the create with CloudFormation\'s message and rolls back', () => {
    const m = model();
    const a = m.deploy({ stackName: 'A', region: 'us-east-1', template: { Resources: { T: named('AWS::DynamoDB::Table', 'TableName', 'orders') } } });
    const e = thrownBy(StackOperationError, () => m.deploy({ stackName: 'B', region: 'us-east-1', template: pipeline({ T: named('AWS::DynamoDB::Table', 'TableName', 'orders', { DependsOn: ['Stream'] }) }) }));
    expect(e.code).toBe('CFN_STACK_OPERATION_FAILED');
    expect(e.reason).toBe(`orders already exists in stack ${a.stackId}`);
    expect(e.status).toBe('ROLLBACK_COMPLETE');
    // What was created before the failure is gone again, except the Retain bucket, which stays in no stack.
    expect(e.rolledBack.orphaned.map((r) => r.logicalId)).toEqual(['Archive']);
    expect(e.rolledBack.deleted.map((r) => r.logicalId).sort()).toEqual(['ArchivePolicy', 'Overflow', 'OverflowAutoDelete', 'Stream', 'Table']);
    expect(m.resources().filter((r) => r.stackId === undefined).map((r) => r.logicalId)).toEqual(['Archive']);
    expect(m.resources().filter((r) => r.stackId === e.stackId)).toEqual([]);
    const again = thrownBy(StackOperationError, () => m.deploy({ stackName: 'B', region: 'us-east-1', template: pipeline() }));
    expect(again.reason).toBe(`Stack:${e.stackId} is in ROLLBACK_COMPLETE state and can not be updated.`);
    expect(m.destroy('B', 'us-east-1').status).toBe('DELETE_COMPLETE');
    expect(m.deploy({ stackName: 'B', region: 'us-east-1', template: pipeline() }).status).toBe('CREATE_COMPLETE');
  });

  it('a name outside any stack fails with "<name> already exists"; table names are per region', () => {
    const m = model();
    m.addExternal('AWS::DynamoDB::Table', 'orders', 'us-east-1');
    const e = thrownBy(StackOperationError, () => m.deploy({ stackName: 'S', region: 'us-east-1', template: { Resources: { T: named('AWS::DynamoDB::Table', 'TableName', 'orders') } } }));
    expect(e.reason).toBe('orders already exists');
    expect(m.deploy({ stackName: 'S', region: 'eu-west-1', template: { Resources: { T: named('AWS::DynamoDB::Table', 'TableName', 'orders') } } }).status).toBe('CREATE_COMPLETE');
  });

  it('dashboard, bucket and role names are account-wide: a second region conflicts', () => {
    const m = model();
    m.deploy({ stackName: 'S', region: 'us-east-1', template: { Resources: { D: named('AWS::CloudWatch::Dashboard', 'DashboardName', 'phoenix'), B: named('AWS::S3::Bucket', 'BucketName', 'phoenix-archive') } } });
    const d = thrownBy(StackOperationError, () => m.deploy({ stackName: 'S', region: 'eu-west-1', template: { Resources: { D: named('AWS::CloudWatch::Dashboard', 'DashboardName', 'phoenix') } } }));
    expect(d.reason).toBe("Resource of type 'AWS::CloudWatch::Dashboard' with identifier 'phoenix' already exists.");
    const b = thrownBy(StackOperationError, () => m.deploy({ stackName: 'T', region: 'eu-west-1', template: { Resources: { B: named('AWS::S3::Bucket', 'BucketName', 'phoenix-archive') } } }));
    expect(b.reason).toMatch(/^phoenix-archive already exists in stack arn:aws:cloudformation:us-east-1:/);
  });

  it('refuses DeletionPolicy Snapshot on a type without snapshots before creating anything', () => {
    const m = model();
    expect(() => m.deploy({ stackName: 'S', region: 'us-east-1', template: pipeline({ X: { Type: 'AWS::S3::Bucket', DeletionPolicy: 'Snapshot' } }) }))
      .toThrow(TemplateValidationError);
    expect(m.resources()).toEqual([]);
    expect(m.stack('S', 'us-east-1')).toBeUndefined();
  });
});

describe('CloudFormation delete', () => {
  it('orphans the retained bucket, deletes its policy, and the auto-delete resource empties the DESTROY bucket', () => {
    const m = model();
    const created = m.deploy({ stackName: 'Phoenix', region: 'us-east-1', template: pipeline() }).created;
    const name = (id: string): string => created.find((r) => r.logicalId === id)!.physicalId;
    m.putObjects(name('Archive'), 40);
    m.putObjects(name('Overflow'), 3);
    const result = m.destroy('Phoenix', 'us-east-1');
    expect(result.status).toBe('DELETE_COMPLETE');
    expect(result.orphaned.map((r) => r.logicalId)).toEqual(['Archive']);
    expect(result.deleted.map((r) => r.logicalId).sort()).toEqual(['ArchivePolicy', 'Overflow', 'OverflowAutoDelete', 'Stream', 'Table']);
    expect(m.resources().map((r) => [r.type, r.physicalId, r.stackId, r.objects])).toEqual([['AWS::S3::Bucket', name('Archive'), undefined, 40]]);
    // Re-creating the stack makes a new archive bucket under a new name; the old one stays where it was.
    const again = m.deploy({ stackName: 'Phoenix', region: 'us-east-1', template: pipeline() }).created;
    expect(again.find((r) => r.logicalId === 'Archive')!.physicalId).not.toBe(name('Archive'));
    expect(m.find('AWS::S3::Bucket', name('Archive'), 'us-east-1')?.objects).toBe(40);
  });

  it('a non-empty bucket without auto-delete fails its delete; what it depends on stays; a retry after emptying completes', () => {
    const m = model();
    const template: CfnTemplate = { Resources: { Key: { Type: 'AWS::KMS::Key' }, B: { Type: 'AWS::S3::Bucket', Properties: { KMSKey: { 'Fn::GetAtt': ['Key', 'Arn'] } } }, Q: { Type: 'AWS::SQS::Queue' } } };
    const bucket = m.deploy({ stackName: 'S', region: 'us-east-1', template }).created.find((r) => r.logicalId === 'B')!.physicalId;
    m.putObjects(bucket, 1);
    const failed = m.destroy('S', 'us-east-1');
    expect(failed.status).toBe('DELETE_FAILED');
    expect(failed.failed).toEqual([
      { logicalId: 'B', type: 'AWS::S3::Bucket', physicalId: bucket, reason: 'The bucket you tried to delete is not empty (Service: Amazon S3; Status Code: 409; Error Code: BucketNotEmpty)' },
      expect.objectContaining({ logicalId: 'Key', reason: 'not deleted: B, which depends on it, failed to delete' }),
    ]);
    expect(failed.deleted.map((r) => r.logicalId)).toEqual(['Q']);
    expect(m.stack('S', 'us-east-1')?.status).toBe('DELETE_FAILED');
    m.putObjects(bucket, -1);
    const retry = m.destroy('S', 'us-east-1');
    expect(retry.status).toBe('DELETE_COMPLETE');
    expect(retry.deleted.map((r) => r.logicalId)).toEqual(['B', 'Key']);
    expect(m.resources()).toEqual([]);
  });

  it('RetainExceptOnCreate: deleted when its creating operation rolls back, retained when the stack is deleted', () => {
    const m = model();
    m.addExternal('AWS::SQS::Queue', 'taken', 'us-east-1');
    const keep: CfnResource = { Type: 'AWS::SQS::Queue', DeletionPolicy: 'RetainExceptOnCreate' };
    const e = thrownBy(StackOperationError, () => m.deploy({ stackName: 'S', region: 'us-east-1', template: { Resources: { Keep: keep, Clash: named('AWS::SQS::Queue', 'QueueName', 'taken', { DependsOn: ['Keep'] }) } } }));
    expect(e.rolledBack.deleted.map((r) => r.logicalId)).toEqual(['Keep']);
    m.destroy('S', 'us-east-1');
    m.deploy({ stackName: 'S', region: 'us-east-1', template: { Resources: { Keep: keep } } });
    expect(m.destroy('S', 'us-east-1').orphaned.map((r) => r.logicalId)).toEqual(['Keep']);
  });
});

describe('CloudFormation update', () => {
  it('a replacing change creates a new name and applies UpdateReplacePolicy to the old resource', () => {
    const m = model();
    const before = m.deploy({ stackName: 'S', region: 'us-east-1', template: pipeline() });
    const oldTable = before.created.find((r) => r.logicalId === 'Table')!.physicalId;
    const changed = pipeline();
    (changed.Resources!.Table.Properties as Record<string, unknown>).KeySchema = [{ AttributeName: 'pk', KeyType: 'HASH' }];
    const after = m.deploy({ stackName: 'S', region: 'us-east-1', template: changed });
    expect(after.status).toBe('UPDATE_COMPLETE');
    expect(after.replaced).toHaveLength(1);
    expect(after.replaced[0].old.physicalId).toBe(oldTable);
    expect(after.replaced[0].new.physicalId).not.toBe(oldTable);
    expect(after.orphaned.map((r) => r.physicalId)).toEqual([oldTable]);
    expect(m.find('AWS::DynamoDB::Table', oldTable, 'us-east-1')?.stackId).toBeUndefined();
    expect(after.created.map((r) => r.logicalId)).toEqual(['Table']);
  });

  it('a custom-named resource that needs replacing fails the update with CloudFormation\'s message', () => {
    const m = model();
    const t = (keyName: string): CfnTemplate => ({ Resources: { T: { Type: 'AWS::DynamoDB::Table', Properties: { TableName: 'orders', KeySchema: [{ AttributeName: keyName, KeyType: 'HASH' }] } } } });
    m.deploy({ stackName: 'S', region: 'us-east-1', template: t('id') });
    const e = thrownBy(StackOperationError, () => m.deploy({ stackName: 'S', region: 'us-east-1', template: t('pk') }));
    expect(e.reason).toBe('CloudFormation cannot update a stack when a custom-named resource requires replacing. Rename orders and update the stack again.');
    expect(e.status).toBe('UPDATE_ROLLBACK_COMPLETE');
    expect(m.find('AWS::DynamoDB::Table', 'orders', 'us-east-1')?.properties.KeySchema).toEqual([{ AttributeName: 'id', KeyType: 'HASH' }]);
  });

  it('a resource removed from the template leaves per its DeletionPolicy; an unchanged one keeps its name', () => {
    const m = model();
    const before = m.deploy({ stackName: 'S', region: 'us-east-1', template: pipeline() });
    const { Archive: _a, ArchivePolicy: _p, ...rest } = pipeline().Resources!;
    const after = m.deploy({ stackName: 'S', region: 'us-east-1', template: { Resources: rest } });
    expect(after.orphaned.map((r) => r.logicalId)).toEqual(['Archive']);
    expect(after.deleted.map((r) => r.logicalId)).toEqual(['ArchivePolicy']);
    expect(after.created).toEqual([]);
    expect(m.stack('S', 'us-east-1')!.resources.get('Stream')!.physicalId).toBe(before.created.find((r) => r.logicalId === 'Stream')!.physicalId);
  });
});

describe('CloudFormation auto-import (ImportExistingResources)', () => {
  const archive = (name: unknown, deletion = 'Retain'): CfnTemplate => ({
    Resources: {
      Stream: { Type: 'AWS::Kinesis::Stream', Properties: { ShardCount: 1 } },
      Archive: { Type: 'AWS::S3::Bucket', Properties: { BucketName: name }, DeletionPolicy: deletion as CfnResource['DeletionPolicy'] },
      ArchivePolicy: { Type: 'AWS::S3::BucketPolicy', Properties: { Bucket: { Ref: 'Archive' }, PolicyDocument: {} } },
    },
  });

  it('a retained, literally named bucket in no stack is imported (data kept, policy created again); the rest is new', () => {
    const m = model();
    const first = m.deploy({ stackName: 'S', region: 'us-east-1', template: archive('fixed-archive') });
    m.putObjects('fixed-archive', 7);
    m.destroy('S', 'us-east-1');
    const again = m.deploy({ stackName: 'S', region: 'us-east-1', template: archive('fixed-archive'), importExisting: true });
    expect(again.status).toBe('CREATE_COMPLETE');
    expect(again.imported).toEqual([{ logicalId: 'Archive', type: 'AWS::S3::Bucket', physicalId: 'fixed-archive' }]);
    expect(again.created.map((r) => r.logicalId).sort()).toEqual(['ArchivePolicy', 'Stream']);
    const stream = (d: typeof first): string => d.created.find((r) => r.logicalId === 'Stream')!.physicalId;
    expect(stream(again)).not.toBe(stream(first));
    const bucket = m.find('AWS::S3::Bucket', 'fixed-archive', 'us-east-1')!;
    expect([bucket.stackId, bucket.objects]).toEqual([again.stackId, 7]);
    expect(m.resources().find((r) => r.logicalId === 'ArchivePolicy')!.properties.Bucket).toBe('fixed-archive');
  });

  it('not imported (the create fails as already existing): without the option, a dynamic name, DeletionPolicy Delete, a bucket of another stack', () => {
    const failsWith = (m: CloudFormationModel, template: CfnTemplate, stackName = 'S', importExisting = true): string =>
      thrownBy(StackOperationError, () => m.deploy({ stackName, region: 'us-east-1', template, importExisting })).reason;
    const orphan = (template: CfnTemplate): CloudFormationModel => {
      const m = model();
      m.deploy({ stackName: 'S', region: 'us-east-1', template });
      m.destroy('S', 'us-east-1');
      return m;
    };
    expect(failsWith(orphan(archive('fixed-archive')), archive('fixed-archive'), 'S', false)).toBe('fixed-archive already exists');
    const dynamic = { 'Fn::Join': ['-', ['fixed', { Ref: 'AWS::Region' }]] };
    expect(failsWith(orphan(archive(dynamic)), archive(dynamic))).toBe('fixed-us-east-1 already exists');
    const retained = orphan(archive('fixed-archive'));
    expect(failsWith(retained, archive('fixed-archive', 'Delete'))).toBe('fixed-archive already exists');
    const owned = model();
    const other = owned.deploy({ stackName: 'Other', region: 'us-east-1', template: archive('fixed-archive') });
    expect(failsWith(owned, archive('fixed-archive'))).toBe(`fixed-archive already exists in stack ${other.stackId}`);
  });
});

