/**
 * The metadata of a Kinesis event record, read defensively: the ingest stage must dead-letter any record, whatever
 * its metadata (missing, null or malformed fields), so every reader of it goes through these functions.
 */
import type { DlqSource } from './dlq-codec';
import { isoFromMs, MAX_TIME_MS, MIN_TIME_MS } from './event-time';
import { boundMessage } from './failure';

/** The fields of a Kinesis event record this package reads (aws-lambda's KinesisStreamRecord, all optional). */
export interface KinesisRecordLike {
  readonly eventID?: unknown;
  readonly eventSourceARN?: unknown;
  readonly kinesis?: {
    readonly data?: unknown;
    readonly sequenceNumber?: unknown;
    readonly partitionKey?: unknown;
    readonly approximateArrivalTimestamp?: unknown;
  } | null;
}

/** Longest metadata string carried into a DLQ message (Kinesis' own are far shorter; hostile input is bounded). */
export const MAX_SOURCE_FIELD_CHARS = 2048;

function str(x: unknown): string | null {
  return typeof x === 'string' ? x : null;
}

function bounded(x: unknown): string | null {
  return typeof x === 'string' ? boundMessage(x, MAX_SOURCE_FIELD_CHARS) : null;
}

/** The approximate arrival time in epoch ms, or undefined when missing or not a time of years 0000-9999. */
export function arrivalMsOf(rec: KinesisRecordLike): number | undefined {
  const seconds = rec.kinesis?.approximateArrivalTimestamp;
  if (typeof seconds !== 'number' || !Number.isFinite(seconds)) return undefined;
  const ms = Math.round(seconds * 1000);
  return ms >= MIN_TIME_MS && ms <= MAX_TIME_MS ? ms : undefined;
}

/** The shard id of a Kinesis event record (the part of its eventID before ':'), or null when it has no eventID. */
export function shardIdOf(rec: KinesisRecordLike): string | null {
  const id = str(rec.eventID);
  if (id === null) return null;
  const colon = id.indexOf(':');
  return colon > 0 ? id.slice(0, colon) : id;
}

/** Where a record came from, as carried in a DLQ message: each field null when missing or malformed. */
export function sourceOf(rec: KinesisRecordLike): DlqSource {
  const ms = arrivalMsOf(rec);
  return {
    streamArn: bounded(rec.eventSourceARN),
    shardId: bounded(shardIdOf(rec)),
    sequenceNumber: bounded(rec.kinesis?.sequenceNumber),
    partitionKey: bounded(rec.kinesis?.partitionKey),
    arrivedAt: ms === undefined ? null : isoFromMs(ms)!,
  };
}

/** The record's data when it is a string (base64 as Lambda delivers it), else null. */
export function dataOf(rec: KinesisRecordLike): string | null {
  return str(rec.kinesis?.data);
}
