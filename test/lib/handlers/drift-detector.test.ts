import { Logger } from '@aws-lambda-powertools/logger';
import {
  CloudFormationClient,
  DescribeStackDriftDetectionStatusCommand,
  DescribeStackResourceDriftsCommand,
  DetectStackDriftCommand,
} from '@aws-sdk/client-cloudformation';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { captureStdout, FakeClock, lambdaContext } from './support/kinesis';
import { ConfigError } from '../../../lib/core/errors';
import {
  createDriftDetector,
  driftMetrics,
  loadDriftConfig,
  MAX_POLL_MS,
  type DriftRunResult,
} from '../../../lib/handlers/drift-detector';
import { emittedMetrics } from '../../constructs/monitoring/support/metrics';

let cf: ReturnType<typeof mockClient>;
let out: ReturnType<typeof captureStdout> | undefined;
beforeEach(() => {
  cf = mockClient(CloudFormationClient);
});
afterEach(() => {
  out?.restore();
  out = undefined;
  cf.restore();
});

type Status = { DetectionStatus: string; StackDriftStatus?: string; DriftedStackResourceCount?: number; DetectionStatusReason?: string };

/** Stacks answer with `statuses[name]` in turn (the last one repeats). */
function fakeCloudFormation(statuses: Record<string, Status[] | Error>): void {
  cf.on(DetectStackDriftCommand).callsFake((input) => {
    const s = statuses[input.StackName];
    if (s instanceof Error) throw s;
    return { StackDriftDetectionId: `det-${input.StackName}` };
  });
  const calls = new Map<string, number>();
  cf.on(DescribeStackDriftDetectionStatusCommand).callsFake((input) => {
    const name = input.StackDriftDetectionId.slice(4);
    const n = calls.get(name) ?? 0;
    calls.set(name, n + 1);
    const list = statuses[name] as Status[];
    return { StackDriftDetectionId: input.StackDriftDetectionId, ...list[Math.min(n, list.length - 1)] };
  });
  cf.on(DescribeStackResourceDriftsCommand).resolves({
    StackResourceDrifts: [{
      StackId: 'x',
      LogicalResourceId: 'IngestStream',
      PhysicalResourceId: 'orders-stream',
      ResourceType: 'AWS::Kinesis::Stream',
      StackResourceDriftStatus: 'MODIFIED',
      Timestamp: new Date(0),
      PropertyDifferences: [{ PropertyPath: '/RetentionPeriodHours', DifferenceType: 'NOT_EQUAL', ExpectedValue: '168', ActualValue: '24' }],
    }],
  });
}

interface Run { result: DriftRunResult; clock: FakeClock; lines: Array<Record<string, unknown>> }

async function run(stackNames: string[], timeoutMs = 600_000, pollMs = 5_000): Promise<Run> {
  const clock = new FakeClock(0);
  out = captureStdout();
  const result = await createDriftDetector({
    pipeline: 'orders',
    stackNames,
    pollMs,
    cloudFormation: new CloudFormationClient({ region: 'eu-west-1' }),
    logger: new Logger({ serviceName: 'orders' }),
    metrics: driftMetrics('orders'),
    clock,
  })({}, lambdaContext(clock, timeoutMs));
  const lines = out.json();
  out.restore();
  out = undefined;
  return { result, clock, lines };
}

const COMPLETE_IN_SYNC: Status = { DetectionStatus: 'DETECTION_COMPLETE', StackDriftStatus: 'IN_SYNC', DriftedStackResourceCount: 0 };
const IN_PROGRESS: Status = { DetectionStatus: 'DETECTION_IN_PROGRESS' };

