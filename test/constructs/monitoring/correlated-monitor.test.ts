import { Duration, Lazy, RemovalPolicy, Token } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as kinesis from 'aws-cdk-lib/aws-kinesis';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sns from 'aws-cdk-lib/aws-sns';
import { beforeAll, describe, expect, it } from 'vitest';
import { dashboardBodies } from './support/metrics';
import { monitorStack, onePipeline, PIPELINE, pipelineDimensions, pipelineMetric, twoStagePipeline } from './support/stacks';
import { CorrelatedMonitor, StageAlarmKind, type CorrelatedMonitorProps } from '../../../constructs/monitoring';

function build(props: Partial<CorrelatedMonitorProps> = {}, twoStages = false): { template: Template; monitor: CorrelatedMonitor } {
  const { stack } = monitorStack();
  const pipeline = twoStages ? twoStagePipeline(stack) : onePipeline(stack).pipeline;
  const monitor = new CorrelatedMonitor(stack, 'Monitor', { pipeline, ...props });
  return { template: Template.fromStack(stack), monitor };
}

/** Alarms whose logical id starts with the path-derived prefix of `id` (e.g. 'MonitorStageingestIteratorAgeAlarm'). */
function alarm(template: Template, idPrefix: string): Record<string, any> {
  const found = Object.entries(template.findResources('AWS::CloudWatch::Alarm')).filter(([id]) => id.startsWith(idPrefix));
  if (found.length !== 1) throw new Error(`expected one alarm ${idPrefix}*, found ${found.map(([id]) => id).join(', ') || 'none'}`);
  return found[0][1].Properties;
}

/** Alarms created by the monitor (the stages' dead letters have alarms of their own). */
function monitorAlarms(template: Template): Record<string, Record<string, any>> {
  return Object.fromEntries(Object.entries(template.findResources('AWS::CloudWatch::Alarm')).filter(([id]) => id.startsWith('Monitor')));
}

function expectThrow(props: Partial<CorrelatedMonitorProps>, message: RegExp): void {
  expect(() => build(props)).toThrow(message);
}

