/**
 * The raw archive's object format, written by the RawArchive delivery stream and read by `phoenix replay --from archive`.
 * Pure: no AWS SDK.
 *
 * Firehose concatenates the records of a buffer without delimiters, and a stream record may be any bytes (binary,
 * pretty-printed JSON with newlines...), so neither "split on newlines" nor "parse concatenated JSON" recovers records
 * exactly. The delivery stream's Lambda processor (`frameFirehoseRecords`) therefore turns every Kinesis record into
 * one line of JSON, an *archive record v1*:
 *
 *   {"v":1,"data":"<base64 of the record bytes>","partitionKey":"...","arrivedAt":"<ISO-8601>","sequenceNumber":"...","shardId":"...",
 *    "streamArn":"...","pipeline":"<name>"}\n
 *
 * Base64 keeps the bytes exact and the line free of newlines; the partition key is needed to re-put the record with
 * its key, and the arrival time is the envelope eventTime of payloads without their own, so a replayed record is the
 * same version as the original. Objects are GZIP-compressed and stored under
 * `<prefix>YYYY/MM/DD/HH/` (Firehose's arrival time, UTC). Records the framer failed on are written by Firehose under
 * `errors/processing-failed/YYYY/MM/DD/HH/` as its own error lines (`rawData`, `arrivalTimestamp`); the parser reads
 * those too, so `phoenix replay --from archive --prefix errors/processing-failed/` replays them (partition key unknown:
 * the replay derives one).
 */

/** One archived stream record. */
export interface ArchiveRecord {
  readonly v: 1;
  /** Base64 of the record bytes. */
  readonly data: string;
  readonly partitionKey: string;
  /** Kinesis approximate arrival time, ISO-8601. */
  readonly arrivedAt: string;
  readonly sequenceNumber: string;
  readonly shardId: string;
  /** The source stream, when the processor knew it. */
  readonly streamArn?: string;
  /** The pipeline whose ingest stream the record came from, when the framer knew it (PHX_PIPELINE). */
  readonly pipeline?: string;
}

/** Firehose data-transformation event for a Kinesis Data Streams source (only the fields used). */
export interface FirehoseKinesisEvent {
  readonly invocationId?: string;
  readonly deliveryStreamArn?: string;
  readonly sourceKinesisStreamArn?: string;
  readonly records: ReadonlyArray<{
    readonly recordId: string;
    readonly approximateArrivalTimestamp?: number;
    readonly data: string;
    readonly kinesisRecordMetadata?: {
      readonly shardId?: string;
      readonly partitionKey?: string;
      readonly approximateArrivalTimestamp?: number;
      readonly sequenceNumber?: string;
      readonly subsequenceNumber?: number;
    };
  }>;
}

export interface FirehoseTransformationResult {
  records: Array<{ recordId: string; result: 'Ok' | 'Dropped' | 'ProcessingFailed'; data: string }>;
}

/** Default data prefix of the archive (Firehose expressions are expanded to the arrival hour). */
export const ARCHIVE_PREFIX = 'raw/';

/**
 * Frames every record of a Firehose transformation event as one archive record v1 line, naming `pipeline` when given.
 * Never drops a record.
 */
export function frameFirehoseRecords(event: FirehoseKinesisEvent, pipeline?: string): FirehoseTransformationResult {
  const streamArn = event.sourceKinesisStreamArn;
  return {
    records: (event.records ?? []).map((r) => {
      const meta = r.kinesisRecordMetadata ?? {};
      const arrivedMs = meta.approximateArrivalTimestamp ?? r.approximateArrivalTimestamp ?? Date.now();
      const rec: ArchiveRecord = {
        v: 1,
        data: r.data,
        partitionKey: meta.partitionKey ?? '',
        arrivedAt: new Date(arrivedMs).toISOString(),
        sequenceNumber: meta.sequenceNumber ?? '',
        shardId: meta.shardId ?? '',
        ...(streamArn ? { streamArn } : {}),
        ...(pipeline ? { pipeline } : {}),
      };
      return { recordId: r.recordId, result: 'Ok' as const, data: Buffer.from(`${JSON.stringify(rec)}\n`, 'utf8').toString('base64') };
    }),
  };
}

