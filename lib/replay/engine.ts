/**
 * The replay engine shared by `phoenix replay` and the in-cloud replay function: reads dead letters (SQS) or the raw
 * archive (S3), filters, re-puts on Kinesis, and deletes a dead letter only once Kinesis accepted its record.
 *
 * Crash safety: a record is put before its dead letter is deleted, so a replay killed at any point loses nothing
 * (undeleted messages reappear after their visibility timeout) and a rerun may put some records a second time; the
 * sinks are idempotent by record id and the replayed record is the same version (same id, payload and eventTime),
 * so the sink state is the same as after one replay.
 */
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import type { KinesisClient } from '@aws-sdk/client-kinesis';
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import type { SQSClient } from '@aws-sdk/client-sqs';
import { decodeBase64Strict, decodePayload, describeError, hasUtf8Bom, isEnvelope, recordId, type DlqMessage } from '../core';
import { archiveKeyInRange, archiveListPrefixes, parseArchiveObject, type ArchiveRecord } from './archive';
import { DlqReader, type DlqEntry } from './dlq-reader';
import { describeFilter, inTimeRange, InputError, replayable, type ReplayFilter } from './filter';
import { checkStreamExists, KinesisPutter, type PutItem, type PutOutcome, type PutPipeline } from './putter';
import { decodeForReplay, replayData, replayPartitionKey } from './records';
import { ArchiveWatermark, type ArchiveCursor } from './watermark';

export type { ArchiveCursor } from './watermark';

export type ReplaySource =
  | { readonly kind: 'dlq'; readonly queueUrl: string }
  | { readonly kind: 'archive'; readonly bucket: string; readonly prefix: string };

export interface ReplayClients {
  readonly sqs?: SQSClient;
  readonly s3?: S3Client;
  readonly kinesis: KinesisClient;
}

/** How archive records are matched by `--id` (record ids need the pipeline's namespace and key fields). */
export interface IdRules {
  readonly namespace: string;
  readonly keyFields: readonly string[];
}

export interface ReplayOptions {
  readonly source: ReplaySource;
  readonly filter: ReplayFilter;
  /** Stream name or ARN to put every record on; default: the stream each record came from. Not with `pipeline`. */
  readonly targetStream?: string;
  /**
   * Archive replay into a pipeline as it exists now: every record goes onto `stream` (its current ingest stream,
   * never the stream ARN recorded in the archive, which a rebuild replaced); a record framed for another pipeline is
   * skipped and counted (`skipped.otherPipeline`).
   */
  readonly pipeline?: { readonly name: string; readonly stream: string };
  readonly dryRun?: boolean;
  /** Records per second; undefined = as fast as Kinesis accepts. */
  readonly ratePerSecond?: number;
  /** DLQ: visibility timeout of the receives (seconds); must cover one put-and-delete round. Default 300. */
  readonly visibilityTimeoutSec?: number;
  /** DLQ: how long to wait for messages in flight elsewhere (e.g. an interrupted replay) to reappear. Default 0. */
  readonly inFlightWaitMs?: number;
  /**
   * Records of one PutRecords call times the lanes (a lane's call holds flushRecords / lanes entries; dead letters are
   * deleted as their call settles). Default 500 per lane; with a rate, one second of it.
   */
  readonly flushRecords?: number;
  /** PutRecords calls in flight. Default 4. */
  readonly lanes?: number;
  /** DLQ: ReceiveMessage calls in flight. Default 4. */
  readonly receivers?: number;
  readonly idRules?: IdRules;
  readonly clients: ReplayClients;
  readonly onProgress?: (p: ReplayProgress) => void;
  readonly signal?: AbortSignal;
  /** The replay time written into the envelopes' replay mark. Default now. */
  readonly at?: Date;
  /** Archive replay: start at this cursor (a previous run's `cursor`): objects before `key` and its first `line` records skipped. */
  readonly resume?: ArchiveCursor;
}


export interface ReplayProgress {
  /** Messages or archived records read. */
  scanned: number;
  matched: number;
  /** Records accepted by Kinesis (or, with dryRun, that would be put). */
  replayed: number;
  deleted: number;
  failed: number;
  /** Expected total to scan when known (approximate queue depth), else undefined. */
  total?: number;
  /** Archive: objects to read (listed, from the resume cursor on) and read so far, and their stored (compressed) bytes. */
  objects?: ArchiveObjectsProgress;
  /**
   * Archive (not a dry run): every record before this cursor was accepted; a run killed now resumes from it (records
   * after it may be put twice, which the sinks absorb).
   */
  cursor?: ArchiveCursor;
}