describe('CorrelatedMonitor defaults', () => {
  let t: Template;
  let monitor: CorrelatedMonitor;
  beforeAll(() => {
    ({ template: t, monitor } = build());
  });

  it('creates the dashboard Phoenix-<stack>-<region>-<pipeline> with a 3 hour default range', () => {
    t.hasResourceProperties('AWS::CloudWatch::Dashboard', { DashboardName: `Phoenix-Monitoring-eu-west-1-${PIPELINE}` });
    expect(dashboardBodies(t)[0]).toMatchObject({ start: '-PT3H' });
  });

  it('alarmTopic defaults to a topic encrypted with a rotating customer managed key that CloudWatch may use, TLS enforced', () => {
    t.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^MonitorAlarmTopicKey'), 'Arn'] } });
    t.hasResourceProperties('AWS::KMS::Key', {
      EnableKeyRotation: true,
      KeyPolicy: {
        Statement: Match.arrayWith([Match.objectLike({
          Principal: { Service: 'cloudwatch.amazonaws.com' },
          Action: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        })]),
      },
    });
    t.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) },
    });
  });

  it('topicKeyRemovalPolicy defaults to DESTROY', () => {
    t.hasResource('AWS::KMS::Key', { DeletionPolicy: 'Delete', UpdateReplacePolicy: 'Delete' });
  });

  it('alertEmails defaults to no subscription', () => t.resourceCountIs('AWS::SNS::Subscription', 0));

  it('notifyEveryAlarm defaults to false: only the pipeline-health composite notifies (ALARM and OK)', () => {
    for (const a of Object.values(monitorAlarms(t))) {
      expect(a.Properties.AlarmActions).toBeUndefined();
    }
    const topicRef = { Ref: Match.stringLikeRegexp('^MonitorAlarmTopic') };
    t.hasResourceProperties('AWS::CloudWatch::CompositeAlarm', { AlarmActions: [topicRef], OKActions: [topicRef] });
  });

  it('the composite alarm is any of every alarm of the monitor (5 per stage, end-to-end, canary missing and latency)', () => {
    const composite = Object.values(t.findResources('AWS::CloudWatch::CompositeAlarm'))[0].Properties;
    const rule = JSON.stringify(composite.AlarmRule);
    const alarms = Object.keys(monitorAlarms(t));
    expect(alarms).toHaveLength(8);
    for (const id of alarms) expect(rule).toContain(`"${id}"`);
    expect(rule.match(/ALARM\(/g)).toHaveLength(8);
  });

  it('endToEndLatencySlo defaults to 5 minutes: p99 EndToEndAgeMs of the terminal stage over 3 x 5 minutes', () => {
    const a = alarm(t, 'MonitorEndToEndLatencyAlarm');
    expect(a).toMatchObject(pipelineMetric('EndToEndAgeMs', 'ingest'));
    expect(a).toMatchObject({ ExtendedStatistic: 'p99', Period: 300, EvaluationPeriods: 3, Threshold: 300_000 });
    expect(a).toMatchObject({ ComparisonOperator: 'GreaterThanThreshold', TreatMissingData: 'notBreaching' });
  });

  it('iteratorAgeAlarmThreshold defaults to 5 minutes (IteratorAge Maximum)', () => {
    expect(alarm(t, 'MonitorStageingestIteratorAgeAlarm')).toMatchObject({
      Namespace: 'AWS/Lambda', MetricName: 'IteratorAge', Statistic: 'Maximum', Threshold: 300_000, Period: 300, EvaluationPeriods: 3,
    });
  });

  it('errorRateAlarmThresholdPercent defaults to 1 (metric math errors / invocations)', () => {
    const p = alarm(t, 'MonitorStageingestErrorRateAlarm');
    expect(p.Threshold).toBe(1);
    expect(p.EvaluationPeriods).toBe(3);
    const expr = p.Metrics.find((m: any) => m.Expression);
    expect(expr.Expression).toBe('IF(invocations > 0, 100 * errors / invocations, 0)');
    expect(p.Metrics.filter((m: any) => m.MetricStat).map((m: any) => [m.Id, m.MetricStat.Metric.MetricName, m.MetricStat.Stat]).sort())
      .toEqual([['errors', 'Errors', 'Sum'], ['invocations', 'Invocations', 'Sum']]);
  });

  it('throttlesAlarmThreshold defaults to 1 (Throttles Sum >= 1)', () => {
    expect(alarm(t, 'MonitorStageingestThrottlesAlarm')).toMatchObject({
      MetricName: 'Throttles', Statistic: 'Sum', Threshold: 1, ComparisonOperator: 'GreaterThanOrEqualToThreshold',
    });
  });

  it('dlqDepthAlarmThreshold defaults to 1 (any dead letter, 1 minute)', () => {
    expect(alarm(t, 'MonitorStageingestDlqDepthAlarm')).toMatchObject({
      Namespace: 'AWS/SQS', MetricName: 'ApproximateNumberOfMessagesVisible', Threshold: 1, Period: 60, EvaluationPeriods: 1,
    });
  });

  it('dlqOldestMessageAgeAlarmThreshold defaults to 1 day', () => {
    expect(alarm(t, 'MonitorStageingestDlqOldestMessageAlarm')).toMatchObject({
      MetricName: 'ApproximateAgeOfOldestMessage', Threshold: 86_400, ComparisonOperator: 'GreaterThanOrEqualToThreshold',
    });
  });

  it('enableCanary defaults to true: a canary whose latency threshold is the SLO', () => {
    expect(monitor.canary).toBeDefined();
    expect(alarm(t, 'MonitorCanaryLatencyAlarm').Threshold).toBe(300_000);
    expect(alarm(t, 'MonitorCanaryMissingAlarm')).toMatchObject({ TreatMissingData: 'breaching', MetricName: 'CanariesReceived' });
  });

  it('retryLoopAttempts defaults to 3', () => {
    const q = Object.values(t.findResources('AWS::Logs::QueryDefinition')).find((r) => r.Properties.Name.endsWith('/retry-loops'))!;
    expect(q.Properties.QueryString).toContain('| filter totalAttempts > 3');
  });

  it('saves six Logs Insights queries named phoenix/<stack>-<region>/<pipeline>/*, the journeys over the canary and every stage log group', () => {
    const queries = Object.values(t.findResources('AWS::Logs::QueryDefinition')).map((r) => r.Properties);
    expect(queries.map((q) => q.Name).sort()).toEqual([
      'dead-letter-reasons', 'record-hops', 'record-journey', 'retry-loops', 'slowest-batches', 'slowest-hops',
    ].map((n) => `phoenix/Monitoring-eu-west-1/${PIPELINE}/${n}`));
    expect(monitor.queryNames).toHaveLength(6);
    const journey = queries.find((q) => q.Name.endsWith('/record-journey'))!;
    expect(journey.LogGroupNames).toHaveLength(2);
    expect(journey.QueryString).toContain('filter correlationId = "REPLACE-WITH-CORRELATION-ID"');
  });

  it('the alarm status widget lists the composite and every alarm', () => {
    const widget = dashboardBodies(t)[0].widgets.find((w) => w.properties.title === 'Alarms')!;
    expect(widget.properties.alarms).toHaveLength(9);
  });
});

