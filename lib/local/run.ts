import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { idNamespaceFor } from '../core';
import { account, ProducedLog, type Accounting } from './accounting';
import { loadAssembly, selectStack, synthesize, type AssemblyStack } from './assembly';
import { AsyncInvoker } from './async-invoke';
import { createLocalClients, type LocalClients } from './clients';
import { startEmulators, type RunningEmulators } from './emulators';
import {
  eventSourceKind, KinesisEventSourcePoller, parseKinesisMapping, parseSqsMapping, SqsEventSourcePoller,
  type EsmStats, type EventSourcePoller, type KinesisMappingConfig, type MappingParseContext,
} from './esm';
import { startFaultProxy, type FaultProxy, type FaultProxyStats } from './fault-proxy';
import { startDeliveryStreams, type LocalDeliveryStreams } from './firehose';
import { isPipelineStage, LocalFunction, stageFunctionCode, type FunctionStats } from './functions';
import { keepUntilAborted, localPipelineOutputs, removeLocalEnv, writeLocalEnv } from './keep';
import { Lifecycle } from './lifecycle';
import { MetricsStore, summarize, type LatencySummary } from './metrics';
import { LOCAL_MONITORING_DEFAULTS, LocalMonitoring, stalledSinkServices, type LocalAlarmsReport, type LocalCanaryReport } from './monitoring';
import { startNotifications, type LocalNotifications } from './notifications';
import { childScript } from './paths';
import { PhasedWorkload, type Phase } from './phased-workload';
import { produce, type ProducerStats } from './producer';
import { DEFAULT_ON_DEMAND_SHARDS, provision, type ProvisionedStack } from './provision';
import { DEFAULT_LOCAL_WINDOW_SECONDS, LocalQuality, type LocalQualityReport } from './quality';
import { Random } from './random';
import { startSchedules, type LocalSchedules } from './scheduler';
import { recordingIteratorAge } from './service-metrics';
import { UnsupportedTemplateError } from './template/errors';
import { evaluateCondition } from './template/intrinsics';
import { LocalStack } from './template/stack';
import { startUnemulatedEndpoint } from './unemulated';
import { readDeadLetters, readSink, type SinkEnvelope } from './verify';
import { createWorkload, type PipelineRules, type Workload } from './workloads';
import { METRIC, METRIC_DIMENSIONS, METRICS_NAMESPACE } from '../../constructs/contract';
import { loadConfig, type IngestConfig } from '../handlers/config';
import { compileValidator } from '../handlers/schema';
import type { LocalEnvFile } from './keep';
import { PhoenixError } from '../core/errors';

export interface LocalRunOptions {
  /** Project directory: cdk.json, and where `.phoenix/runs/<ts>` is created. */
  readonly cwd: string;
  /** App command to synthesize (default: cdk.json "app" in cwd). */
  readonly app?: string;
  /** An existing cloud assembly directory instead of synthesizing. */
  readonly assembly?: string;
  readonly stack?: string;
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
  readonly sinkFailureRate: number;
  readonly throttleRate: number;
  readonly crashRate: number;
  readonly onDemandShards?: number;
  readonly portBase?: number;
  readonly maxEnvironments?: number;
  /** Bound on waiting for the pipeline to process everything after the last put (default 120 s). */
  readonly drainTimeoutMs?: number;
  /** Directory for run directories (default `<cwd>/.phoenix/runs`). */
  readonly runsDir?: string;
  readonly signal?: AbortSignal;
  /** One-line notes (stderr in the CLI). */
  readonly log?: (line: string) => void;
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
  dlqMessages: number;
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

/** An error of the run with a one-line message (the CLI prints it and exits non-zero). */
export class LocalRunError extends PhoenixError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('LOCAL_RUN', message, options);
  }
}

function runId(): string {
  return new Date().toISOString().replace(/[-:]/g, '').replace('T', '-').replace(/\..*$/, '') + `-${process.pid}`;
}

function oneLine(e: unknown): string {
  if (e instanceof UnsupportedTemplateError || e instanceof LocalRunError) return e.message;
  const m = e instanceof Error ? e.message : String(e);
  return m.split('\n')[0];
}

interface Pipeline {
  readonly fn: LocalFunction;
  readonly config: IngestConfig;
  readonly rules: PipelineRules;
  readonly mapping: KinesisMappingConfig;
  readonly streamName: string;
}

/**
 * `phoenix local run`: synthesizes (or loads) the app, starts the emulators, creates every resource of the stack,
 * runs its functions, event source mappings, schedules and delivery streams locally, puts a workload on the
 * pipeline's stream with the requested faults, waits until everything is processed, and checks the invariant
 * (every valid record in the sink exactly once, every bad record dead-lettered with its payload).
 * Everything started is stopped before this resolves or rejects.
 */
