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
import { DlqReader } from './dlq-reader';
import { describeFilter, inTimeRange, InputError, matchesDlq, type ReplayFilter } from './filter';
import { checkStreamExists, KinesisPutter, type PutItem } from './putter';
import { decodeForReplay, replayData, replayPartitionKey } from './records';

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
  /** Stream name or ARN to put every record on; default: the stream each record came from. */
  readonly targetStream?: string;
  readonly dryRun?: boolean;
  /** Records per second; undefined = as fast as Kinesis accepts. */
  readonly ratePerSecond?: number;
  /** DLQ: visibility timeout of the receives (seconds); must cover one put-and-delete round. Default 300. */
  readonly visibilityTimeoutSec?: number;
  /** DLQ: how long to wait for messages in flight elsewhere (e.g. an interrupted replay) to reappear. Default 0. */
  readonly inFlightWaitMs?: number;
  /**
   * Records gathered before they are put (and their dead letters deleted). Default 500 per lane; with a rate, one second
   * of it. Archive replays put continuously: there it bounds a lane's PutRecords call to flushRecords / lanes entries.
   */
  readonly flushRecords?: number;
  /** PutRecords calls in flight. Default 4. */
  readonly lanes?: number;
  readonly idRules?: IdRules;
  readonly clients: ReplayClients;
  readonly onProgress?: (p: ReplayProgress) => void;
  readonly signal?: AbortSignal;
  /** The replay time written into the envelopes' replay mark. Default now. */
  readonly at?: Date;
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
}

const gunzipAsync = promisify(gunzip);

const MAX_ERRORS = 20;
const MAX_SAMPLE_IDS = 20;

