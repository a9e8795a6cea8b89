/**
 * Kinesis event source mapping, reproducing Lambda's stream poller:
 * - one reader per shard (children start after their parents are fully processed), reading in order;
 * - ParallelizationFactor N: a shard's records are spread over N lanes by a hash of the partition key, each lane
 *   invoking one batch at a time, so order holds per partition key and up to N batches per shard run at once;
 * - batches of up to BatchSize records / 6 MB, gathered for up to MaximumBatchingWindowInSeconds;
 * - failures: ReportBatchItemFailures (checkpoint at the lowest failed sequence number, retry from there),
 *   BisectBatchOnFunctionError (halves, not consuming retry attempts), MaximumRetryAttempts, MaximumRecordAgeInSeconds,
 *   on-failure destinations (SQS/SNS metadata, S3 metadata + payload), throttles retried without consuming attempts;
 * - tumbling windows: window/state/isFinalInvokeForWindow/isWindowTerminatedEarly, state carried per shard lane;
 *   `closeWindows()` ends the open windows at the end of a local run (see there).
 *
 * Local simplification: a failed batch is retried as the same records (from the checkpoint on), not re-read from
 * the stream with newer records appended as Lambda may do; which records are delivered, in which order, is the same.
 */
import { createHash } from 'node:crypto';
import {
  GetShardIteratorCommand,
  ListShardsCommand,
  type GetShardIteratorCommandInput,
  type Shard,
} from '@aws-sdk/client-kinesis';
import { sendOnFailure, type FailedBatch, type FailureCondition } from './on-failure';
import { MappingAccessDeniedError } from './parse';
import type {
  EsmClients,
  EsmStats,
  EventSourcePoller,
  FunctionInvoker,
  InvokeResult,
  KinesisMappingConfig,
  PollerOptions,
} from './types';
import { backoffMs, consumerGetRecords, emptyStats, errorMessage, errorName, Notifier, parseBatchItemFailures, responseObject, pollerDefaults, subscribed } from './util';
import { abortableSleep } from '../lifecycle';

/** Lambda's synchronous invocation payload limit. */
export const MAX_PAYLOAD_BYTES = 6 * 1024 * 1024;
/** Tumbling window state limit per shard; past it the window terminates early. */
export const MAX_WINDOW_STATE_BYTES = 1024 * 1024;
/** Approximate JSON bytes of one event record besides its data, key and sequence number. */
const RECORD_OVERHEAD_BYTES = 400;
const EVENT_OVERHEAD_BYTES = 1024;
/** How often the shard list is refreshed to pick up resharding. */
const SHARD_REFRESH_MS = 10_000;
/** Bytes a shard may buffer ahead of its lanes. */
const MAX_BUFFERED_BYTES = 32 * 1024 * 1024;

interface StreamRecord {
  readonly sequenceNumber: string;
  readonly seq: bigint;
  readonly partitionKey: string;
  readonly data: string; // base64
  readonly arrivalMs: number;
  readonly bytes: number;
}

/** Records processed together, with the retry bookkeeping that survives bisection. */
interface WorkItem {
  records: StreamRecord[];
  retriesUsed: number;
  invokeCount: number;
  lastResult?: InvokeResult;
}

interface TumblingWindow {
  readonly startMs: number;
  readonly endMs: number;
  state: unknown;
}

type Outcome =
  | { kind: 'success'; response: Record<string, unknown> | undefined }
  | { kind: 'partial'; lowest: bigint; response: Record<string, unknown> | undefined }
  | { kind: 'failed'; reason: string }
  | { kind: 'throttled' };

class Lane {
  /** This lane's own abort signal, following the mapping's (each concurrent loop listens on a signal of its own). */
  signal: AbortSignal = new AbortController().signal;
  readonly queue: StreamRecord[] = [];
  queuedBytes = 0;
  /** When the oldest queued record was handed to this lane (batching window start). */
  firstQueuedAt = 0;
  busy = false;
  window?: TumblingWindow;
  /** End of the latest window this lane closed (the next window starts there). */
  lastWindowEndMs?: number;
  readonly wake = new Notifier();
  loop?: Promise<void>;

  push(r: StreamRecord): void {
    if (this.queue.length === 0) this.firstQueuedAt = Date.now();
    this.queue.push(r);
    this.queuedBytes += r.bytes;
  }

