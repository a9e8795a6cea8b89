import { afterEach, describe, expect, it } from 'vitest';
import { batchDeps, fixture } from './support';
import { PermanentError, TransientError, type Envelope } from '../../../../lib/core';
import type { SinkPort, SinkWriteMeta } from '../../../../lib/handlers/ports/types';
import { processBatch } from '../../../../lib/handlers/processor/batch';
import { captureStdout, kinesisEvent, lambdaContext } from '../support/kinesis';

let out: ReturnType<typeof captureStdout> | undefined;
afterEach(() => out?.restore());

const day = (d: number): string => `2026-01-0${d}T00:00:00.000Z`;
const order = (id: string, d: number, price = d) => ({ orderId: id, eventTime: day(d), price });

/** Runs one batch (records of one partition key unless `opts` say otherwise) and returns the summary log line. */
async function run(f: ReturnType<typeof fixture>, items: Parameters<typeof kinesisEvent>[0]) {
  out = captureStdout();
  const res = await processBatch(batchDeps(f), kinesisEvent(items).Records, lambdaContext(f.clock));
  const summary = out.json().find((l) => l.message === 'batch processed')!;
  out.restore();
  return { res, summary };
}

describe('coalescing versions of one id within a batch', () => {
  it.each([['1'], ['8']])('writes only the highest version of each id (recordConcurrency %s); the others count as stale', async (c) => {
    const f = fixture({ PHX_RECORD_CONCURRENCY: c });
    const { res, summary } = await run(f, [order('a', 1), order('b', 1), order('a', 3), order('a', 2), order('b', 2)]);
    expect(res.batchItemFailures).toEqual([]);
    expect(f.sink.calls.map((x) => x.result)).toEqual(['written', 'written']);
    expect([...f.sink.items.values()].map((s) => s.envelope.payload.price).sort()).toEqual([2, 3]);
    expect(summary).toMatchObject({ records: 5, written: 2, stale: 3, duplicates: 0, coalesced: 3, notCompleted: 0 });
  });

  it('counts an equal copy of the written version as a duplicate', async () => {
    const f = fixture();
    const { summary } = await run(f, [order('a', 2), order('a', 2), order('a', 1)]);
    expect(f.sink.calls).toHaveLength(1);
    expect(summary).toMatchObject({ written: 1, duplicates: 1, stale: 1, coalesced: 2 });
  });

  it('does not coalesce across partition keys', async () => {
    const f = fixture({ PHX_RECORD_CONCURRENCY: '4' });
    await run(f, [{ data: order('a', 1), opts: { partitionKey: 'x' } }, { data: order('a', 2), opts: { partitionKey: 'y' } }]);
    expect(f.sink.calls).toHaveLength(2);
  });

  it('writes the older versions when the highest one is dead-lettered', async () => {
    const f = fixture();
    const rejecting: SinkPort = {
      write: (env: Envelope, meta: SinkWriteMeta) => (env.payload.price === 3
        ? Promise.reject(new PermanentError('sink-rejected', 'item too large'))
        : f.sink.write(env, meta)),
    };
    const g = fixture({}, { sink: rejecting });
    const { res, summary } = await run(g, [order('a', 1), order('a', 3), order('a', 2)]);
    expect(res.batchItemFailures).toEqual([]);
    expect(g.dlq.messages).toHaveLength(1);
    expect(f.sink.calls.map((x) => x.result)).toEqual(['written', 'written']);
    expect([...f.sink.items.values()][0].envelope.payload.price).toBe(2);
    expect(summary).toMatchObject({ written: 2, deadLettered: 1, coalesced: 0 });
  });

  it('leaves the superseded records not completed when the highest version fails: the batch resumes at the lowest', async () => {
    const failing: SinkPort = { write: () => Promise.reject(new TransientError('throttled')) };
    const f = fixture({ PHX_RETRY_MAX_ATTEMPTS: '2' }, { sink: failing });
    const event = kinesisEvent([order('b', 1), order('a', 1), order('a', 2)]);
    const { res } = await run(f, [order('b', 1), order('a', 1), order('a', 2)]);
    // b failed first (sequential): nothing after it started.
    expect(res.batchItemFailures).toEqual([{ itemIdentifier: event.Records[0].kinesis.sequenceNumber }]);
    const h = fixture({ PHX_RETRY_MAX_ATTEMPTS: '2' }, {
      sink: { write: (env) => (env.payload.orderId === 'a' ? Promise.reject(new TransientError('throttled')) : Promise.resolve('written')) },
    });
    const second = await run(h, [order('b', 1), order('a', 1), order('a', 2)]);
    expect(second.res.batchItemFailures).toEqual([{ itemIdentifier: event.Records[1].kinesis.sequenceNumber }]);
    expect(second.summary).toMatchObject({ written: 1, stale: 0, coalesced: 0, notCompleted: 2 });
  });
});
