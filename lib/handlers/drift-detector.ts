/**
 * The drift detector Lambda function (bundled into assets/lib/handlers/drift-detector/index.js), invoked by an
 * EventBridge Scheduler schedule. For every configured stack it starts CloudFormation drift detection
 * (DetectStackDrift), polls DescribeStackDriftDetectionStatus with a bounded backoff until the detection finishes or
 * the invocation's time is nearly spent, lists the drifted resources (DescribeStackResourceDrifts) into the log, and
 * publishes the result as EMF in namespace `PhoenixPipelines`:
 *
 * - per stack, dimensions `{ Pipeline, StackName }`: `StackDrifted` (1/0) and `DriftedResources` (count), only when
 *   the stack's drift status is known;
 * - per run, dimensions `{ Pipeline }`: `StacksDrifted` and `DriftDetectionFailures` (always, 0 included, so that a
 *   silent detector is visible as missing data).
 *
 * Configuration (set by the DriftDetector construct): PHX_PIPELINE, PHX_DRIFT_STACKS (JSON array of stack names),
 * PHX_DRIFT_POLL_MS.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import {
  type CloudFormationClient,
  DescribeStackDriftDetectionStatusCommand,
  DescribeStackResourceDriftsCommand,
  DetectStackDriftCommand,
  type StackResourceDrift,
} from '@aws-sdk/client-cloudformation';
import type { Context } from 'aws-lambda';
import { deploymentDimension, DRIFT_METRIC, ENV, METRIC_DIMENSIONS, METRICS_NAMESPACE, MONITOR_ENV, STACK_NAME_DIMENSION } from '../../constructs/contract';
import { cloudFormationClient } from '../aws/clients';
import { ConfigError } from '../core/errors';
import { describeError } from '../core/failure';
import { isResourceName, RESOURCE_NAME_ALLOWED } from '../core/names';

/** Outcome of one stack's check. */
/** One scheduled run (the Lambda handler once configured). */
export type DriftRun = (event?: unknown, context?: Context) => Promise<DriftRunResult>;

export interface StackDriftResult {
  readonly stackName: string;
  /** DRIFTED, IN_SYNC, UNKNOWN, NOT_CHECKED, or undefined when the detection never reported a status. */
  readonly stackDriftStatus?: string;
  /** DETECTION_COMPLETE, DETECTION_FAILED, DETECTION_IN_PROGRESS (timed out) or undefined (could not start). */
  readonly detectionStatus?: string;
  readonly driftedResources?: number;
  /** Why the check failed (could not start, detection failed, timed out); undefined when it completed. */
  readonly failure?: string;
}

export interface DriftRunResult {
  readonly stacks: StackDriftResult[];
  readonly stacksDrifted: number;
  readonly failures: number;
}

/** Time functions, injectable for tests. */
export interface DriftClock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

const systemClock: DriftClock = { now: () => Date.now(), sleep: (ms) => new Promise((r) => setTimeout(r, ms)) };

export interface DriftDeps {
  readonly pipeline: string;
  readonly stackNames: readonly string[];
  readonly cloudFormation: CloudFormationClient;
  readonly logger: Logger;
  /** Powertools Metrics in METRICS_NAMESPACE with default dimensions exactly { Pipeline }. */
  readonly metrics: Metrics;
  /** First delay between status polls (ms); later delays grow by half up to {@link MAX_POLL_MS}. @default 5000 */
  readonly pollMs?: number;
  /** Time kept free before the Lambda timeout (ms): no poll waits past remaining time - margin. @default 5000 */
  readonly safetyMarginMs?: number;
  readonly clock?: DriftClock;
}

export const DEFAULT_POLL_MS = 5_000;
export const MAX_POLL_MS = 30_000;
export const DEFAULT_SAFETY_MARGIN_MS = 5_000;
/** Drifted resources listed in the log per stack (one DescribeStackResourceDrifts page). */
export const MAX_LISTED_RESOURCES = 100;

/** CloudFormation stack names: a letter, then letters, digits and hyphens, up to 128 characters. */
const STACK_NAME = /^[A-Za-z][A-Za-z0-9-]{0,127}$/;

