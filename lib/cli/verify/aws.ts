/**
 * `phoenix verify --stack`: the observations of a deployed stack, read with the caller's credentials (CloudFormation,
 * CloudWatch, SQS, Lambda). A read that fails becomes that check's `error` (FAIL), never a pass.
 */
import {
  DescribeStackDriftDetectionStatusCommand, DetectStackDriftCommand, paginateListStackResources, type CloudFormationClient,
} from '@aws-sdk/client-cloudformation';
import {
  DescribeAlarmsCommand, GetMetricDataCommand, type CloudWatchClient, type CompositeAlarm, type MetricAlarm,
} from '@aws-sdk/client-cloudwatch';
import { paginateListEventSourceMappings, type LambdaClient } from '@aws-sdk/client-lambda';
import type { SQSClient } from '@aws-sdk/client-sqs';
import { deadLetters } from './dlq';
import { cloudFormationClient, cloudWatchClient, lambdaClient, sqsClient } from '../../aws/clients';
import {
  canaryLatencyAlarm, iteratorAgeAlarmThreshold, observe,
  type AlarmObservation, type Datapoint, type MappingObservation, type MetricId, type Observed, type VerifyObservations,
} from '../../core/verify';
import type { PipelineOutputs } from '../../local/pipeline-outputs';

export interface AwsVerifyClients {
  readonly cfn: CloudFormationClient;
  readonly cw: CloudWatchClient;
  readonly lambda: LambdaClient;
  readonly sqs: SQSClient;
  destroy(): void;
}

export function awsVerifyClients(region: string): AwsVerifyClients {
  const c = { region, maxAttempts: 5 };
  const cfn = cloudFormationClient(c);
  const cw = cloudWatchClient(c);
  const lambda = lambdaClient(c);
  const sqs = sqsClient(c);
  return { cfn, cw, lambda, sqs, destroy: () => { cfn.destroy(); cw.destroy(); lambda.destroy(); sqs.destroy(); } };
}

export interface AwsVerifyTarget {
  readonly stack: string;
  /** The pipeline's outputs (DescribeStacks, `--pipeline`). */
  readonly outputs: PipelineOutputs;
  readonly windowMs: number;
  /** Bound of the drift detection wait. */
  readonly driftTimeoutMs: number;
  readonly now?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
}

interface StackResources { readonly alarmNames: string[]; readonly functionNames: string[] }

async function stackResources(cfn: CloudFormationClient, stack: string): Promise<StackResources> {
  const alarmNames: string[] = [];
  const functionNames: string[] = [];
  for await (const page of paginateListStackResources({ client: cfn }, { StackName: stack })) {
    for (const r of page.StackResourceSummaries ?? []) {
      if (!r.PhysicalResourceId) continue;
      if (r.ResourceType === 'AWS::CloudWatch::Alarm' || r.ResourceType === 'AWS::CloudWatch::CompositeAlarm') alarmNames.push(r.PhysicalResourceId);
      if (r.ResourceType === 'AWS::Lambda::Function') functionNames.push(r.PhysicalResourceId);
    }
  }
  return { alarmNames, functionNames };
}

function alarmObservation(a: MetricAlarm | CompositeAlarm): AlarmObservation {
  const base = { name: a.AlarmName ?? '?', state: a.StateValue ?? 'INSUFFICIENT_DATA' };
  if (!('MetricName' in a) || !a.MetricName || !a.Namespace) return base;
  const dimensions = Object.fromEntries((a.Dimensions ?? []).map((d) => [d.Name ?? '', d.Value ?? '']));
  return { ...base, metric: { namespace: a.Namespace, name: a.MetricName, dimensions }, threshold: a.Threshold };
}

/** The stack's alarms (its AWS::CloudWatch::Alarm and CompositeAlarm resources), 100 names per DescribeAlarms. */
async function describeAlarms(cw: CloudWatchClient, names: readonly string[]): Promise<AlarmObservation[]> {
  const out: AlarmObservation[] = [];
  for (let i = 0; i < names.length; i += 100) {
    const res = await cw.send(new DescribeAlarmsCommand({ AlarmNames: names.slice(i, i + 100), AlarmTypes: ['MetricAlarm', 'CompositeAlarm'] }));
    for (const a of [...(res.MetricAlarms ?? []), ...(res.CompositeAlarms ?? [])]) out.push(alarmObservation(a));
  }
  return out;
}

/** Maximum per minute of `metric` over the window (GetMetricData). */
async function maxPerMinute(cw: CloudWatchClient, metric: MetricId, now: number, windowMs: number): Promise<Datapoint[]> {
  const res = await cw.send(new GetMetricDataCommand({
    StartTime: new Date(now - windowMs),
    EndTime: new Date(now),
    MetricDataQueries: [{
      Id: 'm',
      MetricStat: {
        Metric: {
          Namespace: metric.namespace,
          MetricName: metric.name,
          Dimensions: Object.entries(metric.dimensions).map(([Name, Value]) => ({ Name, Value })),
        },
        Period: 60,
        Stat: 'Maximum',
      },
    }],
  }));
  const r = res.MetricDataResults?.[0];
  return (r?.Timestamps ?? []).map((t, i) => ({ at: t.getTime(), value: r!.Values![i] }));
}

