import { KinesisClient, PutRecordCommand, PutRecordsCommand, type PutRecordsCommandInput } from '@aws-sdk/client-kinesis';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { classifyError, contentHash, PermanentError, type Envelope } from '../../../../lib/core';
import { KinesisSink, PUT_RECORDS_MAX_ENTRIES } from '../../../../lib/handlers/ports/kinesis';

const mock = mockClient(KinesisClient);
afterEach(() => mock.reset());

function env(id: string, payload: Record<string, unknown> = { a: 1 }): Envelope {
  return { v: 1, id, correlationId: 'c', source: 's', eventTime: '2026-01-01T00:00:00.000Z', hops: [], payload };
}
const meta = (e: Envelope, partitionKey = `pk-${e.id}`) => ({ partitionKey, sequenceNumber: '1', contentHash: contentHash(e.payload) });
const sink = () => new KinesisSink(new KinesisClient({ region: 'us-east-2' }), 'next');
const ok = (input: PutRecordsCommandInput) => ({ FailedRecordCount: 0, Records: input.Records!.map((_, i) => ({ SequenceNumber: String(i), ShardId: 's' })) });

describe('Kinesis sink batching (PutRecords)', () => {
  it('sends the writes of one event-loop turn in one PutRecords call, in the order they were issued', async () => {
    mock.on(PutRecordsCommand).callsFake(ok);
    const s = sink();
    const results = await Promise.all(['a', 'b', 'c'].map((id) => s.write(env(id), meta(env(id)))));
    expect(results).toEqual(['written', 'written', 'written']);
    const calls = mock.commandCalls(PutRecordsCommand);
    expect(calls).toHaveLength(1);
    expect(calls[0].args[0].input.Records!.map((r) => r.PartitionKey)).toEqual(['pk-a', 'pk-b', 'pk-c']);
    expect(mock.commandCalls(PutRecordCommand)).toHaveLength(0);
  });

  it(`splits calls at ${PUT_RECORDS_MAX_ENTRIES} records`, async () => {
    mock.on(PutRecordsCommand).callsFake(ok);
    const s = sink();
    await Promise.all(Array.from({ length: PUT_RECORDS_MAX_ENTRIES + 1 }, (_, i) => s.write(env(`r${i}`), meta(env(`r${i}`)))));
    expect(mock.commandCalls(PutRecordsCommand).map((c) => c.args[0].input.Records!.length)).toEqual([PUT_RECORDS_MAX_ENTRIES, 1]);
  });

  it('rejects only the failed entries, with an error classified like the entry code (throttling: transient)', async () => {
    mock.on(PutRecordsCommand).callsFake((input: PutRecordsCommandInput) => ({
      FailedRecordCount: 1,
      Records: input.Records!.map((_, i) => (i === 1
        ? { ErrorCode: 'ProvisionedThroughputExceededException', ErrorMessage: 'Rate exceeded for shard' }
        : { SequenceNumber: String(i), ShardId: 's' })),
    }));
    const s = sink();
    const settled = await Promise.allSettled(['a', 'b', 'c'].map((id) => s.write(env(id), meta(env(id)))));
    expect(settled.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    const err = (settled[1] as PromiseRejectedResult).reason;
    expect(err.name).toBe('ProvisionedThroughputExceededException');
    expect(classifyError(err)).toMatchObject({ kind: 'transient', throttling: true });
  });

  it('a retried entry goes out again in a later call (the processor retries its write)', async () => {
    let call = 0;
    mock.on(PutRecordsCommand).callsFake((input: PutRecordsCommandInput) => (++call === 1
      ? { FailedRecordCount: 1, Records: [{ ErrorCode: 'InternalFailure', ErrorMessage: 'x' }] }
      : ok(input)));
    const s = sink();
    const e = env('a');
    await expect(s.write(e, meta(e))).rejects.toMatchObject({ name: 'InternalFailure' });
    expect(await s.write(e, meta(e))).toBe('written');
    expect(mock.commandCalls(PutRecordsCommand)).toHaveLength(2);
  });

  it('when one rejected record fails the whole call, every record gets its own verdict through PutRecord', async () => {
    mock.on(PutRecordsCommand).rejects(Object.assign(new Error('Record size exceeds 1 MiB'), { name: 'ValidationException' }));
    mock.on(PutRecordCommand).callsFake((input) => {
      if (Buffer.from(input.Data).length > 1000) throw Object.assign(new Error('Record size exceeds 1 MiB'), { name: 'ValidationException' });
      return { SequenceNumber: '1', ShardId: 's' };
    });
    const s = sink();
    const big = env('big', { x: 'y'.repeat(2000) });
    const settled = await Promise.allSettled([s.write(env('a'), meta(env('a'))), s.write(big, meta(big))]);
    expect(settled[0]).toEqual({ status: 'fulfilled', value: 'written' });
    expect((settled[1] as PromiseRejectedResult).reason).toBeInstanceOf(PermanentError);
  });

  it('a failed call rejects every write of it with the call error (transient, retried)', async () => {
    const throttle = Object.assign(new Error('slow down'), { name: 'ThrottlingException' });
    mock.on(PutRecordsCommand).rejects(throttle);
    const s = sink();
    const settled = await Promise.allSettled(['a', 'b'].map((id) => s.write(env(id), meta(env(id)))));
    expect(settled.map((r) => (r as PromiseRejectedResult).reason)).toEqual([throttle, throttle]);
  });
});
