import { fork, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import type { IamGateConfig } from '../gates';
import { childScript, sdkNodeModules } from '../paths';
import type { AccessDeniedReport, EmulatorHostConfig, EmulatorName, HostToParent, LimitsHostConfig, LimitsRegistration, ParentToHost } from './protocol';
import { PhoenixError } from '../../core/errors';

import type { TrafficReport } from '../gates/traffic';

export { EMULATOR_LABEL, type AccessDeniedReport, type EmulatorName, type LimitsHostConfig, type LimitsRegistration } from './protocol';

export interface EmulatorOptions {
  /** First port (Kinesis), then DynamoDB = base+1, SQS/SNS/S3 = base+2. 0 = free ports chosen by the OS. */
  readonly portBase?: number;
  /** Directory for the child script and the emulators' log. */
  readonly runDir: string;
  readonly region: string;
  /** Time to wait for the emulators to listen (default 20 s). */
  readonly startTimeoutMs?: number;
  /** Called once if the emulator host dies or an emulator fails after startup. */
  readonly onUnexpectedExit?: (message: string) => void;
  /** IAM enforcement in front of the emulators (lib/local/iam iamGateConfig); undefined = every call is allowed. */
  readonly iam?: IamGateConfig;
  /** Called for every call the IAM gate denied. */
  readonly onAccessDenied?: (denial: AccessDeniedReport) => void;
  /** Service limits and latency model in front of the emulators; undefined = neither. */
  readonly limits?: LimitsHostConfig;
}

export interface RunningEmulators {
  readonly pid: number;
  readonly endpoints: Record<EmulatorName, string>;
  readonly ports: Record<EmulatorName, number>;
  /** Stops the emulator host (SIGTERM, then SIGKILL after a grace period); resolves when it exited. */
  stop(): Promise<void>;
  /** Tells the limit gate the streams' shards and the queues' message size limits (after creating or resharding them). */
  registerLimits(registration: LimitsRegistration): Promise<void>;
  /** Kinesis traffic per consumer and writer so far (service limits enabled only). */
  traffic(): Promise<TrafficReport>;
  /** Replaces the IAM configuration the host enforces (after a redeploy gave the stack new names). */
  updateIam(iam: IamGateConfig): Promise<void>;
}

/** Error thrown when the emulators cannot be started; its message is one line. */
export class EmulatorError extends PhoenixError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('EMULATOR', message, options);
  }
}

function fauxqsEntry(nodeModules: string): string {
  const entry = path.join(nodeModules, 'fauxqs', 'dist', 'app.js');
  if (!existsSync(entry)) throw new EmulatorError(`fauxqs is not installed in ${nodeModules}: npm install --save-dev fauxqs@1.9.2`);
  return entry;
}

/** Kills a child by pid and waits for its exit (SIGTERM, then SIGKILL after `graceMs`). */
export function killChild(child: ChildProcess, graceMs = 2000): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) { resolve(); return; }
    const timer = setTimeout(() => { if (child.pid) try { process.kill(child.pid, 'SIGKILL'); } catch { /* gone */ } }, graceMs);
    child.once('exit', () => { clearTimeout(timer); resolve(); });
    try {
      if (child.pid) process.kill(child.pid, 'SIGTERM');
    } catch {
      clearTimeout(timer);
      resolve();
    }
  });
}

/**
 * Starts kinesalite, dynalite and fauxqs in one child process bound to 127.0.0.1.
 * Rejects with one clear line (port in use, missing package, timeout); nothing is left running on failure.
 */
