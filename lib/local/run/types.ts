import type { Accounting } from '../accounting';
import type { EsmStats } from '../esm';
import type { SynthOptions } from './synth';
import type { FaultProxyStats } from '../fault-proxy';
import type { LocalDeliveryStreams } from '../firehose';
import type { FunctionStats } from '../functions';
import type { LatencyMode } from '../gates/latency';
import type { TrafficReport } from '../gates/traffic';
import type { AccessDeniedSummary } from '../iam';
import type { LocalEnvFile } from '../keep';
import type { LatencySummary } from '../metrics';
import type { LocalAlarmsReport, LocalCanaryReport } from '../monitoring';
import type { LocalNotifications } from '../notifications';
import type { Phase } from '../phased-workload';
import type { LocalQualityReport } from '../quality';
import type { LocalSchedules } from '../scheduler';

/** Options of every command that brings a local environment up (`phoenix local run`, `phoenix drill`). */
export interface EnvironmentOptions extends SynthOptions {
  /** Bound on waiting for the pipeline to process everything after the last put (default 120 s). */
  readonly drainTimeoutMs?: number;
  /** Directory for run directories (default `<cwd>/.phoenix/runs`). */
  readonly runsDir?: string;
  /** Aborts the run (Ctrl-C in the CLI); everything started is stopped. */
  readonly signal?: AbortSignal;
  /** One-line notes (stderr in the CLI). */
  readonly log?: (line: string) => void;
  /**
   * Authorize every AWS call of the run against the template's policies (default true): functions with their role,
   * mappings with their function's role, Firehose with its roles, alarm notifications as CloudWatch for the alarm,
   * S3 notifications and schedules by the function's and role's policies. `false` (`--no-iam`): every call is allowed.
   */
  readonly iam?: boolean;
}

export interface LocalRunOptions extends EnvironmentOptions {
  /** Stream the workload is put on (logical id or name); default: the stream of the pipeline's event source mapping. */
  readonly stream?: string;
  readonly records: number;
  /** Records per second; 0 = as fast as possible. */
  readonly rate: number;
  readonly poisonRate: number;
  readonly duplicateRate: number;
  readonly seed: number;
  /**
   * The generator: `clickstream`, `iot-telemetry`, `orders`, or the path of a workload module exporting
   * `createWorkload(options, rules, kit)` (lib/local/workloads). Excludes `input`. Default `clickstream`.
   */
  readonly workload?: string;
  readonly input?: string;
  /** Fraction of the generator's valid records replaced by the hostile-record suite (lib/local/workloads/hostile.ts); excludes `input`. */
  readonly hostileRate?: number;
  readonly sinkFailureRate: number;
  readonly throttleRate: number;
  readonly crashRate: number;
  readonly onDemandShards?: number;
  readonly portBase?: number;
  readonly maxEnvironments?: number;
  readonly onProgress?: (p: RunProgress) => void;
  /** Correlation ids (or record ids) whose hops to include in the report. */
  readonly trace?: readonly string[];
  /**
   * Keep the environment running after the run until `signal` aborts (`phoenix local run --keep`): writes
   * `local-env.json` into the run directory for `phoenix dlq ... --local` and `phoenix replay --local`, and ends the
   * injected faults (sink failures, throttles, crashes): the cause of the run's dead letters is "fixed", so replaying
   * them lands in the sink. The promise resolves with the run's report on abort.
   */
  readonly keep?: boolean;
  /** Called once a kept environment is ready: the run's report and the environment's `local-env.json`. */
  readonly onKept?: (kept: { report: LocalRunReport; file: string; env: LocalEnvFile }) => void;
  /** Tumbling window of Kinesis mappings that have one, seconds (default: 5 when the template's is longer; lib/local/quality.ts). */
  readonly windowSeconds?: number;
  /** A phased workload, one phase per tumbling window (lib/local/phased-workload.ts); needs `rate` > 0. */
  readonly phases?: readonly Phase[];
  /**
   * Local time compression (>= 1, default 1 = AWS timing): alarm periods, duration thresholds and rate() schedule
   * intervals are divided by it (lib/local/alarms.ts, lib/local/scheduler.ts).
   */
  readonly timeScale?: number;
  /** Fire every rate() schedule once right after start (default true; false = AWS timing: one interval after start). */
  readonly fireSchedulesAtStart?: boolean;
  /** Every write of the pipeline's sink (DynamoDB or S3, by PHX_SINK_KIND) fails with a retryable error for the whole run. */
  readonly stallSink?: boolean;
  /** How often alarms are evaluated during the run (default 1000 ms). */
  readonly alarmEvaluationIntervalMs?: number;
  /** Service rate limits (Kinesis per-shard reads and writes) divided by this (>= 1, default 1 = AWS's limits). */
  readonly limitsScale?: number;
  /** `aws`: every emulated call waits a draw from its operation's latency distribution; `none` (default): no added latency. */
  readonly latency?: LatencyMode;
}

