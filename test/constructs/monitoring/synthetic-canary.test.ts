import { Duration, Lazy, RemovalPolicy } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as logs from 'aws-cdk-lib/aws-logs';
import { beforeAll, describe, expect, it } from 'vitest';
import { monitorStack, onePipeline, PIPELINE, pipelineDimensions, pipelineMetric, twoStagePipeline } from './support/stacks';
import { SyntheticCanary, type SyntheticCanaryOptions } from '../../../constructs/monitoring';
import { actionsOf, policyStatements } from '../../support/stacks';

function build(opts: SyntheticCanaryOptions = {}, twoStages = false): { t: Template; canary: SyntheticCanary } {
  const { stack } = monitorStack();
  const pipeline = twoStages ? twoStagePipeline(stack) : onePipeline(stack).pipeline;
  const canary = new SyntheticCanary(stack, 'Canary', { pipeline, ...opts });
  return { t: Template.fromStack(stack), canary };
}

function canaryAlarm(t: Template, prefix: string): Record<string, any> {
  return Object.entries(t.findResources('AWS::CloudWatch::Alarm')).find(([id]) => id.startsWith(prefix))![1].Properties;
}

function canaryFunction(t: Template): Record<string, any> {
  return Object.values(t.findResources('AWS::Lambda::Function'))
    .find((f) => f.Properties.Environment?.Variables?.PHX_CANARY_STREAM_ARN !== undefined)!.Properties;
}

describe('SyntheticCanary defaults', () => {
  let t: Template;
  beforeAll(() => ({ t } = build()));

  it('interval defaults to 5 minutes (EventBridge Scheduler rate, no retries, 1 minute max event age)', () => {
    t.hasResourceProperties('AWS::Scheduler::Schedule', {
      ScheduleExpression: 'rate(5 minutes)',
      FlexibleTimeWindow: { Mode: 'OFF' },
      Target: Match.objectLike({ RetryPolicy: { MaximumRetryAttempts: 0, MaximumEventAgeInSeconds: 60 } }),
    });
  });

  it('missingAlarmWindow defaults to three intervals: CanariesReceived Sum < 1 over 15 minutes, missing data breaching', () => {
    const a = canaryAlarm(t, 'CanaryMissingAlarm');
    expect(a).toMatchObject(pipelineMetric('CanariesReceived', 'ingest'));
    expect(a).toMatchObject({ Statistic: 'Sum', Period: 900, EvaluationPeriods: 1, Threshold: 1 });
    expect(a).toMatchObject({ ComparisonOperator: 'LessThanThreshold', TreatMissingData: 'breaching' });
  });

  it('latencyAlarmThreshold defaults to 5 minutes (CanaryLatencyMs Maximum over the window)', () => {
    expect(canaryAlarm(t, 'CanaryLatencyAlarm')).toMatchObject({
      MetricName: 'CanaryLatencyMs', Statistic: 'Maximum', Threshold: 300_000, Period: 900, TreatMissingData: 'notBreaching',
    });
  });

  it('the function is traced, arm64, Node.js 22, configured with the entry stream and stage', () => {
    const fn = canaryFunction(t);
    expect(fn).toMatchObject({ TracingConfig: { Mode: 'Active' }, Architectures: ['arm64'], Runtime: 'nodejs22.x', Handler: 'index.handler' });
    expect(fn.Environment.Variables).toMatchObject({
      PHX_PIPELINE: PIPELINE,
      PHX_CANARY_ENTRY_STAGE: 'ingest',
      PHX_CANARY_STREAM_ARN: { 'Fn::GetAtt': [expect.stringMatching(/^OrdersIngestStream/), 'Arn'] },
    });
  });

  it('the function may put records into the entry stream, read and create the canary key, and nothing else besides logs and X-Ray', () => {
    const actions = policyStatements(t)
      .filter((s) => JSON.stringify(s).includes('OrdersIngestStream') && actionsOf(s).some((a) => a.startsWith('kinesis:Put')));
    expect(actions.length).toBeGreaterThan(0);
    const role = Object.entries(t.findResources('AWS::IAM::Role')).find(([id]) => id.startsWith('CanarySenderRole'))!;
    const own = Object.values(t.findResources('AWS::IAM::Policy'))
      .filter((p) => JSON.stringify(p.Properties.Roles).includes(role[0]))
      .flatMap((p) => p.Properties.PolicyDocument.Statement.flatMap(actionsOf));
    expect(new Set(own)).toEqual(new Set([
      'logs:CreateLogStream', 'logs:PutLogEvents', 'xray:PutTraceSegments', 'xray:PutTelemetryRecords',
      'kinesis:ListShards', 'kinesis:PutRecord', 'kinesis:PutRecords', 's3:GetObject', 's3:PutObject',
    ]));
    expect(role[1].Properties.ManagedPolicyArns).toBeUndefined();
  });

  it('the canary function and the stage share the canary key: its URI in both environments, GetObject/PutObject on that one object', () => {
    const fns = Object.values(t.findResources('AWS::Lambda::Function'));
    const uris = fns.map((f) => f.Properties.Environment?.Variables?.PHX_CANARY_KEY_URI).filter((u) => u !== undefined);
    expect(uris).toHaveLength(2);
    expect(JSON.stringify(uris[0])).toContain('/control/canary-key');
    expect(uris[1]).toEqual(uris[0]);
    const keyStatements = policyStatements(t).filter((st) => actionsOf(st).includes('s3:GetObject') && JSON.stringify(st).includes('control/canary-key'));
    expect(keyStatements).toHaveLength(2);
    for (const st of keyStatements) {
      expect(actionsOf(st).sort()).toEqual(['s3:GetObject', 's3:PutObject']);
      expect(JSON.stringify(st.Resource)).toMatch(/\/control\/canary-key"\]\]\}$/);
    }
  });

  it('logRetention defaults to one month, logRemovalPolicy to DESTROY', () => {
    const group = Object.entries(t.findResources('AWS::Logs::LogGroup')).find(([id]) => id.startsWith('CanarySenderLogs'))![1];
    expect(group.Properties.RetentionInDays).toBe(30);
    expect(group.DeletionPolicy).toBe('Delete');
  });

  it('the schedule invokes through a role of its own that may only invoke the function', () => {
    const schedule = Object.values(t.findResources('AWS::Scheduler::Schedule'))[0].Properties;
    expect(schedule.Target.RoleArn).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^CanarySenderScheduleRole/), 'Arn'] });
    t.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: {
        Statement: [Match.objectLike({
          Principal: { Service: 'scheduler.amazonaws.com' }, Condition: { StringEquals: { 'aws:SourceAccount': '123456789012' } },
        })],
      },
    });
  });
});

