import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { Command, Option } from 'commander';
import type { LatencyMode } from '../../local/gates/latency';
import { sdkNodeModules } from '../../local/paths';
import { parsePhases, type Phase } from '../../local/phased-workload';
import { formatQuality } from '../../local/quality';
import { chooseStack, LocalRunUsageError, runLocal, traceRecords, type LocalRunOptions, type LocalRunReport, type RunProgress, type TraceResult } from '../../local/run';
import { AssemblyError } from '../../local/template/errors';
import type { SinkEnvelope } from '../../local/verify';
import { allowedWorkloads, DEFAULT_WORKLOAD, isWorkloadModule, readInputFile, workloadProblem } from '../../local/workloads';
import { InputError } from '../../replay/filter';
import { UsageError } from '../errors';
import { LOCAL_RUNS_DIR, runDirsWith } from '../targets';

/** Defaults of `phoenix local run` (also used by `phoenix start`). */
export const LOCAL_RUN_DEFAULTS = {
  records: 2000,
  rate: 0,
  poisonRate: 0.02,
  duplicateRate: 0.02,
  seed: 1,
  sinkFailureRate: 0,
  throttleRate: 0,
  crashRate: 0,
  onDemandShards: 4,
  portBase: 0,
  maxEnvironments: 4,
  drainTimeoutSeconds: 120,
  timeScale: 1,
  limitsScale: 1,
  latency: 'none',
} as const;

/**
 * The pipeline rate the default drain timeout assumes (the local DynamoDB emulator's conditional-put rate, measured in
 * docs/local-environment.md): a large run needs longer than the fixed default to drain (a run that times out reports
 * the records still in the stream as not found).
 */
export const DRAIN_RECORDS_PER_SECOND = 40;

/** Default drain timeout: 120 s, or one second per DRAIN_RECORDS_PER_SECOND records when that is longer (at most 3600 s). */
export function defaultDrainTimeoutSeconds(records: number): number {
  return Math.min(3600, Math.max(LOCAL_RUN_DEFAULTS.drainTimeoutSeconds, Math.ceil(records / DRAIN_RECORDS_PER_SECOND)));
}

export interface LocalRunCliOptions {
  app?: string;
  assembly?: string;
  stack?: string;
  stream?: string;
  records: number;
  rate: number;
  poisonRate: number;
  duplicateRate: number;
  seed: number;
  workload?: string;
  input?: string;
  hostileRate?: number;
  sinkFailureRate: number;
  throttleRate: number;
  crashRate: number;
  onDemandShards: number;
  portBase: number;
  maxEnvironments: number;
  drainTimeout?: number;
  runsDir?: string;
  json?: boolean;
  trace?: string[];
  progress?: boolean;
  keep?: boolean;
  windowSeconds?: number;
  phases?: Phase[];
  timeScale: number;
  realTimeSchedules?: boolean;
  stallSink?: boolean;
  limitsScale: number;
  latency: LatencyMode;
  /** false with --no-iam. */
  iam: boolean;
}

function number(name: string, opts: { min: number; max: number; integer?: boolean }): (v: string) => number {
  return (v: string) => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n) || (opts.integer && !Number.isInteger(n)) || n < opts.min || n > opts.max) {
      throw new UsageError(`${name} must be ${opts.integer ? 'an integer' : 'a number'} between ${opts.min} and ${opts.max}; got ${JSON.stringify(v)}`);
    }
    return n;
  };
}

const rate = (name: string): ((v: string) => number) => number(name, { min: 0, max: 1 });

function latencyOption(v: string): LatencyMode {
  if (v !== 'aws' && v !== 'none') throw new UsageError(`--latency must be aws or none; got ${JSON.stringify(v)}`);
  return v;
}