export interface RunProgress {
  phase: 'synth' | 'start' | 'produce' | 'drain' | 'verify' | 'done';
  total: number;
  produced: number;
  /** From the handlers' EMF metrics. */
  written: number;
  deadLettered: number;
  duplicatesSuppressed: number;
  retries: number;
  invocations: number;
  functionErrors: number;
  elapsedMs: number;
}

export interface LocalRunReport {
  stack: string;
  runDir: string;
  seed: number;
  workload: { source: 'generator' | 'file'; records: number; rate: number; poisonRate: number; duplicateRate: number; input?: string; notes: string[] };
  recordsIn: number;
  producerFailed: number;
  validRecords: number;
  poisonRecords: number;
  duplicatesPut: number;
  sinkRecords: number;
  dlqRecords: number;
  /** Dead-letter entries read: the queue messages plus the on-failure captures (a record can be in both). */
  dlqMessages: number;
  /** Messages of the dead-letter queues: what `phoenix dlq stats` counts. */
  dlqQueueMessages: number;
  /** On-failure captures of the mappings (S3 objects, each also queued by the failure normalizer). */
  dlqOnFailureCaptures: number;
  duplicatesInSink: number;
  lost: number;
  dlqByReason: Record<string, number>;
  recordsPerSecond: number;
  latencyMs: Accounting['latencyMs'];
  invariant: { holds: boolean; problems: string[] };
  accounting: Accounting;
  duplicatesSuppressed: number;
  /**
   * Sink writes of the pipeline stage beyond one per record found in the sink (the stage's RecordsWritten metric minus
   * the expected records found): redelivered or duplicate records the sink applied again instead of recognizing them as
   * duplicates, e.g. because their eventTime came from the arrival time. The sink still holds one item per id.
   * A newer version of a record (e.g. the next version of an order) is a legitimate write and is not counted.
   */
  duplicatesRewritten: number;
  retries: { handlerRecordRetries: number; esmBatchRetries: number; producerRetriedEntries: number };
  faults: {
    sinkFailureRate: number;
    throttleRate: number;
    crashRate: number;
    sinkProxies: Record<string, FaultProxyStats>;
    injectedThrottles: number;
    injectedCrashes: number;
    /** Sink services whose every write failed (--stall-sink). */
    stalledSink: string[];
  };
  functions: Record<string, Omit<FunctionStats, 'durationsMs'> & { durationMs: LatencySummary; logFile: string }>;
  eventSourceMappings: Record<string, EsmStats & { source: string; function: string }>;
  /** Per schedule: times fired, failed deliveries, next fire time. */
  schedules: LocalSchedules['stats'];
  /** Per delivery stream: records and bytes delivered, objects written (first keys), processor outcomes. */
  deliveryStreams: LocalDeliveryStreams['stats'];
  /** Per bucket notification configuration: objects seen, events, deliveries. */
  bucketNotifications: LocalNotifications['stats'];
  metrics: Record<string, number>;
  drained: boolean;
  durationsMs: { total: number; synth: number; start: number; produce: number; drain: number; verify: number };
  resources: { created: Record<string, number>; accepted: number; notes: string[] };
  /** The stack's outputs resolved to local values (names, URLs, ARNs), or why one has none. */
  outputs: Record<string, string>;
  /** Calls functions made to services that are not emulated (answered with an error), by service. */
  unemulatedCalls: Record<string, number>;
  traces?: Array<{ query: string; found: TraceResult[] }>;
  /** The data-quality profilers' rule results per window (stacks with a tumbling-window mapping). */
  quality?: LocalQualityReport;
  /** The template's CloudWatch alarms evaluated locally: final states, transitions, notifications. */
  alarms: LocalAlarmsReport;
  /** The synthetic canary's figures (all 0 without a canary). */
  canary: LocalCanaryReport;
  /** Service limits and latency model of the run, and the Kinesis traffic per consumer and writer under them. */
  limits: { scale: number; latency: LatencyMode } & TrafficReport;
  /** Whether calls were authorized against the template's policies (false with `--no-iam`). */
  iamEnforced: boolean;
  /** Calls IAM denied (as AWS would have), by `<principal> <action> <resource>`. */
  accessDenied: AccessDeniedSummary;
}

export interface TraceResult {
  id: string;
  correlationId?: string;
  eventTime?: string;
  location: string;
  hops: Array<{ stage: string; in: number; out?: number; attempt: number; ms?: number }>;
  producedAt?: number;
  endToEndMs?: number;
}
