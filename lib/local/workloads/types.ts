import { createHash } from 'node:crypto';
import type { EventTimeBounds } from '../../core';
import type { PayloadValidator } from '../../handlers/schema';

/** Kinesis limit on a record (data + partition key). */
export const KINESIS_MAX_RECORD_BYTES = 1_048_576;

/** Kinds of bad records the generators mix in. */
export const POISON_KINDS = [
  'invalid-utf8', 'non-json', 'json-array', 'schema-violation', 'missing-key', 'oversize', 'deeply-nested', 'huge-number',
] as const;
export type PoisonKind = typeof POISON_KINDS[number];

/** One record to put on the stream. */
export interface WorkloadRecord {
  /** Position in the workload (0-based). */
  readonly index: number;
  /** `valid`: a new record expected in the sink; `duplicate`: identical bytes of an earlier valid record; `poison`: expected in the DLQ. */
  readonly kind: 'valid' | 'duplicate' | 'poison';
  /**
   * `input`: a bad line of an input file; `injected`: drift a phased workload made invalid (e.g. a null user);
   * `hostile`: a record of the hostile mix (--hostile-rate) the stage must dead-letter.
   */
  readonly poisonKind?: PoisonKind | 'input' | 'injected' | 'hostile';
  readonly data: Buffer;
  readonly partitionKey: string;
  /** sha256 of `data` (hex): how a dead letter's payload is matched to the record. */
  readonly hash: string;
  /** Record id the pipeline computes (valid and duplicate records). */
  readonly id?: string;
  readonly payload?: Record<string, unknown>;
  /**
   * Version order of the valid records that share an id (e.g. the versions of an order): the sink keeps the one with
   * the highest version, whatever order they arrive in. The generators use the event time in epoch ms, distinct per
   * id. Undefined when every record of an id has the same content (the first one put is expected in the sink).
   */
  readonly version?: number;
}

/** What the pipeline under test applies, read from the ingest function's environment. */
export interface PipelineRules {
  /** PHX_ID_NAMESPACE. */
  readonly namespace: string;
  /** PHX_KEY_FIELDS. */
  readonly keyFields: readonly string[];
  /** The schema validator (PHX_SCHEMA), or undefined when there is none. */
  readonly validate?: PayloadValidator;
  /** PHX_MAX_RECORD_BYTES. */
  readonly maxRecordBytes: number;
  /** PHX_EVENT_TIME_FIELD, PHX_MAX_FUTURE_SKEW_MS/PHX_MIN_EVENT_TIME_MS and PHX_REPLAY_MAX_COUNT (defaults when absent). */
  readonly eventTimeField?: string;
  readonly eventTimeBounds?: EventTimeBounds;
  readonly replayMaxCount?: number;
}

export interface WorkloadOptions {
  readonly records: number;
  readonly seed: number;
  /** Fraction of records that are poison (0-1). */
  readonly poisonRate: number;
  /** Fraction of records that re-put an earlier valid record (0-1). */
  readonly duplicateRate: number;
  /**
   * Most concurrent sessions of the generator (default 64). Few sessions make `seq` (the position in the session)
   * move with each session from window to window; a profiler comparing windows needs many.
   */
  readonly sessions?: number;
}

/** A source of records: a generator, an input file or a team's workload module. */
export interface Workload {
  readonly total: number;
  /** Notes on kinds that cannot be produced (e.g. empty records, which Kinesis rejects). */
  readonly notes: readonly string[];
  /** The next record, built now (event times are the time of the call); undefined when done. */
  next(): WorkloadRecord | undefined;
  /**
   * A workload that paces itself: milliseconds until its next record is due (0 = now). The producer waits for it
   * and ignores its own rate. Absent: the producer's rate paces the workload.
   */
  waitMs?(now: number): number;
}

export const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