export async function startEmulators(opts: EmulatorOptions): Promise<RunningEmulators> {
  let nodeModules: string;
  try {
    nodeModules = sdkNodeModules();
  } catch (e) {
    throw new EmulatorError((e as Error).message);
  }
  const base = opts.portBase ?? 0;
  if (!Number.isInteger(base) || base < 0 || (base > 0 && (base < 1024 || base > 65533))) {
    throw new EmulatorError(`--port-base must be 0 (free ports) or between 1024 and 65533; got ${base}`);
  }
  const config: EmulatorHostConfig = {
    ports: { kinesis: base === 0 ? 0 : base, dynamodb: base === 0 ? 0 : base + 1, fauxqs: base === 0 ? 0 : base + 2 },
    fauxqsEntry: fauxqsEntry(nodeModules),
    region: opts.region,
    kinesisShardLimit: 500,
    iamConfigFile: opts.iam ? path.join(opts.runDir, 'iam.json') : undefined,
    limits: opts.limits,
  };
  const script = childScript('emulator-host', path.join(opts.runDir, 'bin'));
  mkdirSync(path.join(opts.runDir, 'logs'), { recursive: true });
  if (opts.iam) writeFileSync(config.iamConfigFile!, JSON.stringify(opts.iam));
  const log = createWriteStream(path.join(opts.runDir, 'logs', 'emulators.log'), { flags: 'a' });
  const child = fork(script, [], {
    env: {
      PATH: process.env.PATH ?? '',
      NODE_PATH: nodeModules,
      PHX_EMULATOR_HOST_CONFIG: JSON.stringify(config),
    },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    serialization: 'json',
  });
  child.stdout?.pipe(log, { end: false });
  child.stderr?.pipe(log, { end: false });
  let stopped = false;
  let stderrTail = '';
  child.stderr?.on('data', (b: Buffer) => { stderrTail = (stderrTail + b.toString('utf8')).slice(-2000); });

  const ready = await new Promise<Record<EmulatorName, number>>((resolve, reject) => {
    const timeoutMs = opts.startTimeoutMs ?? 20_000;
    const timer = setTimeout(() => {
      cleanup();
      void killChild(child).then(() => reject(new EmulatorError(`the emulators did not start within ${timeoutMs} ms`)));
    }, timeoutMs);
    const onMessage = (m: HostToParent): void => {
      if (m.type === 'ready') { cleanup(); resolve(m.ports); }
      if (m.type === 'error') { cleanup(); void killChild(child).then(() => reject(new EmulatorError(m.message))); }
    };
    const onExit = (code: number | null, signal: string | null): void => {
      cleanup();
      const detail = lastLine(stderrTail);
      reject(new EmulatorError(`the emulator host exited during startup (${signal ?? `code ${code}`})${detail ? `: ${detail}` : ''}`));
    };
    const onError = (err: Error): void => { cleanup(); reject(new EmulatorError(`cannot start the emulator host: ${err.message}`)); };
    function cleanup(): void {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
      child.off('error', onError);
    }
    child.on('message', onMessage);
    child.once('exit', onExit);
    child.once('error', onError);
  });

  let reported = false;
  const report = (message: string): void => {
    if (stopped || reported) return;
    reported = true;
    opts.onUnexpectedExit?.(message);
  };
  const ask = hostRequests(child);
  child.on('message', (m: HostToParent) => {
    if (m.type === 'error') report(m.message);
    if (m.type === 'accessDenied') opts.onAccessDenied?.(m.denial);
  });
  child.once('exit', (code, signal) => {
    log.end();
    report(`the emulators stopped unexpectedly (${signal ? `killed by ${signal}` : `exit code ${code}`})${lastLine(stderrTail) ? `: ${lastLine(stderrTail)}` : ''}`);
  });

  const url = (p: number): string => `http://127.0.0.1:${p}`;
  return {
    pid: child.pid!,
    ports: ready,
    endpoints: { kinesis: url(ready.kinesis), dynamodb: url(ready.dynamodb), fauxqs: url(ready.fauxqs) },
    stop: async () => {
      stopped = true;
      await killChild(child, 3000);
    },
    registerLimits: async (registration) => { await ask({ type: 'limits', registration }); },
    traffic: async () => (await ask({ type: 'traffic' })).traffic ?? { consumers: [], writers: [] },
    updateIam: async (iam) => {
      const configFile = path.join(opts.runDir, `iam-${Date.now()}.json`);
      writeFileSync(configFile, JSON.stringify(iam));
      await ask({ type: 'iam', configFile });
    },
  };
}

type HostRequest = Extract<ParentToHost, { id: number }> extends infer T ? T extends { id: number } ? Omit<T, 'id'> : never : never;
type HostReply = Extract<HostToParent, { type: 'reply' }>;

/** Requests to the host answered by a `reply` with the same id (rejected with the host's error, or when it exits). */
function hostRequests(child: ChildProcess): (request: HostRequest) => Promise<HostReply> {
  let next = 0;
  const waiting = new Map<number, { resolve: (r: HostReply) => void; reject: (e: Error) => void }>();
  child.on('message', (m: HostToParent) => {
    if (m.type !== 'reply') return;
    const w = waiting.get(m.id);
    waiting.delete(m.id);
    if (m.error !== undefined) w?.reject(new EmulatorError(m.error));
    else w?.resolve(m);
  });
  child.once('exit', () => {
    for (const w of waiting.values()) w.reject(new EmulatorError('the emulator host exited before answering'));
    waiting.clear();
  });
  return (request) => new Promise((resolve, reject) => {
    const id = ++next;
    waiting.set(id, { resolve, reject });
    child.send({ ...request, id } as ParentToHost);
  });
}

function lastLine(text: string): string {
  const lines = text.split('\n').map((l) => l.trim()).filter((l) => l.length > 0);
  return lines.length ? lines[lines.length - 1].slice(0, 300) : '';
}
