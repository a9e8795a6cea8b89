/**
 * Re-puts records on Kinesis: PutRecords batches of up to 500 records / 5 MiB, retrying only the entries that failed
 * (a partial failure does not throw: FailedRecordCount and per-entry ErrorCode) with full-jitter backoff, a records/s
 * rate limit, and a few batches in flight in "lanes" chosen by partition key, so that the records of one key keep
 * their order.
 */
import { createHash } from 'node:crypto';
import { DescribeStreamSummaryCommand, PutRecordsCommand, type KinesisClient, type PutRecordsRequestEntry } from '@aws-sdk/client-kinesis';
import { classifyError, describeError, fullJitterDelayMs } from '../core';
import { InputError } from './filter';
import { streamRef } from './records';

/** PutRecords limits. */
export const PUT_RECORDS_MAX_ENTRIES = 500;
export const PUT_RECORDS_MAX_BYTES = 5 * 1024 * 1024;

export interface PutItem<T> {
  readonly stream: string;
  readonly partitionKey: string;
  readonly data: Buffer;
  /** Caller's handle, returned with the outcome. */
  readonly tag: T;
}

export interface PutOutcome<T> {
  accepted: T[];
  /** Entries still failing after every attempt (error code and message of the last attempt). */
  failed: Array<{ tag: T; error: string }>;
  /** Entries retried (each retry of each entry counts). */
  retried: number;
  calls: number;
}

export interface PutterOptions {
  /** Records per second, all streams together; undefined = unlimited. */
  readonly ratePerSecond?: number;
  /** Attempts per entry, the first included. Default 8. */
  readonly maxAttempts?: number;
  readonly baseMs?: number;
  readonly capMs?: number;
  /** PutRecords calls in flight (each lane keeps per-partition-key order). Default 4. */
  readonly lanes?: number;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly now?: () => number;
  readonly random?: () => number;
}

const sleepReal = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A token-bucket rate limiter (capacity = one second of rate). */
export class RateLimiter {
  private tokens: number;
  private last: number;
  constructor(private readonly perSecond: number, private readonly now: () => number, private readonly sleep: (ms: number) => Promise<void>) {
    this.tokens = Math.min(perSecond, PUT_RECORDS_MAX_ENTRIES);
    this.last = now();
  }

  /** Waits until `n` records may be sent. */
  async take(n: number): Promise<void> {
    for (;;) {
      const t = this.now();
      this.tokens = Math.min(Math.max(this.perSecond, 1), this.tokens + ((t - this.last) / 1000) * this.perSecond);
      this.last = t;
      // A batch larger than a second of rate is let through once the bucket is full (it then goes negative).
      const need = Math.min(n, Math.max(this.perSecond, 1));
      if (this.tokens >= need) {
        this.tokens -= n;
        return;
      }
      await this.sleep(Math.max(1, Math.ceil(((need - this.tokens) / this.perSecond) * 1000)));
    }
  }
}

function laneOf(partitionKey: string, lanes: number): number {
  if (lanes <= 1) return 0;
  return createHash('md5').update(partitionKey).digest().readUInt32BE(0) % lanes;
}

/** Throws InputError when a stream does not exist (checked once per stream before anything is put). */
export async function checkStreamExists(kinesis: KinesisClient, stream: string): Promise<void> {
  try {
    await kinesis.send(new DescribeStreamSummaryCommand(streamRef(stream)));
  } catch (err) {
    const name = (err as Error)?.name;
    if (name === 'ResourceNotFoundException') throw new InputError(`target stream ${stream} does not exist`);
    if (name === 'ValidationException' || name === 'InvalidArgumentException') throw new InputError(`target stream ${JSON.stringify(stream)} is not a valid stream name or ARN: ${(err as Error).message}`);
    throw err;
  }
}

export class KinesisPutter {
  private readonly limiter?: RateLimiter;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly random: () => number;
  private readonly maxAttempts: number;
  private readonly baseMs: number;
  private readonly capMs: number;
  readonly lanes: number;

