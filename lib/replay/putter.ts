/**
 * Re-puts records on Kinesis: PutRecords batches of up to 500 records / 5 MiB, retrying only the entries that failed
 * (a partial failure does not throw: FailedRecordCount and per-entry ErrorCode) with full-jitter backoff, a records/s
 * rate limit, and a few batches in flight in "lanes" chosen by partition key, so that the records of one key keep
 * their order.
 */
import { DescribeStreamSummaryCommand, PutRecordsCommand, type KinesisClient, type PutRecordsRequestEntry } from '@aws-sdk/client-kinesis';
import { classifyError, describeError, fullJitterDelayMs } from '../core';
import { clockOf, type ReplayClock } from './clock';
import { InputError } from './filter';
import { streamRef } from './records';

/** The error code of an entry (or call) refused for the shard's write throughput. */
const THROTTLED = 'ProvisionedThroughputExceededException';

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

export interface PutterOptions extends ReplayClock {
  /** Records per second, all streams together; undefined = unlimited. */
  readonly ratePerSecond?: number;
  /** Attempts per entry, the first included, for failures other than throttling. Default 8. */
  readonly maxAttempts?: number;
  /** Throttled entries are put again until they go in; a batch gives them up after this long without any accepted. Default 120 s. */
  readonly throttleStallMs?: number;
  readonly baseMs?: number;
  readonly capMs?: number;
  /** PutRecords calls in flight (each lane keeps per-partition-key order). Default 4. */
  readonly lanes?: number;
  readonly random?: () => number;
}

/** A token-bucket rate limiter (capacity = one second of rate). */
export class RateLimiter {
  private tokens: number;
  private last: number;
  constructor(private perSecond: number, private readonly now: () => number, private readonly sleep: (ms: number) => Promise<void>) {
    this.tokens = Math.min(perSecond, PUT_RECORDS_MAX_ENTRIES);
    this.last = now();
  }

  get rate(): number {
    return this.perSecond;
  }

