/**
 * A workload in phases, one phase per tumbling window of the data-quality profiler: a clean baseline, then injected
 * drift (a null burst, a volume drop, a shifted distribution) in windows of their own, to see the profiler's rules
 * fire through the local environment (`phoenix local run --phases clean*6,nulls,clean,drop,clean,shift`).
 *
 * Windows are keyed by arrival time, as Lambda's tumbling windows are (a record's window is the one its
 * ApproximateArrivalTimestamp falls in), so the workload paces itself on the same wall clock: production starts at a
 * window boundary, each window's records are spread evenly over its first half, and nothing is scheduled in its
 * last half (the guard, 250 ms to 2 s). A record whose time comes when less than 3/4 of the guard is left (the
 * producer fell behind: a slow PutRecords on a loaded machine) is not put at all, so that what is put still arrives
 * in its own window:
 * a busy machine puts fewer records than planned (noted, and counted per window in `windows[].put`) rather than
 * records in the wrong window. The run's quality report compares each window's rows with the records put for it.
 *
 * The records are the built-in clickstream generator's (valid per the example schema), with:
 * - `clean`: rate x window records;
 * - `nulls`: every second record without its user (`userId: null`): a completeness drop (the pipeline dead-letters
 *   these records: they fail the schema and lack the natural key);
 * - `drop`: a twentieth of the records (a producer that stopped sending);
 * - `shift`: the event-type mix turned around (mostly purchases and add-to-carts instead of page views and clicks).
 * The generator runs with many concurrent sessions, advanced by several session lifetimes before the first record
 * (a stream joined in progress): its `seq` distribution is then the same from window to window, as real traffic
 * with many users is, instead of growing with sessions that all started with the run.
 */
import { createHash } from 'node:crypto';
import { recordId } from '../core';
import { Random } from './random';
import { ClickstreamWorkload, type PipelineRules, type Workload, type WorkloadOptions, type WorkloadRecord } from './workloads';
import { InputError } from '../replay/filter';

export const PHASES = ['clean', 'nulls', 'drop', 'shift'] as const;
export type Phase = typeof PHASES[number];

/** Most windows a phase list may have. */
export const MAX_PHASE_WINDOWS = 1000;
/** Records of a `drop` window relative to a clean one. */
export const DROP_FRACTION = 0.05;
/** Records of a `nulls` window whose userId is null (every second one). */
export const NULL_EVERY = 2;
/** Concurrent sessions of the generator in a phased workload (the default generator has 64). */
export const PHASED_SESSIONS = 2000;
/** Events the session model is advanced by before the first record: five mean session lifetimes (40 events each). */
export const PHASED_WARM_UP_EVENTS = 5 * 40 * PHASED_SESSIONS;

/** Event types of a `shift` window (a clean window picks page_view 3/7, click 2/7, add_to_cart 1/7, purchase 1/7). */
const SHIFTED_EVENT_TYPES = ['purchase', 'purchase', 'purchase', 'add_to_cart', 'add_to_cart', 'click', 'page_view'] as const;

/**
 * Parses a phase list: comma-separated phases, each optionally repeated with `*N` (`clean*6,nulls,clean,drop`).
 * Throws an Error naming the bad entry and what is allowed.
 */
export function parsePhases(text: string): Phase[] {
  const out: Phase[] = [];
  for (const raw of text.split(',')) {
    const entry = raw.trim();
    const m = /^([a-z]+)(?:\*(\d+))?$/.exec(entry);
    const phase = m?.[1] as Phase | undefined;
    if (!m || !phase || !PHASES.includes(phase)) {
      throw new InputError(`--phases: ${JSON.stringify(entry)} is not a phase (allowed: ${PHASES.join(', ')}, each optionally followed by *N, comma-separated)`);
    }
    const n = m[2] === undefined ? 1 : Number(m[2]);
    if (!Number.isInteger(n) || n < 1 || out.length + n > MAX_PHASE_WINDOWS) {
      throw new InputError(`--phases: ${JSON.stringify(entry)} repeats a phase ${m[2]} times; the list may have 1 to ${MAX_PHASE_WINDOWS} windows in all`);
    }
    for (let i = 0; i < n; i++) out.push(phase);
  }
  return out;
}

