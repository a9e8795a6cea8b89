/**
 * `phoenix local run --keep`: after the workload and the summary, the local environment stays up (emulators,
 * functions, event source mappings, schedules, delivery streams) until Ctrl-C, so the operator's tools can work on it
 * as on a deployed stack: `phoenix dlq stats|list|show --local` and `phoenix replay --local` find it through the
 * `local-env.json` written into the run directory (endpoints, region, the pipeline's outputs with local values, and
 * the pid of the process serving it). The file is removed when the environment stops. `phoenix verify --local` reads
 * `kept-status.json` too: what the environment's monitoring sees (alarm states, mapping states, the canary latency and
 * iterator age datapoints), refreshed every 2 s.
 */
import { renameSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import type { MetricsStore } from './metrics';
import { pipelineOfDescription, pipelineOutputs, type PipelineOutputs } from './pipeline-outputs';
import { METRIC, METRICS_NAMESPACE } from '../../constructs/contract';
import type { AlarmObservation, MappingObservation } from '../core/verify';

/** The file a local environment writes into its directory for the tools (`--local <dir>`). */
export const LOCAL_ENV_FILE = 'local-env.json';

export interface LocalEnvFile {
  readonly region: string;
  readonly endpoints: { readonly kinesis: string; readonly sqs: string; readonly s3: string; readonly dynamodb?: string };
  /** The pipeline's outputs, resolved to local values. */
  readonly outputs: PipelineOutputs;
  /** The process serving the environment (`phoenix local run --keep`): the file is stale once it is gone. */
  readonly pid?: number;
  /** Stack name (display). */
  readonly stack?: string;
  /** When the environment was kept (ISO-8601). */
  readonly keptAt?: string;
}

/** Writes `<runDir>/local-env.json`; returns its path. */
export function writeLocalEnv(runDir: string, env: LocalEnvFile): string {
  const file = path.join(runDir, LOCAL_ENV_FILE);
  writeFileSync(file, `${JSON.stringify(env, null, 2)}\n`);
  return file;
}

/** The file a kept environment refreshes with what `phoenix verify --local` checks. */
export const KEPT_STATUS_FILE = 'kept-status.json';

export interface KeptMetricSeries {
  readonly namespace: string;
  readonly name: string;
  readonly dimensions: Readonly<Record<string, string>>;
  /** The last `[epoch ms, value]` datapoints, oldest first. */
  readonly points: ReadonlyArray<readonly [number, number]>;
}

export interface KeptStatus {
  /** When it was written (ISO-8601). */
  readonly at: string;
  /** Every alarm of the stack, as the local monitoring evaluates it. */
  readonly alarms: readonly AlarmObservation[];
  readonly mappings: readonly MappingObservation[];
  /** The canary latency series and the `AWS/Lambda` `IteratorAge` series. */
  readonly metrics: readonly KeptMetricSeries[];
}

/** Points kept per series in `kept-status.json`. */
const KEPT_POINTS = 500;

/** The series of `metrics` that `phoenix verify` judges: canary latency and iterator age, their last points. */
export function keptMetricSeries(metrics: MetricsStore): KeptMetricSeries[] {
  const wanted = (ns: string, name: string): boolean =>
    (ns === METRICS_NAMESPACE && name === METRIC.canaryLatencyMs) || (ns === 'AWS/Lambda' && name === 'IteratorAge');
  return metrics.all().filter((s) => wanted(s.namespace, s.name))
    .map((s) => ({ namespace: s.namespace, name: s.name, dimensions: { ...s.dimensions }, points: s.points.slice(-KEPT_POINTS) }));
}

/** Writes `<runDir>/kept-status.json` whole (a reader never sees half a file); returns its path. */
export function writeKeptStatus(runDir: string, status: KeptStatus): string {
  const file = path.join(runDir, KEPT_STATUS_FILE);
  writeFileSync(`${file}.tmp`, `${JSON.stringify(status)}\n`);
  renameSync(`${file}.tmp`, file);
  return file;
}

/** Removes a file written by {@link writeLocalEnv} or {@link writeKeptStatus} (no error if it is gone). */
export function removeLocalEnv(file: string): void {
  rmSync(file, { force: true });
}

/**
 * The outputs of the pipeline under test, by output name (`DlqUrl`, `StreamName`, ...), from the stack's outputs
 * (resolved to local values) and their descriptions (`... (pipeline <name>)`): the pipeline whose `StreamName` is
 * the stream the workload was put on, else the only one.
 */
export function localPipelineOutputs(
  stackName: string,
  outputs: Record<string, string>,
  descriptions: Record<string, string | undefined>,
  streamName: string,
): PipelineOutputs {
  const list = Object.entries(outputs).map(([k, v]) => ({ OutputKey: k, OutputValue: v, Description: descriptions[k] }));
  const pipelines = new Set(list.map((o) => pipelineOfDescription(o.Description)).filter((p): p is string => p !== undefined));
  for (const p of pipelines) {
    const o = pipelineOutputs(list, stackName, p);
    if (o.StreamName === streamName) return o;
  }
  try {
    return pipelineOutputs(list, stackName);
  } catch {
    return {};
  }
}

/** Counters of the pipeline's activity (from the handlers' metrics). */
export interface KeptActivity { written: number; deadLettered: number; duplicatesSuppressed: number }

/**
 * Waits until `signal` aborts (resolves) or the environment fails (`fatal` rejects), noting the pipeline's activity
 * since the environment was kept every 2 s when it changed, and calling `onTick` every 2 s.
 */
export async function keepUntilAborted(
  signal: AbortSignal | undefined,
  fatal: Promise<never>,
  activity: () => KeptActivity,
  log: (line: string) => void,
  onTick: () => void = () => undefined,
): Promise<void> {
  if (!signal) throw new Error('keeping the environment needs an abort signal to end it');
  const base = activity();
  let last = '';
  const timer = setInterval(() => {
    onTick();
    const now = activity();
    const line = `since kept: ${now.written - base.written} written, ${now.duplicatesSuppressed - base.duplicatesSuppressed} duplicates suppressed, `
      + `${now.deadLettered - base.deadLettered} dead-lettered`;
    if (line !== last) {
      last = line;
      log(line);
    }
  }, 2000);
  try {
    await Promise.race([
      fatal,
      new Promise<void>((resolve) => {
        if (signal.aborted) resolve();
        else signal.addEventListener('abort', () => resolve(), { once: true });
      }),
    ]);
  } finally {
    clearInterval(timer);
  }
}
