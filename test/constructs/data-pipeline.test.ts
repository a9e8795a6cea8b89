import { App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as kinesis from 'aws-cdk-lib/aws-kinesis';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sns from 'aws-cdk-lib/aws-sns';
import { describe, expect, it } from 'vitest';
import {
  CorrelatedMonitor, DataPipeline, DlqWithReplay, FailureNormalizer, IngestSink, QualityProfiler, QualityRuleKind, RawArchive, ReplayFunction,
  type DataPipelineProps,
} from '../../constructs';
import { ENV } from '../../constructs/contract';
import { actionsOf, handlerEnv, policyStatements, testStack, type FunctionEnv } from '../support/stacks';

const SCHEMA = {
  type: 'object',
  required: ['orderId'],
  properties: { orderId: { type: 'string' }, amount: { type: 'number' }, status: { type: 'string' } },
};
const QUALITY = {
  rules: [
    { name: 'volume', kind: QualityRuleKind.VOLUME },
    { name: 'orderId', kind: QualityRuleKind.COMPLETENESS, column: 'orderId' },
  ],
};
/** The replay function: the only one whose environment names a replay rate. */
const REPLAY = (env: FunctionEnv) => env.PHX_REPLAY_RATE !== undefined;
/** The failure normalizer: a stage, but no sink (the ingest processor has both). */
const NORMALIZER = (env: FunctionEnv) => env[ENV.stage] !== undefined && env[ENV.sinkKind] === undefined;
/** Outputs of a template by output id prefix (`Orders<name>`, `OrdersArchive<name>`). */
const outputOf = (t: Template, prefix: string) => Object.entries(t.findOutputs('*')).filter(([id]) => id.startsWith(prefix)).map(([, o]) => o);

/** The `Ref` of the one event source mapping whose logical id starts with `prefix`. */
function mappingRef(t: Template, prefix: string): { Ref: string } {
  const ids = Object.keys(t.findResources('AWS::Lambda::EventSourceMapping')).filter((id) => id.startsWith(prefix));
  expect(ids).toHaveLength(1);
  return { Ref: ids[0] };
}

/** `aws/lambda/<ESM UUID>/` as synthesized. */
const capturePrefix = (mapping: { Ref: string }) => ({ 'Fn::Join': ['', ['aws/lambda/', mapping, '/']] });

function pipeline(props: Partial<DataPipelineProps> = {}) {
  const stack = testStack();
  const p = new DataPipeline(stack, 'Orders', { pipelineName: 'orders', ...props });
  return { stack, p, t: Template.fromStack(stack) };
}

describe('DataPipeline', () => {
  it('sink defaults to a created DynamoDB table', () => {
    const { t, p } = pipeline();
    t.resourceCountIs('AWS::DynamoDB::Table', 1);
    expect(p.ingest.sinkConfig.kind).toBe('dynamodb');
  });
  it('wires the ingest stage with the pipeline name and its dead letters', () => {
    const { t, p } = pipeline();
    expect(handlerEnv(t)[ENV.pipeline]).toBe('orders');
    expect(p.deadLetters).toBe(p.ingest.deadLetters);
    expect(p.ingest.node.id).toBe('Ingest');
  });
  it('passes ingest options through', () => {
    const { t } = pipeline({ ingest: { batchSize: 250, keyFields: ['orderId'], stageName: 'raw' } });
    t.hasResourceProperties('AWS::Lambda::EventSourceMapping', { BatchSize: 250 });
    expect(handlerEnv(t)).toMatchObject({ [ENV.keyFields]: '["orderId"]', [ENV.stage]: 'raw' });
  });
  it('uses the given sink', () => {
    const stack = testStack();
    new DataPipeline(stack, 'Orders', { pipelineName: 'orders', sink: IngestSink.s3(s3.Bucket.fromBucketName(stack, 'Lake', 'orders-lake'), 'in/') });
    expect(handlerEnv(Template.fromStack(stack))).toMatchObject({ [ENV.sinkKind]: 's3', [ENV.sinkTarget]: 'orders-lake/in/' });
  });
  it('outputs stream, processor, dead letters, sink, archive, replay function and profile history for tooling, without export names', () => {
    const { t } = pipeline();
    const outputs = t.findOutputs('*');
    const byPrefix = (prefix: string) => Object.entries(outputs).find(([id]) => id.startsWith(`Orders${prefix}`))?.[1];
    expect(byPrefix('StreamName')?.Value).toEqual({ Ref: expect.stringMatching(/^OrdersIngestStream/) });
    expect(byPrefix('StreamArn')?.Value).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^OrdersIngestStream/), 'Arn'] });
    expect(byPrefix('ProcessorName')?.Value).toEqual({ Ref: expect.stringMatching(/^OrdersIngestProcessor/) });
    expect(byPrefix('DlqUrl')?.Value).toEqual({ Ref: expect.stringMatching(/^OrdersIngestDeadLettersQueue/) });
    expect(byPrefix('DlqOverflowBucket')?.Value).toEqual({ Ref: expect.stringMatching(/^OrdersIngestDeadLettersOverflow/) });
    expect(byPrefix('SinkKind')?.Value).toBe('dynamodb');
    expect(byPrefix('SinkTarget')?.Value).toEqual({ Ref: expect.stringMatching(/^OrdersIngestSinkTable/) });
    expect(byPrefix('ArchiveArchiveBucket')?.Value).toEqual({ Ref: expect.stringMatching(/^OrdersArchiveBucket/) });
    expect(byPrefix('ArchiveArchivePrefix')?.Value).toBe('raw/');
    expect(byPrefix('ReplayFunctionName')?.Value).toEqual({ Ref: expect.stringMatching(/^OrdersReplayFunction/) });
    expect(byPrefix('ProfileHistoryBucket')).toBeUndefined();
    for (const output of Object.values(outputs)) {
      expect(output.Export).toBeUndefined();
      // the tools (lib/replay/targets.ts) group outputs by this suffix
      expect(output.Description).toMatch(/ \(pipeline orders\)$/);
    }
  });
  it('outputs the profile history bucket with quality', () => {
    const { t } = pipeline({ quality: QUALITY });
    const [history] = outputOf(t, 'OrdersProfileHistoryBucket');
    expect(history.Value).toEqual({ Ref: expect.stringMatching(/^OrdersProfilerHistory/) });
    expect(history.Description).toMatch(/ \(pipeline orders\)$/);
  });

  it('archive (default true): a raw archive of the ingest stream, replayed by the replay function', () => {
    const { t, p } = pipeline();
    expect(p.archive).toBeInstanceOf(RawArchive);
    expect(p.archive!.node.id).toBe('Archive');
    t.resourceCountIs('AWS::KinesisFirehose::DeliveryStream', 1);
    t.hasResourceProperties('AWS::KinesisFirehose::DeliveryStream', {
      DeliveryStreamType: 'KinesisStreamAsSource',
      KinesisStreamSourceConfiguration: { KinesisStreamARN: { 'Fn::GetAtt': [Match.stringLikeRegexp('^OrdersIngestStream'), 'Arn'] } },
    });
    expect(handlerEnv(t, REPLAY)).toMatchObject({
      PHX_REPLAY_ARCHIVE_BUCKET: { Ref: expect.stringMatching(/^OrdersArchiveBucket/) },
      PHX_REPLAY_ARCHIVE_PREFIX: 'raw/',
    });
  });

  it('archive false: no archive, no archive outputs, the replay function replays dead letters only', () => {
    const { t, p } = pipeline({ archive: false });
    expect(p.archive).toBeUndefined();
    t.resourceCountIs('AWS::KinesisFirehose::DeliveryStream', 0);
    expect(outputOf(t, 'OrdersArchive')).toEqual([]);
    const env = handlerEnv(t, REPLAY);
    expect(env.PHX_REPLAY_ARCHIVE_BUCKET).toBeUndefined();
    expect(env.PHX_REPLAY_QUEUE_URL).toEqual({ Ref: expect.stringMatching(/^OrdersIngestDeadLettersQueue/) });
  });

  it('replayFunction (default true): one replay at a time, from the dead letters and the archive, onto the ingest stream', () => {
    const { t, p } = pipeline();
    expect(p.replay).toBeInstanceOf(ReplayFunction);
    expect(handlerEnv(t, REPLAY).PHX_REPLAY_QUEUE_URL).toEqual({ Ref: expect.stringMatching(/^OrdersIngestDeadLettersQueue/) });
    t.hasResourceProperties('AWS::Lambda::Function', { ReservedConcurrentExecutions: 1, Environment: { Variables: Match.objectLike({ PHX_REPLAY_RATE: '500' }) } });
  });

  it('replayFunction false: no replay function and no ReplayFunctionName output', () => {
    const { t, p } = pipeline({ replayFunction: false });
    expect(p.replay).toBeUndefined();
    expect(() => handlerEnv(t, REPLAY)).toThrow(/found 0/);
    expect(outputOf(t, 'OrdersReplayFunctionName')).toEqual([]);
  });

  it('archive and replayFunction false: the ingest stage and the failure normalizer only', () => {
    const { t } = pipeline({ archive: false, replayFunction: false });
    // the processor and the normalizer (plus CDK's stack-wide helpers: notifications handler, auto-delete provider)
    expect(Object.keys(t.findResources('AWS::Lambda::Function')).filter((id) => id.startsWith('Orders')).sort())
      .toEqual([expect.stringMatching(/^OrdersFailureNormalizerFunction/), expect.stringMatching(/^OrdersIngestProcessor/)]);
  });

  it('a failure normalizer turns the on-failure batches of its own mapping into DLQ messages with the stage ids', () => {
    const { t, p } = pipeline({ ingest: { keyFields: ['orderId'], stageName: 'raw' } });
    expect(p.failureNormalizer).toBeInstanceOf(FailureNormalizer);
    const mapping = mappingRef(t, 'OrdersIngest');
    expect(handlerEnv(t, NORMALIZER)).toMatchObject({
      [ENV.pipeline]: 'orders', [ENV.stage]: 'raw', [ENV.keyFields]: '["orderId"]', [ENV.onFailurePrefix]: capturePrefix(mapping),
    });
    t.hasResourceProperties('Custom::S3BucketNotifications', {
      NotificationConfiguration: { LambdaFunctionConfigurations: [Match.objectLike({ Filter: { Key: { FilterRules: [{ Name: 'prefix', Value: capturePrefix(mapping) }] } } })] },
    });
  });

  it('shared dead letters: each pipeline normalizes its own mapping\'s captures with its own name and key fields', () => {
    const stack = testStack();
    const owner = new DataPipeline(stack, 'Owner', { pipelineName: 'owner', ingest: { keyFields: ['orderId'] } });
    const shared = new DataPipeline(stack, 'Shared', { pipelineName: 'shared', ingest: { deadLetters: owner.deadLetters, keyFields: ['userId', 'seq'] } });
    expect(shared.failureNormalizer).not.toBe(owner.failureNormalizer);
    expect(shared.failureAlarms).toEqual(expect.arrayContaining(shared.failureNormalizer.alarms));
    const t = Template.fromStack(stack);
    const [ownerMapping, sharedMapping] = [mappingRef(t, 'OwnerIngest'), mappingRef(t, 'SharedIngest')];
    const envOf = (pipelineName: string) => handlerEnv(t, (env) => NORMALIZER(env) && env[ENV.pipeline] === pipelineName);
    expect(envOf('owner')).toMatchObject({ [ENV.keyFields]: '["orderId"]', [ENV.onFailurePrefix]: capturePrefix(ownerMapping) });
    expect(envOf('shared')).toMatchObject({ [ENV.keyFields]: '["userId","seq"]', [ENV.onFailurePrefix]: capturePrefix(sharedMapping) });
    // One notification resource for the bucket, one configuration per mapping, non-overlapping prefixes.
    const [notifications] = Object.values(t.findResources('Custom::S3BucketNotifications'));
    const prefixes = notifications.Properties.NotificationConfiguration.LambdaFunctionConfigurations
      .map((c: any) => c.Filter.Key.FilterRules[0].Value);
    expect(prefixes).toEqual([capturePrefix(ownerMapping), capturePrefix(sharedMapping)]);
    // Each normalizer reads only its own mapping's captures.
    const reads = policyStatements(t).filter((st) => actionsOf(st).includes('s3:GetObject') && JSON.stringify(st.Resource).includes('aws/lambda/'));
    expect(reads.map((st) => JSON.stringify(st.Resource))).toEqual([
      expect.stringContaining(JSON.stringify(ownerMapping)), expect.stringContaining(JSON.stringify(sharedMapping)),
    ]);
  });

  it('dead letters of another stack fail at synth (the bucket notification would make the stacks depend on each other)', () => {
    const app = new App();
    const [s1, s2] = ['S1', 'S2'].map((id) => new Stack(app, id, { env: { account: '123456789012', region: 'us-east-2' } }));
    const owner = new DataPipeline(s1, 'Owner', { pipelineName: 'owner' });
    expect(() => new DataPipeline(s2, 'Shared', { pipelineName: 'shared', ingest: { deadLetters: owner.deadLetters } })).toThrow(
      'FailureNormalizer at S2/Shared/FailureNormalizer: its dead letters\' overflow bucket (S1/Owner/Ingest/DeadLetters/Overflow) is in stack S1, another stack than S2: '
      + 'the bucket\'s S3 notification to this normalizer would make each stack depend on the other (given dead letters of another stack; allowed: dead letters of the same stack, or one DlqWithReplay per stack)');
  });

  it('a second normalizer on overlapping capture prefixes of one bucket fails at synth, naming both', () => {
    const stack = testStack();
    const owner = new DataPipeline(stack, 'Owner', { pipelineName: 'owner' });
    const props = { deadLetters: owner.deadLetters, stream: owner.ingest.stream, pipelineName: 'other' };
    expect(() => new FailureNormalizer(stack, 'Whole', props)).toThrow(
      /^FailureNormalizer at Test\/Whole: the on-failure captures of its dead letters are already normalized by Test\/Owner\/FailureNormalizer: .*given 'aws\/lambda\/' \(no eventSourceMappingId\), overlapping 'aws\/lambda\/<eventSourceMappingId>\/'/);
    expect(() => new FailureNormalizer(stack, 'Same', { ...props, eventSourceMappingId: owner.ingest.eventSourceMappingId })).toThrow(/already normalized by Test\/Owner\/FailureNormalizer/);
  });

  it('quality: a profiler of the ingest stream with the ingest schema and the pipeline\'s alarm topic', () => {
    const stack = testStack();
    const topic = new sns.Topic(stack, 'Topic');
    const p = new DataPipeline(stack, 'Orders', { pipelineName: 'orders', alarmTopic: topic, ingest: { schema: SCHEMA }, quality: QUALITY });
    const t = Template.fromStack(stack);
    expect(p.profiler).toBeInstanceOf(QualityProfiler);
    expect(p.profiler!.alarmTopic).toBe(topic);
    expect(p.profiler!.pipelineName).toBe('orders');
    expect(p.profiler!.rules).toEqual(QUALITY.rules);
    // the profiler is one more consumer of the ingest stream, through an enhanced fan-out consumer of its own
    t.hasResourceProperties('AWS::Kinesis::StreamConsumer', {
      StreamARN: { 'Fn::GetAtt': [Match.stringLikeRegexp('^OrdersIngestStream'), 'Arn'] },
      ConsumerName: Match.stringLikeRegexp('^Test-Orders-Profiler-[0-9A-F]{8}$'),
    });
    t.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^OrdersProfilerStreamConsumer'), 'ConsumerARN'] },
      FunctionName: { Ref: Match.stringLikeRegexp('^OrdersProfiler') },
      TumblingWindowInSeconds: 300,
    });
    // its alarms notify the pipeline's topic: no topic or key of its own
    for (const id of ['OrdersProfilerFailAlarm', 'OrdersProfilerWarnAlarm']) {
      const [alarm] = Object.entries(t.findResources('AWS::CloudWatch::Alarm')).filter(([k]) => k.startsWith(id)).map(([, a]) => a);
      expect(alarm.Properties.AlarmActions).toEqual([{ Ref: expect.stringMatching(/^Topic/) }]);
    }
    t.resourceCountIs('AWS::SNS::Topic', 1);
    t.resourceCountIs('AWS::KMS::Key', 0);
  });

  it('quality: rules are checked against the ingest schema (a column it does not declare fails the synth)', () => {
    const rules = [{ name: 'customer', kind: QualityRuleKind.COMPLETENESS, column: 'customerId' }];
    expect(() => pipeline({ ingest: { schema: SCHEMA }, quality: { rules } })).toThrow(/^QualityProfiler at Test\/Orders\/Profiler: rules are invalid[\s\S]*customerId/);
    // without a schema on either side, columns are not checked
    expect(() => pipeline({ quality: { rules } })).not.toThrow();
  });

  it('quality: its own schema and alarm topic win over the pipeline\'s', () => {
    const stack = testStack();
    const topic = new sns.Topic(stack, 'Topic');
    const own = new sns.Topic(stack, 'QualityTopic');
    const rules = [{ name: 'customer', kind: QualityRuleKind.COMPLETENESS, column: 'customerId' }];
    const p = new DataPipeline(stack, 'Orders', {
      pipelineName: 'orders',
      alarmTopic: topic,
      ingest: { schema: SCHEMA },
      quality: { rules, alarmTopic: own, schema: { type: 'object', properties: { customerId: { type: 'string' } } } },
    });
    expect(p.profiler!.alarmTopic).toBe(own);
  });

  it('no profiler without quality', () => {
    const { t, p } = pipeline();
    expect(p.profiler).toBeUndefined();
    t.resourceCountIs('AWS::Lambda::EventSourceMapping', 1);
  });

  it('is a monitorable pipeline: its stages are the ingest stage, and a monitor takes the pipeline itself', () => {
    const stack = testStack();
    const p = new DataPipeline(stack, 'Orders', { pipelineName: 'orders', quality: QUALITY });
    expect(p.stages).toEqual([p.ingest]);
    expect(p.ingest.keyFields).toEqual([]);
    const monitor = new CorrelatedMonitor(stack, 'Monitor', { pipeline: p });
    p.profiler!.addToMonitor(monitor);
    const t = Template.fromStack(stack);
    t.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'IteratorAge',
      Dimensions: [{ Name: 'FunctionName', Value: { Ref: Match.stringLikeRegexp('^OrdersIngestProcessor') } }],
    });
    t.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'QualityFailures', Dimensions: [{ Name: 'Deployment', Value: 'Test-eu-west-1' }, { Name: 'Pipeline', Value: 'orders' }] });
  });

  it('has no SinkTarget output with IngestSink.none()', () => {
    const { t } = pipeline({ sink: IngestSink.none() });
    expect(Object.keys(t.findOutputs('*')).some((id) => id.startsWith('OrdersSinkTarget'))).toBe(false);
  });
  it('alarmTopic reaches the dead-letter alarms and the failure alarms of the normalizer, the archive and the replay function', () => {
    const stack = testStack();
    const topic = new sns.Topic(stack, 'Topic');
    const p = new DataPipeline(stack, 'Orders', { pipelineName: 'orders', alarmTopic: topic, ingest: { deadLetterProps: { depthAlarmThreshold: 5 } } });
    const alarms = Object.values(Template.fromStack(stack).findResources('AWS::CloudWatch::Alarm'));
    expect(alarms).toHaveLength(2 + p.failureAlarms!.length);
    expect(p.failureAlarms).toHaveLength(5 + 4 + 1);
    for (const alarm of alarms) expect(alarm.Properties.AlarmActions).toEqual([{ Ref: expect.stringMatching(/^Topic/) }]);
    expect(alarms[0].Properties.Threshold).toBe(5);
    expect(p.alarmTopic).toBe(topic);
  });
  it('accepts an imported stream through ingest options', () => {
    const stack = testStack();
    const arn = 'arn:aws:kinesis:eu-west-1:123456789012:stream/orders';
    new DataPipeline(stack, 'Orders', { pipelineName: 'orders', ingest: { stream: kinesis.Stream.fromStreamArn(stack, 'S', arn) } });
    Template.fromStack(stack).resourceCountIs('AWS::Kinesis::Stream', 0);
  });

  it.each(['', 'orders pipeline', 'x'.repeat(65), 'orders.v2'])('fails when pipelineName is %j', (name) => {
    expect(() => pipeline({ pipelineName: name })).toThrow(/^DataPipeline at Test\/Orders: pipelineName must be 1-64 characters of A-Z, a-z, 0-9, '-' and '_' \(given '.*'\)/);
  });
  it('fails at synth for a second pipeline of the same pipelineName in one stack, naming both construct paths', () => {
    const stack = testStack();
    new DataPipeline(stack, 'Orders', { pipelineName: 'orders' });
    expect(() => new DataPipeline(stack, 'OrdersAgain', { pipelineName: 'orders' }))
      .toThrow(/Test\/OrdersAgain.*pipelineName 'orders' is already the name of pipeline Test\/Orders in stack Test/);
    // another name in the same stack, and the same name in another stack, are fine
    new DataPipeline(stack, 'Refunds', { pipelineName: 'refunds', archive: false });
    new DataPipeline(testStack(), 'Orders', { pipelineName: 'orders', archive: false });
  });

  it('fails when alarmTopic is combined with given dead letters', () => {
    const stack = testStack();
    const deadLetters = new DlqWithReplay(stack, 'Dlq');
    expect(() => new DataPipeline(stack, 'Orders', { pipelineName: 'orders', alarmTopic: new sns.Topic(stack, 'T'), ingest: { deadLetters } }))
      .toThrow(/^DataPipeline at Test\/Orders: alarmTopic cannot be combined with ingest.deadLetters \(given both\)/);
  });
  it('fails when alarmTopic is combined with deadLetterProps.alarmTopic', () => {
    const stack = testStack();
    const topic = new sns.Topic(stack, 'T');
    expect(() => new DataPipeline(stack, 'Orders', { pipelineName: 'orders', alarmTopic: topic, ingest: { deadLetterProps: { alarmTopic: topic } } }))
      .toThrow(/^DataPipeline at Test\/Orders: alarmTopic cannot be combined with ingest.deadLetterProps.alarmTopic \(given both\)/);
  });
});
