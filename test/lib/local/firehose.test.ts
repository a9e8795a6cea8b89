/**
 * Firehose's record limit on a Kinesis-source delivery stream run on the emulators: a source record of more than
 * 1,000 KiB of data is not delivered and is counted as tooLarge; a record of exactly 1,000 KiB is delivered.
 */
import { PutRecordCommand } from '@aws-sdk/client-kinesis';
import { GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { afterAll, describe, expect, it } from 'vitest';
import { handWrittenAssembly, liveChildren, removeDir, tempDir } from './support';
import { loadAssembly } from '../../../lib/local/assembly';
import { startDeliveryStreams } from '../../../lib/local/firehose';
import { FIREHOSE_RECORD_BYTES } from '../../../lib/local/gates/limits';
import { Lifecycle } from '../../../lib/local/lifecycle';
import { provision } from '../../../lib/local/provision';
import { localAccountModel } from '../../../lib/local/run/context';
import { deployStack, startServices } from '../../../lib/local/run/provision';
import { LocalStack } from '../../../lib/local/template/stack';

const ROLE = 'arn:aws:iam::000000000000:role/firehose-delivery';

/** A stream, a bucket and a delivery stream from the one to the other (no processor, one object per flush). */
const TEMPLATE = {
  Resources: {
    Source: { Type: 'AWS::Kinesis::Stream', Properties: { ShardCount: 1 } },
    Archive: { Type: 'AWS::S3::Bucket' },
    Delivery: {
      Type: 'AWS::KinesisFirehose::DeliveryStream',
      Properties: {
        DeliveryStreamType: 'KinesisStreamAsSource',
        KinesisStreamSourceConfiguration: { KinesisStreamARN: { 'Fn::GetAtt': ['Source', 'Arn'] }, RoleARN: ROLE },
        ExtendedS3DestinationConfiguration: {
          BucketARN: { 'Fn::GetAtt': ['Archive', 'Arn'] },
          RoleARN: ROLE,
          Prefix: 'raw/',
          BufferingHints: { IntervalInSeconds: 900, SizeInMBs: 128 },
        },
      },
    },
  },
};

describe('local Firehose record limit', () => {
  afterAll(() => expect(liveChildren()).toEqual([]));

  it('does not deliver a source record over 1,000 KiB (counted as tooLarge) and delivers one of exactly 1,000 KiB', async () => {
    const assemblyDir = handWrittenAssembly('Archive', TEMPLATE);
    const runDir = tempDir('firehose');
    const life = new Lifecycle();
    try {
      const [assembly] = loadAssembly(assemblyDir);
      const stack = new LocalStack('Archive', assembly.template);
      deployStack(localAccountModel(), stack, (m) => new Error(m));
      const services = await startServices(stack, runDir, life, { iam: false });
      const provisioned = await provision(stack, assembly, services.clients, { onDemandShards: 1, runDir, log: () => undefined });
      const logs: string[] = [];
      const delivery = startDeliveryStreams(provisioned, [], { log: (l) => logs.push(l), now: Date.now, clientsOfRole: () => services.clients });
      life.add('delivery', () => delivery.stop());

      const streamName = provisioned.streams[0].name;
      const put = (data: Buffer) => services.clients.kinesis.send(new PutRecordCommand({ StreamName: streamName, PartitionKey: 'k', Data: data }));
      await put(Buffer.from('first|'));
      await put(Buffer.alloc(FIREHOSE_RECORD_BYTES + 1, 'o'));
      await put(Buffer.alloc(FIREHOSE_RECORD_BYTES, 'a'));
      await delivery.flush();

      const bucket = provisioned.buckets[0].name;
      const listed = await services.clients.s3.send(new ListObjectsV2Command({ Bucket: bucket }));
      const bodies = await Promise.all((listed.Contents ?? []).map(async (o) => {
        const got = await services.clients.s3.send(new GetObjectCommand({ Bucket: bucket, Key: o.Key }));
        return Buffer.from(await got.Body!.transformToByteArray());
      }));
      const delivered = Buffer.concat(bodies);
      expect(delivered.length).toBe('first|'.length + FIREHOSE_RECORD_BYTES);
      expect(delivered.subarray(0, 6).toString()).toBe('first|');
      expect(delivered.includes('o'.charCodeAt(0))).toBe(false);
      expect(delivery.stats.Delivery).toMatchObject({ records: 2, tooLarge: 1, bytes: 'first|'.length + FIREHOSE_RECORD_BYTES });
      expect(logs.some((l) => l.includes(`is ${FIREHOSE_RECORD_BYTES + 1} bytes, above Firehose's ${FIREHOSE_RECORD_BYTES}-byte record limit`))).toBe(true);
    } finally {
      await life.stopAll();
      removeDir(assemblyDir);
      removeDir(runDir);
    }
  }, 60_000);
});