export interface ArchiveObjectsProgress {
  done: number;
  total: number;
  bytesDone: number;
  bytesTotal: number;
}

export interface ReplaySummary extends ReplayProgress {
  source: string;
  dryRun: boolean;
  filter: Record<string, unknown>;
  /** Records re-put as marked envelopes vs raw original bytes (not decodable). */
  envelopes: number;
  raw: number;
  skipped: {
    notMatching: number;
    /** DLQ bodies that are not DLQ message v1, or archive lines that are not archive records. */
    invalid: number;
    /** No payload (expired on-failure batches): nothing to replay. */
    noPayload: number;
    /** No target stream known (no --target-stream and no source.streamArn). */
    noTarget: number;
    /** Same archived record twice (Firehose delivers at least once). */
    duplicates: number;
    /** Archived records of another pipeline than the one replayed into (`pipeline` option). */
    otherPipeline: number;
  };
  /** Records put, by target stream. */
  targets: Record<string, number>;
  /** First errors (bounded). */
  errors: string[];
  retried: number;
  putCalls: number;
  /** DLQ messages held elsewhere (in flight) that were not seen. */
  inFlightElsewhere: number;
  /** Example ids of the matched records (bounded), handy with --dry-run. */
  sampleIds: string[];
  durationMs: number;
  recordsPerSecond: number;
  interrupted: boolean;
  /**
   * Archive replay that stopped before the end (interrupted, limit, the function's time) with every record before
   * the stop accepted: where `resume` continues. Absent when it finished, or when a record failed (run it again).
   */
  cursor?: ArchiveCursor;
}

const gunzipAsync = promisify(gunzip);

const MAX_ERRORS = 20;
const MAX_SAMPLE_IDS = 20;

/** Reads an S3 object fully. */
async function getObjectBytes(s3: S3Client, bucket: string, key: string, signal?: AbortSignal): Promise<Buffer> {
  const res = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }), { abortSignal: signal });
  const bytes = await res.Body!.transformToByteArray();
  return Buffer.from(bytes);
}

/** The payload bytes of a dead letter: inline, or read from the overflow bucket (`payloadRef`). null = none. */
export async function dlqPayloadBytes(msg: DlqMessage, s3: S3Client | undefined, signal?: AbortSignal): Promise<Buffer | null> {
  if (msg.payloadRef === null) return decodePayload(msg);
  if (!s3) throw new Error(`payload of ${msg.id ?? 'a dead letter'} is in ${msg.payloadRef} and no S3 client is configured`);
  const m = /^s3:\/\/([^/]+)\/(.+)$/.exec(msg.payloadRef)!;
  const text = (await getObjectBytes(s3, m[1], m[2], signal)).toString('utf8').trim();
  // The overflow object holds the record data as received: base64 text.
  const b = decodeBase64Strict(text);
  return typeof b === 'string' ? Buffer.from(text, 'base64') : b;
}

function newSummary(source: string, filter: ReplayFilter, dryRun: boolean): ReplaySummary {
  return {
    source,
    dryRun,
    filter: describeFilter(filter),
    scanned: 0,
    matched: 0,
    replayed: 0,
    deleted: 0,
    failed: 0,
    envelopes: 0,
    raw: 0,
    skipped: { notMatching: 0, invalid: 0, noPayload: 0, noTarget: 0, duplicates: 0, otherPipeline: 0 },
    targets: {},
    errors: [],
    retried: 0,
    putCalls: 0,
    inFlightElsewhere: 0,
    sampleIds: [],
    durationMs: 0,
    recordsPerSecond: 0,
    interrupted: false,
  };
}

function addError(s: ReplaySummary, e: string): void {
  if (s.errors.length < MAX_ERRORS) s.errors.push(e);
}

/** Runs a replay; resolves with its summary. Throws InputError for a target stream that does not exist. */
export async function runReplay(opts: ReplayOptions): Promise<ReplaySummary> {
  const started = Date.now();
  if (opts.pipeline && (opts.targetStream || opts.source.kind !== 'archive')) {
    throw new InputError('a replay into a pipeline (its current ingest stream) is an archive replay without a separate target stream');
  }
  const run = new ReplayRun(opts);
  const target = opts.pipeline?.stream ?? opts.targetStream;
  if (target && !run.dryRun) await run.ensureTarget(target);
  if (opts.source.kind === 'dlq') await replayDlq(run, opts.source.queueUrl);
  else await replayArchive(run, opts.source.bucket, opts.source.prefix);
  const s = run.summary;
  s.interrupted = opts.signal?.aborted ?? false;
  s.durationMs = Date.now() - started;
  s.recordsPerSecond = s.durationMs > 0 ? Math.round((s.replayed / s.durationMs) * 1000 * 10) / 10 : 0;
  return s;
}

