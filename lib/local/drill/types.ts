import { PhoenixError } from '../../core/errors';
import type { ReplaySummary } from '../../replay/engine';
import type { SynthOptions } from '../run/synth';

export interface DrillOptions extends SynthOptions {
  readonly records: number;
  readonly seed?: number;
  readonly poisonRate?: number;
  readonly duplicateRate?: number;
  /** Bound on waiting for the pipeline to process everything (default 120 s). */
  readonly drainTimeoutMs?: number;
  readonly runsDir?: string;
  readonly log?: (line: string) => void;
  readonly onPhase?: (phase: DrillPhase) => void;
  readonly signal?: AbortSignal;
  /** Authorize every AWS call against the template's policies (default true; `--no-iam`: off). */
  readonly iam?: boolean;
}

export type DrillPhase = 'synth' | 'start' | 'produce' | 'drain' | 'hash' | 'destroy' | 'recreate' | 'replay' | 'done';

export interface DrillReport {
  stack: string;
  runDir: string;
  records: number;
  /** Hash of the sink state before the destruction, and after the rebuild from the archive. */
  before: { hash: string; items: number };
  after: { hash: string; items: number };
  equal: boolean;
  /** When they differ: the first ids whose state differs (bounded). */
  differences: Array<{ id: string; before?: string; after?: string }>;
  archive: { bucket: string; prefix: string; objects: number; records: number; fromTemplate: boolean };
  destroyed: { streams: number; queues: number; tables: number; buckets: number };
  replay: ReplaySummary;
  /** Calls IAM denied during the drill (none when the template grants what the pipeline does). */
  accessDenied: { count: number; byPrincipalActionResource: Record<string, number> };
  durationsMs: Record<string, number>;
}

/** The drill could not be carried out (interrupted, no pipeline or sink, records not put, the pipeline did not drain). */
export class DrillError extends PhoenixError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('DRILL', message, options);
  }
}
