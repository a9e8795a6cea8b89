import { PutRecordsCommand, type KinesisClient, type PutRecordsRequestEntry } from '@aws-sdk/client-kinesis';
import { abortableSleep } from './lifecycle';
import type { Workload, WorkloadRecord } from './workloads';

/** PutRecords limits: 500 records and 5 MiB per request. */
const MAX_BATCH_RECORDS = 500;
const MAX_BATCH_BYTES = 5 * 1024 * 1024;
/** Attempts per record (the first put and retries of failed entries) before the record counts as not produced. */
const MAX_ATTEMPTS = 12;
/** A throttled entry (the shard's write limit) is retried until it goes in: it does not use up an attempt. */
const THROTTLED = 'ProvisionedThroughputExceededException';

export interface ProducerStats {
  /** Records accepted by Kinesis. */
  put: number;
  /** Records given up after MAX_ATTEMPTS failed attempts (never on the stream). */
  failed: number;
  /** Entries retried after a partial failure (FailedRecordCount) or a failed call. */
  retriedEntries: number;
  /** Of those, entries refused by the shard's write limit (ProvisionedThroughputExceededException). */
  throttledEntries: number;
  putRecordsCalls: number;
  /** Epoch ms of the first and last accepted put. */
  firstPutAt?: number;
  lastPutAt?: number;
}

export interface ProduceOptions {
  readonly streamName: string;
  /** Records per second (0 = as fast as the stream accepts); not used for a workload that paces itself (waitMs). */
  readonly rate: number;
  /** Called for every record accepted by Kinesis, with the time its first attempt started. */
  readonly onPut?: (rec: WorkloadRecord, firstAttemptAt: number) => void;
  readonly signal?: AbortSignal;
}

/** `attempts`: failed puts counted against MAX_ATTEMPTS; `tries`: every put, throttled ones too (the backoff's exponent). */
interface Pending { rec: WorkloadRecord; attempts: number; tries: number; firstAttemptAt: number }

/**
 * Puts a workload on a Kinesis stream with PutRecords batches (<= 500 records, <= 5 MiB), paced to `rate` records/s.
 * A partial failure does not throw in Kinesis: only the failed entries (ErrorCode set) are retried, with full-jitter
 * backoff, up to MAX_ATTEMPTS per record (throttled entries until they go in: the SDK does not retry them). As with PutRecords in AWS, a partial failure can reorder the records of a key.
 */
export async function produce(kinesis: KinesisClient, workload: Workload, opts: ProduceOptions, stats: ProducerStats): Promise<void> {
  const startedAt = Date.now();
  let generated = 0;
  let retry: Pending[] = [];
  let done = false;
  while (!opts.signal?.aborted) {
    // Form a batch: retries first (they are older), then new records allowed by the pace.
    const batch: Pending[] = [];
    let bytes = 0;
    const size = (rec: WorkloadRecord): number => rec.data.length + Buffer.byteLength(rec.partitionKey);
    const fits = (rec: WorkloadRecord): boolean => batch.length < MAX_BATCH_RECORDS && bytes + size(rec) <= MAX_BATCH_BYTES;
    while (retry.length > 0 && fits(retry[0].rec)) {
      const p = retry.shift()!;
      bytes += size(p.rec);
      batch.push(p);
    }
    let pausedMs = 0;
    if (!done) {
      const paced = workload.waitMs !== undefined;
      const allowed = opts.rate > 0 && !paced ? Math.floor(((Date.now() - startedAt) / 1000) * opts.rate) + 1 - generated : Infinity;
      for (let i = 0; i < allowed; i++) {
        pausedMs = paced ? workload.waitMs!(Date.now()) : 0;
        if (pausedMs > 0) break;
        const rec = workload.next();
        if (!rec) { done = true; break; }
        generated++;
        if (!fits(rec)) {
          // Does not fit this batch: it goes first into the next one.
          retry.unshift({ rec, attempts: 0, tries: 0, firstAttemptAt: Date.now() });
          break;
        }
        bytes += size(rec);
        batch.push({ rec, attempts: 0, tries: 0, firstAttemptAt: Date.now() });
      }
    }
    if (batch.length === 0) {
      if (done && retry.length === 0) return;
      // Waiting for the pace (or for a retry's backoff).
      const pace = pausedMs > 0 ? Math.min(100, pausedMs) : opts.rate > 0 ? Math.max(5, Math.min(100, 1000 / opts.rate)) : 5;
      await abortableSleep(pace, opts.signal);
      continue;
    }
    const failed = await putBatch(kinesis, opts, batch, stats);
    if (failed.length > 0) {
      const attempts = Math.max(...failed.map((f) => f.tries));
      retry = failed.concat(retry);
      // Full jitter, base 100 ms, cap 2 s.
      await abortableSleep(Math.random() * Math.min(2000, 100 * 2 ** Math.min(attempts, 10)), opts.signal);
    }
  }
}

async function putBatch(kinesis: KinesisClient, opts: ProduceOptions, batch: Pending[], stats: ProducerStats): Promise<Pending[]> {
  const entries: PutRecordsRequestEntry[] = batch.map((p) => ({ Data: p.rec.data, PartitionKey: p.rec.partitionKey }));
  for (const p of batch) { p.attempts++; p.tries++; }
  stats.putRecordsCalls++;
  let results: Array<{ ErrorCode?: string }>;
  try {
    const out = await kinesis.send(new PutRecordsCommand({ StreamName: opts.streamName, Records: entries }), { abortSignal: opts.signal });
    results = out.Records ?? [];
    if (results.length !== batch.length) throw new Error(`PutRecords returned ${results.length} results for ${batch.length} records`);
  } catch (err) {
    if (opts.signal?.aborted) return [];
    // The whole call failed (after the SDK's own retries): every entry is retried.
    results = batch.map(() => ({ ErrorCode: (err as Error).name || 'Error' }));
  }
  const failed: Pending[] = [];
  const now = Date.now();
  results.forEach((r, i) => {
    const p = batch[i];
    if (!r.ErrorCode) {
      stats.put++;
      stats.firstPutAt ??= now;
      stats.lastPutAt = now;
      opts.onPut?.(p.rec, p.firstAttemptAt);
    } else if (r.ErrorCode === THROTTLED) {
      p.attempts--;
      stats.throttledEntries++;
      stats.retriedEntries++;
      failed.push(p);
    } else if (p.attempts >= MAX_ATTEMPTS) {
      stats.failed++;
    } else {
      stats.retriedEntries++;
      failed.push(p);
    }
  });
  return failed;
}