/** The state of one replay: its summary, the putter, the target streams checked, and the bookkeeping of outcomes. */
class ReplayRun {
  readonly summary: ReplaySummary;
  readonly at: Date;
  readonly dryRun: boolean;
  readonly putter: KinesisPutter;
  /** The records of one lane's PutRecords call times the lanes. */
  readonly flushAt: number;
  private readonly checked = new Map<string, Promise<void>>();
  /** Archive replays: the objects' progress, reported with every progress call (not part of the summary). */
  objects: ArchiveObjectsProgress | undefined;
  /** Archive replays (not dry runs): the safe cursor, reported with every progress call. */
  marks: ArchiveWatermark | undefined;

  constructor(readonly opts: ReplayOptions) {
    this.at = opts.at ?? new Date();
    this.dryRun = opts.dryRun ?? false;
    const sourceName = opts.source.kind === 'dlq' ? opts.source.queueUrl : `s3://${opts.source.bucket}/${opts.source.prefix}`;
    this.summary = newSummary(sourceName, opts.filter, this.dryRun);
    this.putter = new KinesisPutter(opts.clients.kinesis, { ratePerSecond: opts.ratePerSecond, lanes: opts.lanes });
    // A full PutRecords call per lane (a DLQ, read 10 messages per receive, fills calls of 100 five times sooner, and
    // its dead letters are deleted sooner); with a rate limit, about one second of records, so that dead letters are
    // deleted steadily as their records are accepted (a killed replay then has little to put again).
    const perLane = opts.source.kind === 'dlq' ? 100 : 500;
    const defaultFlush = opts.ratePerSecond !== undefined ? Math.max(10, Math.ceil(opts.ratePerSecond)) : this.putter.lanes * perLane;
    this.flushAt = Math.max(1, Math.min(opts.flushRecords ?? defaultFlush, this.putter.lanes * 500, 10_000));
  }

  progress(): void {
    const s = this.summary;
    if (!this.opts.onProgress) return;
    const objects = this.objects && { ...this.objects };
    const { scanned, matched, replayed, deleted, failed, total } = s;
    this.opts.onProgress({ scanned, matched, replayed, deleted, failed, total, objects, cursor: this.marks?.cursor() });
  }

  limitReached(): boolean {
    return this.opts.filter.limit !== undefined && this.summary.matched >= this.opts.filter.limit;
  }

  /** Checks once per stream that it exists (InputError otherwise). */
  ensureTarget(stream: string): Promise<void> {
    let p = this.checked.get(stream);
    if (!p) {
      p = checkStreamExists(this.opts.clients.kinesis, stream);
      this.checked.set(stream, p);
    }
    return p;
  }

  /** A matched record (its id among the sample ids). */
  matched(id: string | null): void {
    this.summary.matched++;
    if (id && this.summary.sampleIds.length < MAX_SAMPLE_IDS) this.summary.sampleIds.push(id);
  }

  /** The record's bytes as replayed: a marked envelope or the original bytes (counted). */
  countKind(kind: 'envelope' | 'raw'): void {
    if (kind === 'envelope') this.summary.envelopes++;
    else this.summary.raw++;
  }

  replayed(stream: string): void {
    this.summary.replayed++;
    this.summary.targets[stream] = (this.summary.targets[stream] ?? 0) + 1;
  }

  /** Counts a put outcome's calls, retries, accepted and failed records; `label` names a failed record. */
  settled<T>(out: PutOutcome<T>, accepted: (tag: T) => void, label: (tag: T) => string): void {
    this.summary.retried += out.retried;
    this.summary.putCalls += out.calls;
    for (const tag of out.accepted) accepted(tag);
    for (const f of out.failed) {
      this.summary.failed++;
      addError(this.summary, `${label(f.tag)}: not accepted by Kinesis: ${f.error}`);
    }
  }
}

type DlqTag = { readonly stream: string; readonly messageId: string; readonly id: string | null };

/**
 * DLQ replay: several receivers read the queue while the matching records are put (PutRecords lanes by partition key,
 * so a key's records go in the order received); a dead letter is deleted once Kinesis accepted its record, and one
 * whose record failed is left in the queue (made visible again at the end).
 */