export function loadDriftConfig(
  env: Readonly<Record<string, string | undefined>>,
): { pipeline: string; deployment?: string; stackNames: string[]; pollMs: number } {
  const pipeline = env[ENV.pipeline];
  if (pipeline === undefined || !isResourceName(pipeline)) {
    throw new ConfigError(ENV.pipeline, pipeline, RESOURCE_NAME_ALLOWED);
  }
  const raw = env[MONITOR_ENV.driftStacks];
  let stackNames: unknown;
  try {
    stackNames = JSON.parse(raw ?? '');
  } catch {
    stackNames = undefined;
  }
  if (!Array.isArray(stackNames) || stackNames.length === 0 || stackNames.some((s) => typeof s !== 'string' || !STACK_NAME.test(s))
    || new Set(stackNames).size !== stackNames.length) {
    throw new ConfigError(MONITOR_ENV.driftStacks, raw, 'a JSON array of distinct CloudFormation stack names, at least one');
  }
  const pollRaw = env[MONITOR_ENV.driftPollMs];
  const pollMs = pollRaw === undefined ? DEFAULT_POLL_MS : Number(pollRaw);
  if (!Number.isInteger(pollMs) || pollMs < 100 || pollMs > MAX_POLL_MS) {
    throw new ConfigError(MONITOR_ENV.driftPollMs, pollRaw, `an integer between 100 and ${MAX_POLL_MS} (milliseconds)`);
  }
  return { pipeline, deployment: env[ENV.deployment] || undefined, stackNames: stackNames as string[], pollMs };
}

/** Metrics in the contract namespace with exactly the { Deployment, Pipeline } default dimensions (Powertools' `service` removed). */
export function driftMetrics(pipeline: string, deployment?: string): Metrics {
  const metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName: `phoenix-${pipeline}-drift` });
  metrics.clearDefaultDimensions();
  metrics.setDefaultDimensions({ ...deploymentDimension(deployment), [METRIC_DIMENSIONS.pipeline]: pipeline });
  return metrics;
}

function describeResource(r: StackResourceDrift): Record<string, unknown> {
  return {
    logicalResourceId: r.LogicalResourceId,
    physicalResourceId: r.PhysicalResourceId,
    resourceType: r.ResourceType,
    status: r.StackResourceDriftStatus,
    differences: (r.PropertyDifferences ?? []).map((d) => `${d.DifferenceType ?? '?'} ${d.PropertyPath ?? '?'}`),
  };
}

