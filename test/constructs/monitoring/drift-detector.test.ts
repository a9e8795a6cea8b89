import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as sns from 'aws-cdk-lib/aws-sns';
import { beforeAll, describe, expect, it } from 'vitest';
import { monitorStack, PIPELINE, pipelineMetric } from './support/stacks';
import { DriftDetector, type DriftDetectorProps } from '../../../constructs/monitoring';
import { generatedNamePattern } from '../../../constructs/monitoring/private/drift-reads';
import { actionsOf } from '../../support/stacks';

function build(props: Partial<DriftDetectorProps> = {}): { t: Template; drift: DriftDetector } {
  const { stack } = monitorStack();
  const drift = new DriftDetector(stack, 'Drift', { pipelineName: PIPELINE, ...props });
  return { t: Template.fromStack(stack), drift };
}

function alarmProps(t: Template, prefix: string): Record<string, any> {
  return Object.entries(t.findResources('AWS::CloudWatch::Alarm')).find(([id]) => id.startsWith(prefix))![1].Properties;
}

/** The drift detector's configuration reads (one statement per distinct resource list). */
function readStatements(t: Template): Array<Record<string, any>> {
  return statements(t).filter((s) => String(s.Sid).startsWith('ReadLiveConfiguration'));
}

function statements(t: Template): Array<Record<string, any>> {
  return Object.values(t.findResources('AWS::IAM::Policy'))
    .filter((p) => JSON.stringify(p.Properties.Roles).includes('DriftDetectorRole'))
    .flatMap((p) => p.Properties.PolicyDocument.Statement);
}

describe('DriftDetector defaults', () => {
  let t: Template;
  let drift: DriftDetector;
  beforeAll(() => ({ t, drift } = build()));

  it('stackNames defaults to the containing stack', () => {
    expect(drift.stackNames).toEqual(['Monitoring']);
    t.hasResourceProperties('AWS::Lambda::Function', { Environment: { Variables: Match.objectLike({ PHX_DRIFT_STACKS: '["Monitoring"]', PHX_PIPELINE: PIPELINE }) } });
  });

  it('interval defaults to 1 hour', () => t.hasResourceProperties('AWS::Scheduler::Schedule', { ScheduleExpression: 'rate(1 hour)' }));

  it('timeout defaults to 10 minutes; the function is traced', () => {
    t.hasResourceProperties('AWS::Lambda::Function', { Timeout: 600, TracingConfig: { Mode: 'Active' }, Runtime: 'nodejs22.x' });
  });

  it('grants drift detection on the stack by name (any stack id) and the status call on *', () => {
    const detect = statements(t).find((s) => s.Sid === 'DetectDrift')!;
    expect(actionsOf(detect).sort()).toEqual(['cloudformation:DescribeStackResourceDrifts', 'cloudformation:DetectStackDrift', 'cloudformation:DetectStackResourceDrift']);
    expect(JSON.stringify(detect.Resource)).toContain(':stack/Monitoring/*');
    expect(statements(t).find((s) => s.Sid === 'DetectionStatus')).toMatchObject({ Action: 'cloudformation:DescribeStackDriftDetectionStatus', Resource: '*' });
  });

  it('readActions defaults to the configuration reads of the pipeline resource types, never data reads', () => {
    const read = readStatements(t).flatMap(actionsOf);
    expect(read.sort()).toEqual([...DriftDetector.PIPELINE_READ_ACTIONS].sort());
    for (const forbidden of ['s3:GetObject', 'kinesis:GetRecords', 'sqs:ReceiveMessage', 'dynamodb:GetItem', 'dynamodb:Scan', 'kms:Decrypt']) {
      expect(read).not.toContain(forbidden);
    }
    expect(read.every((a) => !a.includes('*'))).toBe(true);
  });

  it('reads are scoped to the names CloudFormation generates for the checked stack; only list actions are on "*"', () => {
    const onStar = readStatements(t).filter((s) => s.Resource === '*').flatMap(actionsOf).sort();
    // CloudWatch: dashboards and composite alarms carry names the library sets, not generated ones.
    expect(onStar).toEqual([
      'cloudwatch:DescribeAlarms', 'cloudwatch:GetDashboard', 'cloudwatch:ListTagsForResource', 'kms:ListAliases', 'logs:DescribeLogGroups', 'logs:DescribeQueryDefinitions',
    ]);
    const resourcesOf = (action: string): string => JSON.stringify(readStatements(t).find((s) => actionsOf(s).includes(action))!.Resource);
    expect(resourcesOf('lambda:GetFunction')).toContain(':function:Monitoring-*');
    expect(resourcesOf('iam:GetRolePolicy')).toContain(':role/Monitoring-*');
    expect(resourcesOf('s3:GetBucketPolicy')).toContain(':s3:::monitoring-*');
    expect(resourcesOf('kms:GetKeyPolicy')).toContain(':key/*');
  });

  it('a stack name longer than CloudFormation keeps in a 64-character name is matched by its first 24 characters', () => {
    expect(generatedNamePattern('Orders')).toBe('Orders-*');
    expect(generatedNamePattern('OrdersPipelineProductionEuWest1')).toBe('OrdersPipelineProduction*');
  });

  it('drift alarm: StacksDrifted Maximum >= 1 over one interval', () => {
    const a = alarmProps(t, 'DriftDriftAlarm');
    expect(a).toMatchObject(pipelineMetric('StacksDrifted'));
    expect(a).toMatchObject({ Statistic: 'Maximum', Period: 3600, Threshold: 1 });
    expect(a).toMatchObject({ ComparisonOperator: 'GreaterThanOrEqualToThreshold', TreatMissingData: 'notBreaching' });
  });

  it('detection alarm: DriftDetectionFailures >= 1 over two intervals, missing data breaching (a silent detector alarms)', () => {
    expect(alarmProps(t, 'DriftDetectionAlarm')).toMatchObject({
      MetricName: 'DriftDetectionFailures', Period: 7200, Threshold: 1, TreatMissingData: 'breaching',
    });
  });

  it('alarmTopic defaults to no action', () => {
    expect(alarmProps(t, 'DriftDriftAlarm').AlarmActions).toBeUndefined();
  });

  it('log group: three months, DESTROY', () => {
    const group = Object.entries(t.findResources('AWS::Logs::LogGroup')).find(([id]) => id.startsWith('DriftDetectorLogs'))![1];
    expect(group).toMatchObject({ DeletionPolicy: 'Delete', Properties: { RetentionInDays: 90 } });
  });
});

