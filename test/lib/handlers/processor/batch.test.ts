import { afterEach, describe, expect, it } from 'vitest';
import { batchDeps, fixture } from './support';
import { TransientError } from '../../../../lib/core';
import type { SinkPort } from '../../../../lib/handlers/ports/types';
import { groupByPartitionKey, lowestNotCompleted, processBatch, runGroups } from '../../../../lib/handlers/processor/batch';
import { captureStdout, kinesisEvent, kinesisRecord, lambdaContext } from '../support/kinesis';

let out: ReturnType<typeof captureStdout> | undefined;
afterEach(() => out?.restore());

describe('batch orchestration', () => {
  it('lowestNotCompleted compares sequence numbers as integers', () => {
    const records = [kinesisRecord('a', 0, { sequenceNumber: '100' }), kinesisRecord('b', 1, { sequenceNumber: '99' }), kinesisRecord('c', 2, { sequenceNumber: '1000' })];
    expect(lowestNotCompleted(records, Uint8Array.from([0, 0, 0]))).toBe('99');
    expect(lowestNotCompleted(records, Uint8Array.from([0, 1, 0]))).toBe('100');
    expect(lowestNotCompleted(records, Uint8Array.from([1, 1, 1]))).toBeUndefined();
  });

  it('groupByPartitionKey keeps batch order within a key; runGroups starts no group once one failed', async () => {
    const records = ['a', 'b', 'a', 'b', 'a'].map((pk, i) => kinesisRecord('x', i, { partitionKey: pk }));
    expect(groupByPartitionKey(records)).toEqual([[0, 2, 4], [1, 3]]);
    const started: number[][] = [];
    await runGroups([[0, 2], [1], [3]], 1, async (g) => {
      started.push([...g]);
      return g[0] !== 1;
    }, () => false);
    expect(started).toEqual([[0, 2], [1]]);
    const running: number[] = [];
    let peak = 0;
    await runGroups([[0], [1], [2], [3]], 2, async (g) => {
      running.push(g[0]);
      peak = Math.max(peak, running.length);
      await new Promise((r) => setTimeout(r, 5));
      running.splice(running.indexOf(g[0]), 1);
      return true;
    }, () => false);
    expect(peak).toBe(2);
  });

  it('by default writes up to 100 partition keys at once (CONFIG_DEFAULTS.recordConcurrency)', async () => {
    let inFlight = 0;
    let peak = 0;
    const slow: SinkPort = {
      write: async () => {
        peak = Math.max(peak, ++inFlight);
        await new Promise((r) => setTimeout(r, 2));
        inFlight--;
        return 'written';
      },
    };
    const f = fixture({}, { sink: slow });
    expect(f.config.recordConcurrency).toBe(100);
    const items = Array.from({ length: 150 }, (_, i) => ({ data: { orderId: `o-${i}` }, opts: { partitionKey: `k-${i}` } }));
    out = captureStdout();
    const res = await processBatch(batchDeps(f), kinesisEvent(items).Records, lambdaContext(f.clock));
    out.restore();
    expect(res.batchItemFailures).toEqual([]);
    expect(peak).toBe(100);
  });

  it('processes a batch: writes, dead letters, one summary line and no failure', async () => {
    out = captureStdout();
    const f = fixture();
    const res = await processBatch(batchDeps(f), kinesisEvent([{ orderId: 'o-1' }, 'bad', { orderId: 'o-2' }]).Records, lambdaContext(f.clock));
    const summary = out.json().find((l) => l.message === 'batch processed');
    out.restore();
    expect(res).toEqual({ batchItemFailures: [] });
    expect(f.sink.items.size).toBe(2);
    expect(f.dlq.messages).toHaveLength(1);
    expect(summary).toMatchObject({ records: 3, written: 2, deadLettered: 1, notCompleted: 0 });
  });

  it('stops at a record that keeps failing and reports it as the only batchItemFailure', async () => {
    out = captureStdout();
    const sink: SinkPort = {
      write: async (env) => {
        if ((env.payload as { orderId: string }).orderId === 'o-2') throw new TransientError('throttled');
        return 'written';
      },
    };
    const f = fixture({ PHX_RETRY_MAX_ATTEMPTS: '2', PHX_RETRY_BASE_MS: '1', PHX_RETRY_CAP_MS: '2' }, { sink });
    const records = kinesisEvent([{ orderId: 'o-1' }, { orderId: 'o-2' }, { orderId: 'o-3' }]).Records;
    const res = await processBatch(batchDeps(f), records, lambdaContext(f.clock));
    out.restore();
    expect(res).toEqual({ batchItemFailures: [{ itemIdentifier: records[1].kinesis.sequenceNumber }] });
  });

  it('starts no record when the invocation time is nearly spent', async () => {
    out = captureStdout();
    const f = fixture();
    const records = kinesisEvent([{ orderId: 'o-1' }]).Records;
    const res = await processBatch(batchDeps(f), records, lambdaContext(f.clock, 500));
    out.restore();
    expect(res).toEqual({ batchItemFailures: [{ itemIdentifier: records[0].kinesis.sequenceNumber }] });
    expect(f.sink.calls).toHaveLength(0);
  });
});
