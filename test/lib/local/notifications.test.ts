/**
 * S3 event notifications to SQS are sent as `s3.amazonaws.com` for the bucket, as S3 sends them: the queue policy and
 * the queue key's policy must allow it (`aws:SourceArn` the bucket, `aws:SourceAccount`). Removing either statement
 * makes the delivery fail as in AWS, counted as denied in the notification stats and the run's accessDenied.
 */
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { afterAll, describe, expect, it } from 'vitest';
import { liveChildren, handWrittenAssembly, removeDir, tempDir } from './support';
import { loadAssembly } from '../../../lib/local/assembly';
import { AsyncInvoker } from '../../../lib/local/async-invoke';
import { Lifecycle } from '../../../lib/local/lifecycle';
import { startNotifications, type NotificationStats } from '../../../lib/local/notifications';
import { provision } from '../../../lib/local/provision';
import { localAccountModel } from '../../../lib/local/run/context';
import { deployStack, PrincipalClients, queueUrlLookup, startServices } from '../../../lib/local/run/provision';
import { LocalStack } from '../../../lib/local/template/stack';

const ACCOUNT = '000000000000';
const BUCKET_ARN = { 'Fn::GetAtt': ['Uploads', 'Arn'] };
const S3_SOURCE = { ArnLike: { 'aws:SourceArn': BUCKET_ARN }, StringEquals: { 'aws:SourceAccount': ACCOUNT } };

/** What the CDK synthesizes for `bucket.addEventNotification(OBJECT_CREATED, new SqsDestination(queue))` on a KMS-encrypted queue. */
function template(o: { queueStatement: boolean; keyStatement: boolean }): Record<string, unknown> {
  const root = { AWS: `arn:aws:iam::${ACCOUNT}:root` };
  const keyStatements: unknown[] = [{ Effect: 'Allow', Principal: root, Action: 'kms:*', Resource: '*' }];
  if (o.keyStatement) {
    keyStatements.push({ Effect: 'Allow', Principal: { Service: 's3.amazonaws.com' }, Action: ['kms:GenerateDataKey*', 'kms:Decrypt'], Resource: '*' });
  }
  const queueStatements: unknown[] = [{
    Effect: 'Deny', Principal: { AWS: '*' }, Action: 'sqs:*', Resource: { 'Fn::GetAtt': ['Queue', 'Arn'] }, Condition: { Bool: { 'aws:SecureTransport': 'false' } },
  }];
  if (o.queueStatement) {
    queueStatements.push({
      Effect: 'Allow',
      Principal: { Service: 's3.amazonaws.com' },
      Action: ['sqs:SendMessage', 'sqs:GetQueueAttributes', 'sqs:GetQueueUrl'],
      Resource: { 'Fn::GetAtt': ['Queue', 'Arn'] },
      Condition: S3_SOURCE,
    });
  }
  return {
    Resources: {
      Key: { Type: 'AWS::KMS::Key', Properties: { KeyPolicy: { Version: '2012-10-17', Statement: keyStatements } } },
      Queue: { Type: 'AWS::SQS::Queue', Properties: { KmsMasterKeyId: { 'Fn::GetAtt': ['Key', 'Arn'] } } },
      QueuePolicy: {
        Type: 'AWS::SQS::QueuePolicy',
        Properties: { Queues: [{ Ref: 'Queue' }], PolicyDocument: { Version: '2012-10-17', Statement: queueStatements } },
      },
      Uploads: { Type: 'AWS::S3::Bucket' },
      UploadsNotifications: {
        Type: 'Custom::S3BucketNotifications',
        DependsOn: ['QueuePolicy'],
        Properties: {
          ServiceToken: `arn:aws:lambda:us-east-1:${ACCOUNT}:function:BucketNotificationsHandler`,
          BucketName: { Ref: 'Uploads' },
          NotificationConfiguration: { QueueConfigurations: [{ Events: ['s3:ObjectCreated:*'], QueueArn: { 'Fn::GetAtt': ['Queue', 'Arn'] } }] },
          Managed: true,
        },
      },
    },
  };
}

