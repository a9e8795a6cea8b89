/** Test support for archive replays without emulators: framed, gzip'd archive objects served by a mocked S3. */
import { gzipSync } from 'node:zlib';
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { mockClient, type AwsClientStub } from 'aws-sdk-client-mock';
import { frameFirehoseRecords } from '../../lib/replay/archive';

/** One stream record of an archive object: its JSON payload, partition key, 1-based sequence number and arrival. */
export interface ArchivedRecord {
  readonly payload: object;
  readonly partitionKey: string;
  readonly seq: number;
  readonly arrivedAtMs: number;
}

/** One archive object as Firehose writes it: the records framed by `frameFirehoseRecords` (for `pipeline`), gzip'd. */
export function archiveObject(streamArn: string, records: ArchivedRecord[], pipeline?: string): Buffer {
  const framed = frameFirehoseRecords({
    sourceKinesisStreamArn: streamArn,
    records: records.map((r, k) => ({
      recordId: String(k),
      data: Buffer.from(JSON.stringify(r.payload)).toString('base64'),
      kinesisRecordMetadata: { shardId: 'shardId-000000000000', partitionKey: r.partitionKey, sequenceNumber: String(r.seq), approximateArrivalTimestamp: r.arrivedAtMs },
    })),
  }, pipeline);
  return gzipSync(Buffer.concat(framed.records.map((r) => Buffer.from(r.data, 'base64'))));
}

/** Mocks S3 so that the archive under `raw/` lists and serves `objects`, in order; restore it with `.restore()`. */
export function mockArchiveBucket(objects: Buffer[]): AwsClientStub<S3Client> {
  const s3 = mockClient(S3Client);
  s3.on(ListObjectsV2Command).resolves({ Contents: objects.map((_, o) => ({ Key: `raw/2025/11/30/12/o-${o}.gz` })), IsTruncated: false });
  s3.on(GetObjectCommand).callsFake((input: { Key: string }) => {
    const bytes = objects[Number(/o-(\d+)\.gz$/.exec(input.Key)![1])];
    return { Body: { transformToByteArray: async () => new Uint8Array(bytes) } };
  });
  return s3;
}
