/** Kinesis shard routing (MD5 of the partition key within a shard's hash key range) and per-second budgets. */
import { createHash } from 'node:crypto';
import { PhoenixError } from '../../core/errors';

/** A shard as ListShards / DescribeStream return it (only the fields routing needs). */
export interface ShardShape {
  readonly ShardId: string;
  readonly HashKeyRange: { readonly StartingHashKey: string; readonly EndingHashKey: string };
  /** A closed shard (after a reshard) has an EndingSequenceNumber and takes no writes. */
  readonly SequenceNumberRange?: { readonly StartingSequenceNumber?: string; readonly EndingSequenceNumber?: string };
}

/** The hash key of a record: the explicit hash key, else MD5(partition key, UTF-8) read as a 128-bit unsigned integer. */
export function hashKey(partitionKey: string, explicitHashKey?: string): bigint {
  if (explicitHashKey !== undefined) return BigInt(explicitHashKey);
  return BigInt(`0x${createHash('md5').update(partitionKey, 'utf8').digest('hex')}`);
}

/** The open shard whose hash key range holds the record's hash key. */
export function shardFor(shards: readonly ShardShape[], partitionKey: string, explicitHashKey?: string): string {
  const key = hashKey(partitionKey, explicitHashKey);
  const shard = shards.find((s) => s.SequenceNumberRange?.EndingSequenceNumber === undefined
    && BigInt(s.HashKeyRange.StartingHashKey) <= key && key <= BigInt(s.HashKeyRange.EndingHashKey));
  if (!shard) throw new PhoenixError('LIMITS_NO_SHARD', `no open shard holds hash key ${key} (partition key ${JSON.stringify(partitionKey)})`);
  return shard.ShardId;
}

/**
 * A budget per whole second of the clock (`floor(now / 1000)`): what a second's calls use is counted against the
 * limit of that second, and nothing carries over (Kinesis limits are "per second", without a documented burst).
 * A scaled limit below 1 per second is a budget of `limit * n` per window of n = ceil(1 / limit) seconds, and an
 * amount over a window's budget (a record larger than a scaled byte limit) goes into an unused window and uses up
 * the following ones, so the average rate stays the limit.
 */
export class PerSecondBudget {
  private window = Number.NaN;
  private used = 0;
  private readonly windowMs: number;
  private readonly perWindow: number;

  constructor(limit: number) {
    const seconds = limit >= 1 ? 1 : Math.ceil(1 / limit);
    this.windowMs = seconds * 1000;
    this.perWindow = limit * seconds;
  }

  /** Takes `amount` if it fits in this window's budget; false (and nothing taken) otherwise. A negative amount gives back. */
  take(amount: number, nowMs: number): boolean {
    const window = Math.floor(nowMs / this.windowMs);
    if (window !== this.window) {
      this.used = Number.isNaN(this.window) ? 0 : Math.max(0, this.used - this.perWindow * (window - this.window));
      this.window = window;
    }
    if (amount > 0 && this.used > 0 && this.used + amount > this.perWindow) return false;
    this.used += amount;
    return true;
  }
}

/**
 * Bytes read ahead of a rate: a read may return more than one second's worth (GetRecords up to 10 MiB), and the
 * debt is paid back at `bytesPerSecond`; while it is not, reads are refused (or, for push consumers, delayed).
 */
export class ReadDebt {
  private debt = 0;
  private at = 0;

  constructor(private readonly bytesPerSecond: number) {}

  /** Milliseconds until the debt is paid (0: a read may go now). */
  waitMs(nowMs: number): number {
    this.settle(nowMs);
    return this.debt < 1 ? 0 : Math.ceil((this.debt / this.bytesPerSecond) * 1000);
  }

  add(bytes: number, nowMs: number): void {
    this.settle(nowMs);
    this.debt += bytes;
  }

  /** Pays back what the time since the last settle allows (less than a byte left counts as paid: float residue). */
  private settle(nowMs: number): void {
    this.debt = Math.max(0, this.debt - ((nowMs - this.at) / 1000) * this.bytesPerSecond);
    this.at = nowMs;
  }
}
