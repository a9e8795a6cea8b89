import { mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { RunningEmulators } from '../emulators';
import { isPipelineStage, LocalFunction, stageFunctionCode } from '../functions';
import type { Lifecycle } from '../lifecycle';
import type { MetricsStore } from '../metrics';
import type { ProvisionedStack } from '../provision';
import type { Random } from '../random';

export interface FunctionSetup {
  readonly runnerScript: string;
  readonly runDir: string;
  readonly region: string;
  readonly emulators: RunningEmulators;
  readonly metrics: MetricsStore;
  readonly random: Random;
  readonly life: Lifecycle;
  readonly maxEnvironments: number;
  /** Shared by every function, so that a kept environment can end the injected faults. */
  readonly faults: { throttleRate: number; crashRate: number };
  /** Prefix of the temporary directory holding the functions' task roots. */
  readonly taskRootPrefix: string;
  /** Where pipeline stage functions write their sink (the fault proxies), when not to the emulators directly. */
  readonly sinkEndpoints?: { readonly dynamodb: string; readonly s3: string };
  /** Endpoint answering a function's calls to services that are not emulated. */
  readonly otherEndpoint?: (functionName: string) => string;
  /** The access key of a function's role (IAM on); undefined = the operator's. */
  readonly accessKeyOf?: (functionName: string) => string;
  /** Lambda's invoke overhead per invocation (`--latency aws`); undefined = none. */
  readonly invokeOverheadMs?: () => number;
}

/** The stack's functions, their code staged in task roots outside the project (removed with `life`); not started. */
export function createFunctions(provisioned: ProvisionedStack, s: FunctionSetup): LocalFunction[] {
  // Task roots outside the project: only the SDK is resolvable above them, as in Lambda.
  const taskRoots = mkdtempSync(path.join(os.tmpdir(), s.taskRootPrefix));
  s.life.add('function code', () => rmSync(taskRoots, { recursive: true, force: true }));
  const e = s.emulators.endpoints;
  return provisioned.functions.map((provisionedDef) => {
    const def = stageFunctionCode(provisionedDef, taskRoots);
    // Sink faults are the pipeline's: only its stage functions (PHX_PIPELINE and PHX_SINK_KIND) write through the
    // fault proxies; the profiler's history, the archive and the other tools reach the emulators directly.
    const sink = isPipelineStage(def.environment) ? s.sinkEndpoints : undefined;
    const other = s.otherEndpoint?.(def.functionName);
    return new LocalFunction(def, {
      runnerScript: s.runnerScript,
      logDir: path.join(s.runDir, 'logs'),
      region: s.region,
      endpoints: {
        kinesis: e.kinesis,
        dynamodb: sink?.dynamodb ?? e.dynamodb,
        sqs: e.fauxqs,
        s3: sink?.s3 ?? e.fauxqs,
        sns: e.fauxqs,
        ...(other !== undefined ? { other } : {}),
      },
      metrics: s.metrics,
      maxEnvironments: s.maxEnvironments,
      faults: s.faults,
      random: s.random,
      track: (pid) => s.life.track(pid),
      ...(s.accessKeyOf ? { accessKeyId: s.accessKeyOf(def.functionName) } : {}),
      ...(s.invokeOverheadMs ? { invokeOverheadMs: s.invokeOverheadMs } : {}),
    });
  });
}

/** The function an event source mapping's `FunctionName` (name or ARN) refers to, or undefined. */
export function functionByRef(functions: readonly LocalFunction[], ref: unknown): LocalFunction | undefined {
  const s = String(ref);
  const name = s.startsWith('arn:') ? s.split(':')[6] : s;
  return functions.find((f) => f.functionName === name || f.functionArn === s);
}
