import { mkdirSync } from 'node:fs';
import * as path from 'node:path';
import { LocalRunError } from './errors';
import type { LocalRunOptions, LocalRunReport, RunProgress } from './types';
import { METRIC } from '../../../constructs/contract';
import { CloudFormationModel } from '../cloudformation/lifecycle';
import type { Rng } from '../cloudformation/physical-names';
import type { EventSourcePoller } from '../esm';
import type { LocalFunction } from '../functions';
import { Lifecycle } from '../lifecycle';
import { MetricsStore } from '../metrics';
import { Random } from '../random';
import { LOCAL_ACCOUNT } from '../template/types';

/** An event source mapping of the run; `windowSeconds`: its tumbling window (an open window is not waited for when draining). */
export interface RunPoller {
  readonly logicalId: string;
  readonly poller: EventSourcePoller;
  readonly source: string;
  readonly fn: string;
  readonly windowSeconds: number;
  /** The mapping's `Enabled` (a disabled mapping does not poll). */
  readonly enabled: boolean;
}

/** `<ISO time without separators>-<suffix><pid>`: the name of a run directory. */
export function runId(suffix = ''): string {
  return new Date().toISOString().replace(/[-:]/g, '').replace('T', '-').replace(/\..*$/, '') + `-${suffix}${process.pid}`;
}

/** Creates `<runsDir>/<runId>/logs` and returns the run directory (default runsDir `<cwd>/.phoenix/runs`). */
export function createRunDir(cwd: string, runsDir: string | undefined, suffix?: string): string {
  const runDir = path.join(runsDir ?? path.join(cwd, '.phoenix', 'runs'), runId(suffix));
  mkdirSync(path.join(runDir, 'logs'), { recursive: true });
  return runDir;
}

/**
 * The account of one local environment (CloudFormation's view of its stacks), kept across a drill's destroy and
 * redeploy. Names draw on `rng`: unseeded by default, so that every run (and every creation) gets new names.
 */
export function localAccountModel(rng: Rng = Math.random): CloudFormationModel {
  return new CloudFormationModel({ accountId: LOCAL_ACCOUNT, rng });
}

/**
 * What every phase of `runLocal` shares: the run directory, what was started (stopped by {@link dispose}), the
 * metrics, the progress and the phase durations, and the fatal promise that ends the run when an emulator exits or the
 * run is interrupted ({@link guard} races a phase's promise against it).
 */
export class RunContext {
  readonly log: (line: string) => void;
  readonly runDir: string;
  readonly life = new Lifecycle();
  readonly metrics = new MetricsStore();
  readonly random: Random;
  /** The account model the stack is deployed into before its resources are created. */
  readonly model = localAccountModel();
  readonly functions: LocalFunction[] = [];
  readonly pollers: RunPoller[] = [];
  readonly progress: RunProgress = {
    phase: 'synth', total: 0, produced: 0, written: 0, deadLettered: 0, duplicatesSuppressed: 0, retries: 0, invocations: 0, functionErrors: 0, elapsedMs: 0,
  };
  readonly durations: LocalRunReport['durationsMs'] = { total: 0, synth: 0, start: 0, produce: 0, drain: 0, verify: 0 };
  readonly fatal: Promise<never>;
  private rejectFatal?: (e: Error) => void;
  private readonly t0 = Date.now();
  private phaseStart = this.t0;
  private progressTimer?: NodeJS.Timeout;
  private readonly onAbort: () => void;

  constructor(readonly opts: LocalRunOptions) {
    this.log = opts.log ?? (() => undefined);
    this.runDir = createRunDir(opts.cwd, opts.runsDir);
    this.random = new Random(opts.seed);
    this.onAbort = () => this.fail(new LocalRunError('interrupted'));
    this.fatal = new Promise<never>((_, reject) => { this.rejectFatal = reject; });
    this.fatal.catch(() => undefined);
    opts.signal?.addEventListener('abort', this.onAbort, { once: true });
    if (opts.signal?.aborted) this.onAbort();
  }

  /** Ends the run with `e` (the phase awaiting {@link guard} rejects with it). */
  fail(e: Error): void {
    this.rejectFatal?.(e);
  }

  guard<T>(p: Promise<T>): Promise<T> {
    return Promise.race([p, this.fatal]);
  }

  /** Enters a progress phase and reports it at once (a phase shorter than the progress timer still gets its report). */
  enter(phase: RunProgress['phase']): void {
    this.progress.phase = phase;
    this.emitProgress();
  }

  /** Starts timing a phase. */
  lap(): void {
    this.phaseStart = Date.now();
  }

  /** Records the time since the last {@link lap} as the duration of `phase`. */
  lapEnd(phase: Exclude<keyof LocalRunReport['durationsMs'], 'total'>): void {
    this.durations[phase] = Date.now() - this.phaseStart;
  }

  finish(): void {
    this.emitProgress();
    this.progress.phase = 'done';
    this.durations.total = Date.now() - this.t0;
  }

  startProgressTimer(): void {
    this.progressTimer = setInterval(() => this.emitProgress(), 250);
  }

  emitProgress(): void {
    const p = this.progress;
    const m = this.metrics;
    p.elapsedMs = Date.now() - this.t0;
    p.written = m.total(METRIC.recordsWritten);
    p.deadLettered = m.total(METRIC.recordsDeadLettered);
    p.duplicatesSuppressed = m.total(METRIC.duplicatesSuppressed) + m.total(METRIC.staleSuppressed);
    p.retries = m.total(METRIC.recordsRetried);
    p.invocations = this.functions.reduce((n, f) => n + f.stats.invocations, 0);
    p.functionErrors = this.functions.reduce((n, f) => n + f.stats.errors + f.stats.timeouts + f.stats.crashes, 0);
    this.opts.onProgress?.({ ...p });
  }

  /** While an environment is kept, Ctrl-C is its normal end, not an interruption of the run. */
  releaseAbort(): void {
    this.opts.signal?.removeEventListener('abort', this.onAbort);
  }

  async dispose(): Promise<void> {
    if (this.progressTimer) clearInterval(this.progressTimer);
    this.releaseAbort();
    await this.life.stopAll();
  }
}