export interface PhasedWorkloadOptions extends Omit<WorkloadOptions, 'records' | 'sessions'> {
  readonly phases: readonly Phase[];
  /** Window length (the profiler's local tumbling window), seconds. */
  readonly windowSeconds: number;
  /** Records per second of a clean window (> 0). */
  readonly rate: number;
}

/** One window of the plan (times are set when production starts). */
export interface PhaseWindow {
  readonly phase: Phase;
  /** Records planned. */
  readonly records: number;
  /** Records put (taken by the producer): fewer than planned when some were due too late. */
  put: number;
  /** Records of a `nulls` window put with a null user. */
  nulls: number;
  startMs?: number;
  endMs?: number;
}

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

export class PhasedWorkload implements Workload {
  readonly total: number;
  readonly notes: string[] = [];
  readonly windows: PhaseWindow[];
  private readonly windowMs: number;
  /** The last part of a window in which no record is scheduled: half the window, 250 ms to 2 s. */
  private readonly guardMs: number;
  /**
   * A record is put only while more than this is left of its window (three quarters of the guard): the time a
   * PutRecords may take to arrive (measured figures: docs/local-environment.md, "Measured timings").
   */
  private readonly cutoffMs: number;
  private readonly base: ClickstreamWorkload;
  private readonly rnd: Random;
  private readonly produced: WorkloadRecord[] = [];
  /** Scheduled put time of each record (set when production starts). */
  private schedule?: Float64Array;
  private windowOfRecord?: Uint32Array;
  /** Index of the first record of each window. */
  private readonly firstIndex: number[] = [];
  private index = 0;
  private skipped = 0;
  private skippedNote = -1;

  constructor(private readonly opts: PhasedWorkloadOptions, private readonly rules: PipelineRules) {
    if (!(opts.rate > 0) || !Number.isFinite(opts.rate)) {
      throw new InputError(`--phases needs --rate above 0: the records per second of a clean window (given ${opts.rate})`);
    }
    if (!Number.isInteger(opts.windowSeconds) || opts.windowSeconds < 1 || opts.windowSeconds > 900) {
      throw new InputError(`phase windows must be 1-900 seconds (given ${opts.windowSeconds})`);
    }
    if (opts.phases.length === 0) throw new InputError('--phases: the list is empty');
    this.windowMs = opts.windowSeconds * 1000;
    this.guardMs = Math.min(2000, Math.max(250, Math.round(this.windowMs * 0.5)));
    this.cutoffMs = Math.round(this.guardMs * 0.75);
    const perWindow = Math.round(opts.rate * opts.windowSeconds);
    if (perWindow < 1) throw new InputError(`--rate ${opts.rate} x ${opts.windowSeconds}-s windows is less than one record per window`);
    this.windows = opts.phases.map((phase) => ({
      phase,
      records: phase === 'drop' ? Math.max(1, Math.round(perWindow * DROP_FRACTION)) : perWindow,
      put: 0,
      nulls: 0,
    }));
    this.total = this.windows.reduce((n, w) => n + w.records, 0);
    // Duplicates are made here (re-puts of this workload's records, drift included), not by the generator.
    this.base = new ClickstreamWorkload(
      { records: this.total, seed: opts.seed, poisonRate: opts.poisonRate, duplicateRate: 0, sessions: PHASED_SESSIONS },
      rules,
    );
    this.base.warmUp(PHASED_WARM_UP_EVENTS);
    this.rnd = new Random(opts.seed).fork('phased-workload');
    this.notes.push(...this.base.notes);
    this.notes.push(`phases: ${describePhases(opts.phases)} in ${opts.windowSeconds}-s windows aligned to the clock, ${perWindow} records per clean window; `
      + `nothing is scheduled in the last ${this.guardMs} ms of a window, and a record not put ${this.cutoffMs} ms before its window's end is left out`);
  }

