import { Duration, type Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as kinesis from 'aws-cdk-lib/aws-kinesis';
import * as sns from 'aws-cdk-lib/aws-sns';
import { describe, expect, it } from 'vitest';
import { CorrelatedMonitor, DataPipeline, DataPipelineStack, SyntheticCanary } from '../../../../constructs';
import { ALARM_WITHOUT_ACTION, CANARY_WITHOUT_TOPIC } from '../../../../constructs/monitoring/private/alarm-coverage';
import { testStack } from '../../../support/stacks';

/** Warnings of id `id` on the synthesized stack (their messages). */
function warnings(stack: Stack, id: string): string[] {
  return Annotations.fromStack(stack).findWarning('*', Match.stringLikeRegexp(`\\[ack: ${id}\\]`))
    .map((w) => String(w.entry.data));
}

describe('alarm coverage check', () => {
  it('names every alarm of a pipeline with no topic and no monitor (normalizer, archive, dead letters)', () => {
    const stack = testStack();
    new DataPipeline(stack, 'Orders', { pipelineName: 'orders' });
    const named = warnings(stack, ALARM_WITHOUT_ACTION).join('\n');
    for (const alarm of ['FailureNormalizer/FailedEventsAlarm', 'FailureNormalizer/ErrorsAlarm', 'FailureNormalizer/DestinationDeliveryFailuresAlarm',
      'Archive/DataFreshnessAlarm', 'Archive/DeliverySuccessAlarm', 'Archive/ProcessingSuccessAlarm', 'DeadLetters/DepthAlarm']) {
      expect(named).toMatch(new RegExp(`alarm Test/Orders/[^ ]*${alarm}/Resource notifies nobody`));
    }
  });

  it('is silent once a monitor takes the pipeline: its composite lists the failure alarms and notifies', () => {
    const stack = testStack();
    const pipeline = new DataPipeline(stack, 'Orders', { pipelineName: 'orders', alarmTopic: new sns.Topic(stack, 'Topic') });
    new CorrelatedMonitor(stack, 'Monitor', { pipeline });
    expect(warnings(stack, ALARM_WITHOUT_ACTION)).toEqual([]);
    expect(warnings(stack, CANARY_WITHOUT_TOPIC)).toEqual([]);
    const rule = JSON.stringify(Object.values(Template.fromStack(stack).findResources('AWS::CloudWatch::CompositeAlarm'))[0].Properties.AlarmRule);
    for (const alarm of pipeline.failureAlarms!) expect(rule).toContain(stack.getLogicalId(alarm.node.defaultChild as never));
    expect(pipeline.failureAlarms!.length).toBe(10);
  });

  it('a monitor without pipeline topic still covers the failure alarms (composite child)', () => {
    const stack = testStack();
    const pipeline = new DataPipeline(stack, 'Orders', { pipelineName: 'orders', ingest: { deadLetterProps: { alarmTopic: new sns.Topic(stack, 'T') } } });
    new CorrelatedMonitor(stack, 'Monitor', { pipeline });
    expect(warnings(stack, ALARM_WITHOUT_ACTION)).toEqual([]);
  });

  it('a SyntheticCanary without alarmTopic and outside a monitor warns once per alarm on the canary; with one, no warning', () => {
    const stack = testStack();
    const pipeline = new DataPipeline(stack, 'Orders', { pipelineName: 'orders', alarmTopic: new sns.Topic(stack, 'Topic') });
    new SyntheticCanary(stack, 'Canary', { pipeline, interval: Duration.minutes(5) });
    const canary = warnings(stack, CANARY_WITHOUT_TOPIC);
    expect(canary).toHaveLength(2);
    expect(canary[0]).toContain('give the canary an alarmTopic');
    expect(warnings(stack, ALARM_WITHOUT_ACTION)).toEqual([]);

    const other = testStack();
    const p2 = new DataPipeline(other, 'Orders', { pipelineName: 'orders', alarmTopic: new sns.Topic(other, 'Topic') });
    new SyntheticCanary(other, 'Canary', { pipeline: p2, alarmTopic: p2.alarmTopic });
    expect(warnings(other, CANARY_WITHOUT_TOPIC)).toEqual([]);
  });

  it('a composite without actions does not count as coverage', () => {
    const stack = testStack();
    const stream = new kinesis.Stream(stack, 'S');
    const alarm = stream.metricGetRecordsIteratorAgeMilliseconds().createAlarm(stack, 'Age', { threshold: 1, evaluationPeriods: 1 });
    // Any alarm of a stack holding a library construct with alarms is checked, the user's own too.
    new DataPipeline(stack, 'Orders', { pipelineName: 'orders', alarmTopic: new sns.Topic(stack, 'Topic') });
    new cloudwatch.CompositeAlarm(stack, 'Silent', { alarmRule: cloudwatch.AlarmRule.anyOf(alarm) });
    expect(warnings(stack, ALARM_WITHOUT_ACTION)).toEqual([expect.stringContaining('alarm Test/Age/Resource notifies nobody')]);
  });

  it('checks each stack\'s alarms against its own composites: a parent does not judge its nested stacks\' alarms', () => {
    const parent = testStack();
    new DataPipeline(parent, 'Legacy', { pipelineName: 'legacy' });
    // Dead-letter alarms notify a topic; the normalizer's and archive's are covered by the nested monitor's composite only.
    const nested = new DataPipelineStack(parent, 'Orders', { pipelineName: 'orders', ingest: { deadLetterProps: { alarmTopic: new sns.Topic(parent, 'T') } } });
    new CorrelatedMonitor(nested, 'Monitor', { pipeline: nested.pipeline });
    const named = warnings(parent, ALARM_WITHOUT_ACTION);
    expect(named.length).toBeGreaterThan(0);
    for (const w of named) expect(w).toMatch(/^alarm Test\/Legacy\//);
  });
});
