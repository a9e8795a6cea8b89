import type { RunContext } from './context';
import type { Pipeline } from './pipeline';
import type { LocalServices } from './provision';
import type { StartedStack } from './start';
import type { LocalRunReport } from './types';
import { METRIC } from '../../../constructs/contract';
import type { AssemblyStack } from '../assembly';
import {
  keepUntilAborted, keptMetricSeries, localPipelineOutputs, removeLocalEnv, writeKeptStatus, writeLocalEnv, type KeptStatus, type LocalEnvFile,
} from '../keep';
import type { LocalStack } from '../template/stack';

interface KeepInput {
  readonly assembly: AssemblyStack;
  readonly stack: LocalStack;
  readonly services: LocalServices;
  readonly started: StartedStack;
  readonly pipeline: Pipeline;
}

/** What `phoenix verify --local` reads: the monitoring's alarm states, the mappings, the canary and iterator age series. */
function keptStatus(ctx: RunContext, started: StartedStack): KeptStatus {
  return {
    at: new Date().toISOString(),
    alarms: started.monitoring.alarmObservations(),
    mappings: ctx.pollers.map((p) => ({ id: p.logicalId, functionName: p.fn, state: p.enabled ? 'Enabled' : 'Disabled' })),
    metrics: keptMetricSeries(ctx.metrics),
  };
}

/**
 * `--keep`: ends the injected faults (the cause of the run's dead letters is "fixed"), resumes the alarms and service
 * metrics, writes `local-env.json` and `kept-status.json` for the operator's tools and keeps the environment up until
 * the run's signal aborts.
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
  i.started.monitoring.resume();
  const refreshStatus = (): void => {
    try {
      writeKeptStatus(ctx.runDir, keptStatus(ctx, i.started));
    } catch (e) {
      ctx.log(`kept-status.json could not be written: ${(e as Error).message}`);
    }
  };
  const statusFile = writeKeptStatus(ctx.runDir, keptStatus(ctx, i.started));
  ctx.life.add('kept-status.json', () => removeLocalEnv(statusFile));
  const file = writeLocalEnv(ctx.runDir, env);
  ctx.life.add('local-env.json', () => removeLocalEnv(file));
  opts.onKept?.({ report, file, env });
  await keepUntilAborted(opts.signal, ctx.fatal, () => ({
    written: metrics.total(METRIC.recordsWritten),
    deadLettered: metrics.total(METRIC.recordsDeadLettered),
    duplicatesSuppressed: metrics.total(METRIC.duplicatesSuppressed) + metrics.total(METRIC.staleSuppressed),
  }), ctx.log, refreshStatus);
}
