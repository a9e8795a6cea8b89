/**
 * The dashboard and the alarms query exactly what the handlers emit: the real handlers run on in-memory ports,
 * their EMF lines are parsed, and every metric of the synthesized dashboard and alarms (namespace, name, dimension
 * names and values) must be one of them. No list of names is copied here.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import {
  CloudFormationClient,
  DescribeStackDriftDetectionStatusCommand,
  DescribeStackResourceDriftsCommand,
  DetectStackDriftCommand,
} from '@aws-sdk/client-cloudformation';
import { Duration } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeAll, describe, expect, it } from 'vitest';
import { alarmMetrics, dashboardMetrics, emittedMetrics, key, type MetricId } from './support/metrics';
import { monitorStack, PIPELINE, twoStagePipeline } from './support/stacks';
import { CorrelatedMonitor, DriftDetector } from '../../../constructs/monitoring';
import { canaryMetrics, createCanary } from '../../../lib/handlers/canary';
import { createDriftDetector, driftMetrics } from '../../../lib/handlers/drift-detector';
import { MemoryDlq, MemorySink } from '../../../lib/handlers/ports/memory';
import { createIngestHandler } from '../../../lib/runtime';
import { captureStdout, FakeClock, kinesisEvent, lambdaContext } from '../../lib/handlers/support/kinesis';

const STACK = 'Monitoring';
/** The deployment id the constructs give the handlers (PHX_DEPLOYMENT): `<stackName>-<region>` of monitorStack(). */
const DEPLOYMENT = `${STACK}-eu-west-1`;

/** Runs `fn` with stdout/stderr captured; returns the JSON lines written. */
async function captured(fn: () => Promise<unknown>): Promise<Array<Record<string, unknown>>> {
  const out = captureStdout();
  try {
    await fn();
  } finally {
    out.restore();
  }
  return out.json();
}

const CANARY_KEY = Buffer.alloc(32, 7);
const FIXTURE_FUTURE_SKEW_MS = 366 * 86_400_000;

/** The canary handler's output: one canary envelope (as put into the stream) and its EMF. */
async function runCanary(): Promise<{ data: Record<string, unknown>; lines: Array<Record<string, unknown>> }> {
  let data: Record<string, unknown> | undefined;
  const lines = await captured(() => createCanary({
    pipeline: PIPELINE,
    entryStage: 'ingest',
    stream: { put: async (bytes) => { data = JSON.parse(Buffer.from(bytes).toString('utf8')); return { shardId: 'shardId-000000000000', sequenceNumber: '1' }; } },
    logger: new Logger({ serviceName: 'test' }),
    metrics: canaryMetrics(PIPELINE, 'ingest', DEPLOYMENT),
    key: async () => CANARY_KEY,
    now: () => 1_764_000_000_000,
  })());
  return { data: data!, lines };
}

/** The ingest handler of `stage` on a batch of good, duplicate, bad and (optionally) canary records. */
async function runStage(stage: string, canary?: Record<string, unknown>): Promise<Array<Record<string, unknown>>> {
  const clock = new FakeClock(1_764_000_000_500);
  const handler = createIngestHandler({
    env: { PHX_PIPELINE: PIPELINE, PHX_DEPLOYMENT: DEPLOYMENT, PHX_STAGE: stage, PHX_KEY_FIELDS: '["orderId"]', PHX_SINK_KIND: 'none', PHX_MAX_FUTURE_SKEW_MS: String(FIXTURE_FUTURE_SKEW_MS) },
    sink: new MemorySink(),
    dlq: new MemoryDlq(),
    clock,
    canaryKey: CANARY_KEY,
  });
  const order = { orderId: 'o-1', eventTime: '2026-01-01T00:00:00.000Z' };
  const records = [order, order, 'not json', { orderId: 'o-2', eventTime: '2026-01-01T00:00:00.000Z' }, ...(canary ? [canary] : [])];
  return captured(() => handler(kinesisEvent(records), lambdaContext(clock)));
}

async function runDrift(stackNames: string[]): Promise<Array<Record<string, unknown>>> {
  const cf = mockClient(CloudFormationClient);
  try {
    cf.on(DetectStackDriftCommand).callsFake((input) => ({ StackDriftDetectionId: `det-${input.StackName}` }));
    cf.on(DescribeStackDriftDetectionStatusCommand).callsFake((input) => ({
      StackDriftDetectionId: input.StackDriftDetectionId,
      DetectionStatus: 'DETECTION_COMPLETE',
      StackDriftStatus: input.StackDriftDetectionId === `det-${stackNames[0]}` ? 'DRIFTED' : 'IN_SYNC',
      DriftedStackResourceCount: input.StackDriftDetectionId === `det-${stackNames[0]}` ? 1 : 0,
    }));
    cf.on(DescribeStackResourceDriftsCommand).resolves({ StackResourceDrifts: [] });
    return await captured(() => createDriftDetector({
      pipeline: PIPELINE,
      stackNames,
      cloudFormation: new CloudFormationClient({ region: 'eu-west-1' }),
      logger: new Logger({ serviceName: 'test' }),
      metrics: driftMetrics(PIPELINE, DEPLOYMENT),
      pollMs: 100,
      clock: { now: () => 0, sleep: async () => undefined },
    })());
  } finally {
    cf.restore();
  }
}

let emitted: MetricId[];
let emittedKeys: Set<string>;
let template: Template;
let monitor: CorrelatedMonitor;