  take(n: number): StreamRecord[] {
    const out = this.queue.splice(0, n);
    for (const r of out) this.queuedBytes -= r.bytes;
    if (this.queue.length > 0) this.firstQueuedAt = Date.now();
    return out;
  }

  idle(): boolean {
    return !this.busy && this.queue.length === 0;
  }
}

class ShardWorker {
  readonly lanes: Lane[];
  /** The read loop's own abort signal, following the mapping's. */
  signal: AbortSignal = new AbortController().signal;
  /** Incremented at the start of every GetRecords call. */
  readEpoch = 0;
  /** Epoch of the latest GetRecords that found the shard caught up (no records, nothing behind). */
  lastCaughtUpEpoch = -1;
  /** Clock time (poller clock) at which that read started. */
  caughtUpAt = -Infinity;
  /** Records that arrived before this time (epoch ms) are skipped: the starting position LATEST or AT_TIMESTAMP. */
  skipBeforeMs?: number;
  /** The shard is closed (resharded) and every record was read. */
  closed = false;
  /** Closed and every lane finished: children may start. */
  done = false;
  started = false;
  lastReadSequence?: string;
  readonly space = new Notifier();
  loop?: Promise<void>;

  constructor(readonly shard: Shard, lanes: number, readonly initial: boolean) {
    this.lanes = Array.from({ length: lanes }, () => new Lane());
  }

  get shardId(): string {
    return this.shard.ShardId!;
  }

  buffered(): { records: number; bytes: number } {
    let records = 0;
    let bytes = 0;
    for (const l of this.lanes) {
      records += l.queue.length;
      bytes += l.queuedBytes;
    }
    return { records, bytes };
  }

  lanesIdle(): boolean {
    return this.lanes.every((l) => l.idle());
  }
}

export class KinesisEventSourcePoller implements EventSourcePoller {
  readonly stats: EsmStats = emptyStats();
  private readonly workers = new Map<string, ShardWorker>();
  private readonly now: () => number;
  private readonly log: (line: string) => void;
  private readonly pollIntervalMs: number;
  private readonly retryBaseMs: number;
  private readonly retryCapMs: number;
  private readonly invokeIdentityArn: string;
  private readonly shardsChanged = new Notifier();
  private abort = new AbortController();
  private running = false;
  private initialized = false;
  /** Wall-clock start of the mapping: LATEST means records added from this moment on. */
  private startedAtMs = 0;
  /** Set by closeWindows(): idle lanes close their open window without waiting for its end. */
  private closing = false;
  private main?: Promise<void>;

  constructor(
    readonly config: KinesisMappingConfig,
    private readonly invoker: FunctionInvoker,
    private readonly clients: EsmClients,
    opts: PollerOptions = {},
  ) {
    ({ now: this.now, log: this.log, retryBaseMs: this.retryBaseMs, retryCapMs: this.retryCapMs } = pollerDefaults(opts));
    this.pollIntervalMs = opts.pollIntervalMs ?? 200;
    this.invokeIdentityArn = opts.invokeIdentityArn ?? `arn:aws:iam::${config.accountId}:role/${invoker.functionName}-role`;
    if (config.onFailure?.kind === 'sns' && !clients.sns) {
      throw new Error(`mapping ${config.uuid}: on-failure destination ${config.onFailure.topicArn} needs clients.sns`);
    }
    if (config.consumerArn !== undefined && opts.authorize) checkSubscription(config, config.consumerArn, opts.authorize);
  }

  start(): void {
    if (this.running) return;
    if (!this.config.enabled) {
      this.log(`kinesis ${this.config.streamName} -> ${this.invoker.functionName}: mapping disabled, not polling`);
      return;
    }
    this.running = true;
    this.startedAtMs = Date.now();
    this.abort = new AbortController();
    this.main = this.run().catch((err) => this.log(`kinesis ${this.config.streamName}: poller stopped on error: ${errorMessage(err)}`));
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.abort.abort();
    this.shardsChanged.notify();
    for (const w of this.workers.values()) {
      w.space.notify();
      for (const l of w.lanes) l.wake.notify();
    }
    await this.main;
    const loops: Array<Promise<void> | undefined> = [];
    for (const w of this.workers.values()) loops.push(w.loop, ...w.lanes.map((l) => l.loop));
    await Promise.allSettled(loops.filter((l): l is Promise<void> => l !== undefined));
  }