  /** Changes the rate from now on (tokens already earned are kept, up to one second of the new rate). */
  setRate(perSecond: number): void {
    this.perSecond = perSecond;
    this.tokens = Math.min(this.tokens, Math.max(perSecond, 1));
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

/**
 * The put rate all lanes share, adapted to what the target accepts: off until the first throttled entry; then, at most
 * once a second while entries are throttled, 10 % above the records/s accepted over the last two seconds (the
 * target's capacity as measured, so the shards stay busy and about a tenth of the entries sent is refused and put
 * again; half the refused call when nothing went in), and 10 % higher after each second without throttling.
 * Never above `ceiling` (--rate).
 */
export class AdaptiveRate {
  private limiter: RateLimiter | undefined;
  private readonly accepted: Array<{ t: number; n: number }> = [];
  private changedAt = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly ceiling: number | undefined,
    private readonly now: () => number,
    private readonly sleep: (ms: number) => Promise<void>,
  ) {
    if (ceiling !== undefined) this.limiter = new RateLimiter(ceiling, now, sleep);
  }

  /** The current rate (records/s); undefined while unlimited. */
  get rate(): number | undefined {
    return this.limiter?.rate;
  }

  take(n: number): Promise<void> {
    return this.limiter?.take(n) ?? Promise.resolve();
  }

  /** After a call: `accepted` entries went in, `throttled` were refused for throughput. */
  observe(accepted: number, throttled: number): void {
    const t = this.now();
    this.accepted.push({ t, n: accepted });
    while (this.accepted[0].t <= t - 2000) this.accepted.shift();
    if (t - this.changedAt < 1000) return;
    if (throttled > 0) {
      const seconds = Math.min(2, Math.max(1, (t - this.accepted[0].t) / 1000));
      const perSecond = this.accepted.reduce((sum, x) => sum + x.n, 0) / seconds;
      this.set(perSecond > 0 ? perSecond * 1.1 : throttled / 2, t);
    } else if (this.limiter !== undefined) {
      this.set(this.limiter.rate * 1.1, t);
    }
  }

  private set(rate: number, t: number): void {
    const r = Math.max(1, Math.min(rate, this.ceiling ?? Number.POSITIVE_INFINITY));
    if (this.limiter) this.limiter.setRate(r);
    else this.limiter = new RateLimiter(r, this.now, this.sleep);
    this.changedAt = t;
  }
}

/** The lane of a partition key: a 32-bit FNV-1a hash of its UTF-16 code units, mixed (murmur3's finalizer). */
function laneOf(partitionKey: string, lanes: number): number {
  if (lanes <= 1) return 0;
  /* eslint-disable no-bitwise -- 32-bit hashing (an md5 object per record cost more than the rest of the lane logic) */
  let h = 0x811c9dc5;
  for (let i = 0; i < partitionKey.length; i++) h = Math.imul(h ^ partitionKey.charCodeAt(i), 0x01000193);
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return ((h ^ (h >>> 16)) >>> 0) % lanes;
  /* eslint-enable no-bitwise */
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
  private readonly rate: AdaptiveRate;
  private readonly now: () => number;
  private readonly throttleStallMs: number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly random: () => number;
  private readonly maxAttempts: number;
  private readonly baseMs: number;
  private readonly capMs: number;
  readonly lanes: number;

  constructor(private readonly kinesis: KinesisClient, opts: PutterOptions = {}) {
    ({ sleep: this.sleep, now: this.now } = clockOf(opts));
    this.random = opts.random ?? Math.random;
    this.maxAttempts = opts.maxAttempts ?? 8;
    this.baseMs = opts.baseMs ?? 100;
    this.capMs = opts.capMs ?? 5_000;
    this.lanes = Math.max(1, Math.min(16, opts.lanes ?? 4));
    this.throttleStallMs = opts.throttleStallMs ?? 120_000;
    if (!(this.throttleStallMs > 0 && Number.isFinite(this.throttleStallMs))) {
      throw new InputError(`throttleStallMs must be a positive finite number of milliseconds; got ${String(opts.throttleStallMs)}`);
    }
    this.rate = new AdaptiveRate(opts.ratePerSecond, this.now, this.sleep);
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

  /** A {@link PutPipeline} on this putter's lanes, limits and retries. */
  pipeline<T>(onSettled: (outcome: PutOutcome<T>) => void, opts: PipelineOptions = {}): PutPipeline<T> {
    return new PutPipeline(this.lanes, (stream, batch, out) => this.putBatch(stream, batch, out), onSettled, opts);
  }

  /**
   * Puts one batch (at most 500 entries / 5 MiB, one stream), retrying the entries that fail with full-jitter backoff;
   * adds the outcome to `out`. Throttled entries (ProvisionedThroughputExceededException) do not use up attempts: they
   * are put again, at the shared adapted rate, until they go in or the batch made no progress for throttleStallMs.
   */
  private async putBatch<T>(stream: string, batch: Array<PutItem<T>>, out: PutOutcome<T>): Promise<void> {
    let pending = batch;
    const lastError = new Map<PutItem<T>, string>();
    let attempts = 0;
    let failedRounds = 0;
    let progressAt = this.now();
    while (pending.length > 0) {
      // Once the rate is adapted, a call holds a tenth of a second of it: calls then spread over each second as the
      // shards' per-second limits do (a call of a whole second's worth, landing in a second already used, is refused).
      const n = this.rate.rate === undefined ? pending.length : Math.max(1, Math.floor(this.rate.rate / 10));
      const call = pending.slice(0, n);
      await this.rate.take(call.length);
      const r = await this.putOnce(stream, call, out, lastError);
      // Backoff grows only over rounds in which nothing went in; the adapted rate paces the rest.
      if (r.next.length < call.length) {
        progressAt = this.now();
        failedRounds = 0;
      }
      pending = [...r.next, ...pending.slice(n)];
      if (r.next.length === 0) continue;
      if (!r.onlyThrottled) attempts++;
      const stalled = this.now() - progressAt >= this.throttleStallMs;
      if (attempts >= this.maxAttempts || stalled) {
        const why = stalled ? `no entry accepted for ${this.throttleStallMs} ms (throttleStallMs), last error: ` : '';
        for (const it of r.next) out.failed.push({ tag: it.tag, error: why + (lastError.get(it) ?? 'not accepted') });
        pending = pending.slice(r.next.length);
        attempts = 0;
        progressAt = this.now();
        continue;
      }
      out.retried += r.next.length;
      await this.sleep(fullJitterDelayMs(Math.min(failedRounds++, 10), { baseMs: this.baseMs, capMs: this.capMs }, this.random));
    }
  }

  /** One PutRecords call: the entries to put again, and whether every failure was throttling. */
  private async putOnce<T>(
    stream: string, pending: Array<PutItem<T>>, out: PutOutcome<T>, lastError: Map<PutItem<T>, string>,
  ): Promise<{ next: Array<PutItem<T>>; onlyThrottled: boolean }> {
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
      const throttled = name === THROTTLED;
      if (throttled) this.rate.observe(0, pending.length);
      return { next: pending, onlyThrottled: throttled };
    }
    const results = res.Records ?? [];
    const next: Array<PutItem<T>> = [];
    let throttled = 0;
    pending.forEach((it, k) => {
      const r = results[k];
      if (r && !r.ErrorCode && r.SequenceNumber) {
        out.accepted.push(it.tag);
        return;
      }
      if (r?.ErrorCode === THROTTLED) throttled++;
      lastError.set(it, r?.ErrorCode ? `${r.ErrorCode}: ${r.ErrorMessage ?? ''}`.trim() : 'no result for the entry');
      next.push(it);
    });
    this.rate.observe(pending.length - next.length, throttled);
    return { next, onlyThrottled: throttled === next.length };
  }
}

export interface PipelineOptions {
  /** Entries per PutRecords call, at most 500 (the default). */
  readonly maxBatch?: number;
  /** Items added and not yet settled (buffered or in flight) before add() waits. Default 2 x lanes x maxBatch. */
  readonly maxBuffered?: number;
}

interface PipelineLane<T> {
  readonly queue: Array<PutItem<T>>;
  /** Bytes of the queued items (data and partition key), as PutRecords counts them. */
  bytes: number;
  busy: boolean;
  idle: Promise<void>;
}

/**
 * Streaming puts, for sources read faster than Kinesis accepts them (the archive): items are added in order and each
 * lane (chosen by partition key, as in putAll) sends a PutRecords call as soon as it has a full one (500 entries or
 * 5 MiB), one call in flight per lane, so reading the source overlaps with the puts. Per-key order is kept: a key's
 * items are in one lane, sent in the order added, and a lane's next call waits until its previous batch settled
 * (retries included). `drain()` sends what is left and waits for everything; `onSettled` is called once per batch.
 * A call failing as a whole with an error that cannot be retried makes add() and drain() reject with it.
 */
export class PutPipeline<T> {
  private readonly lanes: Array<PipelineLane<T>>;
  private readonly maxBatch: number;
  private readonly maxBuffered: number;
  private buffered = 0;
  private inFlight = 0;
  private draining = false;
  private error: { err: unknown } | undefined;
  private wake: (() => void) | undefined;