describe('drift detector run', () => {
  it('polls until complete and reports per stack ({ Pipeline, StackName }) and per run ({ Pipeline })', async () => {
    fakeCloudFormation({
      Prod: [IN_PROGRESS, IN_PROGRESS, { DetectionStatus: 'DETECTION_COMPLETE', StackDriftStatus: 'DRIFTED', DriftedStackResourceCount: 1 }],
      Shared: [COMPLETE_IN_SYNC],
    });
    const { result, lines } = await run(['Prod', 'Shared']);
    expect(result).toEqual({
      stacksDrifted: 1,
      failures: 0,
      stacks: [
        { stackName: 'Prod', detectionStatus: 'DETECTION_COMPLETE', stackDriftStatus: 'DRIFTED', driftedResources: 1, failure: undefined },
        { stackName: 'Shared', detectionStatus: 'DETECTION_COMPLETE', stackDriftStatus: 'IN_SYNC', driftedResources: 0, failure: undefined },
      ],
    });
    const docs = lines.filter((l) => l._aws);
    expect(emittedMetrics(docs).map((m) => `${m.name}${JSON.stringify(m.dimensions)}`).sort()).toEqual([
      'DriftDetectionFailures{"Pipeline":"orders"}',
      'DriftedResources{"Pipeline":"orders","StackName":"Prod"}',
      'DriftedResources{"Pipeline":"orders","StackName":"Shared"}',
      'StackDrifted{"Pipeline":"orders","StackName":"Prod"}',
      'StackDrifted{"Pipeline":"orders","StackName":"Shared"}',
      'StacksDrifted{"Pipeline":"orders"}',
    ]);
    expect(docs.find((d) => d.StackName === 'Prod')).toMatchObject({ StackDrifted: 1, DriftedResources: 1 });
    expect(docs.find((d) => d.StackName === 'Shared')).toMatchObject({ StackDrifted: 0, DriftedResources: 0 });
    expect(docs.find((d) => d.StackName === undefined)).toMatchObject({ StacksDrifted: 1, DriftDetectionFailures: 0 });
    expect(docs.every((d) => d.service === undefined)).toBe(true);
    expect(lines.find((l) => l.message === 'stack drifted')).toMatchObject({
      level: 'WARN',
      stackName: 'Prod',
      resources: [{ logicalResourceId: 'IngestStream', resourceType: 'AWS::Kinesis::Stream', status: 'MODIFIED', differences: ['NOT_EQUAL /RetentionPeriodHours'] }],
    });
    expect(cf.commandCalls(DescribeStackResourceDriftsCommand).map((c) => c.args[0].input)).toEqual([
      { StackName: 'Prod', StackResourceDriftStatusFilters: ['MODIFIED', 'DELETED'], MaxResults: 100 },
    ]);
  });

  it('a stack whose detection cannot start is a failure without per-stack metrics; the others are still checked', async () => {
    fakeCloudFormation({ Gone: Object.assign(new Error('Stack with id Gone does not exist'), { name: 'ValidationError' }), Shared: [COMPLETE_IN_SYNC] });
    const { result, lines } = await run(['Gone', 'Shared']);
    expect(result.failures).toBe(1);
    expect(result.stacks[0]).toEqual({ stackName: 'Gone', failure: expect.stringMatching(/DetectStackDrift failed: .*does not exist/) });
    expect(lines.filter((l) => l._aws && l.StackName === 'Gone')).toEqual([]);
    expect(lines.find((l) => l.message === 'drift detection failed')).toMatchObject({ level: 'ERROR', stackName: 'Gone' });
    expect(lines.find((l) => l._aws && l.StackName === undefined)).toMatchObject({ DriftDetectionFailures: 1, StacksDrifted: 0 });
  });

  it('DETECTION_FAILED (a resource could not be read) counts as a failure, keeping the partial drift status', async () => {
    fakeCloudFormation({ Prod: [{ DetectionStatus: 'DETECTION_FAILED', StackDriftStatus: 'IN_SYNC', DriftedStackResourceCount: 0, DetectionStatusReason: 'Failed to detect drift on resource [Table]: not authorized to perform: dynamodb:DescribeTable' }] });
    const { result, lines } = await run(['Prod']);
    expect(result.stacks[0]).toMatchObject({ stackDriftStatus: 'IN_SYNC', failure: expect.stringMatching(/DETECTION_FAILED: .*dynamodb:DescribeTable/) });
    expect(lines.find((l) => l._aws && l.StackName === undefined)).toMatchObject({ DriftDetectionFailures: 1 });
    expect(lines.find((l) => l._aws && l.StackName === 'Prod')).toMatchObject({ StackDrifted: 0 });
  });

  it('polling is bounded by the invocation time: a detection still running is a timeout failure, no poll waits past the margin', async () => {
    fakeCloudFormation({ Slow: [IN_PROGRESS] });
    const { result, clock } = await run(['Slow'], 60_000);
    expect(result.stacks[0]).toMatchObject({ detectionStatus: 'DETECTION_IN_PROGRESS', failure: expect.stringMatching(/did not finish within/) });
    expect(clock.t).toBeLessThanOrEqual(60_000 - 5_000);
    // Backoff: 5 s, then x1.5 each poll, capped.
    expect(clock.sleeps.slice(0, 4)).toEqual([5_000, 7_500, 11_250, 16_875]);
    expect(Math.max(...clock.sleeps)).toBeLessThanOrEqual(MAX_POLL_MS);
    const longer = await run(['Slow'], 900_000);
    expect(Math.max(...longer.clock.sleeps)).toBe(MAX_POLL_MS);
    expect(longer.clock.t).toBeLessThanOrEqual(895_000);
  });
});

describe('drift detector configuration', () => {
  it('reads the pipeline, the stacks and the poll interval', () => {
    expect(loadDriftConfig({ PHX_PIPELINE: 'orders', PHX_DRIFT_STACKS: '["A","B-2"]' })).toEqual({ pipeline: 'orders', stackNames: ['A', 'B-2'], pollMs: 5_000 });
    expect(loadDriftConfig({ PHX_PIPELINE: 'orders', PHX_DRIFT_STACKS: '["A"]', PHX_DRIFT_POLL_MS: '1000' }).pollMs).toBe(1_000);
  });
  it('fails naming the variable, its value and what is allowed', () => {
    expect(() => loadDriftConfig({ PHX_DRIFT_STACKS: '["A"]' })).toThrow(ConfigError);
    expect(() => loadDriftConfig({ PHX_PIPELINE: 'orders', PHX_DRIFT_STACKS: '[]' })).toThrow(/PHX_DRIFT_STACKS="\[\]"; allowed: a JSON array of distinct CloudFormation stack names/);
    expect(() => loadDriftConfig({ PHX_PIPELINE: 'orders', PHX_DRIFT_STACKS: '["A","A"]' })).toThrow(/PHX_DRIFT_STACKS/);
    expect(() => loadDriftConfig({ PHX_PIPELINE: 'orders', PHX_DRIFT_STACKS: 'A' })).toThrow(/PHX_DRIFT_STACKS="A"/);
    expect(() => loadDriftConfig({ PHX_PIPELINE: 'orders', PHX_DRIFT_STACKS: '["A"]', PHX_DRIFT_POLL_MS: '10' })).toThrow(/PHX_DRIFT_POLL_MS="10"; allowed: an integer between 100 and 30000/);
  });
});