export async function runLocal(opts: LocalRunOptions): Promise<LocalRunReport> {
  const t0 = Date.now();
  const log = opts.log ?? (() => undefined);
  const runDir = path.join(opts.runsDir ?? path.join(opts.cwd, '.phoenix', 'runs'), runId());
  mkdirSync(path.join(runDir, 'logs'), { recursive: true });
  const life = new Lifecycle();
  const metrics = new MetricsStore();
  const random = new Random(opts.seed);
  const progress: RunProgress = { phase: 'synth', total: 0, produced: 0, written: 0, deadLettered: 0, duplicatesSuppressed: 0, retries: 0, invocations: 0, functionErrors: 0, elapsedMs: 0 };
  const functions: LocalFunction[] = [];
  /** `windowSeconds`: tumbling window of a Kinesis mapping (its open window is not waited for when draining). */
  const pollers: Array<{ logicalId: string; poller: EventSourcePoller; source: string; fn: string; windowSeconds: number }> = [];
  let fatal: ((e: Error) => void) | undefined;
  const fatalPromise = new Promise<never>((_, reject) => { fatal = reject; });
  fatalPromise.catch(() => undefined);
  const guard = <T>(p: Promise<T>): Promise<T> => Promise.race([p, fatalPromise]);
  const onAbort = (): void => fatal?.(new LocalRunError('interrupted'));
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  if (opts.signal?.aborted) onAbort();
  let progressTimer: NodeJS.Timeout | undefined;
  const emitProgress = (): void => {
    progress.elapsedMs = Date.now() - t0;
    progress.written = metrics.total(METRIC.recordsWritten);
    progress.deadLettered = metrics.total(METRIC.recordsDeadLettered);
    progress.duplicatesSuppressed = metrics.total(METRIC.duplicatesSuppressed) + metrics.total(METRIC.staleSuppressed);
    progress.retries = metrics.total(METRIC.recordsRetried);
    progress.invocations = functions.reduce((n, f) => n + f.stats.invocations, 0);
    progress.functionErrors = functions.reduce((n, f) => n + f.stats.errors + f.stats.timeouts + f.stats.crashes, 0);
    opts.onProgress?.({ ...progress });
  };
  const durations = { total: 0, synth: 0, start: 0, produce: 0, drain: 0, verify: 0 };
  try {
    // 1. The cloud assembly and the stack model (validated before anything starts).
    emitProgress();
    let tPhase = Date.now();
    const assemblyDir = opts.assembly
      ? path.resolve(opts.cwd, opts.assembly)
      : await guard(synthesize({
        app: opts.app,
        cwd: opts.cwd,
        outDir: path.join(runDir, 'cdk.out'),
        onOutput: (s) => writeFileSync(path.join(runDir, 'logs', 'synth.log'), s, { flag: 'a' }),
        track: (pid) => life.track(pid),
      }));
    const assembly: AssemblyStack = selectStack(loadAssembly(assemblyDir), opts.stack);
    const quality = new LocalQuality(opts.windowSeconds);
    const stack = new LocalStack(assembly.stackName, assembly.template);
    stack.creationOrder();
    durations.synth = Date.now() - tPhase;

    // 2. Emulators, resources, functions.
    tPhase = Date.now();
    progress.phase = 'start';
    emitProgress();
    progressTimer = setInterval(emitProgress, 250);
    const emulators: RunningEmulators = await guard(startEmulators({
      runDir,
      region: stack.region,
      portBase: opts.portBase,
      onUnexpectedExit: (message) => fatal?.(new LocalRunError(message)),
    }));
    life.add('emulators', () => emulators.stop());
    const untrackEmulators = life.track(emulators.pid);
    life.add('emulator pid', () => untrackEmulators());
    stack.bindEndpoints({ sqs: emulators.endpoints.fauxqs });
    const clients: LocalClients = createLocalClients(emulators.endpoints, stack.region);
    life.add('clients', () => clients.destroy());
    const provisioned: ProvisionedStack = await guard(provision(stack, assembly, clients, {
      onDemandShards: opts.onDemandShards ?? DEFAULT_ON_DEMAND_SHARDS, runDir, log,
    }));
    for (const n of provisioned.notes) log(n);

    const proxies: FaultProxy[] = [];
    let dynamoEndpoint = emulators.endpoints.dynamodb;
    let s3Endpoint = emulators.endpoints.fauxqs;
    const stalled = opts.stallSink ? stalledSinkServices(provisioned) : [];
    if (opts.stallSink && stalled.length === 0) throw new LocalRunError('--stall-sink: no pipeline of the stack writes to a DynamoDB or S3 sink (PHX_SINK_KIND dynamodb or s3): nothing to stall');
    if (opts.sinkFailureRate > 0 || stalled.length > 0) {
      for (const service of ['dynamodb', 's3'] as const) {
        const stall = stalled.includes(service);
        if (!stall && opts.sinkFailureRate === 0) continue;
        const proxy = await startFaultProxy(service, service === 'dynamodb' ? emulators.endpoints.dynamodb : emulators.endpoints.fauxqs,
          stall ? 1 : opts.sinkFailureRate, random.fork(`sink-faults:${service}`), stall ? '--stall-sink' : '--sink-failure-rate');
        life.add(`fault proxy ${service}`, () => proxy.close());
        proxies.push(proxy);
        if (service === 'dynamodb') dynamoEndpoint = proxy.endpoint; else s3Endpoint = proxy.endpoint;
      }
    }
    // One object shared by every function, so a kept environment can end the injected faults.
    const functionFaults = { throttleRate: opts.throttleRate, crashRate: opts.crashRate };
    const unemulated = await startUnemulatedEndpoint(log);
    life.add('unemulated-services endpoint', () => unemulated.close());
    const runnerScript = childScript('function-runner', path.join(runDir, 'bin'));
    // Task roots outside the project: only the SDK is resolvable above them, as in Lambda.
    const taskRoots = mkdtempSync(path.join(os.tmpdir(), 'phoenix-local-functions-'));
    life.add('function code', () => rmSync(taskRoots, { recursive: true, force: true }));
    for (const provisionedDef of provisioned.functions) {
      const def = stageFunctionCode(provisionedDef, taskRoots);
      // Sink faults are the pipeline's: only its stage functions (the handler contract: PHX_PIPELINE and
      // PHX_SINK_KIND) write through the fault proxies; the profiler's history, the archive and the other tools
      // reach the emulators directly (a failing profile write would only hold the run until its drain timeout).
      const pipelineStage = isPipelineStage(def.environment);
      const fn = new LocalFunction(def, {
        runnerScript,
        logDir: path.join(runDir, 'logs'),
        region: stack.region,
        endpoints: {
          kinesis: emulators.endpoints.kinesis,
          dynamodb: pipelineStage ? dynamoEndpoint : emulators.endpoints.dynamodb,
          sqs: emulators.endpoints.fauxqs,
          s3: pipelineStage ? s3Endpoint : emulators.endpoints.fauxqs,
          sns: emulators.endpoints.fauxqs,
          other: unemulated.endpointFor(def.functionName),
        },
        metrics,
        maxEnvironments: opts.maxEnvironments ?? 4,
        faults: functionFaults,
        random,
        track: (pid) => life.track(pid),
      });
      functions.push(fn);
      life.add(`function ${def.functionName}`, () => fn.stop());
    }
    // Event source mappings.
    const queueUrlForArn = (arn: string): string => {
      const q = provisioned.queues.find((x) => x.arn === arn);
      if (!q) throw new Error(`queue ${arn} is not a queue of this stack`);
      return q.url;
    };
    const functionFor = (ref: unknown, logicalId: string): LocalFunction => {
      const s = String(ref);
      const name = s.startsWith('arn:') ? s.split(':')[6] : s;
      const fn = functions.find((f) => f.functionName === name || f.functionArn === s);
      if (!fn) throw new UnsupportedTemplateError(logicalId, 'AWS::Lambda::EventSourceMapping', 'FunctionName', `function ${s} is not a function of this stack`);
      return fn;
    };
    const kinesisMappings: Array<{ config: KinesisMappingConfig; fn: LocalFunction; logicalId: string }> = [];
    for (const m of provisioned.mappings) {
      const fn = functionFor(m.props.FunctionName, m.logicalId);
      const ctx: MappingParseContext = { uuid: m.uuid, region: stack.region, accountId: stack.accountId, logicalId: m.logicalId, queueUrlForArn };
      const esmClients = { kinesis: clients.kinesis, sqs: clients.sqs, s3: clients.s3, sns: clients.sns };
      try {
        const kind = eventSourceKind(m.props, ctx);
        if (kind === 'kinesis') {
          const config = quality.mapping(parseKinesisMapping(m.props, ctx), m.logicalId, fn);
          kinesisMappings.push({ config, fn, logicalId: m.logicalId });
          const poller = new KinesisEventSourcePoller(config, recordingIteratorAge(fn, metrics), esmClients, { log });
          quality.track(m.logicalId, poller);
          const windowSeconds = config.tumblingWindowInSeconds;
          pollers.push({ logicalId: m.logicalId, poller, source: config.streamName, fn: fn.functionName, windowSeconds });
        } else {
          const config = parseSqsMapping(m.props, ctx);
          const poller = new SqsEventSourcePoller(config, fn, esmClients, { log });
          pollers.push({ logicalId: m.logicalId, poller, source: config.queueUrl, fn: fn.functionName, windowSeconds: 0 });
        }
      } catch (e) {
        if (e instanceof UnsupportedTemplateError) throw e;
        const msg = (e as Error).message.replace(/^EventSourceMapping [^:]+: /, '');
        throw new UnsupportedTemplateError(m.logicalId, 'AWS::Lambda::EventSourceMapping', undefined, msg);
      }
    }
    const asyncInvoker = new AsyncInvoker(provisioned, clients, { log, queueUrlForArn });
    life.add('asynchronous invocations', () => asyncInvoker.stop());
    // Alarms are created with the resources: service metrics sampled and alarms evaluated from now on.
    const timeScale = opts.timeScale ?? LOCAL_MONITORING_DEFAULTS.timeScale;
    if (!(timeScale >= 1 && timeScale <= 3600)) throw new LocalRunError(`timeScale must be between 1 and 3600 (given ${timeScale})`);
    const monitoring = new LocalMonitoring({
      stack,
      provisioned,
      metrics,
      functions,
      kinesisPollers: pollers.filter((p) => p.poller instanceof KinesisEventSourcePoller).map((p) => ({ poller: p.poller, fn: p.fn })),
      consumedQueueUrls: new Set(pollers.filter((p) => p.poller instanceof SqsEventSourcePoller).map((p) => p.source)),
      sqs: clients.sqs,
      sns: clients.sns,
      unemulatedCalls: (fn) => Object.keys(unemulated.byFunction[fn] ?? {}),
      timeScale,
      evaluateEveryMs: opts.alarmEvaluationIntervalMs ?? LOCAL_MONITORING_DEFAULTS.evaluateEveryMs,
      log,
    });
    monitoring.start();
    life.add('alarms and service metrics', () => monitoring.stop());
    const schedules: LocalSchedules = startSchedules(provisioned, functions, asyncInvoker, {
      log, queueUrlForArn, timeScale, fireAtStart: opts.fireSchedulesAtStart ?? LOCAL_MONITORING_DEFAULTS.fireSchedulesAtStart,
    });
    life.add('schedules', () => schedules.stop());
    const notifications: LocalNotifications = startNotifications(provisioned, functions, clients, asyncInvoker, { log, region: stack.region });
    life.add('bucket notifications', () => notifications.stop());
    const delivery: LocalDeliveryStreams = startDeliveryStreams(provisioned, functions, clients, { log, now: Date.now });
    life.add('delivery streams', () => delivery.stop());

    // Warm the concurrency the triggers will use: shards x parallelization factor of Kinesis mappings, SQS pollers,
    // one environment for functions invoked by schedules, notifications or delivery streams. A function nothing
    // invokes locally is not started (noted).
    const concurrencyHint = new Map<LocalFunction, number>();
    for (const m of provisioned.mappings) {
      const fn = functionFor(m.props.FunctionName, m.logicalId);
      const stream = provisioned.streams.find((x) => x.arn === m.props.EventSourceArn);
      const sqsConcurrency = (m.props.ScalingConfig as { MaximumConcurrency?: number } | undefined)?.MaximumConcurrency ?? 2;
      const n = stream ? stream.shards * Number(m.props.ParallelizationFactor ?? 1) : Number(sqsConcurrency);
      concurrencyHint.set(fn, (concurrencyHint.get(fn) ?? 0) + n);
    }
    const triggerProps = [provisioned.schedules, provisioned.bucketNotifications, provisioned.deliveryStreams].map((l) => l.map((x) => x.props));
    const triggers = JSON.stringify(triggerProps);
    for (const fn of functions) if (!concurrencyHint.has(fn) && triggers.includes(`"${fn.functionArn}`)) concurrencyHint.set(fn, 1);
    const idle = functions.filter((f) => !concurrencyHint.has(f));
    if (idle.length > 0) log(`not started (nothing invokes them locally): ${idle.map((f) => f.def.logicalId).join(', ')}`);
    await guard(Promise.all([...concurrencyHint].map(([f, n]) => f.warmUp(n))));
    for (const p of pollers) {
      p.poller.start();
      life.add(`poller ${p.logicalId}`, () => p.poller.stop());
    }

    // 3. The pipeline under test and its workload.
    const pipeline = choosePipeline(kinesisMappings, opts.stream, provisioned);
    if (opts.phases && (opts.input || (opts.workload && opts.workload !== 'clickstream'))) {
      throw new LocalRunError('--phases uses the built-in clickstream generator: it excludes --input and other --workload values');
    }
    const phaseSeconds = quality.windowSeconds() ?? opts.windowSeconds ?? DEFAULT_LOCAL_WINDOW_SECONDS;
    const workload: Workload = opts.phases
      ? new PhasedWorkload({ ...opts, phases: opts.phases, windowSeconds: phaseSeconds }, pipeline.rules)
      : await guard(createWorkload(opts, pipeline.rules));
    for (const n of workload.notes) log(n);
    progress.total = workload.total;
    durations.start = Date.now() - tPhase;

    // 4. Produce.
    tPhase = Date.now();
    progress.phase = 'produce';
    const produced = new ProducedLog();
    const producerStats: ProducerStats = { put: 0, failed: 0, retriedEntries: 0, putRecordsCalls: 0 };
    const produceAbort = new AbortController();
    life.add('producer', () => produceAbort.abort());
    const onParentAbort = (): void => produceAbort.abort();
    opts.signal?.addEventListener('abort', onParentAbort, { once: true });
    await guard(produce(clients.kinesis, workload, {
      streamName: pipeline.streamName,
      rate: opts.rate,
      signal: produceAbort.signal,
      onPut: (rec, at) => { produced.record(rec, at); progress.produced = produced.recordsIn; },
    }, producerStats));
    durations.produce = Date.now() - tPhase;

    // 5. Drain: every poller reached the end of its source with nothing in flight, and the delivery streams flushed.
    tPhase = Date.now();
    progress.phase = 'drain';
    emitProgress();
    const drainDeadline = Date.now() + (opts.drainTimeoutMs ?? 120_000);
    let drained = true;
    // Twice in a row: a mapping's on-failure or a function's output can feed another mapping's source.
    // A mapping with a tumbling window (e.g. a data-quality profiler) is drained and has its windows closed after
    // the others (quality.finish); every other mapping must reach the end of its source.
    const toDrain = pollers.filter((p) => p.windowSeconds === 0);
    for (let round = 0; round < 2; round++) {
      for (const p of toDrain) {
        const ok = await guard(p.poller.drain({ timeoutMs: Math.max(0, drainDeadline - Date.now()) }));
        if (!ok) drained = false;
      }
    }
    await guard(delivery.flush());
    // Bucket notifications (e.g. on-failure captures turned into dead letters), then anything they fed.
    await guard(notifications.flush());
    for (const p of toDrain) {
      if (!(await guard(p.poller.drain({ timeoutMs: Math.max(0, drainDeadline - Date.now()) })))) drained = false;
    }
    if (!drained) log(`the pipeline did not finish processing within ${Math.round((opts.drainTimeoutMs ?? 120_000) / 1000)} s (--drain-timeout); counting what is there`);
    const phased = workload instanceof PhasedWorkload ? workload : undefined;
    const qualityReport = await guard(quality.finish(clients.s3, { deadline: drainDeadline, workload: phased }));
    for (const n of qualityReport?.notes ?? []) log(n);
    // Last service-metric sample and alarm evaluation (before the verification reads the queues).
    await guard(monitoring.stop());
    durations.drain = Date.now() - tPhase;

    // 6. Verify.
    tPhase = Date.now();
    progress.phase = 'verify';
    emitProgress();
    const sink = pipeline.config.sinkKind === 'none' ? [] : await guard(readSink(clients, pipeline.config.sinkKind, pipeline.config.sinkTarget!));
    const dlqQueues = provisioned.queues.filter((q) => q.url === pipeline.config.dlqUrl
      || (pipeline.mapping.onFailure?.kind === 'sqs' && pipeline.mapping.onFailure.queueArn === q.arn));
    if (pipeline.config.dlqUrl && dlqQueues.length === 0) log(`PHX_DLQ_URL ${pipeline.config.dlqUrl} is not a queue of this stack: its dead letters cannot be read`);
    const onFailureBuckets = pipeline.mapping.onFailure?.kind === 's3' ? [{ bucket: pipeline.mapping.onFailure.bucket, prefix: `aws/lambda/${pipeline.mapping.uuid}/` }] : [];
    const letters = await guard(readDeadLetters(clients, emulators.endpoints.fauxqs, dlqQueues, onFailureBuckets));
    const accounting = account(produced, sink, letters);
    writeJsonLines(path.join(runDir, 'sink.jsonl'), sink.map((e) => ({ ...e, producedAt: produced.valid.get(e.id)?.firstAttemptAt })));
    writeJsonLines(path.join(runDir, 'dlq.jsonl'), letters.map((l) => ({ ...l, data: l.data?.toString('base64') })));
    durations.verify = Date.now() - tPhase;

    emitProgress();
    progress.phase = 'done';
    durations.total = Date.now() - t0;
    const report = buildReport({
      opts,
      runDir,
      stack: assembly.displayName,
      workload,
      produced,
      producerStats,
      accounting,
      drained,
      metrics,
      functions,
      pollers,
      proxies,
      provisioned,
      durations,
      sink,
      schedules,
      delivery,
      notifications,
      unemulatedCalls: { ...unemulated.calls },
      outputs: resolveOutputs(stack),
      stageDimensions: { [METRIC_DIMENSIONS.pipeline]: pipeline.config.pipeline, [METRIC_DIMENSIONS.stage]: pipeline.config.stage },
      monitoring,
      stalled,
    });
    if (qualityReport) report.quality = qualityReport;
    writeFileSync(path.join(runDir, 'summary.json'), `${JSON.stringify(report, null, 2)}\n`);
    if (opts.keep) {
      // The run's own abort handler turns Ctrl-C into an error; while kept, Ctrl-C is the normal end.
      opts.signal?.removeEventListener('abort', onAbort);
      for (const p of proxies) p.setRate(0);
      functionFaults.throttleRate = 0;
      functionFaults.crashRate = 0;
      const descriptions = Object.fromEntries(Object.entries(stack.template.Outputs ?? {}).map(([k, o]) => [k, o.Description]));
      const dynamoDirect = emulators.endpoints.dynamodb;
      const env: LocalEnvFile = {
        region: stack.region,
        endpoints: { kinesis: emulators.endpoints.kinesis, sqs: emulators.endpoints.fauxqs, s3: emulators.endpoints.fauxqs, dynamodb: dynamoDirect },
        outputs: localPipelineOutputs(assembly.stackName, report.outputs, descriptions, pipeline.streamName),
        pid: process.pid,
        stack: assembly.displayName,
        keptAt: new Date().toISOString(),
      };
      const file = writeLocalEnv(runDir, env);
      life.add('local-env.json', () => removeLocalEnv(file));
      opts.onKept?.({ report, file, env });
      await keepUntilAborted(opts.signal, fatalPromise, () => ({
        written: metrics.total(METRIC.recordsWritten),
        deadLettered: metrics.total(METRIC.recordsDeadLettered),
        duplicatesSuppressed: metrics.total(METRIC.duplicatesSuppressed) + metrics.total(METRIC.staleSuppressed),
      }), log);
    }
    return report;
  } catch (e) {
    throw e instanceof UnsupportedTemplateError || e instanceof LocalRunError ? e : new LocalRunError(oneLine(e));
  } finally {
    if (progressTimer) clearInterval(progressTimer);
    opts.signal?.removeEventListener('abort', onAbort);
    await life.stopAll();
  }
}