  constructor(
    laneCount: number,
    private readonly putBatch: (stream: string, batch: Array<PutItem<T>>, out: PutOutcome<T>) => Promise<void>,
    private readonly onSettled: (outcome: PutOutcome<T>) => void,
    opts: PipelineOptions = {},
  ) {
    this.lanes = Array.from({ length: Math.max(1, laneCount) }, () => ({ queue: [], bytes: 0, busy: false, idle: Promise.resolve() }));
    this.maxBatch = Math.max(1, Math.min(PUT_RECORDS_MAX_ENTRIES, Math.floor(opts.maxBatch ?? PUT_RECORDS_MAX_ENTRIES)));
    this.maxBuffered = Math.max(opts.maxBuffered ?? 2 * this.lanes.length * this.maxBatch, 1);
  }

  /** Adds an item; resolves once there is room for more. */
  async add(item: PutItem<T>): Promise<void> {
    this.throwIfFailed();
    const lane = this.lanes[laneOf(item.partitionKey, this.lanes.length)];
    lane.queue.push(item);
    lane.bytes += item.data.length + Buffer.byteLength(item.partitionKey);
    this.buffered++;
    if (!lane.busy && (lane.queue.length >= this.maxBatch || lane.bytes >= PUT_RECORDS_MAX_BYTES)) this.run(lane);
    while (this.buffered >= this.maxBuffered && !this.error) {
      // Nothing in flight (items spread thin over lanes and streams): send what is there rather than wait for full calls.
      if (this.inFlight === 0) for (const l of this.lanes) this.run(l, true);
      await new Promise<void>((resolve) => { this.wake = resolve; });
    }
    this.throwIfFailed();
  }

  /** Sends everything added and waits until every item settled. */
  async drain(): Promise<void> {
    this.draining = true;
    for (const l of this.lanes) this.run(l);
    for (const l of this.lanes) await l.idle;
    this.throwIfFailed();
  }

  private throwIfFailed(): void {
    if (this.error) throw this.error.err;
  }

  private run(lane: PipelineLane<T>, force = false): void {
    if (lane.busy || lane.queue.length === 0 || this.error) return;
    lane.busy = true;
    lane.idle = this.loop(lane, force);
  }

  private async loop(lane: PipelineLane<T>, force: boolean): Promise<void> {
    try {
      for (;;) {
        if (this.error) break;
        const batch = this.takeBatch(lane, force || this.draining);
        if (!batch) break;
        const out: PutOutcome<T> = { accepted: [], failed: [], retried: 0, calls: 0 };
        this.inFlight++;
        try {
          await this.putBatch(batch[0].stream, batch, out);
        } finally {
          this.inFlight--;
        }
        this.buffered -= batch.length;
        this.onSettled(out);
        this.notify();
      }
    } catch (err) {
      this.error ??= { err };
      this.notify();
    } finally {
      lane.busy = false;
    }
  }

  /** The next call of a lane: its first items of one stream, up to maxBatch entries / 5 MiB; only a full call unless `partial`. */
  private takeBatch(lane: PipelineLane<T>, partial: boolean): Array<PutItem<T>> | undefined {
    const q = lane.queue;
    if (q.length === 0) return undefined;
    const stream = q[0].stream;
    let n = 0;
    let bytes = 0;
    let full = false;
    while (n < q.length && n < this.maxBatch) {
      if (q[n].stream !== stream) {
        full = true;
        break;
      }
      const size = q[n].data.length + Buffer.byteLength(q[n].partitionKey);
      if (n > 0 && bytes + size > PUT_RECORDS_MAX_BYTES) {
        full = true;
        break;
      }
      bytes += size;
      n++;
    }
    if (n === this.maxBatch) full = true;
    if (!full && !partial) return undefined;
    lane.bytes -= bytes;
    return q.splice(0, n);
  }

  private notify(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }
}