async function replayDlq(run: ReplayRun, queueUrl: string): Promise<void> {
  const { opts, summary: s } = run;
  if (!opts.clients.sqs) throw new Error('runReplay: an SQS client is required for --from dlq');
  const reader = new DlqReader(opts.clients.sqs, queueUrl, {
    visibilityTimeoutSec: opts.visibilityTimeoutSec ?? 300,
    inFlightWaitMs: opts.inFlightWaitMs ?? 0,
    concurrency: opts.receivers,
    signal: opts.signal,
  });
  const deletes = new Set<Promise<void>>();
  const deleteAccepted = (messageIds: string[]): void => {
    if (messageIds.length === 0) return;
    const p = reader.delete(messageIds).then((notDeleted) => {
      s.deleted += messageIds.length - notDeleted.length;
      for (const id of notDeleted) addError(s, `message ${id}: its record was replayed but the message could not be deleted (a rerun puts it again; the sink deduplicates)`);
      run.progress();
    }).finally(() => deletes.delete(p));
    deletes.add(p);
  };
  const pipeline = run.dryRun ? undefined : run.putter.pipeline<DlqTag>((out) => {
    const accepted: string[] = [];
    run.settled(out, (t) => {
      run.replayed(t.stream);
      accepted.push(t.messageId);
    }, (t) => t.id ?? t.messageId);
    deleteAccepted(accepted);
    run.progress();
  }, { maxBatch: Math.ceil(run.flushAt / run.putter.lanes) });
  try {
    s.total = (await reader.counts()).visible;
    run.progress();
    for await (const entries of reader.read()) {
      for (const e of entries) {
        if (run.limitReached()) break;
        const p = await dlqEntryToPut(run, e);
        if (!p) continue;
        if (!pipeline) {
          run.replayed(p.stream);
          continue;
        }
        await run.ensureTarget(p.stream);
        await pipeline.add(p);
      }
      run.progress();
      if (run.limitReached() || opts.signal?.aborted) break;
    }
    await pipeline?.drain();
    s.inFlightElsewhere = reader.inFlightElsewhere;
  } finally {
    while (deletes.size > 0) await Promise.all(deletes);
    // Everything not deleted (not matching, failed, invalid, put cut short) becomes visible again now.
    await reader.releaseAll();
  }
}

/** The put of one dead letter, or undefined when it is skipped (counted in the summary). */
async function dlqEntryToPut(run: ReplayRun, e: DlqEntry): Promise<PutItem<DlqTag> | undefined> {
  const { opts, summary: s } = run;
  s.scanned++;
  if (!e.msg) {
    s.skipped.invalid++;
    addError(s, `message ${e.messageId}: ${e.invalid}`);
    return undefined;
  }
  if (!replayable(opts.filter, e.msg)) {
    s.skipped.notMatching++;
    return undefined;
  }
  const msg = e.msg;
  run.matched(msg.id);
  const stream = opts.targetStream ?? msg.source.streamArn;
  if (!stream) {
    s.skipped.noTarget++;
    addError(s, `message ${e.messageId}: the dead letter names no source stream; pass --target-stream`);
    return undefined;
  }
  let bytes: Buffer | null;
  try {
    bytes = await dlqPayloadBytes(msg, opts.clients.s3, opts.signal);
  } catch (err) {
    s.failed++;
    addError(s, `message ${e.messageId}: cannot read the payload: ${describeError(err)}`);
    return undefined;
  }
  if (bytes === null) {
    s.skipped.noPayload++;
    return undefined;
  }
  const rd = replayData(bytes, {
    of: 'dlq', id: msg.id, correlationId: msg.correlationId, arrivedAt: msg.source.arrivedAt, restartCount: msg.reason.class === 'replay-exhausted',
  }, run.at);
  run.countKind(rd.kind);
  const partitionKey = replayPartitionKey(msg.source.partitionKey, msg.id, bytes);
  return { stream, partitionKey, data: rd.data, tag: { stream, messageId: e.messageId, id: msg.id } };
}

/** The archive objects under `prefix` in the filter's time range, in key (time) order. */
async function archiveKeys(
  s3: S3Client, bucket: string, prefix: string, filter: ReplayFilter, signal?: AbortSignal,
): Promise<Array<{ key: string; size: number }>> {
  const keys: Array<{ key: string; size: number }> = [];
  for (const p of archiveListPrefixes(prefix, filter.sinceMs, filter.untilMs)) {
    let token: string | undefined;
    do {
      const res = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: p, ContinuationToken: token }), { abortSignal: signal });
      for (const o of res.Contents ?? []) {
        if (o.Key && archiveKeyInRange(o.Key, prefix, filter.sinceMs, filter.untilMs)) keys.push({ key: o.Key, size: o.Size ?? 0 });
      }
      token = res.IsTruncated ? res.NextContinuationToken : undefined;
    } while (token);
  }
  return keys.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