  /** Milliseconds until the next record is due (the producer waits; 0 when it is due or the workload is done). */
  waitMs(now: number): number {
    this.skipOverdue(now);
    if (this.index >= this.total) return 0;
    return Math.max(0, Math.ceil(this.schedule![this.index] - now));
  }

  next(): WorkloadRecord | undefined {
    this.skipOverdue(Date.now());
    if (this.index >= this.total) return undefined;
    const index = this.index++;
    const window = this.windows[this.windowOfRecord![index]];
    window.put++;
    if (this.produced.length > 0 && this.rnd.chance(this.opts.duplicateRate)) {
      const orig = this.produced[this.rnd.int(0, this.produced.length - 1)];
      return { ...orig, index, kind: 'duplicate' };
    }
    const rec = this.base.next();
    if (!rec) throw new Error('the generator ended before the phased workload');
    if (rec.kind !== 'valid') return { ...rec, index };
    const positionInWindow = index - this.firstIndex[this.windowOfRecord![index]];
    let payload = rec.payload!;
    if (window.phase === 'shift') payload = { ...payload, eventType: this.rnd.pick(SHIFTED_EVENT_TYPES) };
    if (window.phase === 'nulls' && positionInWindow % NULL_EVERY === 0) {
      payload = { ...payload, userId: null };
      window.nulls++;
    }
    if (payload === rec.payload) {
      const same = { ...rec, index };
      this.produced.push(same);
      return same;
    }
    return this.classify(index, payload, rec.partitionKey);
  }

  /** A changed payload, classified the way the pipeline will see it (schema, key fields). */
  private classify(index: number, payload: Record<string, unknown>, partitionKey: string): WorkloadRecord {
    const data = Buffer.from(JSON.stringify(payload), 'utf8');
    const hash = sha256(data);
    let id: string | undefined;
    if (!this.rules.validate?.(payload)) {
      try {
        id = recordId(payload, this.rules.namespace, this.rules.keyFields);
      } catch {
        id = undefined;
      }
    }
    if (id === undefined) return { index, kind: 'poison', poisonKind: 'injected', data, partitionKey, hash };
    const rec: WorkloadRecord = { index, kind: 'valid', data, partitionKey, hash, id, payload };
    this.produced.push(rec);
    return rec;
  }

  /** Fixes the schedule at the first call: the first window starts at the next window boundary. */
  private start(now: number): Float64Array {
    if (this.schedule) return this.schedule;
    const schedule = new Float64Array(this.total);
    const windowOf = new Uint32Array(this.total);
    let at = Math.ceil((now + 1) / this.windowMs) * this.windowMs;
    let i = 0;
    const span = this.windowMs - this.guardMs;
    this.windows.forEach((w, k) => {
      w.startMs = at;
      w.endMs = at + this.windowMs;
      this.firstIndex[k] = i;
      for (let j = 0; j < w.records; j++) {
        schedule[i] = at + (j * span) / w.records;
        windowOf[i++] = k;
      }
      at += this.windowMs;
    });
    this.schedule = schedule;
    this.windowOfRecord = windowOf;
    return schedule;
  }

  /** Leaves out the records whose window has less than the cutoff left (the producer fell behind). */
  private skipOverdue(now: number): void {
    this.start(now);
    let n = 0;
    while (this.index < this.total && now >= this.windows[this.windowOfRecord![this.index]].endMs! - this.cutoffMs) {
      this.index++;
      n++;
    }
    if (n === 0) return;
    this.skipped += n;
    const text = `${this.skipped} record(s) were not put: their time came less than ${this.cutoffMs} ms before the end of their window (a busy machine)`;
    if (this.skippedNote < 0) this.skippedNote = this.notes.push(text) - 1;
    else this.notes[this.skippedNote] = text;
  }
}

/** `clean*6, nulls, clean` (runs of one phase collapsed). */
export function describePhases(phases: readonly Phase[]): string {
  const parts: string[] = [];
  for (let i = 0; i < phases.length;) {
    let j = i;
    while (j < phases.length && phases[j] === phases[i]) j++;
    parts.push(j - i > 1 ? `${phases[i]}*${j - i}` : phases[i]);
    i = j;
  }
  return parts.join(', ');
}
