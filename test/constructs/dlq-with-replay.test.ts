import { App, CfnParameter, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { beforeAll, describe, expect, it } from 'vitest';
import { DlqWithReplay, IngestStage, type DlqWithReplayProps } from '../../constructs';
import { ENV } from '../../constructs/contract';
import { actionsOf, grantee, handlerEnv, policyStatements, TEST_ENV, testStack } from '../support/stacks';

function dlq(props: DlqWithReplayProps = {}, stack: Stack = testStack()): DlqWithReplay {
  return new DlqWithReplay(stack, 'Dlq', props);
}

function template(props: DlqWithReplayProps = {}): Template {
  const stack = testStack();
  dlq(props, stack);
  return Template.fromStack(stack);
}

const overflowBucket = (t: Template) => Object.entries(t.findResources('AWS::S3::Bucket')).find(([id]) => id.startsWith('DlqOverflow'))![1];
const logsBucket = (t: Template) => Object.entries(t.findResources('AWS::S3::Bucket')).find(([id]) => id.startsWith('DlqAccessLogs'))![1];

describe('DlqWithReplay defaults', () => {
  let t: Template;
  beforeAll(() => {
    t = template();
  });

  it('queue encryption defaults to the AWS managed key alias/aws/sqs', () => {
    t.hasResourceProperties('AWS::SQS::Queue', { KmsMasterKeyId: 'alias/aws/sqs' });
  });
  it('queue enforces TLS', () => {
    t.hasResourceProperties('AWS::SQS::QueuePolicy', {
      PolicyDocument: { Statement: [Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })] },
    });
  });
  it('retentionPeriod defaults to 14 days', () => t.hasResourceProperties('AWS::SQS::Queue', { MessageRetentionPeriod: 1_209_600 }));
  it('maxMessageBytes defaults to 262144', () => t.hasResourceProperties('AWS::SQS::Queue', { MaximumMessageSize: 262_144 }));
  it('removalPolicy defaults to the Phoenix DEAD_LETTERS policy, DESTROY, for the queue and both buckets', () => {
    t.hasResource('AWS::SQS::Queue', { DeletionPolicy: 'Delete', UpdateReplacePolicy: 'Delete' });
    expect(overflowBucket(t).DeletionPolicy).toBe('Delete');
    expect(logsBucket(t).DeletionPolicy).toBe('Delete');
  });
  it('empties both buckets on deletion by default', () => t.resourceCountIs('Custom::S3AutoDeleteObjects', 2));
  it('RETAIN keeps the queue and both buckets, and does not auto-delete objects', () => {
    const r = template({ removalPolicy: RemovalPolicy.RETAIN });
    r.hasResource('AWS::SQS::Queue', { DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
    expect(overflowBucket(r).DeletionPolicy).toBe('Retain');
    expect(logsBucket(r).DeletionPolicy).toBe('Retain');
    r.resourceCountIs('Custom::S3AutoDeleteObjects', 0);
  });
  it('overflow bucket encryption defaults to SSE-KMS with the AWS managed key', () => {
    expect(overflowBucket(t).Properties.BucketEncryption).toEqual({
      ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms' } }],
    });
  });
  it('overflow bucket blocks all public access and enforces bucket-owner object ownership', () => {
    expect(overflowBucket(t).Properties).toMatchObject({
      PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
      OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] },
    });
  });
  it('overflow bucket is versioned', () => expect(overflowBucket(t).Properties.VersioningConfiguration).toEqual({ Status: 'Enabled' }));
  it('overflowExpiration defaults to 30 days (noncurrent versions after 1 day)', () => {
    expect(overflowBucket(t).Properties.LifecycleConfiguration.Rules).toEqual([
      { ExpirationInDays: 30, NoncurrentVersionExpiration: { NoncurrentDays: 1 }, Status: 'Enabled' },
    ]);
  });
  it('overflow bucket enforces TLS', () => {
    const policy = Object.values(t.findResources('AWS::S3::BucketPolicy'))
      .find((p) => JSON.stringify(p.Properties.Bucket).includes('DlqOverflow'))!;
    expect(policy.Properties.PolicyDocument.Statement).toEqual(expect.arrayContaining([
      expect.objectContaining({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
    ]));
  });
  it('serverAccessLogsBucket defaults to a created SSE-S3 bucket receiving logs through a bucket policy', () => {
    expect(overflowBucket(t).Properties.LoggingConfiguration).toEqual({
      DestinationBucketName: { Ref: expect.stringMatching(/^DlqAccessLogs/) }, LogFilePrefix: 'overflow/',
    });
    expect(logsBucket(t).Properties.BucketEncryption.ServerSideEncryptionConfiguration[0].ServerSideEncryptionByDefault).toEqual({ SSEAlgorithm: 'AES256' });
    expect(logsBucket(t).Properties.AccessControl).toBeUndefined();
    const policy = Object.values(t.findResources('AWS::S3::BucketPolicy'))
      .find((p) => JSON.stringify(p.Properties.Bucket).includes('DlqAccessLogs'))!;
    expect(JSON.stringify(policy)).toContain('logging.s3.amazonaws.com');
  });
  it('depthAlarmThreshold defaults to 1 visible message', () => {
    t.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Namespace: 'AWS/SQS',
      Statistic: 'Maximum',
      Period: 60,
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      TreatMissingData: 'notBreaching',
    });
  });
  it('oldestMessageAgeAlarmThreshold defaults to 1 day', () => {
    t.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'ApproximateAgeOfOldestMessage', Statistic: 'Maximum', Threshold: 86_400, ComparisonOperator: 'GreaterThanOrEqualToThreshold',
    });
  });
  it('alarmTopic defaults to none (no alarm actions)', () => {
    for (const alarm of Object.values(t.findResources('AWS::CloudWatch::Alarm'))) {
      expect(alarm.Properties.AlarmActions).toBeUndefined();
    }
  });
});