describe('DriftDetector options', () => {
  it('stacks, interval, timeout, readActions and topic are applied', () => {
    const { stack } = monitorStack();
    const topic = sns.Topic.fromTopicArn(stack, 'T', 'arn:aws:sns:eu-west-1:123456789012:oncall');
    new DriftDetector(stack, 'Drift', {
      pipelineName: PIPELINE,
      stackNames: ['Orders-Prod', 'Orders-Shared'],
      interval: Duration.hours(6),
      timeout: Duration.minutes(3),
      readActions: ['kinesis:DescribeStreamSummary'],
      alarmTopic: topic,
      logRemovalPolicy: RemovalPolicy.RETAIN,
    });
    const t = Template.fromStack(stack);
    t.hasResourceProperties('AWS::Scheduler::Schedule', { ScheduleExpression: 'rate(6 hours)' });
    t.hasResourceProperties('AWS::Lambda::Function', { Timeout: 180, Environment: { Variables: Match.objectLike({ PHX_DRIFT_STACKS: '["Orders-Prod","Orders-Shared"]' }) } });
    const s = statements(t);
    expect(JSON.stringify(s.find((x) => x.Sid === 'DetectDrift')!.Resource)).toMatch(/stack\/Orders-Prod\/\*.*stack\/Orders-Shared\/\*/);
    expect(readStatements(t)).toEqual([expect.objectContaining({ Action: 'kinesis:DescribeStreamSummary' })]);
    expect(JSON.stringify(readStatements(t)[0].Resource)).toMatch(/stream\/Orders-Prod-\*.*stream\/Orders-Shared-\*/);
    expect(alarmProps(t, 'DriftDriftAlarm').AlarmActions).toEqual(['arn:aws:sns:eu-west-1:123456789012:oncall']);
    expect(alarmProps(t, 'DriftDetectionAlarm')).toMatchObject({ Period: 43_200, AlarmActions: ['arn:aws:sns:eu-west-1:123456789012:oncall'] });
  });
});

describe('DriftDetector validation', () => {
  it('fails when pipelineName is invalid', () => expect(() => build({ pipelineName: 'a b' })).toThrow(/pipelineName must be 1-64 characters.*given 'a b'/));
  it('fails when stackNames is empty', () => expect(() => build({ stackNames: [] })).toThrow(/stackNames must list between 1 and 50 stacks \(given 0\)/));
  it('fails when a stack name is not a CloudFormation name', () => expect(() => build({ stackNames: ['1stack'] })).toThrow(/stackNames entries must be CloudFormation stack names.*given '1stack'/));
  it('fails when a stack name repeats', () => expect(() => build({ stackNames: ['A', 'A'] })).toThrow(/must not repeat a stack \(given 'A' twice\)/));
  it('fails when interval is below 15 minutes', () => expect(() => build({ interval: Duration.minutes(5) }))
    .toThrow(/interval must be a whole number of minutes between 15 and 720 minutes \(given 5 minutes\)/));
  it('fails when timeout is above 15 minutes', () => expect(() => build({ timeout: Duration.minutes(20) }))
    .toThrow(/timeout must be a whole number of seconds between 60 and 900 seconds \(given 20 minutes\)/));
  it('fails when readActions is empty or not IAM actions', () => {
    expect(() => build({ readActions: [] })).toThrow(/readActions must be IAM actions.*given \[\]/);
    expect(() => build({ readActions: ['DescribeStream'] })).toThrow(/given \["DescribeStream"\]/);
  });
});