beforeAll(async () => {
  process.env.AWS_REGION ??= 'eu-west-1';
  const canary = await runCanary();
  emitted = [
    ...emittedMetrics(canary.lines),
    ...emittedMetrics(await runStage('ingest')),
    // The canary flows through to the terminal stage, which recognizes it.
    ...emittedMetrics(await runStage('enrich', canary.data)),
    ...emittedMetrics(await runDrift([STACK, 'Other-Stack'])),
  ];
  emittedKeys = new Set(emitted.map(key));

  const { stack } = monitorStack();
  monitor = new CorrelatedMonitor(stack, 'Monitor', { pipeline: twoStagePipeline(stack) });
  const drift = new DriftDetector(stack, 'Drift', { pipelineName: PIPELINE, stackNames: [STACK, 'Other-Stack'] });
  monitor.addAlarm(drift.driftAlarm);
  monitor.addAlarm(drift.detectionAlarm);
  monitor.addWidgets(new cloudwatch.GraphWidget({
    title: 'Drifted resources',
    left: [drift.metricDriftedResources(STACK), drift.metricDriftedResources('Other-Stack')],
  }));
  monitor.addWidgets(new cloudwatch.GraphWidget({ title: 'Drift', left: [drift.metricStacksDrifted({ period: Duration.hours(1) })] }));
  template = Template.fromStack(stack);
});

function own<T extends MetricId>(metrics: T[]): T[] {
  return metrics.filter((m) => !m.namespace.startsWith('AWS/'));
}

describe('metrics contract between the handlers and the monitor', () => {
  it('the handlers emitted the stage, canary and drift metrics (the comparison below is not vacuous)', () => {
    const names = new Set(emitted.map((m) => m.name));
    for (const n of ['RecordsIn', 'ProcessingLatencyMs', 'EndToEndAgeMs', 'CanariesSent', 'CanariesReceived', 'CanaryLatencyMs', 'StackDrifted', 'StacksDrifted']) {
      expect(names, n).toContain(n);
    }
  });

  it('every metric of the dashboard is one the handlers emit (namespace, name, dimension names and values)', () => {
    const drawn = own(dashboardMetrics(template));
    expect(drawn.length).toBeGreaterThan(20);
    expect(drawn.map(key).filter((k) => !emittedKeys.has(k))).toEqual([]);
  });

  it('every metric of every alarm is one the handlers emit', () => {
    const alarmed = own(alarmMetrics(template));
    expect(alarmed.length).toBeGreaterThanOrEqual(5);
    expect(alarmed.filter((m) => !emittedKeys.has(key(m))).map((m) => `${m.alarm}: ${key(m)}`)).toEqual([]);
  });

  it('every stage metric the handler emits is on the dashboard, for every stage (canary receipt: the terminal stage)', () => {
    const drawn = new Set(own(dashboardMetrics(template)).map(key));
    // Every stage emits CanariesReceived (0 where canaries are forwarded); only the terminal stage's is meaningful.
    const stageMetrics = emitted.filter((m) => m.dimensions.Stage !== undefined
      && !(m.name.startsWith('Canar') && m.name !== 'CanariesSent' && m.dimensions.Stage !== 'enrich'));
    expect(stageMetrics.length).toBeGreaterThanOrEqual(2 * 9 + 3);
    expect(stageMetrics.map(key).filter((k) => !drawn.has(k))).toEqual([]);
  });

  it('the AWS/Lambda and AWS/SQS metrics are those of the stages\' processors and dead-letter queues', () => {
    const processors = Object.entries(template.findResources('AWS::Lambda::Function'))
      .filter(([, r]) => r.Properties.Environment?.Variables?.PHX_STAGE !== undefined).map(([id]) => `TOKEN(Ref:${id})`);
    const queues = Object.entries(template.findResources('AWS::SQS::Queue')).map(([id]) => `TOKEN(GetAtt:${id}.QueueName)`);
    expect(processors).toHaveLength(2);
    const aws = [...dashboardMetrics(template), ...alarmMetrics(template)].filter((m) => m.namespace.startsWith('AWS/'));
    const lambda = aws.filter((m) => m.namespace === 'AWS/Lambda');
    const sqs = aws.filter((m) => m.namespace === 'AWS/SQS');
    expect(lambda.length + sqs.length).toBe(aws.length);
    for (const m of lambda) expect(Object.keys(m.dimensions)).toEqual(['FunctionName']);
    expect(new Set(lambda.map((m) => m.dimensions.FunctionName))).toEqual(new Set(processors));
    expect(new Set(lambda.map((m) => m.name))).toEqual(new Set(['Invocations', 'Errors', 'Throttles', 'IteratorAge']));
    for (const m of sqs) expect(Object.keys(m.dimensions)).toEqual(['QueueName']);
    expect(new Set(sqs.map((m) => m.dimensions.QueueName))).toEqual(new Set(queues));
    expect(new Set(sqs.map((m) => m.name))).toEqual(new Set(['ApproximateNumberOfMessagesVisible', 'ApproximateAgeOfOldestMessage']));
  });

  it('a metric the handlers do not emit is caught (wrong dimension set)', () => {
    const bogus = { namespace: 'PhoenixPipelines', name: 'RecordsIn', dimensions: { Pipeline: PIPELINE } };
    expect(emittedKeys.has(key(bogus))).toBe(false);
    const wrongStage = { namespace: 'PhoenixPipelines', name: 'RecordsIn', dimensions: { Deployment: DEPLOYMENT, Pipeline: PIPELINE, Stage: 'nope' } };
    expect(emittedKeys.has(key(wrongStage))).toBe(false);
    const otherCopy = { namespace: 'PhoenixPipelines', name: 'RecordsIn', dimensions: { Deployment: 'Other-eu-west-1', Pipeline: PIPELINE, Stage: 'ingest' } };
    expect(emittedKeys.has(key(otherCopy))).toBe(false);
  });
});