/** DetectStackDrift, then DescribeStackDriftDetectionStatus every 2 s until it is done or `t.driftTimeoutMs` passed. */
async function drift(cfn: CloudFormationClient, t: AwsVerifyTarget): Promise<Observed<{ status: string; detail?: string }>> {
  const sleep = t.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const { StackDriftDetectionId: id } = await cfn.send(new DetectStackDriftCommand({ StackName: t.stack }));
  const end = Date.now() + t.driftTimeoutMs;
  for (;;) {
    const s = await cfn.send(new DescribeStackDriftDetectionStatusCommand({ StackDriftDetectionId: id }));
    if (s.DetectionStatus === 'DETECTION_COMPLETE') return { status: s.StackDriftStatus ?? 'UNKNOWN', detail: `${s.DriftedStackResourceCount ?? 0} drifted resource(s)` };
    if (s.DetectionStatus === 'DETECTION_FAILED') return { status: s.StackDriftStatus ?? 'UNKNOWN', detail: `detection failed: ${s.DetectionStatusReason ?? 'no reason given'}` };
    if (Date.now() >= end) return { error: `drift detection ${id} still ${s.DetectionStatus ?? 'running'} after ${t.driftTimeoutMs / 1000} s` };
    await sleep(2000);
  }
}

async function mappings(lambda: LambdaClient, functionNames: readonly string[]): Promise<MappingObservation[]> {
  const out: MappingObservation[] = [];
  for (const fn of functionNames) {
    for await (const page of paginateListEventSourceMappings({ client: lambda }, { FunctionName: fn })) {
      for (const m of page.EventSourceMappings ?? []) out.push({ id: m.UUID ?? '?', functionName: fn, state: m.State ?? 'unknown' });
    }
  }
  return out;
}

type CanaryObserved = VerifyObservations['canary'];

async function canary(cw: CloudWatchClient, alarms: Observed<readonly AlarmObservation[]>, t: AwsVerifyTarget, now: number): Promise<CanaryObserved> {
  if (!Array.isArray(alarms)) return { error: 'the stack\'s alarms could not be read, so neither can its canary latency alarm' };
  const alarm = canaryLatencyAlarm(alarms as AlarmObservation[], t.outputs.PipelineName);
  if (!alarm?.metric) return { skip: 'the stack has no canary latency alarm (a CorrelatedMonitor with its canary enabled) for this pipeline' };
  return { metric: alarm.metric, points: await maxPerMinute(cw, alarm.metric, now, t.windowMs), alarmThreshold: alarm.threshold };
}

async function iteratorAge(cw: CloudWatchClient, alarms: Observed<readonly AlarmObservation[]>, t: AwsVerifyTarget, now: number): Promise<VerifyObservations['iteratorAge']> {
  const stream = t.outputs.StreamName;
  if (!stream) return { error: 'the stack has no StreamName output for this pipeline' };
  const metric: MetricId = { namespace: 'AWS/Kinesis', name: 'GetRecords.IteratorAgeMilliseconds', dimensions: { StreamName: stream } };
  const processors = t.outputs.ProcessorName ? [t.outputs.ProcessorName] : [];
  const threshold = Array.isArray(alarms) ? iteratorAgeAlarmThreshold(alarms as AlarmObservation[], processors) : undefined;
  return { what: `GetRecords.IteratorAgeMilliseconds of ${stream}`, points: await maxPerMinute(cw, metric, now, t.windowMs), alarmThreshold: threshold };
}

/** Every observation of the deployed stack. */
export async function gatherAws(c: AwsVerifyClients, t: AwsVerifyTarget): Promise<VerifyObservations> {
  const now = (t.now ?? Date.now)();
  const resources = await observe(() => stackResources(c.cfn, t.stack));
  const failed = 'error' in resources ? { error: `the stack's resources could not be listed: ${resources.error}` } : undefined;
  const res = resources as StackResources;
  const [alarms, dlq, driftStatus, esm] = await Promise.all([
    failed ?? observe(() => describeAlarms(c.cw, res.alarmNames)),
    observe(() => deadLetters(c.sqs, t.outputs.DlqUrl)),
    observe(() => drift(c.cfn, t)),
    failed ?? observe(() => mappings(c.lambda, res.functionNames)),
  ]);
  const [canaryObserved, iterator] = await Promise.all([
    observe(() => canary(c.cw, alarms, t, now)),
    observe(() => iteratorAge(c.cw, alarms, t, now)),
  ]);
  return { now, canary: canaryObserved, deadLetters: dlq, alarms, drift: driftStatus, mappings: esm, iteratorAge: iterator };
}