function choosePipeline(
  mappings: Array<{ config: KinesisMappingConfig; fn: LocalFunction; logicalId: string }>,
  stream: string | undefined,
  provisioned: ProvisionedStack,
): Pipeline {
  // Ingest-stage functions (the handler contract: PHX_PIPELINE and PHX_SINK_KIND); e.g. a profiler on the same stream is not one.
  let candidates = mappings.filter((m) => isPipelineStage(m.fn.def.environment));
  if (stream) {
    const s = provisioned.streams.find((x) => x.logicalId === stream || x.name === stream || x.arn === stream);
    if (!s) throw new LocalRunError(`--stream ${stream} is not a Kinesis stream of the stack (${provisioned.streams.map((x) => x.logicalId).join(', ') || 'none'})`);
    candidates = candidates.filter((m) => m.config.streamArn === s.arn);
  }
  if (candidates.length === 0) {
    throw new LocalRunError('the stack has no Kinesis event source mapping into a pipeline ingest function (PHX_PIPELINE and PHX_SINK_KIND): nothing to put the workload on');
  }
  if (candidates.length > 1 && new Set(candidates.map((c) => c.config.streamArn)).size > 1) {
    throw new LocalRunError(`the stack has several pipeline streams (${candidates.map((c) => c.config.streamName).join(', ')}): choose one with --stream`);
  }
  const chosen = candidates[0];
  let config: IngestConfig;
  try {
    config = loadConfig(chosen.fn.def.environment);
  } catch (e) {
    throw new LocalRunError(`function ${chosen.fn.functionName}: ${(e as Error).message}`);
  }
  const rules: PipelineRules = {
    namespace: config.idNamespace ?? idNamespaceFor(config.pipeline),
    keyFields: config.keyFields,
    validate: config.schema ? compileValidator(config.schema) : undefined,
    maxRecordBytes: config.maxRecordBytes,
  };
  return { fn: chosen.fn, config, rules, mapping: chosen.config, streamName: chosen.config.streamName };
}

