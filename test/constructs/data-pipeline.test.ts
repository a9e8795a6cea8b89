import { Template } from 'aws-cdk-lib/assertions';
import * as kinesis from 'aws-cdk-lib/aws-kinesis';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sns from 'aws-cdk-lib/aws-sns';
import { describe, expect, it } from 'vitest';
import { DataPipeline, DlqWithReplay, IngestSink, type DataPipelineProps } from '../../constructs';
import { ENV } from '../../constructs/contract';
import { handlerEnv, testStack } from '../support/stacks';

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
  it('outputs stream, processor, dead letters and sink for tooling, without export names', () => {
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
    for (const output of Object.values(outputs)) {
      expect(output.Export).toBeUndefined();
      // the tools (lib/replay/targets.ts) group outputs by this suffix
      expect(output.Description).toMatch(/ \(pipeline orders\)$/);
    }
  });
  it('has no SinkTarget output with IngestSink.none()', () => {
    const { t } = pipeline({ sink: IngestSink.none() });
    expect(Object.keys(t.findOutputs('*')).some((id) => id.startsWith('OrdersSinkTarget'))).toBe(false);
  });
  it('alarmTopic reaches the dead-letter alarms', () => {
    const stack = testStack();
    const topic = new sns.Topic(stack, 'Topic');
    const p = new DataPipeline(stack, 'Orders', { pipelineName: 'orders', alarmTopic: topic, ingest: { deadLetterProps: { depthAlarmThreshold: 5 } } });
    const alarms = Object.values(Template.fromStack(stack).findResources('AWS::CloudWatch::Alarm'));
    expect(alarms.map((a) => a.Properties.AlarmActions)).toEqual([[{ Ref: expect.stringMatching(/^Topic/) }], [{ Ref: expect.stringMatching(/^Topic/) }]]);
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
    expect(() => pipeline({ pipelineName: name })).toThrow(/DataPipeline pipelineName must be 1-64 characters of A-Z, a-z, 0-9, '-' and '_' \(given '.*'\)/);
  });
  it('fails when alarmTopic is combined with given dead letters', () => {
    const stack = testStack();
    const deadLetters = new DlqWithReplay(stack, 'Dlq');
    expect(() => new DataPipeline(stack, 'Orders', { pipelineName: 'orders', alarmTopic: new sns.Topic(stack, 'T'), ingest: { deadLetters } }))
      .toThrow(/DataPipeline alarmTopic cannot be combined with ingest.deadLetters \(given both\)/);
  });
  it('fails when alarmTopic is combined with deadLetterProps.alarmTopic', () => {
    const stack = testStack();
    const topic = new sns.Topic(stack, 'T');
    expect(() => new DataPipeline(stack, 'Orders', { pipelineName: 'orders', alarmTopic: topic, ingest: { deadLetterProps: { alarmTopic: topic } } }))
      .toThrow(/DataPipeline alarmTopic cannot be combined with ingest.deadLetterProps.alarmTopic \(given both\)/);
  });
});
