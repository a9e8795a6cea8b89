import { gzipSync } from 'node:zlib';
import { GetRecordsCommand, GetShardIteratorCommand, ListShardsCommand } from '@aws-sdk/client-kinesis';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { ARCHIVE_PREFIX, frameFirehoseRecords } from '../../replay/archive';
import type { LocalClients } from '../clients';
import type { ProvisionedStack } from '../provision';

/** The RawArchive of the template: a delivery stream from the pipeline's stream whose processor is the archive framer. */
export function templateArchive(p: ProvisionedStack, streamArn: string): { bucket: string; prefix: string } | undefined {
  for (const d of p.deliveryStreams) {
    const src = (d.props.KinesisStreamSourceConfiguration as { KinesisStreamARN?: string } | undefined)?.KinesisStreamARN;
    const dest = d.props.ExtendedS3DestinationConfiguration as { BucketARN?: string; Prefix?: string } | undefined;
    if (src !== streamArn || !dest?.BucketARN) continue;
    const bucket = p.buckets.find((b) => b.arn === dest.BucketARN)?.name;
    if (!bucket) continue;
    const prefix = (dest.Prefix ?? ARCHIVE_PREFIX).replace(/!\{.*$/, '') || ARCHIVE_PREFIX;
    return { bucket, prefix };
  }
  return undefined;
}

type Meta = { shardId: string; partitionKey: string; sequenceNumber: string; approximateArrivalTimestamp: number };
type FirehoseRecord = { recordId: string; data: string; kinesisRecordMetadata: Meta };

/**
 * Reads the source stream and writes framed archive objects, as RawArchive's delivery stream does (the local Firehose
 * loop does not run Lambda processors, so the drill archives the stream itself).
 */
export class ArchiveLoop {
  objects = 0;
  records = 0;
  private readonly iterators = new Map<string, string | undefined>();

  constructor(private readonly clients: LocalClients, private readonly stream: string, private readonly streamArn: string,
    private readonly bucket: string, private readonly prefix: string, private readonly pipeline: string) {}

  /** Reads every shard to its current end and writes what it read as one object per shard. */
  async flush(): Promise<void> {
    const shards = (await this.clients.kinesis.send(new ListShardsCommand({ StreamName: this.stream }))).Shards ?? [];
    for (const s of shards) {
      const recs = await this.readShard(s.ShardId!);
      if (recs.length > 0) await this.writeObject(s.ShardId!, recs);
    }
  }

  /** The shard's records from where the last flush stopped to its current end. */
  private async readShard(id: string): Promise<FirehoseRecord[]> {
    if (!this.iterators.has(id)) {
      const res = await this.clients.kinesis.send(new GetShardIteratorCommand({ StreamName: this.stream, ShardId: id, ShardIteratorType: 'TRIM_HORIZON' }));
      this.iterators.set(id, res.ShardIterator);
    }
    const recs: FirehoseRecord[] = [];
    for (let i = 0; i < 10_000; i++) {
      const it = this.iterators.get(id);
      if (!it) break;
      const r = await this.clients.kinesis.send(new GetRecordsCommand({ ShardIterator: it, Limit: 10_000 }));
      this.iterators.set(id, r.NextShardIterator);
      for (const x of r.Records ?? []) {
        recs.push({
          recordId: String(recs.length),
          data: Buffer.from(x.Data!).toString('base64'),
          kinesisRecordMetadata: {
            shardId: id,
            partitionKey: x.PartitionKey!,
            sequenceNumber: x.SequenceNumber!,
            approximateArrivalTimestamp: x.ApproximateArrivalTimestamp!.getTime(),
          },
        });
      }
      if ((r.Records ?? []).length === 0 && (r.MillisBehindLatest ?? 0) === 0) break;
    }
    return recs;
  }

  /** One GZIP object of archive record v1 lines under `<prefix>YYYY/MM/DD/HH/` of the first record's arrival. */
  private async writeObject(shardId: string, recs: FirehoseRecord[]): Promise<void> {
    // Framed as RawArchive's framer does: each line names the pipeline (PHX_PIPELINE of the framer).
    const framed = frameFirehoseRecords({ sourceKinesisStreamArn: this.streamArn, records: recs }, this.pipeline);
    const first = new Date(recs[0].kinesisRecordMetadata.approximateArrivalTimestamp).toISOString();
    const hour = `${first.slice(0, 4)}/${first.slice(5, 7)}/${first.slice(8, 10)}/${first.slice(11, 13)}/`;
    const key = `${this.prefix}${hour}drill-${shardId}-${this.objects}.gz`;
    const body = gzipSync(Buffer.concat(framed.records.map((r) => Buffer.from(r.data, 'base64'))));
    await this.clients.s3.send(new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: body }));
    this.objects++;
    this.records += recs.length;
  }
}
