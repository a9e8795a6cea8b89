import { DescribeStreamSummaryCommand, KinesisClient, PutRecordsCommand } from '@aws-sdk/client-kinesis';
import { S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { runReplay } from '../../../lib/replay/engine';
import { InputError, parseFilter } from '../../../lib/replay/filter';
import { archiveObject, mockArchiveBucket } from '../../support/archive';

const OLD_ARN = 'arn:aws:kinesis:us-east-1:000000000000:stream/Stack-IngestStream-OLD';
const NEW_ARN = 'arn:aws:kinesis:us-east-1:000000000000:stream/Stack-IngestStream-NEW';

/** One archive object of `n` records framed by the framer of `pipeline` (undefined: an archive written before the field). */
function ordersObject(pipeline: string | undefined, n: number, first: number): Buffer {
  return archiveObject(OLD_ARN, Array.from({ length: n }, (_, k) => ({
    payload: { orderId: `o${first + k}` },
    partitionKey: `k${k}`,
    seq: first + k + 1,
    arrivedAtMs: 1_764_000_000_000,
  })), pipeline);
}

function mockArchive(objects: Buffer[]): { s3: S3Client; kinesis: KinesisClient; streams: string[]; orderIds: string[] } {
  mockArchiveBucket(objects);
  const kinesis = mockClient(KinesisClient);
  kinesis.on(DescribeStreamSummaryCommand).resolves({ StreamDescriptionSummary: { StreamStatus: 'ACTIVE' } as never });
  const streams: string[] = [];
  const orderIds: string[] = [];
  kinesis.on(PutRecordsCommand).callsFake((input: { StreamARN?: string; StreamName?: string; Records: Array<{ Data: Uint8Array }> }) => {
    for (let i = 0; i < input.Records.length; i++) streams.push(input.StreamARN ?? input.StreamName ?? '');
    for (const r of input.Records) orderIds.push(/"orderId":"(o\d+)"/.exec(Buffer.from(r.Data).toString('utf8'))![1]);
    return { FailedRecordCount: 0, Records: input.Records.map((_, i) => ({ SequenceNumber: String(i), ShardId: 'shardId-000000000000' })) };
  });
  return { s3: new S3Client({ region: 'us-east-1' }), kinesis: new KinesisClient({ region: 'us-east-1' }), streams, orderIds };
}

afterEach(() => {
  mockClient(S3Client).restore();
  mockClient(KinesisClient).restore();
});

describe('runReplay into a pipeline (the archive replay of a rebuild)', () => {
  it('puts every record of the pipeline on its current stream, never the recorded one; skips and counts another pipeline\'s records', async () => {
    const m = mockArchive([ordersObject('orders', 30, 0), ordersObject('refunds', 7, 100), ordersObject(undefined, 5, 200)]);
    const summary = await runReplay({
      source: { kind: 'archive', bucket: 'archive', prefix: 'raw/' },
      filter: parseFilter({}),
      pipeline: { name: 'orders', stream: NEW_ARN },
      clients: { s3: m.s3, kinesis: m.kinesis },
    });
    // records framed for orders, and records framed before the pipeline field (the prefix is the pipeline's)
    expect(summary.replayed).toBe(35);
    expect(summary.skipped.otherPipeline).toBe(7);
    expect(summary.targets).toEqual({ [NEW_ARN]: 35 });
    expect(new Set(m.streams)).toEqual(new Set([NEW_ARN]));
  });

  it('without a pipeline, records go back to their recorded stream (the gone stream of a rebuilt stack)', async () => {
    const m = mockArchive([ordersObject('orders', 3, 0)]);
    const summary = await runReplay({
      source: { kind: 'archive', bucket: 'archive', prefix: 'raw/' }, filter: parseFilter({}), clients: { s3: m.s3, kinesis: m.kinesis },
    });
    expect(summary.targets).toEqual({ [OLD_ARN]: 3 });
  });

  it('a replay into a pipeline is an archive replay without a separate target stream', async () => {
    const m = mockArchive([]);
    await expect(runReplay({
      source: { kind: 'archive', bucket: 'archive', prefix: 'raw/' },
      filter: parseFilter({}),
      pipeline: { name: 'orders', stream: NEW_ARN },
      targetStream: OLD_ARN,
      clients: { s3: m.s3, kinesis: m.kinesis },
    })).rejects.toThrow(InputError);
  });
});

describe('runReplay of the archive: cursor and resume', () => {
  const SOURCE = { kind: 'archive', bucket: 'archive', prefix: 'raw/' } as const;
  const all = Array.from({ length: 60 }, (_, k) => `o${k}`);

  it('a replay stopped mid-object returns its cursor (object key, records done); resumed from it, every record is put once', async () => {
    const m = mockArchive([ordersObject('orders', 25, 0), ordersObject('orders', 25, 25), ordersObject('orders', 10, 50)]);
    const clients = { s3: m.s3, kinesis: m.kinesis };
    const pipeline = { name: 'orders', stream: NEW_ARN };
    const first = await runReplay({ source: SOURCE, filter: parseFilter({ limit: 40 }), pipeline, clients });
    expect(first.cursor).toEqual({ key: 'raw/2025/11/30/12/o-1.gz', line: 15 });
    const second = await runReplay({ source: SOURCE, filter: parseFilter({}), pipeline, clients, resume: first.cursor });
    expect(second.cursor).toBeUndefined();
    expect([first.replayed, second.replayed]).toEqual([40, 20]);
    // Lanes put in parallel: the order across partition keys is not the archive's.
    expect([...m.orderIds].sort()).toEqual([...all].sort());
  });

  it('a resume at the end of an object starts at the next one; a finished replay has no cursor', async () => {
    const m = mockArchive([ordersObject('orders', 25, 0), ordersObject('orders', 25, 25), ordersObject('orders', 10, 50)]);
    const r = await runReplay({
      source: SOURCE,
      filter: parseFilter({}),
      pipeline: { name: 'orders', stream: NEW_ARN },
      clients: { s3: m.s3, kinesis: m.kinesis },
      resume: { key: 'raw/2025/11/30/12/o-1.gz', line: 25 },
    });
    expect(r).toMatchObject({ replayed: 10, scanned: 10 });
    expect(r.cursor).toBeUndefined();
    expect([...m.orderIds].sort()).toEqual(all.slice(50).sort());
  });

  it('Firehose redeliveries are dropped within the last objects (memory bounded by objects, not by the archive)', async () => {
    const again = ordersObject('orders', 5, 0);
    // (at most 10 objects: the mock's keys o-0 .. o-9 sort in this order)
    const filler = Array.from({ length: 7 }, (_, k) => ordersObject('orders', 1, 100 + k));
    const m = mockArchive([again, again, ...filler, again]);
    const r = await runReplay({
      source: SOURCE, filter: parseFilter({}), pipeline: { name: 'orders', stream: NEW_ARN }, clients: { s3: m.s3, kinesis: m.kinesis },
    });
    // the redelivery next to it is dropped; the one 9 objects after the first is put again (the idempotent sink absorbs it)
    expect(r.skipped.duplicates).toBe(5);
    expect(r.replayed).toBe(5 + 7 + 5);
  });
});