function phasesOption(v: string): Phase[] {
  try {
    return parsePhases(v);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

/** Adds the options of `local run` to a command (shared with `start`). */
export function addRunOptions(cmd: Command): Command {
  return cmd
    .option('--app <command>', 'CDK app command to synthesize (default: "app" of ./cdk.json)')
    .option('--assembly <dir>', 'use an existing cloud assembly (cdk.out) instead of synthesizing')
    .option('--stack <name>', 'stack to run when the app has several')
    .option('--stream <id>', 'stream to put the workload on (logical id or name) when the stack has several pipelines')
    .option('--records <n>', 'records to put on the stream', number('--records', { min: 0, max: 1_000_000, integer: true }), LOCAL_RUN_DEFAULTS.records)
    .option('--rate <n>', 'records per second (0 = as fast as possible)', number('--rate', { min: 0, max: 1_000_000 }), LOCAL_RUN_DEFAULTS.rate)
    .option('--poison-rate <p>', 'fraction of bad records (invalid UTF-8, not JSON, JSON array, schema violation, missing key, oversize, deeply nested, huge number)', rate('--poison-rate'), LOCAL_RUN_DEFAULTS.poisonRate)
    .option('--duplicate-rate <p>', 'fraction of records that re-put an identical earlier record', rate('--duplicate-rate'), LOCAL_RUN_DEFAULTS.duplicateRate)
    .option('--seed <n>', 'seed of the workload and the fault injection', number('--seed', { min: 0, max: 2 ** 32 - 1, integer: true }), LOCAL_RUN_DEFAULTS.seed)
    .option('--workload <name|path>', `the generator: ${allowedWorkloads()}(options, rules, kit) (default: ${DEFAULT_WORKLOAD})`)
    .option('--input <file>', 'records from a file instead of the generator: one per line, JSON or base64:<bytes>')
    .option('--hostile-rate <p>', 'fraction of valid records replaced by the hostile-record suite (forged canaries and replay marks, envelope look-alikes, bad event times, bad bytes)', rate('--hostile-rate'))
    .option('--phases <list>', 'a phased workload, one phase per tumbling window: clean, nulls, drop, shift, each optionally *N (e.g. clean*6,nulls,clean,drop,clean,shift); needs --rate', phasesOption)
    .option('--window-seconds <n>', 'tumbling window of mappings that have one, e.g. the quality profiler (default: 5 s when the template\'s is longer)', number('--window-seconds', { min: 1, max: 900, integer: true }))
    .option('--sink-failure-rate <p>', 'fraction of sink writes (DynamoDB, S3) answered with a retryable error by a proxy', rate('--sink-failure-rate'), LOCAL_RUN_DEFAULTS.sinkFailureRate)
    .option('--throttle-rate <p>', 'fraction of invocations answered "throttled"', rate('--throttle-rate'), LOCAL_RUN_DEFAULTS.throttleRate)
    .option('--crash-rate <p>', 'probability that the function process is killed during an invocation', rate('--crash-rate'), LOCAL_RUN_DEFAULTS.crashRate)
    .option('--stall-sink', 'every write of the pipeline\'s sink fails (retryable) for the whole run: the alarms should catch it')
    .option('--time-scale <n>', 'local time compression: alarm periods, duration thresholds and rate() schedule intervals are divided by n (1 = AWS timing)',
      number('--time-scale', { min: 1, max: 3600 }), LOCAL_RUN_DEFAULTS.timeScale)
    .option('--real-time-schedules', 'rate() schedules first fire one interval after start, as in AWS (default: once right after start, then every interval)')
    .option('--limits-scale <n>', 'divide the service rate limits (Kinesis per-shard reads and writes) by n, e.g. 10: one shard takes 100 records/s (1 = AWS\'s limits)',
      number('--limits-scale', { min: 1, max: 1_000_000 }), LOCAL_RUN_DEFAULTS.limitsScale)
    .option('--latency <mode>', 'aws: each emulated call waits a draw from its operation\'s AWS latency distribution; none: no added latency', latencyOption, LOCAL_RUN_DEFAULTS.latency)
    .option('--on-demand-shards <n>', 'shards of on-demand streams (kinesalite has no on-demand mode)', number('--on-demand-shards', { min: 1, max: 64, integer: true }), LOCAL_RUN_DEFAULTS.onDemandShards)
    .option('--port-base <port>', 'emulator ports: Kinesis=port, DynamoDB=port+1, SQS/SNS/S3=port+2 (0 = free ports)', number('--port-base', { min: 0, max: 65533, integer: true }), LOCAL_RUN_DEFAULTS.portBase)
    .option('--max-environments <n>', 'most concurrent execution environments (processes) per function', number('--max-environments', { min: 1, max: 64, integer: true }), LOCAL_RUN_DEFAULTS.maxEnvironments)
    .option('--drain-timeout <seconds>', `how long to wait for the pipeline to process everything (default: ${LOCAL_RUN_DEFAULTS.drainTimeoutSeconds} s, or 1 s per ${DRAIN_RECORDS_PER_SECOND} records when longer)`, number('--drain-timeout', { min: 1, max: 3600 }))
    .option('--runs-dir <dir>', 'where run directories (logs, sink and DLQ dumps, summary.json) go (default .phoenix/runs)')
    .option('--trace <correlationId...>', 'print the hops of these records (correlation id or record id)')
    .option('--no-iam', 'do not authorize calls against the template\'s IAM and resource policies (default: every call is authorized as in AWS)')
    .option('--keep', 'after the run, keep the environment running until Ctrl-C with the injected faults ended, for `phoenix dlq ... --local` and `phoenix replay --local`')
    .option('--json', 'print one JSON object on stdout (progress: plain lines on stderr)')
    .addOption(new Option('--no-progress', 'no progress on stderr (a live line on a terminal, otherwise a plain line every 5 s)'));
}

function progressLine(p: RunProgress): string {
  const secs = (p.elapsedMs / 1000).toFixed(1);
  if (p.phase === 'synth') return `phoenix local: synthesizing the app... ${secs}s`;
  if (p.phase === 'start') return `phoenix local: starting emulators and resources... ${secs}s`;
  return `phoenix local: ${p.phase} ${p.produced}/${p.total} put | ${p.written} written | ${p.deadLettered} dead-lettered | ${p.duplicatesSuppressed} dup suppressed | ${p.retries} retries | ${p.invocations} invocations (${p.functionErrors} failed) | ${secs}s`;
}

/**
 * Progress where no live line can be drawn (stderr not a terminal, or --json): a plain line on stderr at each phase
 * change and every `intervalMs` within a phase, so a CI log shows the run is alive and how far it got.
 */
export function plainRunProgress(stream: { write(text: string): unknown }, intervalMs = 5_000): (p: RunProgress) => void {
  let phase: RunProgress['phase'] | undefined;
  let lastMs = 0;
  return (p) => {
    if (p.phase === phase && p.elapsedMs - lastMs < intervalMs) return;
    phase = p.phase;
    lastMs = p.elapsedMs;
    stream.write(`${progressLine(p)}\n`);
  };
}

const fmt = (n: number | undefined): string => (n === undefined ? '-' : String(Math.round(n)));

/** The human summary of a run. */
/** The run's service limits and Kinesis traffic: one line per writer and per consumer of each stream. */
export function formatLimits(l: LocalRunReport['limits']): string[] {
  const lines = [`limits            rate limits / ${l.scale}, latency ${l.latency}`];
  for (const w of l.writers) lines.push(`  writes          ${w.stream} by ${w.writer}: ${w.records} records, ${w.throttled} throttled`);
  for (const c of l.consumers) {
    lines.push(`  reads           ${c.stream} by ${c.consumer}: ${c.records} records in ${c.getRecordsCalls} GetRecords, ${c.throttles} throttled; iterator age max ${c.iteratorAgeMs.max} ms, final ${c.iteratorAgeMs.final} ms`);
  }
  return lines;
}

/** Where the dead letters were read: queue messages (as `phoenix dlq stats` counts them) and on-failure captures. */
export function deadLetterSources(r: LocalRunReport): string {
  if (r.dlqMessages === r.dlqRecords && r.dlqOnFailureCaptures === 0) return '';
  const captures = r.dlqOnFailureCaptures > 0 ? ` + ${r.dlqOnFailureCaptures} on-failure captures in S3` : '';
  return `  (${r.dlqQueueMessages} DLQ messages, as \`phoenix dlq stats\` counts them${captures})`;
}

export function formatSummary(r: LocalRunReport): string {
  const a = r.accounting;
  const lines: string[] = [];
  lines.push(`stack ${r.stack}  (run directory ${r.runDir})`);
  lines.push(`records in        ${r.recordsIn}  (${r.validRecords} valid, ${r.duplicatesPut} duplicate puts, ${r.poisonRecords} bad)${r.producerFailed ? `, ${r.producerFailed} not put` : ''}`);
  lines.push(`in the sink       ${r.sinkRecords}  (${a.sinkExpectedFound}/${r.validRecords} expected found)`);
  lines.push(`dead-lettered     ${r.dlqRecords}  ${Object.entries(r.dlqByReason).map(([k, v]) => `${k} ${v}`).join(', ') || '-'}${deadLetterSources(r)}`);
  const rewritten = r.duplicatesRewritten > 0 ? `, ${r.duplicatesRewritten} applied again (not recognized as duplicates)` : '';
  lines.push(`duplicates        ${r.duplicatesPut} put; ${r.duplicatesSuppressed} suppressed by the sink${rewritten}; ${r.duplicatesInSink} in the sink`);
  const misrouted = [a.validInDlq ? `${a.validInDlq} valid records dead-lettered instead of written` : '',
    a.validInSinkAndDlq ? `${a.validInSinkAndDlq} written and also sent on-failure with their batch` : ''].filter(Boolean).join(', ');
  lines.push(`lost              ${r.lost}${misrouted ? `  (${misrouted})` : ''}`);
  lines.push(`retries           ${r.retries.handlerRecordRetries} in the handler, ${r.retries.esmBatchRetries} batch retries by the event source mapping, ${r.retries.producerRetriedEntries} producer re-puts`);
  const proxies = Object.entries(r.faults.sinkProxies).map(([s, p]) => `${s} ${p.injected}/${p.writes} writes failed`).join(', ');
  if (proxies || r.faults.injectedThrottles || r.faults.injectedCrashes) {
    lines.push(`faults injected   ${[proxies, `${r.faults.injectedThrottles} throttles`, `${r.faults.injectedCrashes} crashes`].filter(Boolean).join(', ')}`);
  }
  const stages = Object.entries(r.latencyMs.stages).map(([s, l]) => `${s} p50 ${fmt(l.p50)} p99 ${fmt(l.p99)}`).join(', ');
  lines.push(`latency (ms)      end-to-end p50 ${fmt(r.latencyMs.p50)} p99 ${fmt(r.latencyMs.p99)} max ${fmt(r.latencyMs.max)}; ${stages || 'no hops'}; waiting before the first hop p50 ${fmt(r.latencyMs.queueDelay.p50)}`);
  lines.push(`throughput        ${r.recordsPerSecond} records/s  (total ${(r.durationsMs.total / 1000).toFixed(1)} s: synth ${(r.durationsMs.synth / 1000).toFixed(1)}, start ${(r.durationsMs.start / 1000).toFixed(1)}, put ${(r.durationsMs.produce / 1000).toFixed(1)}, drain ${(r.durationsMs.drain / 1000).toFixed(1)}, verify ${(r.durationsMs.verify / 1000).toFixed(1)})`);
  for (const [name, f] of Object.entries(r.functions)) {
    lines.push(`function          ${name}: ${f.invocations} invocations, ${f.errors} errors, ${f.timeouts} timeouts, ${f.crashes} crashes, ${f.throttles} throttles, ${f.coldStarts} cold starts, p50 ${fmt(f.durationMs.p50)} ms; log ${f.logFile}`);
  }
  for (const [name, d] of Object.entries(r.deliveryStreams)) {
    const proc = d.processorInvocations > 0 ? ` (processor: ${d.processorInvocations} invocations, ${d.dropped} dropped, ${d.processingFailed} failed)` : '';
    lines.push(`delivery stream   ${name}: ${d.records} records -> ${d.objects} object(s), ${d.bytes} bytes${proc}`);
  }
  for (const [name, n] of Object.entries(r.bucketNotifications)) {
    lines.push(`notifications     ${name}: ${n.objectsSeen} new objects, ${n.events} events, ${n.delivered} delivered, ${n.failed} failed`);
  }
  for (const [name, s] of Object.entries(r.schedules)) lines.push(`schedule          ${name}: fired ${s.fired}, failed ${s.failed}, next ${s.nextAt ?? 'never'}`);
  lines.push(...formatLimits(r.limits));
  if (r.canary.sent > 0 || r.canary.received > 0) {
    const c = r.canary.latencyMs;
    lines.push(`canary            ${r.canary.sent} sent, ${r.canary.received} received; latency p50 ${fmt(c.p50)} ms, max ${fmt(c.max)} ms`);
  }
  lines.push(...formatAlarms(r));
  lines.push(...formatAccessDenied(r));
  for (const [name, value] of Object.entries(r.outputs)) lines.push(`output            ${name} = ${value}`);
  if (r.quality) lines.push(...formatQuality(r.quality));
  for (const note of [...r.workload.notes, ...r.resources.notes]) lines.push(`note              ${note}`);
  for (const t of r.traces ?? []) lines.push(...formatTrace(t.query, t.found));
  lines.push(r.invariant.holds
    ? 'invariant holds   every valid record is in the sink exactly once; every bad record is dead-lettered with its payload'
    : `INVARIANT BROKEN  ${r.invariant.problems.join('; ')}`);
  return `${lines.join('\n')}\n`;
}

/** The alarm states table of a run (empty when the stack has no alarms). */
export function formatAlarms(r: LocalRunReport): string[] {
  const al = r.alarms;
  if (al.alarms.length === 0) return [];
  const lines = [`alarms            ${al.states.ALARM} ALARM, ${al.states.OK} OK, ${al.states.INSUFFICIENT_DATA} INSUFFICIENT_DATA`
    + `  (time scale ${al.timeScale}; ${al.notifications.published} notification(s) published to the alarm topics`
    + `${al.notifications.denied ? `, ${al.notifications.denied} refused by the topic or key policy` : ''}`
    + `${al.notifications.notEmulated ? `, ${al.notifications.notEmulated} to targets not emulated` : ''})`];
  const width = Math.min(60, Math.max(...al.alarms.map((a) => a.logicalId.length)));
  for (const a of al.alarms) {
    const changes = a.transitions.map((t) => `${t.to} at +${(t.sinceStartMs / 1000).toFixed(1)}s`).join(', ');
    lines.push(`  ${a.state.padEnd(17)} ${a.logicalId.padEnd(width)}  ${a.reason}${changes ? `  [${changes}]` : ''}`);
  }
  return lines;
}

/** IAM: whether it was enforced and each denied principal/action/resource with its count. */
export function formatAccessDenied(r: LocalRunReport): string[] {
  if (!r.iamEnforced) return ['access denied     - (IAM not enforced: --no-iam)'];
  const lines = [`access denied     ${r.accessDenied.count}`];
  for (const [what, n] of Object.entries(r.accessDenied.byPrincipalActionResource)) lines.push(`  ${String(n).padStart(6)} ${what}`);
  return lines;
}

export function formatTrace(query: string, found: TraceResult[]): string[] {
  if (found.length === 0) return [`trace ${query}: not in the sink`];
  const lines: string[] = [];
  for (const t of found) {
    lines.push(`trace ${query}: id ${t.id}, correlationId ${t.correlationId ?? '-'}, eventTime ${t.eventTime ?? '-'}, at ${t.location}`);
    const start = t.producedAt ?? t.hops[0]?.in;
    if (t.producedAt !== undefined) lines.push(`  put on the stream   ${new Date(t.producedAt).toISOString()}`);
    for (const h of t.hops) {
      const rel = start !== undefined ? ` (+${h.in - start} ms)` : '';
      lines.push(`  ${h.stage.padEnd(10)} attempt ${h.attempt}  in ${new Date(h.in).toISOString()}${rel}  ${h.ms !== undefined ? `${h.ms} ms` : 'not closed'}`);
    }
    if (t.endToEndMs !== undefined) lines.push(`  end to end          ${t.endToEndMs} ms`);
  }
  return lines;
}

/** Runs `check`, turning its input errors into usage errors (one line, exit 2). */
function usageOf(check: () => unknown): void {
  try {
    check();
  } catch (e) {
    if (e instanceof InputError || e instanceof LocalRunUsageError || e instanceof AssemblyError) throw new UsageError(e.message, { cause: e });
    throw e;
  }
}

/**
 * Every check of the options that needs no synth and no emulator: a usage error (one line, exit 2) before anything
 * starts. The --input file is read whole (a directory, a bad base64: line or a record above the Kinesis limit), and
 * with --assembly the --stack is looked up in its manifest (with --app, right after synth, before any emulator).
 */
export function checkRunOptions(o: LocalRunCliOptions, cwd: string): void {
  if (o.app && o.assembly) throw new UsageError('--app and --assembly exclude each other');
  if (o.workload !== undefined) {
    if (o.input) throw new UsageError('--input and --workload exclude each other');
    const problem = workloadProblem(o.workload);
    if (problem) throw new UsageError(problem);
    if (isWorkloadModule(o.workload) && !existsSync(path.resolve(cwd, o.workload))) throw new UsageError(`--workload ${o.workload} does not exist`);
  }
  if (o.input && o.hostileRate) throw new UsageError('--input and --hostile-rate exclude each other');
  if (o.phases && o.hostileRate) throw new UsageError('--phases and --hostile-rate exclude each other');
  if (o.poisonRate + o.duplicateRate > 1) throw new UsageError('--poison-rate plus --duplicate-rate must not exceed 1');
  if (o.phases && (o.input || (o.workload !== undefined && o.workload !== 'clickstream'))) {
    throw new UsageError('--phases uses the built-in clickstream generator: it excludes --input and other --workload values');
  }
  if (o.phases && !(o.rate > 0)) throw new UsageError('--phases needs --rate above 0: the records per second of a clean window (e.g. --rate 200)');
  const { input, assembly } = o;
  if (input !== undefined) usageOf(() => readInputFile(path.resolve(cwd, input)));
  if (assembly !== undefined) usageOf(() => chooseStack(path.resolve(cwd, assembly), o.stack));
}

/** Runs the local environment with CLI options; prints progress, the summary (or JSON); returns the exit code. */
export async function runLocalCommand(o: LocalRunCliOptions, cwd: string): Promise<number> {
  checkRunOptions(o, cwd);
  // The emulators and SDK clients must be installed: say so in one line before anything slow starts.
  sdkNodeModules();
  // The SDK's notice that releases after January 2027 need Node 22 is printed once per process; the CLI's own
  // clients only talk to local emulators, so keep it out of every run's output.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const live = o.progress !== false && !o.json && process.stderr.isTTY === true;
  const plain = o.progress !== false && !live ? plainRunProgress(process.stderr) : undefined;
  const abort = new AbortController();
  let signals = 0;
  let firstSignalAt = 0;
  const onSignal = (sig: NodeJS.Signals): void => {
    // Wrappers (npm, projen, tsx) relay the terminal's signal to us as well: copies within a second are one Ctrl-C.
    if (signals > 0 && Date.now() - firstSignalAt < 1000) return;
    signals++;
    if (signals === 1) {
      firstSignalAt = Date.now();
      if (live) process.stderr.write('\r\x1b[2K');
      process.stderr.write(`phoenix: ${sig}: stopping the local environment...\n`);
      abort.abort();
    } else {
      // Second signal: exit now; the exit handler kills every child still registered.
      process.exit(130);
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  let lastLine = '';
  const options: LocalRunOptions = {
    cwd,
    app: o.app,
    assembly: o.assembly,
    stack: o.stack,
    stream: o.stream,
    records: o.records,
    rate: o.rate,
    poisonRate: o.poisonRate,
    duplicateRate: o.duplicateRate,
    seed: o.seed,
    workload: o.workload,
    input: o.input,
    hostileRate: o.hostileRate,
    sinkFailureRate: o.sinkFailureRate,
    throttleRate: o.throttleRate,
    crashRate: o.crashRate,
    onDemandShards: o.onDemandShards,
    portBase: o.portBase,
    maxEnvironments: o.maxEnvironments,
    drainTimeoutMs: Math.round((o.drainTimeout ?? defaultDrainTimeoutSeconds(o.records)) * 1000),
    runsDir: o.runsDir ? path.resolve(cwd, o.runsDir) : undefined,
    trace: o.trace,
    windowSeconds: o.windowSeconds,
    phases: o.phases,
    timeScale: o.timeScale,
    fireSchedulesAtStart: !o.realTimeSchedules,
    stallSink: o.stallSink === true,
    limitsScale: o.limitsScale,
    latency: o.latency,
    iam: o.iam,
    signal: abort.signal,
    keep: o.keep,
    onKept: ({ report, file }) => {
      if (live) process.stderr.write('\r\x1b[2K');
      lastLine = '';
      if (o.json) {
        process.stdout.write(`${JSON.stringify({ ...report, localEnv: file })}\n`);
        return;
      }
      process.stdout.write(formatSummary(report));
      process.stderr.write(keptInstructions(path.relative(cwd, path.dirname(file)) || '.'));
    },
    log: (line) => {
      if (o.json) return;
      if (live && lastLine) process.stderr.write('\r\x1b[2K');
      process.stderr.write(`phoenix: ${line}\n`);
      if (live && lastLine) process.stderr.write(lastLine);
    },
    onProgress: live ? (p) => {
      const width = process.stderr.columns ?? 120;
      lastLine = progressLine(p).slice(0, Math.max(20, width - 1));
      process.stderr.write(`\r\x1b[2K${lastLine}`);
    } : plain,
  };
  try {
    const report = await runLocal(options);
    if (live) process.stderr.write('\r\x1b[2K');
    if (o.keep) process.stderr.write('phoenix: the local environment was stopped\n');
    else if (o.json) process.stdout.write(`${JSON.stringify(report)}\n`);
    else process.stdout.write(formatSummary(report));
    return report.invariant.holds ? 0 : 1;
  } catch (e) {
    if (live) process.stderr.write('\r\x1b[2K');
    if (abort.signal.aborted) {
      process.stderr.write('phoenix: interrupted; everything started was stopped\n');
      return 130;
    }
    if (e instanceof LocalRunUsageError) throw new UsageError(e.message, { cause: e });
    throw e;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/** What to do with a kept environment (stderr). */
export function keptInstructions(dir: string): string {
  return [
    `phoenix: the local environment keeps running with the injected faults ended (its ${dir}/local-env.json); Ctrl-C stops it.`,
    'phoenix: in another terminal (--local picks the latest running environment, or pass its directory):',
    '  npx phoenix dlq stats --local',
    '  npx phoenix dlq list --local --reason esm-exhausted',
    '  npx phoenix replay --from dlq --local --dry-run',
    '  npx phoenix replay --from dlq --local',
    '',
  ].join('\n');
}

export function registerLocal(program: Command): void {
  const local = program.command('local').description('run a CDK app\'s pipeline on local emulators (no AWS account, no Docker)');
  addRunOptions(local.command('run').description('synthesize the app, create its resources on local emulators, put a workload with faults, check that nothing is lost'))
    .action(async (o: LocalRunCliOptions) => {
      process.exitCode = await runLocalCommand(o, process.cwd());
    });
  local.command('trace <correlationId>')
    .description('the hops of one record (by correlation id or record id) with per-stage times, from the sink of a run')
    .option('--run <dir>', 'run directory (default: the latest under .phoenix/runs)')
    .option('--json', 'print JSON')
    .action((query: string, o: { run?: string; json?: boolean }) => {
      const runDir = o.run ? path.resolve(o.run) : runDirsWith(path.resolve(LOCAL_RUNS_DIR), 'sink.jsonl')[0];
      if (!runDir) throw new UsageError('no run found under .phoenix/runs: run `phoenix local run` first, or pass --run <dir>');
      const file = path.join(runDir, 'sink.jsonl');
      if (!existsSync(file)) throw new UsageError(`${runDir} has no sink.jsonl (the run did not finish)`);
      const sink = readFileSync(file, 'utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as SinkEnvelope);
      const found = traceRecords(sink, query);
      if (found.length === 0) throw new UsageError(`no record with correlation id or record id ${query} in the sink of ${runDir}`);
      if (o.json) process.stdout.write(`${JSON.stringify({ query, runDir, found })}\n`);
      else process.stdout.write(`${formatTrace(query, found).join('\n')}\n`);
    });
}
