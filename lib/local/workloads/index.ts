import * as path from 'node:path';
import { ClickstreamWorkload } from './clickstream';
import { FileWorkload } from './file';
import { HostileMix } from './hostile';
import { IotTelemetryWorkload } from './iot-telemetry';
import { loadWorkloadModule, WORKLOAD_MODULE_EXTENSIONS } from './module';
import { OrdersWorkload } from './orders';
import { Random } from '../random';
import type { PipelineRules, Workload, WorkloadOptions } from './types';
import { InputError } from '../../replay/filter';

export * from './types';
export { GeneratedWorkload, type GeneratedEvent } from './generator';
export { ClickstreamWorkload } from './clickstream';
export { IotTelemetryWorkload } from './iot-telemetry';
export { OrdersWorkload } from './orders';
export { expectedInSink, FileWorkload, readInputFile, type InputLine } from './file';
export { HostileMix, HOSTILE_KINDS } from './hostile';
export { HOSTILE_CLASSES, type HostileClass, type HostileOutcome } from './hostile-records';
export { loadWorkloadModule, workloadKit, WORKLOAD_MODULE_EXTENSIONS, type CreateWorkload, type WorkloadKit } from './module';

/** The built-in generators, by `--workload` name: each makes valid events of the example pipeline of that name. */
export const BUILT_IN_WORKLOADS: Readonly<Record<string, (options: WorkloadOptions, rules: PipelineRules) => Workload>> = {
  'clickstream': (o, r) => new ClickstreamWorkload(o, r),
  'iot-telemetry': (o, r) => new IotTelemetryWorkload(o, r),
  'orders': (o, r) => new OrdersWorkload(o, r),
};

/** `--workload` when none is given. */
export const DEFAULT_WORKLOAD = 'clickstream';

function isBuiltIn(spec: string): boolean {
  return Object.prototype.hasOwnProperty.call(BUILT_IN_WORKLOADS, spec);
}

/** True when a `--workload` value names a module file rather than a built-in generator (a path or a module extension). */
export function isWorkloadModule(spec: string): boolean {
  return /[\\/]/.test(spec) || (WORKLOAD_MODULE_EXTENSIONS as readonly string[]).some((ext) => spec.endsWith(ext));
}

/** What `--workload` allows, for messages. */
export function allowedWorkloads(): string {
  return `${Object.keys(BUILT_IN_WORKLOADS).join(', ')}, or the path of a module (${WORKLOAD_MODULE_EXTENSIONS.join(', ')}) exporting createWorkload`;
}

/** Checks a `--workload` value before anything starts: undefined when usable, else a one-line problem. */
export function workloadProblem(spec: string): string | undefined {
  if (isBuiltIn(spec) || isWorkloadModule(spec)) return undefined;
  return `unknown --workload ${JSON.stringify(spec)}: allowed ${allowedWorkloads()}`;
}

/** What selects the workload of a run (LocalRunOptions has these fields). */
export interface WorkloadSelection extends WorkloadOptions {
  /** Directory module paths and `input` are relative to. */
  readonly cwd: string;
  /** A built-in generator's name or a module path (default `clickstream`). */
  readonly workload?: string;
  /** Records from a file instead (excludes `workload` and `hostileRate`). */
  readonly input?: string;
  /** Fraction of valid records replaced by the hostile-record suite (HostileMix; default 0). */
  readonly hostileRate?: number;
}

/** Seed offset of the hostile mix's draws, so that they do not follow the generator's. */
const HOSTILE_SEED_OFFSET = 0x5eed;

/**
 * The workload of a run: the records of `input`, a built-in generator (`workload` names one; default clickstream),
 * or a team's module (`workload` is a path). Throws one line when the selection is not usable.
 */
export async function createWorkload(sel: WorkloadSelection, rules: PipelineRules): Promise<Workload> {
  if (sel.input !== undefined && sel.workload !== undefined) throw new InputError('--input and --workload exclude each other');
  const hostileRate = sel.hostileRate ?? 0;
  if (sel.input !== undefined && hostileRate > 0) throw new InputError('--input and --hostile-rate exclude each other');
  if (sel.input !== undefined) return new FileWorkload(path.resolve(sel.cwd, sel.input), rules);
  const generated = await generatedWorkload(sel, rules);
  return hostileRate > 0 ? new HostileMix(generated, rules, hostileRate, new Random(sel.seed + HOSTILE_SEED_OFFSET)) : generated;
}

/** A built-in generator (`workload` names one; default clickstream) or a team's module (`workload` is a path). */
async function generatedWorkload(sel: WorkloadSelection, rules: PipelineRules): Promise<Workload> {
  const spec = sel.workload ?? DEFAULT_WORKLOAD;
  const options: WorkloadOptions = { records: sel.records, seed: sel.seed, poisonRate: sel.poisonRate, duplicateRate: sel.duplicateRate };
  if (isBuiltIn(spec)) return BUILT_IN_WORKLOADS[spec](options, rules);
  const problem = workloadProblem(spec);
  if (problem) throw new InputError(problem);
  return loadWorkloadModule(spec, sel.cwd, options, rules);
}