describe('DlqWithReplay options', () => {
  it('uses a customer key for the queue and the overflow bucket', () => {
    const stack = testStack();
    dlq({ encryptionKey: new kms.Key(stack, 'Key') }, stack);
    const t = Template.fromStack(stack);
    t.hasResourceProperties('AWS::SQS::Queue', { KmsMasterKeyId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^Key'), 'Arn'] } });
    expect(overflowBucket(t).Properties.BucketEncryption.ServerSideEncryptionConfiguration[0]).toEqual({
      BucketKeyEnabled: true,
      ServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: { 'Fn::GetAtt': [expect.stringMatching(/^Key/), 'Arn'] } },
    });
  });
  it('DESTROY removes the queue and empties the buckets', () => {
    const t = template({ removalPolicy: RemovalPolicy.DESTROY });
    t.hasResource('AWS::SQS::Queue', { DeletionPolicy: 'Delete' });
    expect(overflowBucket(t).DeletionPolicy).toBe('Delete');
    t.resourceCountIs('Custom::S3AutoDeleteObjects', 2);
  });
  it('notifies the alarm topic from both alarms', () => {
    const stack = testStack();
    dlq({ alarmTopic: new sns.Topic(stack, 'Topic') }, stack);
    const alarms = Object.values(Template.fromStack(stack).findResources('AWS::CloudWatch::Alarm'));
    expect(alarms).toHaveLength(2);
    for (const alarm of alarms) {
      expect(alarm.Properties.AlarmActions).toEqual([{ Ref: expect.stringMatching(/^Topic/) }]);
    }
  });
  it('uses given thresholds, retention and expiration', () => {
    const t = template({
      depthAlarmThreshold: 50,
      oldestMessageAgeAlarmThreshold: Duration.hours(2),
      retentionPeriod: Duration.days(4),
      overflowExpiration: Duration.days(4),
      maxMessageBytes: 1_048_576,
    });
    t.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'ApproximateNumberOfMessagesVisible', Threshold: 50 });
    t.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'ApproximateAgeOfOldestMessage', Threshold: 7200 });
    t.hasResourceProperties('AWS::SQS::Queue', { MessageRetentionPeriod: 345_600, MaximumMessageSize: 1_048_576 });
    expect(overflowBucket(t).Properties.LifecycleConfiguration.Rules[0].ExpirationInDays).toBe(4);
  });
  it('logs to a given access log bucket and creates none', () => {
    const stack = testStack();
    const logs = s3.Bucket.fromBucketName(stack, 'Logs', 'central-access-logs');
    const d = dlq({ serverAccessLogsBucket: logs }, stack);
    const t = Template.fromStack(stack);
    t.resourceCountIs('AWS::S3::Bucket', 1);
    expect(overflowBucket(t).Properties.LoggingConfiguration.DestinationBucketName).toBe('central-access-logs');
    expect(d.serverAccessLogsBucket).toBe(logs);
  });
  it('uses bucket-policy log delivery even when the app disables the feature flag', () => {
    const app = new App({ context: { '@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy': false } });
    const stack = new Stack(app, 'S', { env: TEST_ENV });
    dlq({}, stack);
    expect(logsBucket(Template.fromStack(stack)).Properties.AccessControl).toBeUndefined();
  });
  it('accepts tokens for thresholds', () => {
    const stack = testStack();
    const depth = new CfnParameter(stack, 'Depth', { type: 'Number', default: 5 });
    dlq({ depthAlarmThreshold: depth.valueAsNumber, maxMessageBytes: new CfnParameter(stack, 'Max', { type: 'Number' }).valueAsNumber }, stack);
    const t = Template.fromStack(stack);
    t.hasResourceProperties('AWS::CloudWatch::Alarm', { Threshold: { Ref: 'Depth' } });
    t.hasResourceProperties('AWS::SQS::Queue', { MaximumMessageSize: { Ref: 'Max' } });
  });
  it('keeps its construct ids (part of the contract: logical ids derive from them)', () => {
    const d = dlq();
    expect(d.node.children.map((c) => c.node.id)).toEqual(['Queue', 'AccessLogs', 'Overflow', 'DepthAlarm', 'OldestMessageAgeAlarm']);
  });
});