describe('SyntheticCanary options', () => {
  it('two stages: enters the first stage\'s stream, measured at the last stage', () => {
    const { t } = build({}, true);
    expect(canaryFunction(t).Environment.Variables).toMatchObject({
      PHX_CANARY_ENTRY_STAGE: 'ingest',
      PHX_CANARY_STREAM_ARN: { 'Fn::GetAtt': [expect.stringMatching(/^IngestStream/), 'Arn'] },
    });
    expect(canaryAlarm(t, 'CanaryMissingAlarm').Dimensions).toEqual(pipelineDimensions('enrich'));
  });

  it('interval, window, threshold and log options are applied', () => {
    const { t, canary } = build({
      interval: Duration.minutes(1),
      missingAlarmWindow: Duration.minutes(2),
      latencyAlarmThreshold: Duration.seconds(20),
      logRetention: logs.RetentionDays.ONE_WEEK,
      logRemovalPolicy: RemovalPolicy.RETAIN,
    });
    t.hasResourceProperties('AWS::Scheduler::Schedule', { ScheduleExpression: 'rate(1 minute)' });
    expect(canaryAlarm(t, 'CanaryMissingAlarm').Period).toBe(120);
    expect(canaryAlarm(t, 'CanaryLatencyAlarm').Threshold).toBe(20_000);
    expect(canary.missingAlarmWindow.toMinutes()).toBe(2);
    const group = Object.entries(t.findResources('AWS::Logs::LogGroup')).find(([id]) => id.startsWith('CanarySenderLogs'))![1];
    expect(group).toMatchObject({ DeletionPolicy: 'Retain', Properties: { RetentionInDays: 7 } });
  });

  it('a token interval is not validated', () => {
    expect(() => build({ interval: Duration.minutes(Lazy.number({ produce: () => 5 })) })).not.toThrow();
  });
});

describe('SyntheticCanary validation', () => {
  it('fails when interval is below 1 minute (the schedule would be faster than EventBridge Scheduler runs)', () => {
    expect(() => build({ interval: Duration.seconds(30) }))
      .toThrow(/^SyntheticCanary at Monitoring\/Canary: interval must be a whole number of minutes between 1 and 720 minutes \(given 30 seconds\)/);
  });
  it('fails when interval is not whole minutes', () => {
    expect(() => build({ interval: Duration.seconds(90) })).toThrow(/given 1 minute 30 seconds/);
  });
  it('fails when interval is above 12 hours', () => {
    expect(() => build({ interval: Duration.hours(13) })).toThrow(/between 1 and 720 minutes \(given 13 hours\)/);
  });
  it('fails when the missing-canary window is shorter than the schedule period', () => {
    expect(() => build({ interval: Duration.minutes(10), missingAlarmWindow: Duration.minutes(5) }))
      .toThrow(/missingAlarmWindow must be at least twice interval.*\(given missingAlarmWindow 5 minutes, interval 10 minutes\)/);
  });
  it('fails when the missing-canary window holds less than two intervals', () => {
    expect(() => build({ interval: Duration.minutes(10), missingAlarmWindow: Duration.minutes(15) })).toThrow(/at least twice interval/);
  });
  it('fails when the missing-canary window exceeds 1 day', () => {
    expect(() => build({ missingAlarmWindow: Duration.hours(25) })).toThrow(/missingAlarmWindow must be a whole number of minutes between 1 and 1440 minutes/);
  });
  it('fails when latencyAlarmThreshold is below 1 second', () => {
    expect(() => build({ latencyAlarmThreshold: Duration.millis(10) })).toThrow(/latencyAlarmThreshold must be between 1000 and 86400000 milliseconds/);
  });
});
