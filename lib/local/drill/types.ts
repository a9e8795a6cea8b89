import type { ArchiveProtections } from './archive-checks';
import { PhoenixError } from '../../core/errors';
import type { ReplaySummary } from '../../replay/engine';
import type { EnvironmentOptions } from '../run/types';

export interface DrillOptions extends EnvironmentOptions {
  readonly records: number;
  readonly seed?: number;
  readonly poisonRate?: number;
  readonly duplicateRate?: number;
  readonly onPhase?: (phase: DrillPhase) => void;
  /**
   * How the archive is replayed into the re-created stack: `cli` (default), as `phoenix replay --from archive --stack`
   * resolves it from the stack's outputs; `function`: the stack's ReplayFunction invoked with `{"from":"archive"}`.
   */
  readonly replayVia?: 'cli' | 'function';
}

export type DrillPhase = 'synth' | 'start' | 'produce' | 'drain' | 'hash' | 'destroy' | 'recreate' | 'replay' | 'done';

export interface DrillReport {
  stack: string;
  runDir: string;
  replayVia: 'cli' | 'function';
  records: number;
  /** Hash of the sink state before the destruction, and after the rebuild from the archive. */
  before: { hash: string; items: number };
  after: { hash: string; items: number };
  equal: boolean;
  /** When they differ: the first ids whose state differs (bounded). */
  differences: Array<{ id: string; before?: string; after?: string }>;
  /**
   * The archive before the destruction (`bucket`) and the one the re-created stack replays (`bucketAfter`, from its
   * ArchiveBucket output): `same` when the rebuild adopted it; its TLS-only policy and access logging after the rebuild.
   */
  archive: {
    bucket: string;
    bucketAfter: string;
    same: boolean;
    prefix: string;
    objects: number;
    records: number;
    fromTemplate: boolean;
  } & ArchiveProtections;
  /** Resources the re-creation imported (retained, fixed names) instead of creating. */
  adopted: Array<{ logicalId: string; type: string; physicalName: string }>;
  /** Resources deleted on the emulators by the stack's deletion, by kind. */
  destroyed: { streams: number; queues: number; tables: number; buckets: number };
  /** Physical names (logical id -> name) of the first creation of the stack and of its re-creation. */
  names: { before: Record<string, string>; after: Record<string, string> };
  /** Every resource created by both deployments got a new generated name (explicit names are kept, listed in `unchanged`). */
  namesChanged: boolean;
  /** Resources created by both deployments under the same name; `explicit`: the template sets it. */
  unchanged: Array<{ logicalId: string; physicalName: string; explicit: boolean }>;
  /** What the stack's deletion left in the account (DeletionPolicy Retain), still holding its data. */
  orphaned: Array<{ logicalId: string; type: string; physicalName: string }>;
  /** Number of resources the stack's deletion deleted (every type, not only those on the emulators). */
  deleted: number;
  /** Resources whose deletion failed, with CloudFormation's reason. */
  failed: Array<{ logicalId: string; type: string; physicalName: string; reason: string }>;
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