interface Pending {
  readonly item: PutItem<number>;
  readonly messageId?: string;
  readonly id: string | null;
}

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
    skipped: { notMatching: 0, invalid: 0, noPayload: 0, noTarget: 0, duplicates: 0 },
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
  const at = opts.at ?? new Date();
  const dryRun = opts.dryRun ?? false;
  const sourceName = opts.source.kind === 'dlq' ? opts.source.queueUrl : `s3://${opts.source.bucket}/${opts.source.prefix}`;
  const s = newSummary(sourceName, opts.filter, dryRun);
  const putter = new KinesisPutter(opts.clients.kinesis, { ratePerSecond: opts.ratePerSecond, lanes: opts.lanes });
  const checked = new Map<string, Promise<void>>();
  // A full PutRecords call per lane; with a rate limit, about one second of records, so that dead letters are
  // deleted steadily as their records are accepted (a killed replay then has little to put again).
  const defaultFlush = opts.ratePerSecond !== undefined ? Math.max(10, Math.ceil(opts.ratePerSecond)) : putter.lanes * 500;
  const flushAt = Math.max(1, Math.min(opts.flushRecords ?? defaultFlush, putter.lanes * 500, 10_000));
  const progress = (): void => opts.onProgress?.({
    scanned: s.scanned, matched: s.matched, replayed: s.replayed, deleted: s.deleted, failed: s.failed, total: s.total,
  });
  const limitReached = (): boolean => opts.filter.limit !== undefined && s.matched >= opts.filter.limit;

  if (opts.targetStream && !dryRun) {
    await checkStreamExists(opts.clients.kinesis, opts.targetStream);
    checked.set(opts.targetStream, Promise.resolve());
  }

  const ensureTarget = (stream: string): Promise<void> => {
    let p = checked.get(stream);
    if (!p) {
      p = checkStreamExists(opts.clients.kinesis, stream);
      checked.set(stream, p);
    }
    return p;
  };

  /** Puts the pending records; returns the message ids of the accepted ones. */
  const flush = async (pending: Pending[]): Promise<string[]> => {
    if (pending.length === 0) return [];
    if (dryRun) {
      s.replayed += pending.length;
      for (const p of pending) s.targets[p.item.stream] = (s.targets[p.item.stream] ?? 0) + 1;
      return [];
    }
    for (const stream of new Set(pending.map((p) => p.item.stream))) await ensureTarget(stream);
    const out = await putter.putAll(pending.map((p) => p.item));
    s.retried += out.retried;
    s.putCalls += out.calls;
    const acceptedIds: string[] = [];
    for (const i of out.accepted) {
      const p = pending[i];
      s.replayed++;
      s.targets[p.item.stream] = (s.targets[p.item.stream] ?? 0) + 1;
      if (p.messageId) acceptedIds.push(p.messageId);
    }
    for (const f of out.failed) {
      s.failed++;
      addError(s, `${pending[f.tag].id ?? pending[f.tag].messageId ?? 'record'}: not accepted by Kinesis: ${f.error}`);
    }
    return acceptedIds;
  };

  const track = (id: string | null): void => {
    if (id && s.sampleIds.length < MAX_SAMPLE_IDS) s.sampleIds.push(id);
  };

  if (opts.source.kind === 'dlq') {
    if (!opts.clients.sqs) throw new Error('runReplay: an SQS client is required for --from dlq');
    const reader = new DlqReader(opts.clients.sqs, opts.source.queueUrl, {
      visibilityTimeoutSec: opts.visibilityTimeoutSec ?? 300,
      inFlightWaitMs: opts.inFlightWaitMs ?? 0,
      signal: opts.signal,
    });
    try {
      const c = await reader.counts();
      s.total = c.visible;
      progress();
      let pending: Pending[] = [];
      const flushAndDelete = async (): Promise<void> => {
        const batch = pending;
        pending = [];
        const accepted = await flush(batch);
        if (accepted.length > 0) {
          const notDeleted = await reader.delete(accepted);
          s.deleted += accepted.length - notDeleted.length;
          for (const id of notDeleted) addError(s, `message ${id}: its record was replayed but the message could not be deleted (a rerun puts it again; the sink deduplicates)`);
        }
        progress();
      };
      for await (const entries of reader.read()) {
        for (const e of entries) {
          if (limitReached()) break;
          s.scanned++;
          if (!e.msg) {
            s.skipped.invalid++;
            addError(s, `message ${e.messageId}: ${e.invalid}`);
            continue;
          }
          if (!matchesDlq(opts.filter, e.msg)) {
            s.skipped.notMatching++;
            continue;
          }
          const msg = e.msg;
          s.matched++;
          track(msg.id);
          const stream = opts.targetStream ?? msg.source.streamArn;
          if (!stream) {
            s.skipped.noTarget++;
            addError(s, `message ${e.messageId}: the dead letter names no source stream; pass --target-stream`);
            continue;
          }
          let bytes: Buffer | null;
          try {
            bytes = await dlqPayloadBytes(msg, opts.clients.s3, opts.signal);
          } catch (err) {
            s.failed++;
            addError(s, `message ${e.messageId}: cannot read the payload: ${describeError(err)}`);
            continue;
          }
          if (bytes === null) {
            s.skipped.noPayload++;
            continue;
          }
          const rd = replayData(bytes, { of: 'dlq', id: msg.id, correlationId: msg.correlationId, arrivedAt: msg.source.arrivedAt }, at);
          if (rd.kind === 'envelope') s.envelopes++;
          else s.raw++;
          pending.push({
            item: { stream, partitionKey: replayPartitionKey(msg.source.partitionKey, msg.id, bytes), data: rd.data, tag: pending.length },
            messageId: e.messageId,
            id: msg.id,
          });
          if (pending.length >= flushAt) await flushAndDelete();
        }
        progress();
        if (limitReached() || opts.signal?.aborted) break;
      }
      await flushAndDelete();
      s.inFlightElsewhere = reader.inFlightElsewhere;
    } finally {
      // Everything not deleted (not matching, failed, invalid) becomes visible again now.
      await reader.releaseAll();
    }
  } else {
    const { bucket, prefix } = opts.source;
    const s3 = opts.clients.s3;
    if (!s3) throw new Error('runReplay: an S3 client is required for --from archive');
    if (opts.filter.reasons) throw new InputError('--reason applies to dead letters only: archived records have no failure reason');
    if (opts.filter.ids && !opts.idRules) throw new InputError('--id with --from archive needs the pipeline\'s id rules: pass --pipeline and --key-fields (or use --correlation-id)');
    const keys: string[] = [];
    for (const p of archiveListPrefixes(prefix, opts.filter.sinceMs, opts.filter.untilMs)) {
      let token: string | undefined;
      do {
        const res = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: p, ContinuationToken: token }), { abortSignal: opts.signal });
        for (const o of res.Contents ?? []) {
          if (o.Key && archiveKeyInRange(o.Key, prefix, opts.filter.sinceMs, opts.filter.untilMs)) keys.push(o.Key);
        }
        token = res.IsTruncated ? res.NextContinuationToken : undefined;
      } while (token);
    }
    keys.sort();
    const seen = new Set<string>();
    const checkedStreams = new Set<string>();
    // Records are put while the next ones are read: each lane sends a call as soon as it holds a full one.
    const pipeline = dryRun ? undefined : putter.pipeline<{ readonly stream: string; readonly id: string | null }>((out) => {
      s.retried += out.retried;
      s.putCalls += out.calls;
      for (const t of out.accepted) {
        s.replayed++;
        s.targets[t.stream] = (s.targets[t.stream] ?? 0) + 1;
      }
      for (const f of out.failed) {
        s.failed++;
        addError(s, `${f.tag.id ?? 'record'}: not accepted by Kinesis: ${f.error}`);
      }
      progress();
    }, { maxBatch: Math.ceil(flushAt / putter.lanes) });
    // The next object is fetched and decompressed (off the main thread) while the current one is framed and put.
    const load = (key: string): Promise<Buffer> => {
      const gzipped = (raw: Buffer): boolean => raw.length >= 2 && raw[0] === 0x1f && raw[1] === 0x8b;
      const p = getObjectBytes(s3, bucket, key, opts.signal).then((raw) => (gzipped(raw) ? gunzipAsync(raw) : raw));
      p.catch(() => undefined); // awaited (and its error thrown) in order below; not an unhandled rejection meanwhile
      return p;
    };
    let next = keys.length > 0 ? load(keys[0]) : undefined;
    for (let k = 0; k < keys.length; k++) {
      const key = keys[k];
      if (limitReached() || opts.signal?.aborted) break;
      const raw = await next!;
      next = k + 1 < keys.length ? load(keys[k + 1]) : undefined;
      const parsed = parseArchiveObject(raw.toString('utf8'));
      if (parsed.bad > 0) {
        s.skipped.invalid += parsed.bad;
        addError(s, `s3://${bucket}/${key}: ${parsed.bad} line(s) are not archive records (lines ${parsed.badLines.slice(0, 5).join(', ')}${parsed.bad > 5 ? ', ...' : ''})`);
      }
      for (const rec of parsed.records) {
        if (limitReached()) break;
        s.scanned++;
        const dedupe = `${rec.shardId}/${rec.sequenceNumber}`;
        if (rec.sequenceNumber !== '' && seen.has(dedupe)) {
          s.skipped.duplicates++;
          continue;
        }
        seen.add(dedupe);
        const bytes = Buffer.from(rec.data, 'base64');
        const decoded = decodeForReplay(bytes);
        const ids = archiveIds(bytes, decoded, opts.idRules);
        if (!matchesArchive(opts.filter, rec, ids)) {
          s.skipped.notMatching++;
          continue;
        }
        s.matched++;
        track(ids.id);
        const stream = opts.targetStream ?? rec.streamArn;
        if (!stream) throw new InputError(`archived records of s3://${bucket}/${key} do not name their stream: pass --target-stream`);
        const rd = replayData(bytes, { of: 'archive', id: ids.id, arrivedAt: rec.arrivedAt }, at, decoded);
        if (rd.kind === 'envelope') s.envelopes++;
        else s.raw++;
        const partitionKey = replayPartitionKey(rec.partitionKey, ids.id, bytes);
        if (!pipeline) {
          s.replayed++;
          s.targets[stream] = (s.targets[stream] ?? 0) + 1;
          continue;
        }
        if (!checkedStreams.has(stream)) {
          await ensureTarget(stream);
          checkedStreams.add(stream);
        }
        await pipeline.add({ stream, partitionKey, data: rd.data, tag: { stream, id: ids.id } });
      }
      progress();
    }
    await pipeline?.drain();
    progress();
  }
  s.interrupted = opts.signal?.aborted ?? false;
  s.durationMs = Date.now() - started;
  s.recordsPerSecond = s.durationMs > 0 ? Math.round((s.replayed / s.durationMs) * 1000 * 10) / 10 : 0;
  return s;
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