/** CfnOutputs with local values (a value that cannot be resolved locally says why instead of failing the run). */
function resolveOutputs(stack: LocalStack): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, o] of Object.entries(stack.template.Outputs ?? {})) {
    try {
      if (o.Condition !== undefined && !evaluateCondition(o.Condition, stack, { logicalId: name, type: 'Output' })) continue;
      const v = stack.resolve(o.Value, { logicalId: name, type: 'Output' });
      out[name] = typeof v === 'string' ? v : JSON.stringify(v);
    } catch (e) {
      out[name] = `(no local value: ${(e as Error).message})`;
    }
  }
  return out;
}

function writeJsonLines(file: string, items: readonly unknown[]): void {
  writeFileSync(file, items.map((i) => JSON.stringify(i)).join('\n') + (items.length ? '\n' : ''));
}

interface ReportInput {
  opts: LocalRunOptions;
  runDir: string;
  stack: string;
  workload: Workload;
  produced: ProducedLog;
  producerStats: ProducerStats;
  accounting: Accounting;
  drained: boolean;
  metrics: MetricsStore;
  functions: LocalFunction[];
  pollers: Array<{ logicalId: string; poller: EventSourcePoller; source: string; fn: string; windowSeconds: number }>;
  proxies: FaultProxy[];
  provisioned: ProvisionedStack;
  durations: LocalRunReport['durationsMs'];
  sink: readonly SinkEnvelope[];
  schedules: LocalSchedules;
  delivery: LocalDeliveryStreams;
  notifications: LocalNotifications;
  unemulatedCalls: Record<string, number>;
  outputs: Record<string, string>;
  /** Metric dimensions of the pipeline stage under test. */
  stageDimensions: Record<string, string>;
  monitoring: LocalMonitoring;
  stalled: string[];
}