  async drain(opts: { timeoutMs: number }): Promise<boolean> {
    const deadline = Date.now() + opts.timeoutMs;
    if (!this.running) return false;
    while (!this.initialized) {
      if (!this.running || Date.now() >= deadline) return false;
      await abortableSleep(Math.min(20, deadline - Date.now()));
    }
    try {
      await this.refreshShards();
    } catch (err) {
      this.log(`kinesis ${this.config.streamName}: ListShards failed during drain: ${errorMessage(err)}`);
    }
    const marks = new Map<ShardWorker, number>();
    for (const w of this.workers.values()) marks.set(w, w.readEpoch);
    for (;;) {
      let drained = true;
      for (const [w, mark] of marks) {
        const reachedEnd = w.done || (w.closed && w.lanesIdle()) || (w.started && w.lastCaughtUpEpoch > mark && w.lanesIdle());
        if (!reachedEnd) drained = false;
      }
      if (drained) return true;
      if (!this.running || Date.now() >= deadline) return false;
      await abortableSleep(Math.min(25, deadline - Date.now()));
    }
  }

  /**
   * Ends every open tumbling window now, for the end of a local run (call it after drain(), when no record is in
   * flight): each lane with an open window gets its final invocation (`isFinalInvokeForWindow`, the window's own
   * start and end, the aggregated state) as when the window's end passes, only without waiting for it. Then, once per
   * shard that closed a window, one final invocation for the window after the latest one, without records and with
   * an empty state: in AWS that window would be closed by later traffic; a consumer that acts on a window when the
   * next one closes (the QualityProfiler evaluates the previous window) thereby sees the run's last window closed.
   * Resolves with what was sent; `complete` is false when a final invocation did not succeed within the timeout.
   */
  async closeWindows(opts: { timeoutMs: number }): Promise<{ closed: number; followUps: number; complete: boolean }> {
    const result = { closed: 0, followUps: 0, complete: false };
    if (!this.running || this.config.tumblingWindowInSeconds <= 0) {
      result.complete = true;
      return result;
    }
    const deadline = Date.now() + opts.timeoutMs;
    const lanes = [...this.workers.values()].flatMap((w) => w.lanes.map((lane) => ({ w, lane })));
    const open = lanes.filter(({ lane }) => lane.window !== undefined).length;
    // The lane loops close the windows (no race with a batch or a natural close of the same window).
    this.closing = true;
    try {
      for (const { lane } of lanes) lane.wake.notify();
      while (lanes.some(({ lane }) => lane.window !== undefined || lane.busy)) {
        if (!this.running || Date.now() >= deadline) return result;
        await abortableSleep(Math.min(20, deadline - Date.now()));
      }
    } finally {
      this.closing = false;
    }
    result.closed = open;
    const ends = lanes.map(({ lane }) => lane.lastWindowEndMs).filter((e): e is number => e !== undefined);
    if (ends.length === 0) {
      result.complete = true;
      return result;
    }
    const size = this.config.tumblingWindowInSeconds * 1000;
    const startMs = Math.max(...ends);
    const next: TumblingWindow = { startMs, endMs: startMs + size, state: {} };
    for (const w of new Set(lanes.filter((l) => l.lane.lastWindowEndMs !== undefined).map((l) => l.w))) {
      // A lane of its own: the shard's lane loops keep running and must not see this window as theirs.
      const lane = new Lane();
      lane.window = { ...next, state: {} };
      if (!(await this.finalInvoke(w, lane, false, deadline))) return result;
      result.followUps++;
    }
    result.complete = true;
    return result;
  }

  // ---- shards ----

  private async run(): Promise<void> {
    let attempt = 0;
    while (this.running && !this.initialized) {
      try {
        await this.refreshShards();
        this.initialized = true;
      } catch (err) {
        this.log(`kinesis ${this.config.streamName}: ListShards failed: ${errorMessage(err)}`);
        await abortableSleep(backoffMs(attempt++, this.retryBaseMs, this.retryCapMs), this.abort.signal);
      }
    }
    while (this.running) {
      await this.shardsChanged.wait(SHARD_REFRESH_MS, this.abort.signal);
      if (!this.running) break;
      try {
        await this.refreshShards();
      } catch (err) {
        this.log(`kinesis ${this.config.streamName}: ListShards failed: ${errorMessage(err)}`);
      }
    }
  }