interface Outcome {
  stats: NotificationStats;
  denied: Record<string, number>;
  received: number;
}

/** Provisions the template with IAM on, puts one object as the operator, delivers its notification, reads the queue. */
async function deliverOne(t: Record<string, unknown>): Promise<Outcome> {
  const assemblyDir = handWrittenAssembly('Uploads', t);
  const runDir = tempDir('notify');
  const life = new Lifecycle();
  try {
    const [assembly] = loadAssembly(assemblyDir);
    const stack = new LocalStack('Uploads', assembly.template);
    deployStack(localAccountModel(), stack, (m) => new Error(m));
    const services = await startServices(stack, runDir, life, { iam: true });
    const provisioned = await provision(stack, assembly, services.clients, { onDemandShards: 1, runDir, log: () => undefined });
    const principals = new PrincipalClients(services, stack.region, life);
    const queueUrlForArn = queueUrlLookup(provisioned, (m) => new Error(m));
    const invoker = new AsyncInvoker(provisioned, services.clients, { log: () => undefined, queueUrlForArn });
    const notifications = startNotifications(provisioned, [], services.clients, invoker, {
      log: () => undefined,
      region: stack.region,
      account: stack.accountId,
      authz: services.authz,
      clientsOfBucket: (bucket) => principals.ofBucketNotifications(bucket),
      intervalMs: 60_000,
    });
    life.add('notifications', () => notifications.stop());
    const bucket = provisioned.buckets[0].name;
    await services.clients.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'in/a.json', Body: '{}' }));
    await notifications.flush();
    const res = await services.clients.sqs.send(new ReceiveMessageCommand({ QueueUrl: provisioned.queues[0].url, MaxNumberOfMessages: 10 }));
    const denied: Record<string, number> = {};
    for (const d of services.accessDenied) denied[`${d.principal} ${d.action} ${d.resource}`] = (denied[`${d.principal} ${d.action} ${d.resource}`] ?? 0) + 1;
    return { stats: notifications.stats.UploadsNotifications, denied, received: res.Messages?.length ?? 0 };
  } finally {
    await life.stopAll();
    removeDir(assemblyDir);
    removeDir(runDir);
  }
}

describe('S3 notifications to SQS under IAM enforcement', () => {
  afterAll(() => expect(liveChildren()).toEqual([]));

  it('are delivered as s3.amazonaws.com through the queue policy and the key policy', async () => {
    const o = await deliverOne(template({ queueStatement: true, keyStatement: true }));
    expect(o.stats).toMatchObject({ events: 1, delivered: 1, failed: 0, denied: 0 });
    expect(o.received).toBe(1);
    expect(o.denied).toEqual({});
  }, 60_000);

  it('are refused without the queue policy statement for S3, as SQS refuses them, and counted', async () => {
    const o = await deliverOne(template({ queueStatement: false, keyStatement: true }));
    expect(o.stats).toMatchObject({ events: 1, delivered: 0, failed: 1, denied: 1 });
    expect(o.received).toBe(0);
    expect(Object.keys(o.denied)).toEqual([expect.stringMatching(/^s3\.amazonaws\.com sqs:SendMessage arn:aws:sqs:us-east-1:000000000000:Uploads-Queue-/)]);
  }, 60_000);

  it('are refused without the key policy statement for S3 (the queue is encrypted with a customer managed key)', async () => {
    const o = await deliverOne(template({ queueStatement: true, keyStatement: false }));
    expect(o.stats).toMatchObject({ events: 1, delivered: 0, failed: 1, denied: 1 });
    expect(o.received).toBe(0);
    expect(Object.keys(o.denied)).toEqual([expect.stringMatching(/^s3\.amazonaws\.com kms:GenerateDataKey arn:aws:kms:us-east-1:000000000000:key\//)]);
  }, 60_000);
});
