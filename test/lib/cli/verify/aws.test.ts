/**
 * The AWS adapter of `phoenix verify` against mocked SDK clients (aws-sdk-client-mock): nothing here has an AWS
 * account, so these tests pin which calls it makes and how their answers become observations.
 */
import { DescribeStackDriftDetectionStatusCommand, ListStackResourcesCommand } from '@aws-sdk/client-cloudformation';
import { DescribeAlarmsCommand, GetMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { ListEventSourceMappingsCommand } from '@aws-sdk/client-lambda';
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DIMS, mockHealthyAws, NOW, type AwsMocks } from './support';
import { METRIC, METRICS_NAMESPACE } from '../../../../constructs/contract';
import { awsVerifyClients, gatherAws, type AwsVerifyTarget } from '../../../../lib/cli/verify/aws';
import { queueDepth } from '../../../../lib/cli/verify/dlq';
import { judge } from '../../../../lib/core/verify';

const target: AwsVerifyTarget = {
  stack: 'S',
  outputs: { PipelineName: 'orders', StreamName: 'S-Stream', ProcessorName: 'S-Processor', DlqUrl: 'https://sqs.us-east-1.amazonaws.com/123456789012/S-Dlq' },
  windowMs: 15 * 60_000,
  driftTimeoutMs: 10_000,
  now: () => NOW,
  sleep: () => Promise.resolve(),
};

let mocks: AwsMocks;
let cfn: AwsMocks['cfn'];
let cw: AwsMocks['cw'];
let lambda: AwsMocks['lambda'];
let sqs: AwsMocks['sqs'];
beforeEach(() => {
  mocks = mockHealthyAws();
  ({ cfn, cw, lambda, sqs } = mocks);
});
afterEach(() => mocks.restore());

async function gather(t: AwsVerifyTarget = target): Promise<ReturnType<typeof judge>> {
  const clients = awsVerifyClients('us-east-1');
  try {
    return judge(await gatherAws(clients, t), { windowMs: t.windowMs, maxDeadLetters: 0 });
  } finally {
    clients.destroy();
  }
}

describe('gatherAws', () => {
  it('a healthy stack passes every check, from the stack\'s own alarms, resources and outputs', async () => {
    const results = await gather();
    expect(results.map((r) => `${r.status} ${r.check}`)).toEqual([
      'PASS canary', 'PASS dead-letters', 'PASS alarms', 'PASS drift', 'PASS event-source-mappings', 'PASS iterator-age',
    ]);
    // The alarms asked for are the stack's alarm resources; the canary metric is the canary alarm's (dimensions included).
    expect(cw.commandCalls(DescribeAlarmsCommand)[0].args[0].input.AlarmNames).toEqual(['S-CanaryLatency', 'S-IteratorAge', 'S-Health']);
    const queries = cw.commandCalls(GetMetricDataCommand).map((c) => c.args[0].input.MetricDataQueries![0].MetricStat!.Metric!);
    expect(queries).toContainEqual({ Namespace: METRICS_NAMESPACE, MetricName: METRIC.canaryLatencyMs, Dimensions: DIMS });
    expect(queries).toContainEqual({ Namespace: 'AWS/Kinesis', MetricName: 'GetRecords.IteratorAgeMilliseconds', Dimensions: [{ Name: 'StreamName', Value: 'S-Stream' }] });
    expect(lambda.commandCalls(ListEventSourceMappingsCommand)[0].args[0].input.FunctionName).toBe('S-Processor');
    expect(sqs.commandCalls(GetQueueAttributesCommand)[0].args[0].input.QueueUrl).toBe(target.outputs.DlqUrl);
    expect(results[0].detail).toMatch(/1500 ms .*within the SLO 60000 ms/);
  });

  it('an alarm in ALARM, a disabled mapping, dead letters and drift fail', async () => {
    cw.on(DescribeAlarmsCommand).resolves({ MetricAlarms: [{ AlarmName: 'S-IteratorAge', StateValue: 'ALARM' }], CompositeAlarms: [] });
    lambda.on(ListEventSourceMappingsCommand).resolves({ EventSourceMappings: [{ UUID: 'u-1', State: 'Disabled' }] });
    sqs.on(GetQueueAttributesCommand).resolves({ Attributes: { ApproximateNumberOfMessages: '7' } });
    cfn.on(DescribeStackDriftDetectionStatusCommand).resolves({ DetectionStatus: 'DETECTION_COMPLETE', StackDriftStatus: 'DRIFTED', DriftedStackResourceCount: 2, StackId: 's', StackDriftDetectionId: 'det-1', Timestamp: new Date() });
    const byCheck = Object.fromEntries((await gather()).map((r) => [r.check, r]));
    expect(byCheck.alarms).toMatchObject({ status: 'FAIL', detail: expect.stringMatching(/in ALARM: S-IteratorAge/) });
    expect(byCheck['event-source-mappings']).toMatchObject({ status: 'FAIL', detail: expect.stringMatching(/u-1 -> S-Processor Disabled/) });
    expect(byCheck['dead-letters']).toMatchObject({ status: 'FAIL', detail: expect.stringMatching(/^7 message/) });
    expect(byCheck.drift).toMatchObject({ status: 'FAIL', detail: 'stack drift status DRIFTED (2 drifted resource(s))' });
    // No canary latency alarm left: SKIP with the reason.
    expect(byCheck.canary).toMatchObject({ status: 'SKIP', detail: expect.stringMatching(/no canary latency alarm/) });
  });

  it('polls drift detection until done, and fails when it does not finish in time', async () => {
    let calls = 0;
    cfn.on(DescribeStackDriftDetectionStatusCommand).callsFake(() => {
      calls++;
      return { DetectionStatus: calls < 3 ? 'DETECTION_IN_PROGRESS' : 'DETECTION_COMPLETE', StackDriftStatus: 'IN_SYNC', StackId: 's', StackDriftDetectionId: 'det-1', Timestamp: new Date() };
    });
    expect((await gather()).find((r) => r.check === 'drift')!.status).toBe('PASS');
    expect(calls).toBe(3);
    cfn.on(DescribeStackDriftDetectionStatusCommand).resolves({ DetectionStatus: 'DETECTION_IN_PROGRESS', StackId: 's', StackDriftDetectionId: 'det-1', Timestamp: new Date() });
    const drift = (await gather({ ...target, driftTimeoutMs: 0 })).find((r) => r.check === 'drift')!;
    expect(drift).toMatchObject({ status: 'FAIL', detail: expect.stringMatching(/still DETECTION_IN_PROGRESS after 0 s/) });
  });

  it('a failed read fails its checks with the error, never passes', async () => {
    cfn.on(ListStackResourcesCommand).rejects(Object.assign(new Error('User is not authorized to perform: cloudformation:ListStackResources'), { name: 'AccessDenied' }));
    const byCheck = Object.fromEntries((await gather()).map((r) => [r.check, r]));
    for (const c of ['alarms', 'event-source-mappings', 'canary'] as const) {
      expect(byCheck[c].status, c).toBe('FAIL');
    }
    expect(byCheck.alarms.detail).toMatch(/could not be read: .*not authorized/);
    expect(byCheck['dead-letters'].status).toBe('PASS');
  });

  it('a DLQ depth that is not a count is an error', () => {
    expect(queueDepth('q', undefined)).toEqual({ error: expect.stringMatching(/no ApproximateNumberOfMessages count for q/) });
    expect(queueDepth('q', '12')).toEqual({ queue: 'q', messages: 12 });
  });
});
