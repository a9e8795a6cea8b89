import { RemovalPolicy, type Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as kinesis from 'aws-cdk-lib/aws-kinesis';
import { describe, expect, it } from 'vitest';
import { RawArchive, type RawArchiveProps } from '../../../constructs/replay';
import { thrownBy } from '../../support/errors';
import { actionsOf, testStack } from '../../support/stacks';

function archiveIn(stack: Stack, props: Partial<RawArchiveProps> = {}): Template {
  new RawArchive(stack, 'Archive', { stream: new kinesis.Stream(stack, 'Stream'), ...props });
  return Template.fromStack(stack);
}

/** Statements of the IAM policies attached to the role whose logical id starts with `rolePrefix`. */
function roleStatements(t: Template, rolePrefix: string): Array<Record<string, any>> {
  return Object.values(t.findResources('AWS::IAM::Policy'))
    .filter((p) => JSON.stringify(p.Properties.Roles).includes(rolePrefix))
    .flatMap((p) => p.Properties.PolicyDocument.Statement);
}

function bucketPolicyStatements(t: Template): Array<Record<string, any>> {
  const [policy] = Object.values(t.findResources('AWS::S3::BucketPolicy'))
    .filter((p) => JSON.stringify(p.Properties.Bucket).includes('ArchiveBucket') && !JSON.stringify(p.Properties.Bucket).includes('AccessLogs'));
  return policy.Properties.PolicyDocument.Statement;
}

describe('RawArchive least privilege', () => {
  it('Firehose writes the archive with a role that can list and put, never read, delete or lock objects', () => {
    const t = archiveIn(testStack());
    const actions = roleStatements(t, 'ArchiveDeliveryRole').flatMap(actionsOf).sort();
    expect(actions).toEqual([
      'lambda:GetFunctionConfiguration', 'lambda:InvokeFunction',
      'logs:CreateLogStream', 'logs:PutLogEvents',
      's3:AbortMultipartUpload', 's3:GetBucketLocation', 's3:ListBucket', 's3:ListBucketMultipartUploads', 's3:PutObject',
    ]);
    const puts = roleStatements(t, 'ArchiveDeliveryRole').find((s) => s.Sid === 'PutArchiveObjects')!;
    expect(JSON.stringify(puts.Resource)).toContain('/raw/*');
    expect(JSON.stringify(puts.Resource)).toContain('/errors/*');
    // The destination configuration uses that role, and no other role of the stack may touch the archive's objects.
    const [stream] = Object.values(t.findResources('AWS::KinesisFirehose::DeliveryStream'));
    expect(JSON.stringify(stream.Properties.ExtendedS3DestinationConfiguration.RoleARN)).toContain('ArchiveDeliveryRole');
    const others = Object.values(t.findResources('AWS::IAM::Policy')).flatMap((p) => p.Properties.PolicyDocument.Statement as Array<Record<string, any>>)
      .filter((s) => JSON.stringify(s.Resource ?? '').includes('ArchiveBucket') && actionsOf(s).some((a) => /Delete|Retention|LegalHold/.test(a)));
    expect(others).toEqual([]);
    // Firehose passes the account as external id: only this account's delivery streams assume the role.
    t.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: { Statement: [{ Action: 'sts:AssumeRole', Effect: 'Allow', Principal: { Service: 'firehose.amazonaws.com' }, Condition: { StringEquals: { 'sts:ExternalId': '123456789012' } } }] },
    });
  });

  it('a retained archive denies object-version deletion and lock changes to every principal', () => {
    const deny = bucketPolicyStatements(archiveIn(testStack())).find((s) => s.Sid === 'DenyArchiveVersionDeletion');
    expect(deny).toMatchObject({
      Effect: 'Deny',
      Principal: { AWS: '*' },
      Action: ['s3:DeleteObjectVersion', 's3:PutObjectRetention', 's3:PutObjectLegalHold', 's3:BypassGovernanceRetention'],
    });
    expect(deny!.Condition).toBeUndefined();
  });

  it('breakGlassPrincipalArn is the one exception; an archive destroyed with its stack has no deny (emptying it deletes versions)', () => {
    const breakGlass = 'arn:aws:iam::123456789012:role/BreakGlass';
    const deny = bucketPolicyStatements(archiveIn(testStack(), { breakGlassPrincipalArn: breakGlass })).find((s) => s.Sid === 'DenyArchiveVersionDeletion');
    expect(deny!.Condition).toEqual({ ArnNotEquals: { 'aws:PrincipalArn': breakGlass } });
    const destroyed = bucketPolicyStatements(archiveIn(testStack(), { removalPolicy: RemovalPolicy.DESTROY }));
    expect(destroyed.map((s) => s.Sid)).not.toContain('DenyArchiveVersionDeletion');
  });

  it('refuses a break-glass principal that is not an IAM or STS ARN, naming it', () => {
    const e = thrownBy(Error, () => archiveIn(testStack(), { breakGlassPrincipalArn: 'BreakGlass' }));
    expect(e.message).toBe("RawArchive at Test/Archive: breakGlassPrincipalArn must be an IAM or STS principal ARN such as 'arn:aws:iam::123456789012:role/BreakGlass' (given 'BreakGlass')");
  });
});