/** Creates the run: checks every stack once per call, publishes the metrics, never throws for a stack's failure. */
export function createDriftDetector(deps: DriftDeps): DriftRun {
  const clock = deps.clock ?? systemClock;
  const firstPoll = deps.pollMs ?? DEFAULT_POLL_MS;
  const margin = deps.safetyMarginMs ?? DEFAULT_SAFETY_MARGIN_MS;
  const { cloudFormation: cf, logger, metrics } = deps;

  async function checkStack(stackName: string, deadline: number): Promise<StackDriftResult> {
    const started = clock.now();
    let detectionId: string | undefined;
    try {
      detectionId = (await cf.send(new DetectStackDriftCommand({ StackName: stackName }))).StackDriftDetectionId;
    } catch (err) {
      return { stackName, failure: `DetectStackDrift failed: ${describeError(err)}` };
    }
    if (!detectionId) return { stackName, failure: 'DetectStackDrift returned no StackDriftDetectionId' };
    let wait = firstPoll;
    for (;;) {
      if (clock.now() + wait > deadline) {
        return { stackName, detectionStatus: 'DETECTION_IN_PROGRESS', failure: `detection ${detectionId} did not finish within ${clock.now() - started} ms (the invocation's time budget)` };
      }
      await clock.sleep(wait);
      wait = Math.min(Math.round(wait * 1.5), MAX_POLL_MS);
      let status;
      try {
        status = await cf.send(new DescribeStackDriftDetectionStatusCommand({ StackDriftDetectionId: detectionId }));
      } catch (err) {
        return { stackName, failure: `DescribeStackDriftDetectionStatus failed: ${describeError(err)}` };
      }
      if (status.DetectionStatus === 'DETECTION_IN_PROGRESS') continue;
      const known = status.StackDriftStatus === 'DRIFTED' || status.StackDriftStatus === 'IN_SYNC';
      return {
        stackName,
        detectionStatus: status.DetectionStatus,
        stackDriftStatus: status.StackDriftStatus,
        driftedResources: known ? status.DriftedStackResourceCount ?? 0 : undefined,
        failure: status.DetectionStatus === 'DETECTION_COMPLETE'
          ? undefined
          : `detection ${status.DetectionStatus ?? 'without status'}: ${status.DetectionStatusReason ?? 'no reason given'}`,
      };
    }
  }

  async function driftedResources(stackName: string): Promise<Array<Record<string, unknown>>> {
    try {
      const out = await cf.send(new DescribeStackResourceDriftsCommand({
        StackName: stackName,
        StackResourceDriftStatusFilters: ['MODIFIED', 'DELETED'],
        MaxResults: MAX_LISTED_RESOURCES,
      }));
      return (out.StackResourceDrifts ?? []).map(describeResource);
    } catch (err) {
      return [{ error: `DescribeStackResourceDrifts failed: ${describeError(err)}` }];
    }
  }

  return async function run(_event?: unknown, context?: Context): Promise<DriftRunResult> {
    if (context) logger.addContext(context);
    const deadline = clock.now() + (context ? context.getRemainingTimeInMillis() - margin : 14 * 60_000);
    const results = await Promise.all(deps.stackNames.map((s) => checkStack(s, deadline)));
    for (const r of results) {
      if (r.driftedResources !== undefined) {
        metrics.addDimension(STACK_NAME_DIMENSION, r.stackName);
        metrics.addMetric(DRIFT_METRIC.stackDrifted, MetricUnit.Count, r.stackDriftStatus === 'DRIFTED' ? 1 : 0);
        metrics.addMetric(DRIFT_METRIC.driftedResources, MetricUnit.Count, r.driftedResources);
        metrics.publishStoredMetrics();
      }
      const fields = {
        stackName: r.stackName,
        stackDriftStatus: r.stackDriftStatus,
        detectionStatus: r.detectionStatus,
        driftedResources: r.driftedResources,
      };
      if (r.stackDriftStatus === 'DRIFTED') {
        logger.warn('stack drifted', { ...fields, failure: r.failure, resources: await driftedResources(r.stackName) });
      } else if (r.failure !== undefined) {
        logger.error('drift detection failed', { ...fields, failure: r.failure });
      } else {
        logger.info('stack in sync', fields);
      }
    }
    const stacksDrifted = results.filter((r) => r.stackDriftStatus === 'DRIFTED').length;
    const failures = results.filter((r) => r.failure !== undefined).length;
    metrics.addMetric(DRIFT_METRIC.stacksDrifted, MetricUnit.Count, stacksDrifted);
    metrics.addMetric(DRIFT_METRIC.driftDetectionFailures, MetricUnit.Count, failures);
    metrics.publishStoredMetrics();
    logger.info('drift check finished', { stacks: results.length, stacksDrifted, failures });
    return { stacks: results, stacksDrifted, failures };
  };
}

/** The run configured from `env` (the construct's environment variables). */
export function createDriftDetectorHandler(env: Readonly<Record<string, string | undefined>> = process.env): DriftRun {
  const cfg = loadDriftConfig(env);
  return createDriftDetector({
    pipeline: cfg.pipeline,
    stackNames: cfg.stackNames,
    pollMs: cfg.pollMs,
    cloudFormation: cloudFormationClient(),
    logger: new Logger({
      serviceName: env.POWERTOOLS_SERVICE_NAME || `phoenix-${cfg.pipeline}`,
      persistentKeys: { pipeline: cfg.pipeline, stage: 'drift-detector' },
    }),
    metrics: driftMetrics(cfg.pipeline, cfg.deployment),
  });
}

let instance: ReturnType<typeof createDriftDetectorHandler> | undefined;

/** The Lambda handler: configured once per container, on the first invocation. */
export const handler = async (event: unknown, context: Context): Promise<DriftRunResult> => {
  instance ??= createDriftDetectorHandler();
  return instance(event, context);
};
