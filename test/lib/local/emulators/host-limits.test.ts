import { CreateStreamCommand, GetShardIteratorCommand, KinesisClient, ListShardsCommand, PutRecordCommand, PutRecordsCommand, waitUntilStreamExists } from '@aws-sdk/client-kinesis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCAL_CREDENTIALS } from '../../../../lib/local/clients';
import { startEmulators, type RunningEmulators } from '../../../../lib/local/emulators';
import { consumerGetRecords, subscribed } from '../../../../lib/local/esm/util';
import type { ShardShape } from '../../../../lib/local/gates/limits-shards';
import { LOCAL_REGION } from '../../../../lib/local/template/types';
import { removeDir, tempDir } from '../support';

// The emulator host with service limits at --limits-scale 1000 (per shard: 1 record/s, ~1 KiB/s written, one
// GetRecords per 200 s): batch entries over the limit fail one by one, reads are shared by every consumer.
const STREAM = 'limits-test';
const STREAM_ARN = `arn:aws:kinesis:${LOCAL_REGION}:000000000000:stream/${STREAM}`;
let emulators: RunningEmulators;
let kinesis: KinesisClient;
let runDir: string;

beforeAll(async () => {
  runDir = tempDir('limits');
  emulators = await startEmulators({ runDir, region: LOCAL_REGION, limits: { scale: 1000, latency: 'none', seed: 1 } });
  kinesis = new KinesisClient({ region: LOCAL_REGION, endpoint: emulators.endpoints.kinesis, credentials: LOCAL_CREDENTIALS, maxAttempts: 1 });
  await kinesis.send(new CreateStreamCommand({ StreamName: STREAM, ShardCount: 1 }));
  await waitUntilStreamExists({ client: kinesis, maxWaitTime: 20 }, { StreamName: STREAM });
  const shards = (await kinesis.send(new ListShardsCommand({ StreamName: STREAM }))).Shards as ShardShape[];
  await emulators.registerLimits({ streams: [{ arn: STREAM_ARN, shards }], queues: [] });
}, 60_000);

afterAll(async () => {
  kinesis?.destroy();
  await emulators?.stop();
  removeDir(runDir);
});

describe('service limits in the emulator host', () => {
  it('PutRecords over the shard\'s write limit: the call succeeds, the entries over it fail in request order, and only the others reach the stream', async () => {
    const data = (s: string): Uint8Array => Buffer.from(s);
    const out = await kinesis.send(new PutRecordsCommand({
      StreamName: STREAM, Records: [{ Data: data('a'), PartitionKey: 'a' }, { Data: data('b'), PartitionKey: 'b' }, { Data: data('c'), PartitionKey: 'c' }],
    }));
    expect(out.FailedRecordCount).toBe(2);
    expect(out.Records?.[0]).toMatchObject({ ShardId: 'shardId-000000000000', SequenceNumber: expect.any(String) });
    const message = `Rate exceeded for shard shardId-000000000000 in stream ${STREAM} under account 000000000000.`;
    expect(out.Records?.slice(1)).toEqual([
      { ErrorCode: 'ProvisionedThroughputExceededException', ErrorMessage: message },
      { ErrorCode: 'ProvisionedThroughputExceededException', ErrorMessage: message },
    ]);
    const iterator = (await kinesis.send(new GetShardIteratorCommand({ StreamName: STREAM, ShardId: 'shardId-000000000000', ShardIteratorType: 'TRIM_HORIZON' }))).ShardIterator;
    const read = await kinesis.send(consumerGetRecords({ ShardIterator: iterator }, 'esm:first'));
    expect(read.Records?.map((r) => Buffer.from(r.Data!).toString())).toEqual(['a']);
    // The shard's one read per window is used: the second consumer is throttled.
    const second = await kinesis.send(consumerGetRecords({ ShardIterator: read.NextShardIterator }, 'firehose:second')).catch((e: Error) => e);
    expect(second).toMatchObject({ name: 'ProvisionedThroughputExceededException', message });
    const traffic = await emulators.traffic();
    expect(traffic.writers).toEqual([{ writer: 'phoenix-local', stream: STREAM, records: 1, throttled: 2 }]);
    expect(traffic.consumers.map((c) => [c.consumer, c.getRecordsCalls, c.throttles, c.records])).toEqual([['esm:first', 1, 0, 1], ['firehose:second', 1, 1, 0]]);
  });

  it('an enhanced fan-out subscription reads while standard consumers have used up the shard\'s shared read budget', async () => {
    // A stream of its own: the other tests used this second's write budget of the first.
    const name = 'limits-efo';
    const streamArn = `arn:aws:kinesis:${LOCAL_REGION}:000000000000:stream/${name}`;
    await kinesis.send(new CreateStreamCommand({ StreamName: name, ShardCount: 1 }));
    await waitUntilStreamExists({ client: kinesis, maxWaitTime: 20 }, { StreamName: name });
    const shards = (await kinesis.send(new ListShardsCommand({ StreamName: name }))).Shards as ShardShape[];
    await emulators.registerLimits({ streams: [{ arn: streamArn, shards }], queues: [] });
    await kinesis.send(new PutRecordCommand({ StreamName: name, PartitionKey: 'e', Data: Buffer.from('efo') }));
    const trim = { StreamName: name, ShardId: 'shardId-000000000000', ShardIteratorType: 'TRIM_HORIZON' as const };
    const iterator = (await kinesis.send(new GetShardIteratorCommand(trim))).ShardIterator;
    // The shared budget (one GetRecords per 200 s at this scale) is used: standard consumers are refused.
    const shared = await Promise.all(['esm:a', 'esm:b'].map((c) => kinesis.send(consumerGetRecords({ ShardIterator: iterator }, c)).catch((e: Error) => e)));
    expect(shared.some((r) => r instanceof Error && r.name === 'ProvisionedThroughputExceededException')).toBe(true);
    const consumerArn = `${streamArn}/consumer/efo-test:1796650000`;
    const subIterator = (await kinesis.send(subscribed(new GetShardIteratorCommand(trim), consumerArn, 'efo:reader'))).ShardIterator;
    const pushed = await kinesis.send(consumerGetRecords({ ShardIterator: subIterator }, 'efo:reader', consumerArn));
    expect(pushed.Records?.map((r) => Buffer.from(r.Data!).toString())).toEqual(['efo']);
    const traffic = await emulators.traffic();
    expect(traffic.consumers.find((c) => c.consumer === 'efo:reader')).toMatchObject({ kind: 'efo', consumerArn, throttles: 0, records: 1, bytes: 3 });
    // The subscription's bytes went to its own budget: the shared one is still refused, not paced by them.
    const after = await kinesis.send(consumerGetRecords({ ShardIterator: iterator }, 'esm:c')).catch((e: Error) => e);
    expect(after).toMatchObject({ name: 'ProvisionedThroughputExceededException' });
  });

  it('a record over 1 MiB is refused with ValidationException before any write', async () => {
    const err = await kinesis.send(new PutRecordCommand({ StreamName: STREAM, PartitionKey: 'k', Data: Buffer.alloc(1024 * 1024 + 1) })).catch((e: Error) => e);
    expect(err).toMatchObject({ name: 'ValidationException', $metadata: { httpStatusCode: 400 } });
    expect((err as Error).message).toBe("1 validation error detected: Value at 'data' failed to satisfy constraint: Member must have length less than or equal to 1048576");
  });
});