describe('CorrelatedMonitor options', () => {
  it('alertEmails subscribe each address to the topic', () => {
    const { template } = build({ alertEmails: ['oncall@example.com', 'team+data@example.org'] });
    template.resourceCountIs('AWS::SNS::Subscription', 2);
    template.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'team+data@example.org' });
  });

  it('alarmTopic is used as given (no topic or key created)', () => {
    const { stack } = monitorStack();
    const topic = sns.Topic.fromTopicArn(stack, 'Given', 'arn:aws:sns:eu-west-1:123456789012:oncall');
    new CorrelatedMonitor(stack, 'Monitor', { pipeline: onePipeline(stack).pipeline, alarmTopic: topic });
    const t = Template.fromStack(stack);
    t.resourceCountIs('AWS::SNS::Topic', 0);
    t.resourceCountIs('AWS::KMS::Key', 0);
    t.hasResourceProperties('AWS::CloudWatch::CompositeAlarm', { AlarmActions: ['arn:aws:sns:eu-west-1:123456789012:oncall'] });
  });

  it('notifyEveryAlarm adds the topic to every alarm', () => {
    const { template } = build({ notifyEveryAlarm: true });
    const alarms = Object.values(monitorAlarms(template));
    expect(alarms).toHaveLength(8);
    for (const a of alarms) {
      expect(a.Properties.AlarmActions).toEqual([{ Ref: expect.stringMatching(/^MonitorAlarmTopic/) }]);
    }
  });

  it('thresholds, period and evaluation periods are applied', () => {
    const { template } = build({
      iteratorAgeAlarmThreshold: Duration.seconds(90),
      errorRateAlarmThresholdPercent: 2.5,
      throttlesAlarmThreshold: 10,
      dlqDepthAlarmThreshold: 50,
      dlqOldestMessageAgeAlarmThreshold: Duration.hours(2),
      endToEndLatencySlo: Duration.seconds(30),
      alarmPeriod: Duration.minutes(1),
      evaluationPeriods: 10,
    });
    expect(alarm(template, 'MonitorStageingestIteratorAgeAlarm')).toMatchObject({ Threshold: 90_000, Period: 60, EvaluationPeriods: 10 });
    expect(alarm(template, 'MonitorStageingestErrorRateAlarm')).toMatchObject({ Threshold: 2.5, EvaluationPeriods: 10 });
    expect(alarm(template, 'MonitorStageingestThrottlesAlarm').Threshold).toBe(10);
    expect(alarm(template, 'MonitorStageingestDlqDepthAlarm').Threshold).toBe(50);
    expect(alarm(template, 'MonitorStageingestDlqOldestMessageAlarm').Threshold).toBe(7_200);
    expect(alarm(template, 'MonitorEndToEndLatencyAlarm')).toMatchObject({ Threshold: 30_000, Period: 60 });
    expect(alarm(template, 'MonitorCanaryLatencyAlarm').Threshold).toBe(30_000);
  });

  it('two stages: stage alarms for each, end-to-end latency on the last (terminal) stage only', () => {
    const { template, monitor } = build({}, true);
    expect(Object.keys(monitorAlarms(template))).toHaveLength(13);
    expect(alarm(template, 'MonitorEndToEndLatencyAlarm').Dimensions).toEqual(pipelineDimensions('enrich'));
    expect(monitor.stageAlarm('enrich', StageAlarmKind.DLQ_DEPTH)).toBeDefined();
    expect(() => monitor.stageAlarm('nope', StageAlarmKind.DLQ_DEPTH)).toThrow(/has no stage 'nope' \(stages: ingest, enrich\)/);
  });

  it('enableCanary false creates no canary, function or schedule', () => {
    const { template, monitor } = build({ enableCanary: false });
    expect(monitor.canary).toBeUndefined();
    template.resourceCountIs('AWS::Scheduler::Schedule', 0);
    expect(Object.keys(monitorAlarms(template))).toHaveLength(6);
  });

  it('addAlarm and addQualityMetrics join the composite alarm after construction', () => {
    const { stack } = monitorStack();
    const monitor = new CorrelatedMonitor(stack, 'Monitor', { pipeline: onePipeline(stack).pipeline, enableCanary: false });
    const external = cloudwatch.Alarm.fromAlarmArn(stack, 'External', 'arn:aws:cloudwatch:eu-west-1:123456789012:alarm:profiler');
    monitor.addAlarm(external);
    const rules = new cloudwatch.Metric({ namespace: 'PhoenixQuality', metricName: 'RulesFailed', dimensionsMap: { Pipeline: PIPELINE } });
    const quality = monitor.addQualityMetrics('QualityAlarm', { title: 'Quality rules', metrics: [rules], failureMetric: rules });
    expect(quality).toBeDefined();
    expect(monitor.addQualityMetrics('Other', { title: 'Completeness', metrics: [rules] })).toBeUndefined();
    const t = Template.fromStack(stack);
    const rule = JSON.stringify(Object.values(t.findResources('AWS::CloudWatch::CompositeAlarm'))[0].Properties.AlarmRule);
    expect(rule).toContain('arn:aws:cloudwatch:eu-west-1:123456789012:alarm:profiler');
    expect(rule).toContain('MonitorQualityAlarm');
    const titles = dashboardBodies(t)[0].widgets.map((w) => w.properties.title ?? w.properties.markdown);
    expect(titles).toEqual(expect.arrayContaining(['## Data quality', 'Quality rules', 'Completeness']));
    expect(titles.filter((x) => x === '## Data quality')).toHaveLength(1);
  });

  it('tokens are not validated at synth', () => {
    const { stack } = monitorStack();
    const n = (v: number) => Token.asNumber(Lazy.number({ produce: () => v }));
    expect(() => new CorrelatedMonitor(stack, 'Monitor', {
      pipeline: onePipeline(stack).pipeline,
      evaluationPeriods: n(3),
      errorRateAlarmThresholdPercent: n(5),
      alertEmails: [Lazy.string({ produce: () => 'x@example.com' })],
      dashboardName: Lazy.string({ produce: () => 'dash' }),
    })).not.toThrow();
  });

  it('a stage of imported resources (function, stream, log group) is monitored by their names', () => {
    const { stack } = monitorStack();
    const { data } = onePipeline(stack);
    const legacy = {
      pipelineName: PIPELINE,
      stageName: 'legacy',
      stream: kinesis.Stream.fromStreamArn(stack, 'LegacyStream', 'arn:aws:kinesis:eu-west-1:123456789012:stream/legacy'),
      processor: lambda.Function.fromFunctionArn(stack, 'LegacyFn', 'arn:aws:lambda:eu-west-1:123456789012:function:legacy-processor'),
      logGroup: logs.LogGroup.fromLogGroupName(stack, 'LegacyLogs', '/aws/lambda/legacy-processor'),
      deadLetters: data.ingest.deadLetters,
    };
    const m = new CorrelatedMonitor(stack, 'Monitor', {
      pipeline: { pipelineName: PIPELINE, stages: [data.ingest, legacy] },
      topicKeyRemovalPolicy: RemovalPolicy.RETAIN,
    });
    expect(m.stageAlarm('legacy', StageAlarmKind.ITERATOR_AGE)).toBeDefined();
    const t = Template.fromStack(stack);
    expect(alarm(t, 'MonitorStagelegacyIteratorAgeAlarm').Dimensions).toEqual([{ Name: 'FunctionName', Value: 'legacy-processor' }]);
    const journey = Object.values(t.findResources('AWS::Logs::QueryDefinition')).find((r) => r.Properties.Name.endsWith('/record-journey'))!;
    expect(journey.Properties.LogGroupNames).toContain('/aws/lambda/legacy-processor');
    t.hasResource('AWS::KMS::Key', { DeletionPolicy: 'Retain' });
    // The canary key cannot be set on an imported processor: a synth warning says what its owner must set.
    Annotations.fromStack(stack).hasWarning('/Monitoring/Monitor/Canary', Match.stringLikeRegexp('imported processor Monitoring/LegacyFn cannot be given the canary key'));
  });
});