describe('DlqWithReplay grants and metrics', () => {
  it('grantSend grants SendMessage on the queue and PutObject on dlq-payloads/* only', () => {
    const stack = testStack();
    const writer = grantee(stack, 'Writer');
    const d = dlq({}, stack);
    expect(d.grantSend(writer).success).toBe(true);
    const statements = policyStatements(Template.fromStack(stack));
    expect(statements.map((s) => [actionsOf(s), s.Resource])).toEqual([
      [['sqs:SendMessage', 'sqs:GetQueueAttributes', 'sqs:GetQueueUrl'], { 'Fn::GetAtt': [expect.stringMatching(/^DlqQueue/), 'Arn'] }],
      [['s3:PutObject'], { 'Fn::Join': ['', [{ 'Fn::GetAtt': [expect.stringMatching(/^DlqOverflow/), 'Arn'] }, '/dlq-payloads/*']] }],
    ]);
  });
  it('grantSend grants the customer key', () => {
    const stack = testStack();
    const d = dlq({ encryptionKey: new kms.Key(stack, 'Key') }, stack);
    d.grantSend(grantee(stack, 'Writer'));
    expect(policyStatements(Template.fromStack(stack)).flatMap(actionsOf)).toEqual(expect.arrayContaining(['kms:Encrypt', 'kms:GenerateDataKey*']));
  });
  it('grantConsume grants receive/delete on the queue and read on the overflow bucket', () => {
    const stack = testStack();
    const d = dlq({}, stack);
    d.grantConsume(grantee(stack, 'Replayer'));
    const actions = policyStatements(Template.fromStack(stack)).flatMap(actionsOf);
    expect(actions).toEqual(expect.arrayContaining(['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:ChangeMessageVisibility', 's3:GetObject*', 's3:List*']));
    expect(actions.filter((a) => a.startsWith('s3:Put') || a.startsWith('s3:Delete') || a === 'sqs:SendMessage')).toEqual([]);
  });
  it('metricDepth is ApproximateNumberOfMessagesVisible, Maximum over 1 minute', () => {
    const m = dlq().metricDepth();
    expect([m.namespace, m.metricName, m.statistic, m.period.toSeconds()]).toEqual(['AWS/SQS', 'ApproximateNumberOfMessagesVisible', 'Maximum', 60]);
  });
  it('metricOldestAge is ApproximateAgeOfOldestMessage, Maximum over 1 minute', () => {
    const m = dlq().metricOldestAge({ period: Duration.minutes(5) });
    expect([m.namespace, m.metricName, m.statistic, m.period.toSeconds()]).toEqual(['AWS/SQS', 'ApproximateAgeOfOldestMessage', 'Maximum', 300]);
  });
});

