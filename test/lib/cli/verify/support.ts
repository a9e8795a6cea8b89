/** Mocked answers of a deployed stack for the `phoenix verify` AWS tests (aws-sdk-client-mock). */
import {
  CloudFormationClient, DescribeStackDriftDetectionStatusCommand, DetectStackDriftCommand, ListStackResourcesCommand,
} from '@aws-sdk/client-cloudformation';
import { CloudWatchClient, DescribeAlarmsCommand, GetMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { LambdaClient, ListEventSourceMappingsCommand } from '@aws-sdk/client-lambda';
import { GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { METRIC, METRICS_NAMESPACE } from '../../../../constructs/contract';

export const NOW = Date.parse('2026-12-07T12:00:00Z');
export const DIMS = [{ Name: 'Deployment', Value: 'S-us-east-1' }, { Name: 'Pipeline', Value: 'orders' }, { Name: 'Stage', Value: 'ingest' }];

type Mock = ReturnType<typeof mockClient>;
export interface AwsMocks { cfn: Mock; cw: Mock; lambda: Mock; sqs: Mock; restore(): void }

/** Mocks the four clients `phoenix verify --stack` uses, answering as a healthy deployed stack. */
export function mockHealthyAws(): AwsMocks {
  const m = {
    cfn: mockClient(CloudFormationClient), cw: mockClient(CloudWatchClient), lambda: mockClient(LambdaClient), sqs: mockClient(SQSClient),
  };
  healthyAnswers(m);
  return { ...m, restore: () => { for (const c of Object.values(m)) c.restore(); } };
}

function healthyAnswers(m: Omit<AwsMocks, 'restore'>): void {
  m.cfn.on(ListStackResourcesCommand).resolves({
    StackResourceSummaries: [
      { ResourceType: 'AWS::CloudWatch::Alarm', PhysicalResourceId: 'S-CanaryLatency', LogicalResourceId: 'a', ResourceStatus: 'CREATE_COMPLETE', LastUpdatedTimestamp: new Date() },
      { ResourceType: 'AWS::CloudWatch::Alarm', PhysicalResourceId: 'S-IteratorAge', LogicalResourceId: 'b', ResourceStatus: 'CREATE_COMPLETE', LastUpdatedTimestamp: new Date() },
      { ResourceType: 'AWS::CloudWatch::CompositeAlarm', PhysicalResourceId: 'S-Health', LogicalResourceId: 'c', ResourceStatus: 'CREATE_COMPLETE', LastUpdatedTimestamp: new Date() },
      { ResourceType: 'AWS::Lambda::Function', PhysicalResourceId: 'S-Processor', LogicalResourceId: 'd', ResourceStatus: 'CREATE_COMPLETE', LastUpdatedTimestamp: new Date() },
    ],
  });
  m.cfn.on(DetectStackDriftCommand).resolves({ StackDriftDetectionId: 'det-1' });
  m.cfn.on(DescribeStackDriftDetectionStatusCommand).resolves({ StackDriftDetectionId: 'det-1', DetectionStatus: 'DETECTION_COMPLETE', StackDriftStatus: 'IN_SYNC', DriftedStackResourceCount: 0, StackId: 's', Timestamp: new Date() });
  m.cw.on(DescribeAlarmsCommand).resolves({
    MetricAlarms: [
      { AlarmName: 'S-CanaryLatency', StateValue: 'OK', Namespace: METRICS_NAMESPACE, MetricName: METRIC.canaryLatencyMs, Dimensions: DIMS, Threshold: 60_000 },
      { AlarmName: 'S-IteratorAge', StateValue: 'OK', Namespace: 'AWS/Lambda', MetricName: 'IteratorAge', Dimensions: [{ Name: 'FunctionName', Value: 'S-Processor' }], Threshold: 300_000 },
    ],
    CompositeAlarms: [{ AlarmName: 'S-Health', StateValue: 'OK' }],
  });
  m.cw.on(GetMetricDataCommand).callsFake((input) => {
    const name = input.MetricDataQueries[0].MetricStat.Metric.MetricName;
    const value = name === METRIC.canaryLatencyMs ? 1500 : 900;
    // The two latest minutes of the window asked for.
    const end = (input.EndTime as Date).getTime();
    return { MetricDataResults: [{ Id: 'm', Timestamps: [new Date(end - 60_000), new Date(end - 120_000)], Values: [value, value + 1] }] };
  });
  m.lambda.on(ListEventSourceMappingsCommand).resolves({ EventSourceMappings: [{ UUID: 'u-1', State: 'Enabled' }] });
  m.sqs.on(GetQueueAttributesCommand).resolves({ Attributes: { ApproximateNumberOfMessages: '0' } });
}

