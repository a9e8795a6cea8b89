import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { App, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import { describe, expect, it } from 'vitest';
import { DataPipeline, IngestStage, type IDlqWithReplay } from '../../../constructs';
import { FailureNormalizer, RawArchive, ReplayFunction } from '../../../constructs/replay';
import { nagCheckedApp, nagFindings } from '../../support/examples';
import { TEST_ENV } from '../../support/stacks';

const outdir = (): string => fs.mkdtempSync(path.join(os.tmpdir(), 'phx-replay-'));

/**
 * The replay constructs on their own, around a bare ingest stage (a DataPipeline would add its own normalizer,
 * archive and replay function; these tests are about the constructs as a user composes them).
 */
function build(app: App): { stack: Stack; pipeline: { ingest: IngestStage; deadLetters: IDlqWithReplay }; archive: RawArchive } {
  const stack = new Stack(app, 'Replay', { env: TEST_ENV });
  // As in the example app: alarms notify an encrypted topic (the pipeline's own findings are not under test here).
  const key = new kms.Key(stack, 'AlarmKey', { enableKeyRotation: true });
  key.grant(new iam.ServicePrincipal('cloudwatch.amazonaws.com'), 'kms:Decrypt', 'kms:GenerateDataKey*');
  const alarmTopic = new sns.Topic(stack, 'Alarms', { masterKey: key, enforceSSL: true });
  const ingest = new IngestStage(stack, 'Orders', { pipelineName: 'orders', keyFields: ['orderId'], deadLetterProps: { alarmTopic } });
  const pipeline = { ingest, deadLetters: ingest.deadLetters };
  const archive = new RawArchive(stack, 'Archive', { stream: pipeline.ingest.stream, pipelineName: 'orders' });
  new FailureNormalizer(stack, 'Normalizer', { deadLetters: pipeline.deadLetters, stream: pipeline.ingest.stream, pipelineName: 'orders', keyFields: ['orderId'] });
  new ReplayFunction(stack, 'Replay', { streams: [pipeline.ingest.stream], deadLetters: pipeline.deadLetters, archiveBucket: archive.bucket });
  return { stack, pipeline, archive };
}

describe('replay constructs', () => {
  it('synthesize with zero unacknowledged findings of the five cdk-nag packs', () => {
    const app = nagCheckedApp();
    build(app);
    const text = nagFindings(app);
    // Only the rule ids, for a readable failure.
    expect([...new Set(text.match(/(AwsSolutions|Serverless|NIST\.800\.53\.R5|HIPAA\.Security|PCI\.DSS\.321)-[A-Za-z0-9]+(\[[^\]]*\])?/g) ?? [])]).toEqual([]);
    expect(text).toBe('');
  });

  it('RawArchive: retained, encrypted, private, versioned bucket; GZIP, hourly date prefixes, error prefix, framer processor', () => {
    const app = new App({ outdir: outdir() });
    const { stack } = build(app);
    const t = Template.fromStack(stack);
    t.hasResource('AWS::S3::Bucket', {
      DeletionPolicy: 'Retain',
      Properties: Match.objectLike({
        VersioningConfiguration: { Status: 'Enabled' },
        PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
        BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms' } }] },
        LoggingConfiguration: Match.objectLike({ LogFilePrefix: 'archive/' }),
      }),
    });
    t.hasResourceProperties('AWS::KinesisFirehose::DeliveryStream', {
      DeliveryStreamType: 'KinesisStreamAsSource',
      ExtendedS3DestinationConfiguration: Match.objectLike({
        CompressionFormat: 'GZIP',
        Prefix: 'raw/!{timestamp:yyyy}/!{timestamp:MM}/!{timestamp:dd}/!{timestamp:HH}/',
        ErrorOutputPrefix: 'errors/!{firehose:error-output-type}/!{timestamp:yyyy}/!{timestamp:MM}/!{timestamp:dd}/!{timestamp:HH}/',
        ProcessingConfiguration: Match.objectLike({ Enabled: true, Processors: [Match.objectLike({ Type: 'Lambda' })] }),
      }),
    });
    t.hasResourceProperties('AWS::Lambda::Function', { Handler: 'index.archiveFramer', Runtime: 'nodejs22.x' });
    const outputs = Object.values(t.toJSON().Outputs as Record<string, { Description: string }>).map((o) => o.Description);
    expect(outputs).toContain('Raw archive bucket (pipeline orders)');
    // A DESTROY policy empties the archive bucket and its access-log bucket on deletion; the default keeps them.
    const autoDeletes = (policy?: RemovalPolicy): number => {
      const a = new App({ outdir: outdir() });
      const s = new Stack(a, 'S', { env: TEST_ENV });
      const p = new DataPipeline(s, 'P', { pipelineName: 'p', archive: false });
      new RawArchive(s, 'A', { stream: p.ingest.stream, removalPolicy: policy });
      return Object.keys(Template.fromStack(s).findResources('Custom::S3AutoDeleteObjects')).length;
    };
    expect(autoDeletes(RemovalPolicy.DESTROY) - autoDeletes()).toBe(2);
    const s2 = new Stack(new App({ outdir: outdir() }), 'S2', { env: TEST_ENV });
    const p2 = new DataPipeline(s2, 'P', { pipelineName: 'p' });
    expect(() => new RawArchive(s2, 'B', { stream: p2.ingest.stream, prefix: 'no-slash' })).toThrow(/prefix must be/);
  });

  it('FailureNormalizer: notified on aws/lambda/ only; reads only there; sends DLQ messages; ids from the stage key fields', () => {
    const app = new App({ outdir: outdir() });
    const { stack } = build(app);
    const t = Template.fromStack(stack);
    t.hasResourceProperties('Custom::S3BucketNotifications', {
      NotificationConfiguration: {
        LambdaFunctionConfigurations: [Match.objectLike({ Events: ['s3:ObjectCreated:*'], Filter: { Key: { FilterRules: [{ Name: 'prefix', Value: 'aws/lambda/' }] } } })],
      },
    });
    const fns = t.findResources('AWS::Lambda::Function', { Properties: { Environment: { Variables: Match.objectLike({ PHX_KEY_FIELDS: '["orderId"]', PHX_STAGE: 'ingest' }) } } });
    const [normalizerId] = Object.keys(fns).filter((k) => k.startsWith('Normalizer'));
    expect(normalizerId).toBeDefined();
    const policy = Object.values(t.findResources('AWS::IAM::Policy')).find((p) => JSON.stringify(p.Properties.Roles).includes('NormalizerFunctionRole'))!;
    const statements = policy.Properties.PolicyDocument.Statement as Array<{ Action: string | string[]; Resource: unknown }>;
    const get = statements.find((s) => s.Action === 's3:GetObject')!;
    expect(JSON.stringify(get.Resource)).toContain('/aws/lambda/*');
    const actions = statements.flatMap((s) => (Array.isArray(s.Action) ? s.Action : [s.Action]));
    expect(actions).toContain('sqs:SendMessage');
    expect(actions).toContain('kinesis:GetRecords');
    expect(actions).not.toContain('sqs:DeleteMessage');
    expect(actions).not.toContain('s3:DeleteObject*');
  });

  it('ReplayFunction: least privilege, one replay at a time, validated props', () => {
    const app = new App({ outdir: outdir() });
    const { stack, pipeline } = build(app);
    const t = Template.fromStack(stack);
    t.hasResourceProperties('AWS::Lambda::Function', { Handler: 'index.handler', ReservedConcurrentExecutions: 1, Timeout: 900 });
    const policies = Object.entries(t.findResources('AWS::IAM::Policy')).filter(([, p]) => JSON.stringify(p.Properties.Roles).includes('ReplayFunctionRole'));
    const policy = policies.find(([id]) => id.includes('DefaultPolicy'))![1];
    const statements = policy.Properties.PolicyDocument.Statement as Array<{ Action: string | string[]; Resource: unknown; Condition?: unknown }>;
    const actions = statements.flatMap((s) => (Array.isArray(s.Action) ? s.Action : [s.Action])).sort();
    expect(actions).toEqual(expect.arrayContaining(['kinesis:PutRecords', 'kinesis:DescribeStreamSummary', 'sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:ChangeMessageVisibility', 's3:GetObject', 's3:ListBucket']));
    expect(actions.filter((a) => /^s3:(Put|Delete)|^kinesis:(GetRecords|Delete)|^sqs:SendMessage/.test(a))).toEqual([]);
    const gets = statements.filter((s) => s.Action === 's3:GetObject').map((s) => JSON.stringify(s.Resource));
    expect(gets.some((r) => r.includes(`/${pipeline.deadLetters.overflowPrefix}*`))).toBe(true);
    expect(gets.some((r) => r.includes('/raw/*'))).toBe(true);
    expect(statements.find((s) => s.Action === 's3:ListBucket')!.Condition).toEqual({ StringLike: { 's3:prefix': ['raw/*'] } });
    // A chained archive replay invokes the function itself: a policy of its own (no dependency cycle), on its ARN only.
    const [, invokeSelf] = policies.find(([id]) => id.includes('InvokeSelf'))!;
    const fnId = Object.keys(t.findResources('AWS::Lambda::Function')).find((id) => id.startsWith('ReplayFunction'))!;
    const arn = { 'Fn::GetAtt': [fnId, 'Arn'] };
    expect(invokeSelf.Properties.PolicyDocument.Statement).toEqual([{
      Action: 'lambda:InvokeFunction', Effect: 'Allow', Resource: [arn, { 'Fn::Join': ['', [arn, ':*']] }],
    }]);
    t.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'Errors', Dimensions: [{ Name: 'FunctionName', Value: { Ref: fnId } }], Threshold: 1 });
    expect(() => new ReplayFunction(stack, 'None', { streams: [pipeline.ingest.stream] })).toThrow(/needs deadLetters or archiveBucket/);
    expect(() => new ReplayFunction(stack, 'NoStream', { streams: [], deadLetters: pipeline.deadLetters })).toThrow(/at least one stream/);
  });
});