type ArchiveTag = { readonly stream: string; readonly id: string | null; readonly pos: number };

/** Archive replay: reads the archive objects in time order and puts the matching records while the next ones are read. */
async function replayArchive(run: ReplayRun, bucket: string, prefix: string): Promise<void> {
  const { opts } = run;
  const s3 = opts.clients.s3;
  if (!s3) throw new Error('runReplay: an S3 client is required for --from archive');
  if (opts.filter.reasons) throw new InputError('--reason applies to dead letters only: archived records have no failure reason');
  if (opts.filter.ids && !opts.idRules) throw new InputError('--id with --from archive needs the pipeline\'s id rules: pass --pipeline and --key-fields (or use --correlation-id)');
  const resume = opts.resume;
  const listed = (await archiveKeys(s3, bucket, prefix, opts.filter, opts.signal)).filter((k) => !resume || k.key >= resume.key);
  const keys = listed.map((k) => k.key);
  run.objects = { done: 0, total: listed.length, bytesDone: 0, bytesTotal: listed.reduce((n, k) => n + k.size, 0) };
  const seen = new RecentKeys();
  if (!run.dryRun) run.marks = new ArchiveWatermark();
  // Records are put while the next ones are read: each lane sends a call as soon as it holds a full one.
  const pipeline = run.dryRun ? undefined : run.putter.pipeline<ArchiveTag>((out) => {
    run.settled(out, (t) => {
      run.replayed(t.stream);
      run.marks?.accepted(t.pos);
    }, (t) => t.id ?? 'record');
    run.progress();
  }, { maxBatch: Math.ceil(run.flushAt / run.putter.lanes) });
  // The next object is fetched and decompressed (off the main thread) while the current one is framed and put.
  const load = (key: string): Promise<Buffer> => {
    const p = getObjectBytes(s3, bucket, key, opts.signal).then((raw) => (isGzip(raw) ? gunzipAsync(raw) : raw));
    p.catch(() => undefined); // awaited (and its error thrown) in order below; not an unhandled rejection meanwhile
    return p;
  };
  let next = keys.length > 0 ? load(keys[0]) : undefined;
  let cursor: ArchiveCursor | undefined;
  for (let k = 0; k < keys.length; k++) {
    if (run.limitReached() || opts.signal?.aborted) {
      cursor = { key: keys[k], line: 0 };
      break;
    }
    const raw = await next!;
    next = k + 1 < keys.length ? load(keys[k + 1]) : undefined;
    const from = resume && keys[k] === resume.key ? resume.line : 0;
    const { done, total } = await replayArchiveObject(run, { bucket, key: keys[k], raw, from }, seen, pipeline);
    seen.endObject();
    run.objects.done++;
    run.objects.bytesDone += listed[k].size;
    run.progress();
    if (done < total) {
      cursor = { key: keys[k], line: done };
      break;
    }
  }
  await pipeline?.drain();
  if (cursor && run.summary.failed === 0 && !run.dryRun) run.summary.cursor = cursor;
  run.progress();
}

/**
 * Firehose's redeliveries (`shardId/sequenceNumber` seen again) within the last {@link RecentKeys.OBJECTS} objects:
 * memory bounded by a few objects' records, whatever the archive's size. A redelivery further apart is put again,
 * which the idempotent sinks absorb (same record id).
 */
class RecentKeys {
  static readonly OBJECTS = 8;
  private readonly windows: Set<string>[] = [new Set()];
  has(key: string): boolean { return this.windows.some((w) => w.has(key)); }
  add(key: string): void { this.windows[this.windows.length - 1].add(key); }
  endObject(): void {
    this.windows.push(new Set());
    if (this.windows.length > RecentKeys.OBJECTS) this.windows.shift();
  }
}

function isGzip(raw: Buffer): boolean {
  return raw.length >= 2 && raw[0] === 0x1f && raw[1] === 0x8b;
}

/**
 * Puts the matching records of one archive object (`where`: its s3:// URL) from its record `from` on; `seen` drops
 * Firehose's redeliveries. Returns how many of its `total` records were handled (fewer when stopped).
 */
