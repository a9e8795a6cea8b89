/**
 * Reads a failed batch back from its stream (for on-failure records that carry metadata only):
 * GetShardIterator AT_SEQUENCE_NUMBER startSequenceNumber, then GetRecords following NextShardIterator until a record
 * beyond endSequenceNumber (sequence numbers compared as BigInt), the end of the shard, or the tip of the stream.
 * Bounded in calls and time. Records already trimmed (past the stream's retention) cannot be read: they are reported
 * as missing.
 */
import { GetRecordsCommand, GetShardIteratorCommand, type KinesisClient } from '@aws-sdk/client-kinesis';
import { classifyError, describeError, fullJitterDelayMs } from '../core';
import { clockOf, type ReplayClock } from './clock';
import type { BatchInfo, FailedRecord } from './on-failure';
import { streamRef } from './records';

export interface ReadBackResult {
  readonly records: FailedRecord[];
  /**
   * Set when some records of the batch could not be read: why, and the first sequence number known to be missing
   * (the batch start when the first record found is later, or none was found).
   */
  readonly missing?: { readonly reason: string; readonly count?: number };
}

export interface ReadBackOptions extends ReplayClock {
  /** GetRecords calls at most. Default 200. */
  readonly maxCalls?: number;
  /** Give up at this epoch ms. */
  readonly deadlineMs?: number;
}

export async function readBatchBack(kinesis: KinesisClient, info: BatchInfo, opts: ReadBackOptions = {}): Promise<ReadBackResult> {
  const { now, sleep } = clockOf(opts);
  const maxCalls = opts.maxCalls ?? 200;
  const start = BigInt(info.startSequenceNumber);
  const end = BigInt(info.endSequenceNumber);
  let iterator: string | undefined;
  try {
    iterator = (await kinesis.send(new GetShardIteratorCommand({
      ...streamRef(info.streamArn),
      ShardId: info.shardId,
      ShardIteratorType: 'AT_SEQUENCE_NUMBER',
      StartingSequenceNumber: info.startSequenceNumber,
    }))).ShardIterator;
  } catch (err) {
    const name = (err as Error)?.name;
    if (name === 'ResourceNotFoundException' || name === 'InvalidArgumentException') {
      return { records: [], missing: { reason: `the records cannot be read back (${describeError(err)})`, count: info.batchSize } };
    }
    throw err;
  }
  const records: FailedRecord[] = [];
  let calls = 0;
  let throttled = 0;
  let done = false;
  while (iterator && !done && calls < maxCalls && (opts.deadlineMs === undefined || now() < opts.deadlineMs)) {
    calls++;
    let res;
    try {
      res = await kinesis.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 1000 }));
    } catch (err) {
      const c = classifyError(err);
      if (c.kind === 'transient' && throttled < 8) {
        await sleep(fullJitterDelayMs(throttled++, { baseMs: 200, capMs: 5_000 }));
        continue;
      }
      throw err;
    }
    for (const r of res.Records ?? []) {
      const seq = BigInt(r.SequenceNumber!);
      if (seq > end) {
        done = true;
        break;
      }
      if (seq < start) continue;
      records.push({
        data: Buffer.from(r.Data ?? new Uint8Array()).toString('base64'),
        partitionKey: r.PartitionKey ?? '',
        sequenceNumber: r.SequenceNumber!,
        approximateArrivalTimestamp: r.ApproximateArrivalTimestamp ? r.ApproximateArrivalTimestamp.getTime() / 1000 : undefined,
        shardId: info.shardId,
        streamArn: info.streamArn,
      });
    }
    if ((res.Records ?? []).length === 0 && (res.MillisBehindLatest ?? 0) === 0) break;
    iterator = res.NextShardIterator;
  }
  const reachedEnd = done || records.some((r) => BigInt(r.sequenceNumber) === end);
  if (records.length === 0) return { records, missing: { reason: 'no record of the batch is left in the stream (past its retention)', count: info.batchSize } };
  if (BigInt(records[0].sequenceNumber) !== start) {
    const count = info.batchSize !== undefined ? Math.max(0, info.batchSize - records.length) : undefined;
    return { records, missing: { reason: 'the first records of the batch are past the stream\'s retention', count } };
  }
  if (!reachedEnd) return { records, missing: { reason: `read back stopped after ${calls} GetRecords calls before the end of the batch` } };
  return { records };
}