  private async refreshShards(): Promise<void> {
    const shards: Shard[] = [];
    let nextToken: string | undefined;
    for (let page = 0; page < 1000; page++) {
      const res = await this.clients.kinesis.send(
        new ListShardsCommand(nextToken ? { NextToken: nextToken } : { StreamName: this.config.streamName }),
        { abortSignal: this.abort.signal },
      );
      shards.push(...(res.Shards ?? []));
      nextToken = res.NextToken;
      if (!nextToken) break;
    }
    const firstListing = this.workers.size === 0 && !this.initialized;
    for (const shard of shards) {
      if (!shard.ShardId || this.workers.has(shard.ShardId)) continue;
      this.workers.set(shard.ShardId, new ShardWorker(shard, this.config.parallelizationFactor, firstListing));
    }
    this.startReadyWorkers();
  }

  /** Starts shards whose parents are fully processed (or unknown to this mapping). */
  private startReadyWorkers(): void {
    if (!this.running) return;
    for (const w of this.workers.values()) {
      if (w.started) continue;
      const parents = [w.shard.ParentShardId, w.shard.AdjacentParentShardId].filter((p): p is string => !!p);
      if (parents.some((p) => this.workers.has(p) && !this.workers.get(p)!.done)) continue;
      w.started = true;
      // One signal per concurrent loop, each following the mapping's: the SDK and the waits add an abort listener per
      // pending call, and all loops on the mapping's one signal would pass Node's 10-listener warning.
      w.signal = AbortSignal.any([this.abort.signal]);
      for (const lane of w.lanes) lane.signal = AbortSignal.any([this.abort.signal]);
      for (let i = 0; i < w.lanes.length; i++) w.lanes[i].loop = this.laneLoop(w, w.lanes[i]);
      w.loop = this.readLoop(w);
    }
  }

  private async shardIterator(w: ShardWorker): Promise<string | undefined> {
    const base = { StreamName: this.config.streamName, ShardId: w.shardId };
    let input: GetShardIteratorCommandInput;
    if (w.lastReadSequence) {
      input = { ...base, ShardIteratorType: 'AFTER_SEQUENCE_NUMBER', StartingSequenceNumber: w.lastReadSequence };
    } else if (!w.initial) {
      // Shards created after the mapping started (resharding) are read from their beginning, as Lambda does.
      input = { ...base, ShardIteratorType: 'TRIM_HORIZON' };
    } else {
      // LATEST = records added after the mapping was created; AT_TIMESTAMP = records that arrived from the timestamp
      // on. Both are read from TRIM_HORIZON, skipping what arrived earlier: kinesalite never answers GetShardIterator
      // AT_TIMESTAMP when no record arrived at or after the timestamp (an empty stream at the start of a run), and
      // taking the time at start() rather than when the shard's first iterator is requested keeps records put right
      // after start() from being skipped. (Arrival times grow along a shard, so the skipping ends at the first record kept.)
      input = { ...base, ShardIteratorType: 'TRIM_HORIZON' };
      if (this.config.startingPosition === 'AT_TIMESTAMP') w.skipBeforeMs = this.config.startingPositionTimestamp! * 1000;
      else if (this.config.startingPosition === 'LATEST') w.skipBeforeMs = this.startedAtMs;
    }
    const command = new GetShardIteratorCommand(input);
    const consumer = this.config.consumerArn;
    const send = consumer ? subscribed(command, consumer, this.consumerLabel()) : command;
    const res = await this.clients.kinesis.send(send, { abortSignal: w.signal });
    return res.ShardIterator;
  }