describe('DlqWithReplay.fromDlqAttributes', () => {
  const queueArn = 'arn:aws:sqs:eu-west-1:123456789012:shared-dlq';
  function imported(stack: Stack, maxMessageBytes?: number) {
    return DlqWithReplay.fromDlqAttributes(stack, 'Shared', {
      queue: sqs.Queue.fromQueueArn(stack, 'Q', queueArn),
      overflowBucket: s3.Bucket.fromBucketName(stack, 'B', 'shared-dlq-overflow'),
      maxMessageBytes,
    });
  }

  it('serves an ingest stage: environment and grants point at the imported queue and bucket, nothing is created', () => {
    const stack = testStack();
    new IngestStage(stack, 'Ingest', { pipelineName: 'orders', deadLetters: imported(stack, 1_048_576) });
    const t = Template.fromStack(stack);
    t.resourceCountIs('AWS::SQS::Queue', 0);
    expect(handlerEnv(t)).toMatchObject({
      [ENV.dlqUrl]: { 'Fn::Join': ['', ['https://sqs.eu-west-1.', { Ref: 'AWS::URLSuffix' }, '/123456789012/shared-dlq']] },
      [ENV.dlqOverflowBucket]: 'shared-dlq-overflow',
      [ENV.dlqMaxMessageBytes]: '1048576',
    });
    const statements = policyStatements(t);
    expect(statements.find((s) => actionsOf(s).includes('sqs:SendMessage'))?.Resource).toBe(queueArn);
    expect(statements.find((s) => JSON.stringify(s.Resource).includes('shared-dlq-overflow/dlq-payloads/*'))?.Action).toBe('s3:PutObject');
    t.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      DestinationConfig: { OnFailure: { Destination: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':s3:::shared-dlq-overflow']] } } },
    });
  });
  it('maxMessageBytes defaults to 262144 and the prefix is dlq-payloads/', () => {
    const d = imported(testStack());
    expect([d.maxMessageBytes, d.overflowPrefix]).toEqual([262_144, 'dlq-payloads/']);
  });
  it('grantConsume grants receive on the imported queue', () => {
    const stack = testStack();
    imported(stack).grantConsume(grantee(stack, 'Replayer'));
    expect(policyStatements(Template.fromStack(stack)).find((s) => actionsOf(s).includes('sqs:ReceiveMessage'))?.Resource).toBe(queueArn);
  });
  it('fails when maxMessageBytes is above 1 MiB', () => {
    expect(() => imported(testStack(), 2_000_000)).toThrow(/maxMessageBytes must be an integer between 4096 and 1048576 \(given 2000000\)/);
  });
});

describe('DlqWithReplay validation', () => {
  const cases: Array<[string, DlqWithReplayProps, RegExp]> = [
    ['retentionPeriod is above 14 days', { retentionPeriod: Duration.days(15), overflowExpiration: Duration.days(30) }, /^DlqWithReplay at Test\/Dlq: retentionPeriod must be .*between 60 and 1209600 seconds \(given 15 days\)/],
    ['retentionPeriod is below 1 minute', { retentionPeriod: Duration.seconds(30), oldestMessageAgeAlarmThreshold: Duration.seconds(60) }, /retentionPeriod .*\(given 30 seconds\)/],
    ['maxMessageBytes is below 4 KiB', { maxMessageBytes: 1024 }, /maxMessageBytes .*\(given 1024\)/],
    ['maxMessageBytes is above 1 MiB', { maxMessageBytes: 2_000_000 }, /maxMessageBytes must be an integer between 4096 and 1048576 \(given 2000000\)/],
    ['depthAlarmThreshold is 0', { depthAlarmThreshold: 0 }, /depthAlarmThreshold must be an integer between 1 and 1000000000 \(given 0\)/],
    ['oldestMessageAgeAlarmThreshold is below 1 minute', { oldestMessageAgeAlarmThreshold: Duration.seconds(10) }, /oldestMessageAgeAlarmThreshold .*\(given 10 seconds\)/],
    ['oldestMessageAgeAlarmThreshold exceeds the retention', { retentionPeriod: Duration.days(2), oldestMessageAgeAlarmThreshold: Duration.days(3) }, /oldestMessageAgeAlarmThreshold must not exceed retentionPeriod.*\(given 3 days, retentionPeriod 2 days\)/],
    ['overflowExpiration is shorter than the retention', { overflowExpiration: Duration.days(7) }, /overflowExpiration must be at least the queue retentionPeriod.*\(given 7 days, retentionPeriod 14 days\)/],
    ['overflowExpiration is not whole days', { overflowExpiration: Duration.hours(400) }, /overflowExpiration must be a whole number of days, at least 1 \(given 16 days 16 hours\)/],
  ];
  it.each(cases)('fails when %s', (_name, props, message) => {
    expect(() => dlq(props)).toThrow(message);
  });
});

describe('DlqWithReplay alarms without a topic', () => {
  it('warns at synth that they notify nobody; no warning with a topic', () => {
    const bare = testStack();
    dlq({}, bare);
    Annotations.fromStack(bare).hasWarning('*', Match.stringLikeRegexp('DlqWithReplay has no alarmTopic: its depth and oldest-age alarms notify nobody'));
    const withTopic = testStack();
    dlq({ alarmTopic: new sns.Topic(withTopic, 'T') }, withTopic);
    expect(Annotations.fromStack(withTopic).findWarning('*', Match.stringLikeRegexp('has no alarmTopic'))).toHaveLength(0);
    const alarms = Template.fromStack(withTopic).findResources('AWS::CloudWatch::Alarm');
    for (const a of Object.values(alarms)) expect(a.Properties.AlarmActions).toHaveLength(1);
  });
});