  constructor(private readonly kinesis: KinesisClient, opts: PutterOptions = {}) {
    this.sleep = opts.sleep ?? sleepReal;
    this.random = opts.random ?? Math.random;
    this.maxAttempts = opts.maxAttempts ?? 8;
    this.baseMs = opts.baseMs ?? 100;
    this.capMs = opts.capMs ?? 5_000;
    this.lanes = Math.max(1, Math.min(16, opts.lanes ?? 4));
    if (opts.ratePerSecond !== undefined) this.limiter = new RateLimiter(opts.ratePerSecond, opts.now ?? Date.now, this.sleep);
  }

  /**
   * Puts every item; resolves with the accepted and the failed ones. Rejects only for errors that concern the whole
   * call and cannot be retried (a missing stream, access denied): nothing of the failed call was accepted then.
   */
  async putAll<T>(items: readonly PutItem<T>[]): Promise<PutOutcome<T>> {
    const byLane: Array<Array<PutItem<T>>> = Array.from({ length: this.lanes }, () => []);
    for (const it of items) byLane[laneOf(it.partitionKey, this.lanes)].push(it);
    const outcomes = await Promise.all(byLane.map((lane) => this.putLane(lane)));
    return {
      accepted: outcomes.flatMap((o) => o.accepted),
      failed: outcomes.flatMap((o) => o.failed),
      retried: outcomes.reduce((n, o) => n + o.retried, 0),
      calls: outcomes.reduce((n, o) => n + o.calls, 0),
    };
  }

  private async putLane<T>(items: Array<PutItem<T>>): Promise<PutOutcome<T>> {
    const out: PutOutcome<T> = { accepted: [], failed: [], retried: 0, calls: 0 };
    // Group by stream, keeping order.
    const byStream = new Map<string, Array<PutItem<T>>>();
    for (const it of items) {
      const l = byStream.get(it.stream);
      if (l) l.push(it);
      else byStream.set(it.stream, [it]);
    }
    for (const [stream, list] of byStream) {
      let i = 0;
      while (i < list.length) {
        const batch: Array<PutItem<T>> = [];
        let bytes = 0;
        while (i < list.length && batch.length < PUT_RECORDS_MAX_ENTRIES) {
          const size = list[i].data.length + Buffer.byteLength(list[i].partitionKey);
          if (batch.length > 0 && bytes + size > PUT_RECORDS_MAX_BYTES) break;
          batch.push(list[i]);
          bytes += size;
          i++;
        }
        await this.putBatch(stream, batch, out);
      }
    }
    return out;
  }

  private async putBatch<T>(stream: string, batch: Array<PutItem<T>>, out: PutOutcome<T>): Promise<void> {
    let pending = batch;
    const lastError = new Map<PutItem<T>, string>();
    for (let attempt = 1; pending.length > 0; attempt++) {
      if (attempt > 1) {
        out.retried += pending.length;
        await this.sleep(fullJitterDelayMs(attempt - 2, { baseMs: this.baseMs, capMs: this.capMs }, this.random));
      }
      await this.limiter?.take(pending.length);
      const entries: PutRecordsRequestEntry[] = pending.map((it) => ({ PartitionKey: it.partitionKey, Data: it.data }));
      out.calls++;
      let res;
      try {
        res = await this.kinesis.send(new PutRecordsCommand({ ...streamRef(stream), Records: entries }));
      } catch (err) {
        const name = (err as Error)?.name;
        if (name === 'ResourceNotFoundException') throw new InputError(`target stream ${stream} does not exist`);
        const c = classifyError(err);
        if (c.kind === 'permanent' || name === 'AccessDeniedException' || name === 'ValidationException') throw err;
        for (const it of pending) lastError.set(it, describeError(err));
        if (attempt >= this.maxAttempts) break;
        continue;
      }
      const results = res.Records ?? [];
      const next: Array<PutItem<T>> = [];
      pending.forEach((it, k) => {
        const r = results[k];
        if (r && !r.ErrorCode && r.SequenceNumber) {
          out.accepted.push(it.tag);
        } else {
          lastError.set(it, r?.ErrorCode ? `${r.ErrorCode}: ${r.ErrorMessage ?? ''}`.trim() : 'no result for the entry');
          next.push(it);
        }
      });
      pending = next;
      if (attempt >= this.maxAttempts) break;
    }
    for (const it of pending) out.failed.push({ tag: it.tag, error: lastError.get(it) ?? 'not accepted' });
  }
}