  private async readLoop(w: ShardWorker): Promise<void> {
    const maxBufferedRecords = Math.max(1_000, this.config.batchSize * this.config.parallelizationFactor * 2);
    let iterator: string | undefined;
    let failures = 0;
    while (this.running) {
      try {
        if (!iterator) {
          iterator = await this.shardIterator(w);
          if (!iterator) break; // closed shard fully read
        }
        const buffered = w.buffered();
        if (buffered.records >= maxBufferedRecords || buffered.bytes >= MAX_BUFFERED_BYTES) {
          await w.space.wait(this.pollIntervalMs, w.signal);
          continue;
        }
        const epoch = ++w.readEpoch;
        const startedAt = this.now();
        const res = await this.clients.kinesis.send(
          consumerGetRecords(
            { ShardIterator: iterator, Limit: Math.min(10_000, maxBufferedRecords - buffered.records) },
            this.consumerLabel(),
            this.config.consumerArn,
          ),
          { abortSignal: w.signal },
        );
        failures = 0;
        const records = res.Records ?? [];
        for (const r of records) {
          const data = Buffer.from(r.Data ?? new Uint8Array()).toString('base64');
          const rec: StreamRecord = {
            sequenceNumber: r.SequenceNumber!,
            seq: BigInt(r.SequenceNumber!),
            partitionKey: r.PartitionKey!,
            data,
            arrivalMs: r.ApproximateArrivalTimestamp?.getTime() ?? startedAt,
            // The record's JSON size in the event (the 6 MB payload limit): its fields plus the two ARNs every record carries.
            bytes: data.length + r.PartitionKey!.length + 2 * r.SequenceNumber!.length + w.shardId.length + RECORD_OVERHEAD_BYTES
              + this.invokeIdentityArn.length + this.config.streamArn.length,
          };
          w.lastReadSequence = rec.sequenceNumber;
          if (w.skipBeforeMs !== undefined) {
            if (rec.arrivalMs < w.skipBeforeMs) continue;
            w.skipBeforeMs = undefined;
          }
          const lane = w.lanes[laneOf(rec.partitionKey, w.lanes.length)];
          lane.push(rec);
        }
        for (const l of w.lanes) l.wake.notify();
        if (records.length === 0 && (res.MillisBehindLatest ?? 0) === 0) {
          w.lastCaughtUpEpoch = epoch;
          w.caughtUpAt = startedAt;
        }
        iterator = res.NextShardIterator;
        if (!iterator) break;
        if (records.length === 0) await abortableSleep(this.pollIntervalMs, w.signal);
      } catch (err) {
        if (!this.running) break;
        const name = errorName(err);
        if (name === 'ExpiredIteratorException' || name === 'InvalidArgumentException') iterator = undefined;
        // Read throttling (the shard's shared GetRecords limits) is counted by the emulator host per consumer, not logged.
        if (name !== 'ProvisionedThroughputExceededException') this.log(`kinesis ${this.config.streamName} ${w.shardId}: ${name || 'error'} reading: ${errorMessage(err)}`);
        await abortableSleep(backoffMs(failures++, this.retryBaseMs, this.retryCapMs), w.signal);
      }
    }
    if (!this.running) return;
    w.closed = true;
    for (const l of w.lanes) l.wake.notify();
    await Promise.allSettled(w.lanes.map((l) => l.loop));
    if (!this.running) return;
    w.done = true;
    this.log(`kinesis ${this.config.streamName} ${w.shardId}: shard closed and fully processed`);
    this.startReadyWorkers();
  }

  /** The mapping's name in the traffic report: `esm:<function>` (shared GetRecords), `efo:<function>` (its own consumer). */
  private consumerLabel(): string {
    return `${this.config.consumerArn ? 'efo' : 'esm'}:${this.invoker.functionName}`;
  }

  // ---- lanes ----

  private async laneLoop(w: ShardWorker, lane: Lane): Promise<void> {
    const windowMs = this.config.maximumBatchingWindowInSeconds * 1000;
    while (this.running) {
      if (lane.queue.length === 0) {
        if (lane.window && this.windowComplete(w, lane)) {
          await this.finalInvoke(w, lane, false);
          continue;
        }
        if (w.closed && !lane.window) return;
        await lane.wake.wait(this.pollIntervalMs, lane.signal);
        continue;
      }
      // Batching window: wait for a full batch, a full payload, the window's end, or the end of the shard.
      for (let i = 0; i < 100_000 && this.running; i++) {
        const waited = Date.now() - lane.firstQueuedAt;
        if (
          waited >= windowMs ||
          lane.queue.length >= this.config.batchSize ||
          lane.queuedBytes >= MAX_PAYLOAD_BYTES ||
          w.closed ||
          (this.config.tumblingWindowInSeconds > 0 && this.spansWindows(lane))
        ) break;
        await lane.wake.wait(windowMs - waited, lane.signal);
      }
      if (!this.running) return;
      const records = this.nextBatch(lane);
      lane.busy = true;
      try {
        w.space.notify();
        this.stats.batches++;
        await this.processBatch(w, lane, records);
      } finally {
        lane.busy = false;
      }
    }
  }