function isArchiveRecord(x: unknown): x is ArchiveRecord {
  if (typeof x !== 'object' || x === null) return false;
  const o = x as Record<string, unknown>;
  return o.v === 1 && typeof o.data === 'string' && typeof o.partitionKey === 'string' && typeof o.arrivedAt === 'string'
    && !Number.isNaN(Date.parse(o.arrivedAt)) && typeof o.sequenceNumber === 'string' && typeof o.shardId === 'string'
    && (o.pipeline === undefined || typeof o.pipeline === 'string');
}

/** A Firehose processing-failed error line (`{ rawData, arrivalTimestamp, errorCode, ... }`) as an archive record. */
function fromProcessingFailed(x: unknown): ArchiveRecord | undefined {
  if (typeof x !== 'object' || x === null) return undefined;
  const o = x as Record<string, unknown>;
  if (typeof o.rawData !== 'string' || typeof o.arrivalTimestamp !== 'number' || !Number.isFinite(o.arrivalTimestamp)) return undefined;
  const arrived = new Date(o.arrivalTimestamp);
  if (Number.isNaN(arrived.getTime())) return undefined;
  return { v: 1, data: o.rawData, partitionKey: '', arrivedAt: arrived.toISOString(), sequenceNumber: '', shardId: '' };
}

/**
 * Parses the (decompressed) text of an archive object: one archive record v1 per line.
 * Lines that are blank are skipped; lines that are not archive records are counted in `bad` with their line numbers.
 */
export function parseArchiveObject(text: string): { records: ArchiveRecord[]; bad: number; badLines: number[] } {
  const records: ArchiveRecord[] = [];
  const badLines: number[] = [];
  let start = 0;
  let line = 0;
  while (start < text.length) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    line++;
    const s = text.slice(start, end).trim();
    start = end + 1;
    if (s === '') continue;
    let parsed: unknown;
    try {
      parsed = JSON.parse(s);
    } catch {
      parsed = undefined;
    }
    const rec = isArchiveRecord(parsed) ? parsed : fromProcessingFailed(parsed);
    if (rec) records.push(rec);
    else badLines.push(line);
  }
  return { records, bad: badLines.length, badLines };
}

const HOUR_PATH = /^(\d{4})\/(\d{2})\/(\d{2})\/(\d{2})\//;

/** Start of the arrival hour (epoch ms) of an archive object key under `prefix`, or undefined when not partitioned so. */
export function archiveHourOfKey(key: string, prefix: string): number | undefined {
  if (!key.startsWith(prefix)) return undefined;
  const m = HOUR_PATH.exec(key.slice(prefix.length));
  if (!m) return undefined;
  const ms = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]));
  return Number.isNaN(ms) ? undefined : ms;
}

const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;
/** Beyond this many days, the whole prefix is listed and keys are filtered instead. */
const MAX_DAY_PREFIXES = 400;

/**
 * Key prefixes to list for a time range: one per day when the range is bounded and at most 400 days long, else the
 * archive prefix itself. Keys are then filtered by {@link archiveKeyInRange} (hour granularity).
 */
export function archiveListPrefixes(prefix: string, sinceMs?: number, untilMs?: number): string[] {
  if (sinceMs === undefined || untilMs === undefined) return [prefix];
  const first = Math.floor(sinceMs / DAY_MS);
  const last = Math.floor(untilMs / DAY_MS);
  if (last < first) return [];
  if (last - first + 1 > MAX_DAY_PREFIXES) return [prefix];
  const out: string[] = [];
  for (let d = first; d <= last; d++) {
    const iso = new Date(d * DAY_MS).toISOString();
    out.push(`${prefix}${iso.slice(0, 4)}/${iso.slice(5, 7)}/${iso.slice(8, 10)}/`);
  }
  return out;
}

/**
 * True when an object key may hold records arrived within [sinceMs, untilMs]: its arrival hour overlaps the range.
 * Keys that are not date-partitioned are kept (their records are filtered one by one).
 */
export function archiveKeyInRange(key: string, prefix: string, sinceMs?: number, untilMs?: number): boolean {
  const hour = archiveHourOfKey(key, prefix);
  if (hour === undefined) return true;
  // Firehose names an object by the arrival of its first record; a buffer can span the next hour too.
  if (sinceMs !== undefined && hour + 2 * HOUR_MS <= sinceMs) return false;
  if (untilMs !== undefined && hour > untilMs) return false;
  return true;
}