describe('CorrelatedMonitor validation', () => {
  it('fails when endToEndLatencySlo is 0', () => expectThrow({ endToEndLatencySlo: Duration.seconds(0) },
    /endToEndLatencySlo must be between 1000 and 86400000 milliseconds \(given 0 seconds\)/));
  it('fails when endToEndLatencySlo is above 1 day', () => expectThrow({ endToEndLatencySlo: Duration.days(2) }, /endToEndLatencySlo must be between/));
  it('fails when errorRateAlarmThresholdPercent is 0', () => expectThrow({ errorRateAlarmThresholdPercent: 0 },
    /errorRateAlarmThresholdPercent must be greater than 0 and at most 100 % \(given 0 %\)/));
  it('fails when errorRateAlarmThresholdPercent is above 100', () => expectThrow({ errorRateAlarmThresholdPercent: 101 }, /given 101 %/));
  it('fails when throttlesAlarmThreshold is 0', () => expectThrow({ throttlesAlarmThreshold: 0 }, /throttlesAlarmThreshold must be an integer between 1 and 1000000 \(given 0\)/));
  it('fails when dlqDepthAlarmThreshold is not an integer', () => expectThrow({ dlqDepthAlarmThreshold: 1.5 }, /dlqDepthAlarmThreshold must be an integer between 1 and 1000000000 \(given 1.5\)/));
  it('fails when dlqOldestMessageAgeAlarmThreshold is above 14 days', () => expectThrow({ dlqOldestMessageAgeAlarmThreshold: Duration.days(15) },
    /dlqOldestMessageAgeAlarmThreshold must be a whole number of seconds between 60 and 1209600 seconds \(given 15 days\)/));
  it('fails when iteratorAgeAlarmThreshold is below 1 second', () => expectThrow({ iteratorAgeAlarmThreshold: Duration.millis(500) }, /iteratorAgeAlarmThreshold must be between 1000/));
  it('fails when alarmPeriod is not whole minutes', () => expectThrow({ alarmPeriod: Duration.seconds(90) },
    /alarmPeriod must be a whole number of minutes between 1 and 60 minutes \(given 1 minute 30 seconds\)/));
  it('fails when evaluationPeriods is 0', () => expectThrow({ evaluationPeriods: 0 }, /evaluationPeriods must be an integer between 1 and 100 \(given 0\)/));
  it('fails when alarmPeriod x evaluationPeriods exceeds 1 day', () => expectThrow({ alarmPeriod: Duration.hours(1), evaluationPeriods: 25 },
    /alarmPeriod x evaluationPeriods must be at most 1 day.*\(given 1 hour x 25\)/));
  it('fails when an alert e-mail is not an address', () => expectThrow({ alertEmails: ['oncall'] }, /alertEmails entries must be e-mail addresses such as oncall@example.com \(given 'oncall'\)/));
  it('fails when an alert e-mail has no domain dot', () => expectThrow({ alertEmails: ['a@localhost'] }, /given 'a@localhost'/));
  it('fails when an alert e-mail repeats', () => expectThrow({ alertEmails: ['a@example.com', 'A@example.com'] }, /must not repeat an address.*given 'A@example.com' twice/));
  it('fails when more than 20 alert e-mails', () => expectThrow({ alertEmails: Array.from({ length: 21 }, (_, i) => `u${i}@example.com`) }, /at most 20 addresses.*given 21/));
  it('fails when dashboardName has invalid characters', () => expectThrow({ dashboardName: 'my dashboard' }, /dashboardName must be 1-255 characters.*given 'my dashboard'/));
  it('fails when retryLoopAttempts is 0', () => expectThrow({ retryLoopAttempts: 0 }, /retryLoopAttempts must be an integer between 1 and 1000 \(given 0\)/));
  it('fails when canary options are given with enableCanary false', () => expectThrow({ enableCanary: false, canary: { interval: Duration.minutes(1) } },
    /canary options require enableCanary/));
  it('fails when topicKeyRemovalPolicy is combined with alarmTopic', () => {
    const { stack } = monitorStack();
    const topic = sns.Topic.fromTopicArn(stack, 'Given', 'arn:aws:sns:eu-west-1:123456789012:oncall');
    expect(() => new CorrelatedMonitor(stack, 'Monitor', { pipeline: onePipeline(stack).pipeline, alarmTopic: topic, topicKeyRemovalPolicy: RemovalPolicy.RETAIN }))
      .toThrow(/topicKeyRemovalPolicy applies to the created topic's key and cannot be combined with alarmTopic/);
  });
  it('fails at synthesis when the pipeline-health alarm would have more than 100 children', () => {
    const { stack } = monitorStack();
    const monitor = new CorrelatedMonitor(stack, 'Monitor', { pipeline: onePipeline(stack).pipeline, enableCanary: false });
    for (let i = 0; i < 95; i++) monitor.addAlarm(cloudwatch.Alarm.fromAlarmArn(stack, `A${i}`, `arn:aws:cloudwatch:eu-west-1:123456789012:alarm:a${i}`));
    expect(() => Template.fromStack(stack)).toThrow(/at most 100 child alarms.*\(given 101\)/);
  });
  it('fails when the pipeline has no stage', () => {
    const { stack } = monitorStack();
    expect(() => new CorrelatedMonitor(stack, 'Monitor', { pipeline: { pipelineName: PIPELINE, stages: [] } }))
      .toThrow(/pipeline.stages must list at least one stage, in flow order \(given none\)/);
  });
  it('fails when two stages share a name', () => {
    const { stack } = monitorStack();
    const { data } = onePipeline(stack);
    expect(() => new CorrelatedMonitor(stack, 'Monitor', { pipeline: { pipelineName: PIPELINE, stages: [data.ingest, data.ingest] } }))
      .toThrow(/distinct stage names.*given 'ingest' twice/);
  });
  it('fails when a stage belongs to another pipeline', () => {
    const { stack } = monitorStack();
    const { data } = onePipeline(stack);
    expect(() => new CorrelatedMonitor(stack, 'Monitor', { pipeline: { pipelineName: 'payments', stages: [data.ingest] } }))
      .toThrow(/every stage must belong to pipeline 'payments'.*given stage 'ingest' of pipeline 'orders'/);
  });
  it('fails when addQualityMetrics gets no metric, or a threshold without failure metric', () => {
    const { monitor } = build({ enableCanary: false });
    expect(() => monitor.addQualityMetrics('Q', { title: 'x', metrics: [] })).toThrow(/metrics must list 1-100 metrics \(given 0\)/);
    const m = new cloudwatch.Metric({ namespace: 'N', metricName: 'M' });
    expect(() => monitor.addQualityMetrics('Q', { title: 'x', metrics: [m], failureThreshold: 2 })).toThrow(/failureThreshold requires failureMetric/);
  });
});
