/**
 * Kinesis next-stage sink: PutRecord with the source record's partition key (order per key is kept across stages)
 * and the envelope JSON as data. Kinesis cannot deduplicate: the next stage deduplicates by envelope id.
 */
import { KinesisClient, PutRecordCommand } from '@aws-sdk/client-kinesis';
import type { SinkPort, SinkWriteMeta, WriteResult } from './types';
import { PermanentError, type Envelope } from '../../core';

const encoder = new TextEncoder();

export class KinesisSink implements SinkPort {
  private readonly streamRef: { StreamARN: string } | { StreamName: string };

  /** @param target stream name or stream ARN */
  constructor(
    private readonly client: KinesisClient,
    target: string,
  ) {
    this.streamRef = target.startsWith('arn:') ? { StreamARN: target } : { StreamName: target };
  }

  async write(env: Envelope, meta: SinkWriteMeta): Promise<WriteResult> {
    try {
      await this.client.send(new PutRecordCommand({
        ...this.streamRef,
        PartitionKey: meta.partitionKey,
        Data: encoder.encode(meta.envelopeJson ?? JSON.stringify(env)),
      }));
    } catch (err) {
      const name = (err as Error)?.name;
      // Record above the stream's maximum record size, or otherwise malformed: retrying cannot help.
      if (name === 'ValidationException' || name === 'InvalidArgumentException') {
        throw new PermanentError('sink-rejected', `Kinesis rejected record ${env.id}: ${(err as Error).message}`, { cause: err });
      }
      throw err;
    }
    return 'written';
  }
}