  /** Takes up to BatchSize records within the payload limit (and, with tumbling windows, within one window). */
  private nextBatch(lane: Lane): StreamRecord[] {
    let n = 0;
    let bytes = EVENT_OVERHEAD_BYTES;
    const window = this.config.tumblingWindowInSeconds > 0 ? this.windowOf(lane.queue[0]).startMs : undefined;
    while (n < lane.queue.length && n < this.config.batchSize) {
      const r = lane.queue[n];
      if (n > 0 && bytes + r.bytes > MAX_PAYLOAD_BYTES) break;
      if (window !== undefined && this.windowOf(r).startMs !== window) break;
      bytes += r.bytes;
      n++;
    }
    return lane.take(n);
  }

  private async processBatch(w: ShardWorker, lane: Lane, records: StreamRecord[]): Promise<void> {
    const stack: WorkItem[] = [{ records, retriesUsed: 0, invokeCount: 0 }];
    let throttles = 0;
    while (stack.length > 0 && this.running) {
      const item = stack[stack.length - 1];

      if (this.config.maximumRecordAgeInSeconds >= 0) {
        const oldest = this.now() - this.config.maximumRecordAgeInSeconds * 1000;
        const expired = item.records.filter((r) => r.arrivalMs < oldest);
        if (expired.length > 0) {
          this.stats.expiredByAge += expired.length;
          await this.giveUp(w, lane, { ...item, records: expired }, 'RecordAgeExceeded');
          item.records = item.records.filter((r) => r.arrivalMs >= oldest);
          if (item.records.length === 0) {
            stack.pop();
            continue;
          }
        }
      }

      if (this.config.tumblingWindowInSeconds > 0) {
        const win = this.windowOf(item.records[0]);
        if (lane.window && lane.window.startMs !== win.startMs) await this.finalInvoke(w, lane, false);
        if (!this.running) return;
        lane.window ??= { ...win, state: {} };
      }

      const event = this.buildEvent(w, lane, item.records, false, false);
      const outcome = await this.invoke(event, item);
      if (!this.running && outcome.kind !== 'success') return;

      if (outcome.kind === 'throttled') {
        await abortableSleep(backoffMs(throttles++, this.retryBaseMs, this.retryCapMs), lane.signal);
        continue;
      }
      throttles = 0;
      if (outcome.kind === 'success') {
        stack.pop();
        if (this.config.tumblingWindowInSeconds > 0) await this.carryState(w, lane, outcome.response);
        continue;
      }
      if (outcome.kind === 'partial') {
        // Checkpoint at the lowest failed sequence number: everything from it on is delivered again.
        if (this.config.tumblingWindowInSeconds > 0) await this.carryState(w, lane, outcome.response);
        // (With BisectBatchOnFunctionError, Lambda "bisects at the returned sequence number": the same thing.)
        item.records = item.records.filter((r) => r.seq >= outcome.lowest);
      } else if (this.config.bisectBatchOnFunctionError && item.records.length > 1) {
        // Splitting does not consume a retry attempt.
        const half = Math.ceil(item.records.length / 2);
        stack.pop();
        stack.push({ ...item, records: item.records.slice(half) }, { ...item, records: item.records.slice(0, half) });
        this.stats.bisections++;
        this.log(`kinesis ${w.shardId}: batch of ${item.records.length} failed (${outcome.reason}), bisecting`);
        continue;
      }
      if (this.config.maximumRetryAttempts >= 0 && item.retriesUsed >= this.config.maximumRetryAttempts) {
        stack.pop();
        await this.giveUp(w, lane, item, 'RetryAttemptsExhausted');
        continue;
      }
      item.retriesUsed++;
      this.stats.retries++;
      await abortableSleep(backoffMs(item.retriesUsed - 1, this.retryBaseMs, this.retryCapMs), lane.signal);
    }
  }

