/**
 * deployStack: the local environment's CloudFormation create, before anything is provisioned. An explicit name that
 * exists in the account fails with CloudFormation's message (dashboards account-wide, across regions; a retained bucket
 * outlives its stack); the stack then resolves nothing new.
 */
import { rmSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { runLocal } from '../../../../lib/local/run';
import { localAccountModel } from '../../../../lib/local/run/context';
import { LocalRunError } from '../../../../lib/local/run/errors';
import { deployStack, physicalIds } from '../../../../lib/local/run/provision';
import { LocalStack } from '../../../../lib/local/template/stack';
import type { CfnTemplate } from '../../../../lib/local/template/types';
import { thrownBy } from '../../../support/errors';
import { handWrittenAssembly, runOptions } from '../support';

const fail = (m: string, cause: unknown): Error => new LocalRunError(m, { cause });
const where = { logicalId: 'X', type: 'AWS::Lambda::Function' };

function dashboard(name: string): CfnTemplate {
  return {
    Resources: {
      Stream: { Type: 'AWS::Kinesis::Stream', Properties: { ShardCount: 1 } },
      Dashboard: { Type: 'AWS::CloudWatch::Dashboard', Properties: { DashboardName: name, DashboardBody: '{}' } },
    },
  };
}

describe('deployStack', () => {
  it('gives the stack the physical ids of the model\'s deployment', () => {
    const model = localAccountModel();
    const s = new LocalStack('Demo', dashboard('ops'));
    const r = deployStack(model, s, fail);
    expect(r.status).toBe('CREATE_COMPLETE');
    const ids = physicalIds(model, s);
    expect([...ids.keys()].sort()).toEqual(['Dashboard', 'Stream']);
    expect(s.ref('Stream', where)).toBe(ids.get('Stream'));
    expect(s.ref('Dashboard', where)).toBe('ops');
    expect(s.stackId).toBe(r.stackId);
  });

  it('a dashboard name another stack has, in another region too, fails with CloudFormation\'s message', () => {
    const model = localAccountModel();
    model.deploy({ stackName: 'Other', region: 'eu-west-1', template: dashboard('ops') });
    const s = new LocalStack('Demo', dashboard('ops'));
    const before = s.ref('Stream', where);
    const e = thrownBy(LocalRunError, () => deployStack(model, s, fail));
    expect(e.message).toBe("stack Demo: ROLLBACK_COMPLETE (resource Dashboard): Resource of type 'AWS::CloudWatch::Dashboard' with identifier 'ops' already exists.");
    expect(s.ref('Stream', where)).toBe(before);
  });

  it('recreating a stack whose explicitly named bucket was retained fails: the bucket still exists, in no stack', () => {
    const model = localAccountModel();
    const template: CfnTemplate = { Resources: { Archive: { Type: 'AWS::S3::Bucket', Properties: { BucketName: 'archive' }, DeletionPolicy: 'Retain' } } };
    const s = new LocalStack('Demo', template);
    deployStack(model, s, fail);
    expect(model.destroy('Demo', 'us-east-1').orphaned).toEqual([{ logicalId: 'Archive', type: 'AWS::S3::Bucket', physicalId: 'archive' }]);
    expect(thrownBy(LocalRunError, () => deployStack(model, s, fail)).message).toBe('stack Demo: ROLLBACK_COMPLETE (resource Archive): archive already exists');
  });

  it('phoenix local run stops before starting anything when the template creates a name twice', async () => {
    const template = dashboard('ops');
    const dir = handWrittenAssembly('Twice', { Resources: { ...template.Resources, Again: template.Resources!.Dashboard } });
    const opts = runOptions(dir);
    try {
      await expect(runLocal(opts)).rejects.toThrow(new LocalRunError(
        "stack Twice: ROLLBACK_COMPLETE (resource Again): Resource of type 'AWS::CloudWatch::Dashboard' with identifier 'ops' already exists.",
      ));
    } finally {
      rmSync(dir, { recursive: true, force: true });
      rmSync(opts.runsDir!, { recursive: true, force: true });
    }
  }, 30_000);
});
