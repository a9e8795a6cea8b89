import { fork, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { cpSync, createWriteStream, mkdirSync, symlinkSync, type WriteStream } from 'node:fs';
import * as path from 'node:path';
import type { FunctionInvoker, InvokeResult } from './esm/types';
import { LAMBDA_SYNC_PAYLOAD_BYTES } from './gates/limits';
import type { MetricsStore } from './metrics';
import { sdkNodeModules } from './paths';
import type { Random } from './random';
import type { ParentToRunner, RunnerToParent } from './runner/protocol';
import { ENV } from '../../constructs/contract';
import { LOCAL_CREDENTIALS } from '../aws/clients';
import { PhoenixError } from '../core/errors';

/** A function of the template, resolved to local values. */
export interface FunctionDefinition {
  readonly logicalId: string;
  readonly functionName: string;
  readonly functionArn: string;
  /** Directory holding the bundled code (the cloud assembly's asset directory). */
  readonly codeDir: string;
  /** `index.handler`. */
  readonly handler: string;
  readonly runtime: string;
  readonly timeoutSeconds: number;
  readonly memoryMb: number;
  /** The template's Environment.Variables, resolved. */
  readonly environment: Readonly<Record<string, string>>;
  /** ReservedConcurrentExecutions; undefined = unreserved. */
  readonly reservedConcurrency?: number;
  /** DeadLetterConfig.TargetArn: where failed asynchronous invocations go. */
  readonly deadLetterTargetArn?: string;
}

/** Endpoints the function's AWS SDK clients are pointed at (AWS_ENDPOINT_URL_<SERVICE>). */
export interface FunctionEndpoints {
  readonly kinesis: string;
  readonly dynamodb: string;
  readonly sqs: string;
  readonly s3: string;
  readonly sns?: string;
  /** Every other service (AWS_ENDPOINT_URL): answers with an error, so nothing reaches the real AWS. */
  readonly other?: string;
}

export interface FunctionFaults {
  /** Probability that an invocation is answered `throttled` without running. */
  readonly throttleRate: number;
  /** Probability that the execution environment is killed during an invocation. */
  readonly crashRate: number;
}

export interface LocalFunctionOptions {
  readonly runnerScript: string;
  readonly logDir: string;
  readonly region: string;
  readonly endpoints: FunctionEndpoints;
  readonly metrics: MetricsStore;
  /** Most execution environments (child processes) at once; invocations beyond wait for one (default 4). */
  readonly maxEnvironments: number;
  readonly faults: FunctionFaults;
  readonly random: Random;
  /** Called for every child started, with an unregister function for when it exited. */
  readonly track?: (pid: number) => () => void;
  /** The access key the function's SDK calls are signed with: its role's (lib/local/iam principals); default the operator's. */
  readonly accessKeyId?: string;
  /** Lambda's own time per invocation before the handler runs (`--latency aws`: a draw of the invoke overhead); default none. */
  readonly invokeOverheadMs?: () => number;
}

/** Counters of a function that has not been invoked yet. */
export function emptyFunctionStats(): FunctionStats {
  return {
    invocations: 0,
    succeeded: 0,
    errors: 0,
    timeouts: 0,
    crashes: 0,
    injectedCrashes: 0,
    throttles: 0,
    injectedThrottles: 0,
    coldStarts: 0,
    requestsTooLarge: 0,
    responsesTooLarge: 0,
    durationsMs: [],
  };
}

export interface FunctionStats {
  invocations: number;
  succeeded: number;
  /** The handler threw or rejected. */
  errors: number;
  timeouts: number;
  /** Environments that died during an invocation (injected crashes included). */
  crashes: number;
  injectedCrashes: number;
  throttles: number;
  injectedThrottles: number;
  coldStarts: number;
  /** Invocations refused before running: the event is over 6 MB (`RequestEntityTooLargeException`). */
  requestsTooLarge: number;
  /** Invocations whose response was over 6 MB (`Function.ResponseSizeTooLarge`, a function error; counted in errors too). */
  responsesTooLarge: number;
  /** Durations of successful invocations in their environment (ms, like Lambda's REPORT Duration), bounded sample. */
  durationsMs: number[];
}

interface Environment {
  readonly id: number;
  readonly child: ChildProcess;
  state: 'starting' | 'idle' | 'busy' | 'dead';
  ready: Promise<void>;
  /** Resolves the pending invocation when the environment dies. */
  onDeath?: (message: string) => void;
  onResult?: (m: Extract<RunnerToParent, { type: 'result' }>) => void;
  /** Request ids whose REPORT line was read from stdout, with the waiter of the pending invocation. */
  reportWaiter?: { requestId: string; done: () => void };
  stderrTail: string;
  untrack: () => void;
}

/**
 * Stages a function's code the way Lambda lays it out: a copy of the asset as the task root, outside the project,
 * with only the AWS SDK v3 (`@aws-sdk/*`, which the Node.js runtime provides) resolvable above it. A dependency the
 * bundle forgot fails locally as it would in AWS, and both `require` and `import()` find the SDK (ESM ignores NODE_PATH).
 */
export function stageFunctionCode(def: FunctionDefinition, baseDir: string): FunctionDefinition {
  const dir = path.join(baseDir, def.logicalId);
  const taskRoot = path.join(dir, 'task');
  mkdirSync(path.join(dir, 'node_modules'), { recursive: true });
  cpSync(def.codeDir, taskRoot, { recursive: true, dereference: true });
  symlinkSync(path.join(sdkNodeModules(), '@aws-sdk'), path.join(dir, 'node_modules', '@aws-sdk'), 'dir');
  return { ...def, codeDir: taskRoot };
}

/** Error thrown when a function cannot start (its code does not load): one line. */
export class FunctionInitError extends PhoenixError {
  constructor(functionName: string, errorType: string, message: string) {
    super('FUNCTION_INIT', `function ${functionName} failed to initialize: ${errorType}: ${message}`);
  }
}

const MAX_DURATION_SAMPLES = 20_000;
/** Lambda's response limit as its error message states it: 100 bytes above the 6 MiB request limit. */
const LAMBDA_RESPONSE_BYTES = LAMBDA_SYNC_PAYLOAD_BYTES + 100;
/** Bound on waiting for an invocation's REPORT line after its result arrived. */
const REPORT_WAIT_MS = 2_000;

/**
 * True for a pipeline stage function by the handler contract (PHX_PIPELINE and PHX_SINK_KIND set): an ingest stage,
 * as opposed to the profiler, the canary or the replay tools.
 */
export function isPipelineStage(environment: Readonly<Record<string, string>>): boolean {
  return environment[ENV.pipeline] !== undefined && environment[ENV.sinkKind] !== undefined;
}

/**
 * A Lambda function run locally: its bundled handler runs UNCHANGED in child processes (one per execution
 * environment, created on demand up to `maxEnvironments`), each with the function's environment, the template's
 * timeout (the environment is killed and `timeout` returned) and memory (V8 heap limit). A dead environment is
 * reported as `crash` and replaced on the next invocation. stdout/stderr go to `<logDir>/<functionName>.log`; EMF
 * lines are parsed into the metrics store.
 */
export class LocalFunction implements FunctionInvoker {
  readonly functionName: string;
  readonly functionArn: string;
  readonly stats: FunctionStats = emptyFunctionStats();
  private readonly envs: Environment[] = [];
  private readonly waiters: Array<(env: Environment | undefined) => void> = [];
  private readonly log: WriteStream;
  private nextEnvId = 1;
  private inFlight = 0;
  private stopped = false;
  private durationEstimateMs = 20;
  private initError: FunctionInitError | undefined;
  private readonly faultRandom: Random;

  constructor(readonly def: FunctionDefinition, private readonly opts: LocalFunctionOptions) {
    this.functionName = def.functionName;
    this.functionArn = def.functionArn;
    this.log = createWriteStream(path.join(opts.logDir, `${safeFileName(def.functionName)}.log`), { flags: 'a' });
    this.faultRandom = opts.random.fork(`faults:${def.functionName}`);
  }

  /** The log file of the function. */
  get logFile(): string {
    return this.log.path.toString();
  }

  /** Resolves when every log line received so far is written to the log file. */
  logsFlushed(): Promise<void> {
    return new Promise((resolve) => this.log.write('', () => resolve()));
  }

  /**
   * Starts `count` environments (at most maxEnvironments) and waits until their handler is loaded; throws
   * FunctionInitError when it cannot load. Pre-warming the concurrency the event sources will use keeps the start-up
   * of the local environment out of the measured latencies; later environments (after a crash or timeout) start cold.
   */
  async warmUp(count = 1): Promise<void> {
    const n = Math.max(1, Math.min(count, this.opts.maxEnvironments));
    const envs = Array.from({ length: n }, () => this.spawn());
    await Promise.all(envs.map((e) => e.ready));
    if (this.initError) throw this.initError;
    for (const env of envs) {
      if (env.state === 'dead') continue;
      env.state = 'idle';
      this.release(env);
    }
  }

  async invoke(event: unknown): Promise<InvokeResult> {
    const started = Date.now();
    if (this.stopped) return { ok: false, errorType: 'error', message: 'the local environment is stopping', durationMs: 0 };
    // Lambda refuses an event over 6 MB before any invocation (not counted as one).
    const eventJson = JSON.stringify(event);
    if (Buffer.byteLength(eventJson) > LAMBDA_SYNC_PAYLOAD_BYTES) {
      this.stats.requestsTooLarge++;
      return { ok: false, errorType: 'error', message: requestTooLargeMessage(), durationMs: 0 };
    }
    this.stats.invocations++;
    if (this.faultRandom.chance(this.opts.faults.throttleRate)) {
      this.stats.throttles++;
      this.stats.injectedThrottles++;
      return { ok: false, errorType: 'throttled', message: 'Rate Exceeded. (injected by --throttle-rate)', durationMs: 0 };
    }
    const limit = this.def.reservedConcurrency;
    if (limit !== undefined && this.inFlight >= limit) {
      this.stats.throttles++;
      return { ok: false, errorType: 'throttled', message: `Rate Exceeded. (ReservedConcurrentExecutions ${limit})`, durationMs: 0 };
    }
    this.inFlight++;
    try {
      const overhead = this.opts.invokeOverheadMs?.() ?? 0;
      if (overhead > 0) await new Promise((r) => setTimeout(r, overhead));
      const env = await this.acquire();
      if (!env) return { ok: false, errorType: 'error', message: 'the local environment is stopping', durationMs: Date.now() - started };
      if (this.initError) {
        this.release(env);
        return { ok: false, errorType: 'error', message: this.initError.message, durationMs: Date.now() - started };
      }
      return await this.run(env, eventJson, started);
    } finally {
      this.inFlight--;
    }
  }

  private run(env: Environment, eventJson: string, started: number): Promise<InvokeResult> {
    const requestId = randomUUID();
    const timeoutMs = this.def.timeoutSeconds * 1000;
    const crash = this.faultRandom.chance(this.opts.faults.crashRate);
    const msg: ParentToRunner = {
      type: 'invoke',
      requestId,
      eventJson,
      deadlineMs: Date.now() + timeoutMs,
      crashAfterMs: crash ? Math.floor(this.faultRandom.next() * this.durationEstimateMs) : undefined,
    };
    env.state = 'busy';
    const dispatchedAt = Date.now();
    return new Promise<InvokeResult>((resolve) => {
      const finish = (r: InvokeResult): void => {
        clearTimeout(timer);
        env.onDeath = undefined;
        env.onResult = undefined;
        resolve(r);
      };
      const timer = setTimeout(() => {
        this.stats.timeouts++;
        this.writeLog(env, `${new Date().toISOString()} ${requestId} Task timed out after ${this.def.timeoutSeconds.toFixed(2)} seconds`);
        env.onDeath = undefined;
        this.kill(env);
        finish({ ok: false, errorType: 'timeout', message: `Task timed out after ${this.def.timeoutSeconds.toFixed(2)} seconds`, durationMs: Date.now() - started });
      }, timeoutMs);
      env.onDeath = (why) => {
        if (this.stopped) {
          finish({ ok: false, errorType: 'error', message: 'the local environment stopped during the invocation', durationMs: Date.now() - started });
          return;
        }
        this.stats.crashes++;
        if (crash) this.stats.injectedCrashes++;
        const detail = crash ? 'killed by --crash-rate fault injection' : why;
        this.writeLog(env, `${new Date().toISOString()} ${requestId} Runtime exited: ${detail}`);
        finish({ ok: false, errorType: 'crash', message: `Runtime.ExitError: ${detail}`, durationMs: Date.now() - started });
      };
      // The result comes over IPC, the logs over stdout: wait (bounded) for the invocation's REPORT line so that its
      // log lines and EMF metrics are processed before the invocation completes, as the run counts them afterwards.
      let reportSeen = false;
      const reported = new Promise<void>((onReport) => {
        env.reportWaiter = { requestId, done: () => { reportSeen = true; onReport(); } };
      });
      env.onResult = (m) => {
        const durationMs = Date.now() - started;
        const runMs = Date.now() - dispatchedAt;
        if (!reportSeen) {
          let reportTimer: NodeJS.Timeout | undefined;
          void Promise.race([reported, new Promise<void>((r) => { reportTimer = setTimeout(r, REPORT_WAIT_MS); })]).then(() => {
            clearTimeout(reportTimer);
            if (env.onResult) this.complete(env, m, durationMs, runMs, finish);
          });
          return;
        }
        this.complete(env, m, durationMs, runMs, finish);
      };
      env.child.send(msg, (err) => {
        if (err && env.onDeath) env.onDeath(`cannot send the event: ${err.message}`);
      });
    });
  }

  private complete(
    env: Environment, m: Extract<RunnerToParent, { type: 'result' }>, durationMs: number, runMs: number, finish: (r: InvokeResult) => void,
  ): void {
    env.reportWaiter = undefined;
    env.state = 'idle';
    const responseBytes = m.ok ? Buffer.byteLength(m.payloadJson) : 0;
    if (m.ok && responseBytes > LAMBDA_RESPONSE_BYTES) {
      // Lambda fails the invocation after the handler returned: a function error, retried like any other.
      this.stats.errors++;
      this.stats.responsesTooLarge++;
      finish({ ok: false, errorType: 'error', message: responseTooLargeMessage(responseBytes), durationMs });
    } else if (m.ok) {
      this.stats.succeeded++;
      this.durationEstimateMs = Math.max(1, Math.round(0.8 * this.durationEstimateMs + 0.2 * runMs));
      if (this.stats.durationsMs.length < MAX_DURATION_SAMPLES) this.stats.durationsMs.push(runMs);
      let payload: unknown;
      try { payload = JSON.parse(m.payloadJson); } catch { payload = null; }
      finish({ ok: true, payload, durationMs });
    } else {
      this.stats.errors++;
      finish({ ok: false, errorType: 'error', message: `${m.errorType}: ${m.errorMessage}`, durationMs });
    }
    this.release(env);
  }

  /** An idle environment, a new one (cold start) if below the limit, else the next one released. */
  private acquire(): Promise<Environment | undefined> {
    const idle = this.envs.find((e) => e.state === 'idle');
    if (idle) {
      idle.state = 'busy';
      return Promise.resolve(idle);
    }
    const live = this.envs.filter((e) => e.state !== 'dead').length;
    if (live < Math.max(1, this.opts.maxEnvironments)) {
      const env = this.spawn();
      return env.ready.then(() => {
        if (env.state === 'dead') return this.acquire();
        env.state = 'busy';
        return env;
      });
    }
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  private release(env: Environment): void {
    if (env.state !== 'idle') return;
    const waiter = this.waiters.shift();
    if (waiter) {
      env.state = 'busy';
      waiter(env);
    }
  }

  private spawn(): Environment {
    const id = this.nextEnvId++;
    const child = fork(this.opts.runnerScript, [], {
      cwd: this.def.codeDir,
      env: this.childEnv(id),
      execArgv: [`--max-old-space-size=${Math.max(64, Math.floor(this.def.memoryMb * 0.85))}`],
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      serialization: 'json',
    });
    this.stats.coldStarts++;
    let markReady: () => void = () => undefined;
    const env: Environment = {
      id,
      child,
      state: 'starting',
      stderrTail: '',
      ready: new Promise<void>((r) => { markReady = r; }),
      untrack: child.pid && this.opts.track ? this.opts.track(child.pid) : () => undefined,
    };
    this.envs.push(env);
    this.pipeLines(env, child.stdout!, false);
    this.pipeLines(env, child.stderr!, true);
    child.on('message', (m: RunnerToParent) => {
      if (m.type === 'ready') { env.state = 'idle'; markReady(); return; }
      if (m.type === 'init-error') {
        this.initError = new FunctionInitError(this.functionName, m.errorType, m.errorMessage);
        env.state = 'idle';
        markReady();
        return;
      }
      if (m.type === 'result') env.onResult?.(m);
    });
    child.on('error', (err) => this.writeLog(env, `environment ${id} error: ${err.message}`));
    child.once('exit', (code, signal) => {
      const wasStarting = env.state === 'starting';
      env.state = 'dead';
      env.untrack();
      const idx = this.envs.indexOf(env);
      if (idx >= 0) this.envs.splice(idx, 1);
      const tail = lastLine(env.stderrTail);
      const why = `${signal ? `signal ${signal}` : `exit code ${code}`}${tail ? ` (${tail})` : ''}`;
      if (wasStarting && !this.initError && !this.stopped) {
        this.initError = new FunctionInitError(this.functionName, 'Runtime.ExitError', `the runtime exited during init: ${why}`);
      }
      markReady();
      env.onDeath?.(why);
      // A waiter may now start a fresh environment in place of this one.
      if (!this.stopped && this.waiters.length > 0) {
        const waiter = this.waiters.shift()!;
        void this.acquire().then(waiter);
      }
    });
    return env;
  }

  private childEnv(envId: number): NodeJS.ProcessEnv {
    const d = this.def;
    const e = this.opts.endpoints;
    const logGroup = `/aws/lambda/${d.functionName}`;
    const day = new Date().toISOString().slice(0, 10).replace(/-/g, '/');
    return {
      // The template's variables first: the runtime's reserved variables below win, as in Lambda.
      ...d.environment,
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      LANG: 'en_US.UTF-8',
      TZ: ':UTC',
      LAMBDA_TASK_ROOT: d.codeDir,
      LAMBDA_RUNTIME_DIR: d.codeDir,
      _HANDLER: d.handler,
      AWS_EXECUTION_ENV: `AWS_Lambda_${d.runtime}`,
      AWS_REGION: this.opts.region,
      AWS_DEFAULT_REGION: this.opts.region,
      AWS_LAMBDA_FUNCTION_NAME: d.functionName,
      AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(d.memoryMb),
      AWS_LAMBDA_LOG_GROUP_NAME: logGroup,
      AWS_LAMBDA_LOG_STREAM_NAME: `${day}/[$LATEST]local${String(envId).padStart(4, '0')}`,
      AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
      PHX_LOCAL_FUNCTION_ARN: d.functionArn,
      // Local credentials (the function's role's key): the user's real credentials and profiles never reach local code.
      AWS_ACCESS_KEY_ID: this.opts.accessKeyId ?? LOCAL_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: 'local-secret-access-key',
      AWS_SESSION_TOKEN: 'local-session-token',
      AWS_CONFIG_FILE: path.join(this.opts.logDir, '.no-aws-config'),
      AWS_SHARED_CREDENTIALS_FILE: path.join(this.opts.logDir, '.no-aws-credentials'),
      AWS_EC2_METADATA_DISABLED: 'true',
      AWS_ENDPOINT_URL_KINESIS: e.kinesis,
      AWS_ENDPOINT_URL_DYNAMODB: e.dynamodb,
      AWS_ENDPOINT_URL_SQS: e.sqs,
      AWS_ENDPOINT_URL_S3: e.s3,
      ...(e.sns ? { AWS_ENDPOINT_URL_SNS: e.sns } : {}),
      ...(e.other ? { AWS_ENDPOINT_URL: e.other } : {}),
    };
  }

  private pipeLines(env: Environment, stream: NodeJS.ReadableStream, isStderr: boolean): void {
    let buf = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      buf += chunk;
      if (isStderr) env.stderrTail = (env.stderrTail + chunk).slice(-4000);
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        this.handleLine(env, line);
      }
    });
    stream.on('end', () => { if (buf.length > 0) this.handleLine(env, buf); buf = ''; });
  }

  private handleLine(env: Environment, line: string): void {
    this.opts.metrics.ingestLine(line, this.functionName);
    this.writeLog(env, line);
    const w = env.reportWaiter;
    if (w && line.startsWith('REPORT RequestId: ') && line.slice(18, 18 + w.requestId.length) === w.requestId) w.done();
  }

  private writeLog(env: Environment, line: string): void {
    this.log.write(`env${env.id}\t${line}\n`);
  }

  private kill(env: Environment): void {
    env.state = 'dead';
    try { if (env.child.pid) process.kill(env.child.pid, 'SIGKILL'); } catch { /* already gone */ }
  }

  /** Stops every environment (SIGKILL: in-flight invocations are abandoned) and closes the log. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const w of this.waiters.splice(0)) w(undefined);
    const exits = this.envs.map((env) => new Promise<void>((resolve) => {
      if (env.child.exitCode !== null || env.child.signalCode !== null) { resolve(); return; }
      env.child.once('exit', () => resolve());
      try { if (env.child.pid) process.kill(env.child.pid, 'SIGKILL'); } catch { resolve(); }
    }));
    await Promise.all(exits);
    await new Promise<void>((resolve) => this.log.end(resolve));
  }
}

/** Lambda's answer to an Invoke whose payload is over 6 MB (HTTP 413), as the emulator host's limit gate words it too. */
export function requestTooLargeMessage(): string {
  return `RequestEntityTooLargeException: Request must be smaller than ${LAMBDA_SYNC_PAYLOAD_BYTES} bytes for the InvokeFunction operation`;
}

/**
 * Lambda's function error for a response over its limit (wording and figure as Lambda reports them, e.g. in
 * umihico/pythonista-chromeless#11 and DataBiosphere/azul#7466).
 */
export function responseTooLargeMessage(bytes: number): string {
  return `Function.ResponseSizeTooLarge: Response payload size (${bytes} bytes) exceeded maximum allowed payload size (${LAMBDA_RESPONSE_BYTES} bytes).`;
}

function lastLine(text: string): string {
  const lines = text.split('\n').map((l) => l.trim()).filter((l) => l.length > 0);
  return lines.length ? lines[lines.length - 1].slice(0, 300) : '';
}

function safeFileName(name: string): string {
  return name.replace(/[^A-Za-z0-9._-]/g, '_');
}