async function replayArchiveObject(
  run: ReplayRun, obj: { bucket: string; key: string; raw: Buffer; from: number }, seen: RecentKeys, pipeline: PutPipeline<ArchiveTag> | undefined,
): Promise<{ done: number; total: number }> {
  const { opts, summary: s } = run;
  const where = `s3://${obj.bucket}/${obj.key}`;
  const parsed = parseArchiveObject(obj.raw.toString('utf8'));
  if (parsed.bad > 0) {
    s.skipped.invalid += parsed.bad;
    addError(s, `${where}: ${parsed.bad} line(s) are not archive records (lines ${parsed.badLines.slice(0, 5).join(', ')}${parsed.bad > 5 ? ', ...' : ''})`);
  }
  const total = parsed.records.length;
  const base = run.marks?.beginObject(obj.key, total, obj.from) ?? 0;
  for (let i = obj.from; i < total; i++) {
    if (run.limitReached() || opts.signal?.aborted) return { done: i, total };
    run.marks?.read(base + i);
    const rec = parsed.records[i];
    s.scanned++;
    const dedupe = `${rec.shardId}/${rec.sequenceNumber}`;
    if (rec.sequenceNumber !== '' && seen.has(dedupe)) {
      s.skipped.duplicates++;
      continue;
    }
    seen.add(dedupe);
    if (opts.pipeline && rec.pipeline !== undefined && rec.pipeline !== opts.pipeline.name) {
      s.skipped.otherPipeline++;
      continue;
    }
    const bytes = Buffer.from(rec.data, 'base64');
    const decoded = decodeForReplay(bytes);
    const ids = archiveIds(bytes, decoded, opts.idRules);
    if (!matchesArchive(opts.filter, rec, ids)) {
      s.skipped.notMatching++;
      continue;
    }
    run.matched(ids.id);
    const stream = opts.pipeline?.stream ?? opts.targetStream ?? rec.streamArn;
    if (!stream) throw new InputError(`archived records of ${where} do not name their stream: pass --target-stream`);
    const rd = replayData(bytes, { of: 'archive', id: ids.id, arrivedAt: rec.arrivedAt }, run.at, decoded);
    run.countKind(rd.kind);
    if (!pipeline) {
      run.replayed(stream);
      continue;
    }
    await run.ensureTarget(stream);
    run.marks?.put(base + i);
    const partitionKey = replayPartitionKey(rec.partitionKey, ids.id, bytes);
    await pipeline.add({ stream, partitionKey, data: rd.data, tag: { stream, id: ids.id, pos: base + i } });
  }
  return { done: total, total };
}

/**
 * id (when the rules are known or the record is an envelope) and correlationId of an archived record, from its JSON
 * (`decoded`: {@link decodeForReplay} of `bytes`, the same value as JSON.parse of its UTF-8 text when there is no byte
 * order mark; else the text is parsed here, more leniently).
 */
function archiveIds(
  bytes: Buffer,
  decoded: Record<string, unknown> | null,
  rules: IdRules | undefined,
): { id: string | null; correlationId: string | null } {
  let value: unknown;
  const bom = hasUtf8Bom(bytes);
  if (decoded !== null && !bom) {
    value = decoded;
  } else {
    try {
      value = JSON.parse(bytes.toString('utf8'));
    } catch {
      return { id: null, correlationId: null };
    }
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { id: null, correlationId: null };
  const o = value as Record<string, unknown>;
  const payload = (o.v === 1 && typeof o.payload === 'object' && o.payload !== null && !Array.isArray(o.payload) ? o.payload : o) as Record<string, unknown>;
  let id: string | null = isEnvelope(o) ? o.id : null;
  if (rules) {
    try {
      id = recordId(payload, rules.namespace, rules.keyFields);
    } catch {
      // no natural key: the handler dead-letters it; it has no id to match
    }
  }
  const str = (x: unknown): string | null => (typeof x === 'string' && x.length > 0 ? x : null);
  const correlationId = str(o.correlationId) ?? str(payload.correlationId) ?? str(payload.correlation_id) ?? id;
  return { id, correlationId };
}

function matchesArchive(f: ReplayFilter, rec: ArchiveRecord, ids: { id: string | null; correlationId: string | null }): boolean {
  if (f.ids && (ids.id === null || !f.ids.has(ids.id))) return false;
  if (f.correlationIds && (ids.correlationId === null || !f.correlationIds.has(ids.correlationId))) return false;
  return inTimeRange(f, Date.parse(rec.arrivedAt));
}
