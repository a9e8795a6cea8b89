import { loadConfig, type IngestConfig } from '../../handlers/config';
import type { AssemblyStack } from '../assembly';
import { eventSourceKind, KinesisEventSourcePoller, parseKinesisMapping, type EventSourcePoller, type MappingParseContext } from '../esm';
import type { LocalFunction } from '../functions';
import type { Lifecycle } from '../lifecycle';
import type { MetricsStore } from '../metrics';
import { DEFAULT_ON_DEMAND_SHARDS, provision, type ProvisionedStack } from '../provision';
import type { Random } from '../random';
import { createFunctions, functionByRef } from '../run/functions';
import { pipelineRules } from '../run/pipeline';
import { functionKeys, queueUrlLookup, type LocalServices, type PrincipalClients } from '../run/provision';
import type { LocalStack } from '../template/stack';
import type { PipelineRules } from '../workloads';
import { DrillError } from './types';

export interface DrillPipeline {
  readonly config: IngestConfig;
  readonly rules: PipelineRules;
  readonly streamName: string;
  readonly streamArn: string;
}

export interface Running {
  readonly functions: LocalFunction[];
  /** The pollers drained before hashing (not the tumbling-window ones). */
  readonly pollers: EventSourcePoller[];
  stop(): Promise<void>;
}

export interface PipelineUp {
  readonly provisioned: ProvisionedStack;
  readonly running: Running;
  readonly pipeline: DrillPipeline;
}

export interface DrillEnv {
  readonly stack: LocalStack;
  readonly assembly: AssemblyStack;
  readonly services: LocalServices;
  /** Clients signed as the stack's principals: the mappings read with their function's role. */
  readonly principals: PrincipalClients;
  readonly runDir: string;
  readonly runnerScript: string;
  readonly life: Lifecycle;
  readonly metrics: MetricsStore;
  readonly random: Random;
  readonly log: (line: string) => void;
}

/** Creates the stack's resources under the names of its last deployment and starts its functions and Kinesis mappings. */
export async function bringUp(env: DrillEnv): Promise<PipelineUp> {
  const { clients, emulators } = env.services;
  const provisioned = await provision(env.stack, env.assembly, clients, {
    onDemandShards: DEFAULT_ON_DEMAND_SHARDS, runDir: env.runDir, log: env.log,
  });
  const functions = createFunctions(provisioned, {
    runnerScript: env.runnerScript,
    runDir: env.runDir,
    region: env.stack.region,
    emulators,
    metrics: env.metrics,
    random: env.random,
    life: env.life,
    maxEnvironments: 2,
    faults: { throttleRate: 0, crashRate: 0 },
    taskRootPrefix: 'phoenix-drill-functions-',
    accessKeyOf: functionKeys(env.services),
  });
  const stopFns = async (): Promise<void> => { await Promise.all(functions.map((f) => f.stop())); };
  try {
    await Promise.all(functions.map((f) => f.warmUp()));
  } catch (e) {
    await stopFns();
    throw e;
  }
  const { pollers, windowed, pipeline } = kinesisPollers(env, provisioned, functions);
  if (!pipeline) {
    await stopFns();
    throw new DrillError('the stack has no Kinesis event source mapping into a pipeline function (PHX_PIPELINE): nothing to drill');
  }
  for (const p of [...pollers, ...windowed]) p.start();
  const stop = async (): Promise<void> => {
    await Promise.all([...pollers, ...windowed].map((p) => p.stop()));
    await stopFns();
  };
  return { provisioned, running: { functions, pollers, stop }, pipeline };
}

/** Pollers of the Kinesis mappings (not started), and the pipeline stage: the first mapped function with a sink. */
function kinesisPollers(env: DrillEnv, provisioned: ProvisionedStack, functions: readonly LocalFunction[]): {
  pollers: EventSourcePoller[]; windowed: EventSourcePoller[]; pipeline?: DrillPipeline;
} {
  const pollers: EventSourcePoller[] = [];
  const windowed: EventSourcePoller[] = [];
  let pipeline: DrillPipeline | undefined;
  const queueUrlForArn = queueUrlLookup(provisioned, (m) => new DrillError(m));
  for (const m of provisioned.mappings) {
    const { uuid, logicalId } = m;
    const consumerArns = provisioned.consumers.map((c) => c.arn);
    const ctx: MappingParseContext = { uuid, region: env.stack.region, accountId: env.stack.accountId, logicalId, queueUrlForArn, consumerArns };
    if (eventSourceKind(m.props, ctx) !== 'kinesis') continue;
    const config = parseKinesisMapping(m.props, ctx);
    const fn = functionByRef(functions, m.props.FunctionName);
    if (!fn) continue;
    const { kinesis, sqs, s3, sns } = env.principals.ofFunction(fn.functionName);
    const esmClients = { kinesis, sqs, s3, sns };
    const poller = new KinesisEventSourcePoller(config, fn, esmClients, { log: env.log });
    // A tumbling-window mapping (the data-quality profiler) aggregates until its window closes and never writes the
    // sink: it runs, but the drill does not wait for its open window (as `phoenix local run`).
    if (config.tumblingWindowInSeconds > 0) windowed.push(poller);
    else pollers.push(poller);
    // The pipeline stage is the function with a sink (PHX_SINK_KIND); the profiler and normalizer have none.
    if (fn.def.environment.PHX_SINK_KIND !== undefined && !pipeline) {
      const cfg = loadConfig(fn.def.environment);
      pipeline = { config: cfg, rules: pipelineRules(cfg), streamName: config.streamName, streamArn: config.streamArn };
    }
  }
  return { pollers, windowed, pipeline };
}