  private async invoke(event: Record<string, unknown>, item: WorkItem): Promise<Outcome> {
    const records = item.records;
    this.stats.invocations++;
    this.stats.iteratorAgeMs = Math.max(0, this.now() - records[records.length - 1].arrivalMs);
    let result: InvokeResult;
    try {
      result = await this.invoker.invoke(event);
    } catch (err) {
      result = { ok: false, errorType: 'crash', message: `invoker failed: ${errorMessage(err)}`, durationMs: 0 };
    }
    if (!result.ok && result.errorType === 'throttled') return { kind: 'throttled' };
    item.invokeCount++;
    item.lastResult = result;
    if (!result.ok) {
      this.stats.functionErrors++;
      return { kind: 'failed', reason: `${result.errorType}: ${result.message}` };
    }
    this.stats.recordsDelivered += records.length;
    const response = responseObject(result.payload);
    if (this.config.tumblingWindowInSeconds > 0 && !(response && 'state' in response)) {
      return { kind: 'failed', reason: 'tumbling window response has no state' };
    }
    if (!this.config.reportBatchItemFailures) return { kind: 'success', response };
    const failures = parseBatchItemFailures(result.payload, new Set(records.map((r) => r.sequenceNumber)));
    if (failures.kind === 'success') return { kind: 'success', response };
    this.stats.partialFailures++;
    if (failures.kind === 'malformed') return { kind: 'failed', reason: `malformed batchItemFailures: ${failures.reason}` };
    let lowest = BigInt(failures.itemIdentifiers[0]);
    for (const id of failures.itemIdentifiers) {
      const n = BigInt(id);
      if (n < lowest) lowest = n;
    }
    return { kind: 'partial', lowest, response };
  }

  /** Sends records Lambda gives up on to the on-failure destination (retrying until it accepts them). */
  private async giveUp(w: ShardWorker, lane: Lane, item: WorkItem, condition: FailureCondition): Promise<void> {
    const records = item.records;
    const destination = this.config.onFailure;
    if (!destination) {
      this.stats.discardedWithoutDestination += records.length;
      this.log(`kinesis ${w.shardId}: ${condition}: discarded ${records.length} record(s) ${records[0].sequenceNumber}..${records[records.length - 1].sequenceNumber} (no on-failure destination)`);
      return;
    }
    const failed: FailedBatch = {
      condition,
      approximateInvokeCount: item.invokeCount,
      ...(item.lastResult ? { lastResult: item.lastResult } : {}),
      batchInfo: {
        shardId: w.shardId,
        startSequenceNumber: records[0].sequenceNumber,
        endSequenceNumber: records[records.length - 1].sequenceNumber,
        approximateArrivalOfFirstRecord: new Date(records[0].arrivalMs).toISOString(),
        approximateArrivalOfLastRecord: new Date(records[records.length - 1].arrivalMs).toISOString(),
        batchSize: records.length,
        streamArn: this.config.streamArn,
      },
      event: this.buildEvent(w, lane, records, false, false),
    };
    for (let attempt = 0; this.running; attempt++) {
      try {
        const now = this.now();
        const where = await sendOnFailure(destination, this.clients, this.config.uuid, this.invoker.functionArn, failed, now, lane.signal);
        this.stats.discardedToOnFailure += records.length;
        this.log(`kinesis ${w.shardId}: ${condition}: ${records.length} record(s) sent to ${where}`);
        return;
      } catch (err) {
        if (!this.running) return;
        this.log(`kinesis ${w.shardId}: on-failure destination rejected the batch (${errorMessage(err)}); retrying`);
        await abortableSleep(backoffMs(attempt, this.retryBaseMs, this.retryCapMs), lane.signal);
      }
    }
  }

  // ---- events and tumbling windows ----

  private buildEvent(w: ShardWorker, lane: Lane, records: StreamRecord[], finalInvoke: boolean, terminatedEarly: boolean): Record<string, unknown> {
    const event: Record<string, unknown> = {
      Records: records.map((r) => ({
        kinesis: {
          kinesisSchemaVersion: '1.0',
          partitionKey: r.partitionKey,
          sequenceNumber: r.sequenceNumber,
          data: r.data,
          approximateArrivalTimestamp: r.arrivalMs / 1000,
        },
        eventSource: 'aws:kinesis',
        eventVersion: '1.0',
        eventID: `${w.shardId}:${r.sequenceNumber}`,
        eventName: 'aws:kinesis:record',
        invokeIdentityArn: this.invokeIdentityArn,
        awsRegion: this.config.region,
        eventSourceARN: this.config.streamArn,
      })),
    };
    if (this.config.tumblingWindowInSeconds > 0 && lane.window) {
      event.window = { start: isoSeconds(lane.window.startMs), end: isoSeconds(lane.window.endMs) };
      event.state = lane.window.state;
      event.shardId = w.shardId;
      event.eventSourceARN = this.config.streamArn;
      event.isFinalInvokeForWindow = finalInvoke;
      event.isWindowTerminatedEarly = terminatedEarly;
    }
    return event;
  }

