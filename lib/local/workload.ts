/**
 * The workloads of `phoenix local run` (kept as this module's exports for the code that imports them from here):
 * the generators, the input file and team modules live in ./workloads/.
 */
export {
  KINESIS_MAX_RECORD_BYTES, POISON_KINDS, type PoisonKind, type WorkloadRecord, type PipelineRules, type WorkloadOptions, type Workload,
} from './workloads/types';
export { ClickstreamWorkload, DEFAULT_SESSIONS } from './workloads/clickstream';
export { FileWorkload } from './workloads/file';