function buildReport(i: ReportInput): LocalRunReport {
  const a = i.accounting;
  const problems: string[] = [];
  if (a.lostValid > 0) {
    problems.push(i.stalled.length > 0
      ? `${a.lostValid} valid record(s) neither in the sink nor dead-lettered: with --stall-sink they stay in the stream, unacknowledged by the `
        + `event source mapping (records it discarded without a destination: ${i.pollers.reduce((n, p) => n + p.poller.stats.discardedWithoutDestination, 0)})`
      : `${a.lostValid} valid record(s) neither in the sink nor dead-lettered`);
  }
  if (a.lostPoison > 0) problems.push(`${a.lostPoison} bad record(s) not dead-lettered`);
  if (a.validInDlq > 0) problems.push(`${a.validInDlq} valid record(s) dead-lettered instead of written`);
  if (a.duplicatesInSink > 0) problems.push(`${a.duplicatesInSink} duplicate or conflicting version(s) in the sink`);
  if (a.unexpectedSinkItems > 0) problems.push(`${a.unexpectedSinkItems} sink item(s) this run did not produce as valid records`);
  if (a.canariesInSink > 0) problems.push(`${a.canariesInSink} synthetic canary(ies) in the sink (the terminal stage must keep them out)`);
  if (a.dlqUnmatched > 0) problems.push(`${a.dlqUnmatched} dead letter(s) without a recoverable payload of this run`);
  if (i.producerStats.failed > 0) problems.push(`${i.producerStats.failed} record(s) could not be put on the stream`);
  if (!i.drained) problems.push('the pipeline did not drain within the timeout');
  const windowStart = i.produced.firstPutAt;
  const windowEnd = Math.max(a.lastCompletionAt ?? 0, i.produced.lastPutAt ?? 0);
  const windowSeconds = windowStart !== undefined && windowEnd > windowStart ? (windowEnd - windowStart) / 1000 : 0;
  const recordsPerSecond = windowSeconds > 0 ? Math.round((a.recordsIn / windowSeconds) * 10) / 10 : 0;
  const functions: LocalRunReport['functions'] = {};
  for (const f of i.functions) {
    const { durationsMs, ...rest } = f.stats;
    functions[f.functionName] = { ...rest, durationMs: summarize(durationsMs), logFile: f.logFile };
  }
  const esm: LocalRunReport['eventSourceMappings'] = {};
  for (const p of i.pollers) esm[p.logicalId] = { ...p.poller.stats, source: p.source, function: p.fn };
  const metricTotals: Record<string, number> = {};
  for (const s of i.metrics.all()) metricTotals[s.name] = (metricTotals[s.name] ?? 0) + s.sum;
  const created: Record<string, number> = {
    streams: i.provisioned.streams.length,
    queues: i.provisioned.queues.length,
    tables: i.provisioned.tables.length,
    buckets: i.provisioned.buckets.length,
    topics: i.provisioned.topics.length,
    functions: i.provisioned.functions.length,
    eventSourceMappings: i.provisioned.mappings.length,
    schedules: i.provisioned.schedules.length,
    deliveryStreams: i.provisioned.deliveryStreams.length,
    bucketNotifications: i.provisioned.bucketNotifications.length,
  };
  const report: LocalRunReport = {
    stack: i.stack,
    runDir: i.runDir,
    seed: i.opts.seed,
    workload: {
      source: i.opts.input ? 'file' : 'generator',
      records: i.workload.total,
      rate: i.opts.rate,
      poisonRate: i.opts.poisonRate,
      duplicateRate: i.opts.duplicateRate,
      input: i.opts.input,
      notes: [...i.workload.notes],
    },
    recordsIn: a.recordsIn,
    producerFailed: i.producerStats.failed,
    validRecords: a.validRecords,
    poisonRecords: a.poisonRecords,
    duplicatesPut: a.duplicatesPut,
    sinkRecords: a.sinkRecords,
    dlqRecords: a.dlqRecords,
    dlqMessages: a.dlqMessages,
    duplicatesInSink: a.duplicatesInSink,
    lost: a.lost,
    dlqByReason: a.dlqByReason,
    recordsPerSecond,
    latencyMs: a.latencyMs,
    invariant: { holds: problems.length === 0, problems },
    accounting: a,
    duplicatesSuppressed: i.metrics.total(METRIC.duplicatesSuppressed) + i.metrics.total(METRIC.staleSuppressed),
    duplicatesRewritten: Math.max(0,
      i.metrics.total(METRIC.recordsWritten, METRICS_NAMESPACE, i.stageDimensions) - a.sinkExpectedFound - a.newerVersionsPut),
    retries: {
      handlerRecordRetries: i.metrics.total(METRIC.recordsRetried),
      esmBatchRetries: i.pollers.reduce((n, p) => n + p.poller.stats.retries, 0),
      producerRetriedEntries: i.producerStats.retriedEntries,
    },
    faults: {
      sinkFailureRate: i.opts.sinkFailureRate,
      throttleRate: i.opts.throttleRate,
      crashRate: i.opts.crashRate,
      sinkProxies: Object.fromEntries(i.proxies.map((p) => [p.service, { ...p.stats, byKind: { ...p.stats.byKind } }])),
      injectedThrottles: i.functions.reduce((n, f) => n + f.stats.injectedThrottles, 0),
      injectedCrashes: i.functions.reduce((n, f) => n + f.stats.injectedCrashes, 0),
      stalledSink: [...i.stalled],
    },
    functions,
    eventSourceMappings: esm,
    schedules: JSON.parse(JSON.stringify(i.schedules.stats)) as LocalSchedules['stats'],
    deliveryStreams: JSON.parse(JSON.stringify(i.delivery.stats)) as LocalDeliveryStreams['stats'],
    bucketNotifications: JSON.parse(JSON.stringify(i.notifications.stats)) as LocalNotifications['stats'],
    metrics: metricTotals,
    drained: i.drained,
    durationsMs: i.durations,
    resources: { created, accepted: i.provisioned.accepted.length, notes: [...i.provisioned.notes] },
    outputs: i.outputs,
    unemulatedCalls: i.unemulatedCalls,
    alarms: i.monitoring.alarmsReport(),
    canary: i.monitoring.canaryReport(),
  };
  if (i.opts.trace && i.opts.trace.length > 0) {
    report.traces = i.opts.trace.map((q) => ({ query: q, found: traceRecords(i.sink, q, i.produced) }));
  }
  return report;
}

/** The sink records whose correlation id or id is `query`, with per-hop times. */
export function traceRecords(sink: readonly SinkEnvelope[], query: string, produced?: ProducedLog): TraceResult[] {
  return sink.filter((s) => s.correlationId === query || s.id === query).map((s) => {
    const producedAt = produced?.valid.get(s.id)?.firstAttemptAt ?? (s as SinkEnvelope & { producedAt?: number }).producedAt;
    const last = s.hops[s.hops.length - 1];
    return {
      id: s.id,
      correlationId: s.correlationId,
      eventTime: s.eventTime,
      location: s.location,
      hops: s.hops.map((h) => ({ ...h, ms: typeof h.out === 'number' ? h.out - h.in : undefined })),
      producedAt,
      endToEndMs: producedAt !== undefined && last && typeof last.out === 'number' ? last.out - producedAt : undefined,
    };
  });
}