  private windowOf(r: StreamRecord): { startMs: number; endMs: number } {
    const size = this.config.tumblingWindowInSeconds * 1000;
    const startMs = Math.floor(r.arrivalMs / size) * size;
    return { startMs, endMs: startMs + size };
  }

  private spansWindows(lane: Lane): boolean {
    const first = this.windowOf(lane.queue[0]).startMs;
    return this.windowOf(lane.queue[lane.queue.length - 1]).startMs !== first;
  }

  /**
   * An idle lane's window is over once its end has passed and the shard was read up to a point after that end
   * (or when closeWindows() ends it).
   */
  private windowComplete(w: ShardWorker, lane: Lane): boolean {
    return this.closing || w.closed || (this.now() >= lane.window!.endMs && w.caughtUpAt >= lane.window!.endMs);
  }

  private async carryState(w: ShardWorker, lane: Lane, response: Record<string, unknown> | undefined): Promise<void> {
    if (!lane.window || !response || !('state' in response)) return;
    lane.window.state = response.state;
    const size = Buffer.byteLength(JSON.stringify(response.state ?? null));
    if (size > MAX_WINDOW_STATE_BYTES) {
      this.log(`kinesis ${w.shardId}: window state ${size} bytes exceeds 1 MB, terminating the window early`);
      await this.finalInvoke(w, lane, true);
    }
  }

  /**
   * The final invocation of a window (no records, the aggregated state, isFinalInvokeForWindow). Lambda holds the
   * shard until it succeeds. After an early termination the same window continues with a fresh state.
   */
  private async finalInvoke(w: ShardWorker, lane: Lane, terminatedEarly: boolean, deadline = Infinity): Promise<boolean> {
    const window = lane.window!;
    const event = this.buildEvent(w, lane, [], true, terminatedEarly);
    const wasBusy = lane.busy;
    lane.busy = true;
    try {
      for (let attempt = 0; this.running && Date.now() < deadline; attempt++) {
        this.stats.invocations++;
        let result: InvokeResult;
        try {
          result = await this.invoker.invoke(event);
        } catch (err) {
          result = { ok: false, errorType: 'crash', message: errorMessage(err), durationMs: 0 };
        }
        if (result.ok) {
          lane.window = terminatedEarly ? { startMs: window.startMs, endMs: window.endMs, state: {} } : undefined;
          if (!terminatedEarly) lane.lastWindowEndMs = window.endMs;
          return true;
        }
        if (result.errorType !== 'throttled') this.stats.functionErrors++;
        this.log(`kinesis ${w.shardId}: final window invocation failed (${result.errorType}: ${result.message}); retrying`);
        await abortableSleep(backoffMs(attempt, this.retryBaseMs, this.retryCapMs), lane.signal);
      }
      return false;
    } finally {
      lane.busy = wasBusy;
    }
  }
}

/**
 * What Lambda checks of the execution role when a mapping on a stream consumer is created: SubscribeToShard and
 * DescribeStreamConsumer on the consumer, DescribeStream on its stream. A denial refuses the mapping.
 */
function checkSubscription(config: KinesisMappingConfig, consumerArn: string, authorize: NonNullable<PollerOptions['authorize']>): void {
  const calls = [
    { action: 'kinesis:SubscribeToShard', resource: consumerArn },
    { action: 'kinesis:DescribeStreamConsumer', resource: consumerArn },
    { action: 'kinesis:DescribeStream', resource: config.streamArn },
  ];
  const denied = calls.filter((c) => !authorize(c).allowed);
  if (denied.length > 0) throw new MappingAccessDeniedError(consumerArn, denied.map((c) => `${c.action} on ${c.resource}`));
}

function laneOf(partitionKey: string, lanes: number): number {
  if (lanes === 1) return 0;
  return createHash('md5').update(partitionKey).digest().readUInt32BE(0) % lanes;
}

/** `2020-12-09T07:04:00Z`: window bounds as Lambda writes them (whole seconds). */
function isoSeconds(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}
