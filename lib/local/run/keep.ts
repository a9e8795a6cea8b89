import type { RunContext } from './context';
import type { Pipeline } from './pipeline';
import type { LocalServices } from './provision';
import type { StartedStack } from './start';
import type { LocalRunReport } from './types';
import { METRIC } from '../../../constructs/contract';
import type { AssemblyStack } from '../assembly';
import { keepUntilAborted, localPipelineOutputs, removeLocalEnv, writeLocalEnv, type LocalEnvFile } from '../keep';
import type { LocalStack } from '../template/stack';

interface KeepInput {
  readonly assembly: AssemblyStack;
  readonly stack: LocalStack;
  readonly services: LocalServices;
  readonly started: StartedStack;
  readonly pipeline: Pipeline;
}

/**
 * `--keep`: ends the injected faults (the cause of the run's dead letters is "fixed"), writes `local-env.json` for the
 * operator's tools and keeps the environment up until the run's signal aborts.
 */
export async function keepEnvironment(ctx: RunContext, report: LocalRunReport, i: KeepInput): Promise<void> {
  const { opts, metrics } = ctx;
  ctx.releaseAbort();
  for (const p of i.started.proxies) p.setRate(0);
  i.started.functionFaults.throttleRate = 0;
  i.started.functionFaults.crashRate = 0;
  const descriptions = Object.fromEntries(Object.entries(i.stack.template.Outputs ?? {}).map(([k, o]) => [k, o.Description]));
  const endpoints = i.services.emulators.endpoints;
  const env: LocalEnvFile = {
    region: i.stack.region,
    endpoints: { kinesis: endpoints.kinesis, sqs: endpoints.fauxqs, s3: endpoints.fauxqs, dynamodb: endpoints.dynamodb },
    outputs: localPipelineOutputs(i.assembly.stackName, report.outputs, descriptions, i.pipeline.streamName),
    pid: process.pid,
    stack: i.assembly.displayName,
    keptAt: new Date().toISOString(),
  };
  const file = writeLocalEnv(ctx.runDir, env);
  ctx.life.add('local-env.json', () => removeLocalEnv(file));
  opts.onKept?.({ report, file, env });
  await keepUntilAborted(opts.signal, ctx.fatal, () => ({
    written: metrics.total(METRIC.recordsWritten),
    deadLettered: metrics.total(METRIC.recordsDeadLettered),
    duplicatesSuppressed: metrics.total(METRIC.duplicatesSuppressed) + metrics.total(METRIC.staleSuppressed),
  }), ctx.log);
}
