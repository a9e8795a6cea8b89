/**
 * Kinesis next-stage sink: the envelope JSON as data, with the source record's partition key (order per key is kept
 * across stages). Kinesis cannot deduplicate: the next stage deduplicates by envelope id.
 *
 * Writes issued in the same turn of the event loop go out together in one PutRecords call (up to 500 records,
 * 5 MiB). The processor has at most one write in flight per partition key, so a call never holds two records of one
 * key and per-key order is kept. A failed entry (throttling, internal failure) rejects only its own write, with a
 * transient error that the processor retries; the other entries are written.
 */
import { KinesisClient, PutRecordCommand, PutRecordsCommand, type PutRecordsRequestEntry } from '@aws-sdk/client-kinesis';
import type { SinkPort, SinkWriteMeta, WriteResult } from './types';
import type { Envelope } from '../../core/envelope';
import { PhoenixError } from '../../core/errors';
import { PermanentError } from '../../core/failure';

const encoder = new TextEncoder();

/** PutRecords limits: records per call and bytes per call (data plus partition keys). */
export const PUT_RECORDS_MAX_ENTRIES = 500;
export const PUT_RECORDS_MAX_BYTES = 5 * 1024 * 1024;

interface Pending {
  readonly entry: PutRecordsRequestEntry;
  readonly id: string;
  readonly bytes: number;
  readonly resolve: (r: WriteResult) => void;
  readonly reject: (e: unknown) => void;
}

/** Errors that say the record itself can never be written (too large, malformed). */
function isRejection(err: unknown): boolean {
  const name = (err as Error)?.name;
  return name === 'ValidationException' || name === 'InvalidArgumentException';
}

/**
 * A PutRecords entry that was not written. Its name is the entry's ErrorCode, so that classifyError treats it like the
 * same error from PutRecord (throttling, internal failure, KMS: all retried).
 */
export class KinesisEntryError extends PhoenixError {
  constructor(readonly errorCode: string, message: string) {
    super('KINESIS_ENTRY_FAILED', message);
    this.name = errorCode;
  }
}

export class KinesisSink implements SinkPort {
  private readonly streamRef: { StreamARN: string } | { StreamName: string };
  private queue: Pending[] = [];

  /** @param target stream name or stream ARN */
  constructor(
    private readonly client: KinesisClient,
    target: string,
  ) {
    this.streamRef = target.startsWith('arn:') ? { StreamARN: target } : { StreamName: target };
  }

  write(env: Envelope, meta: SinkWriteMeta): Promise<WriteResult> {
    const data = encoder.encode(meta.envelopeJson ?? JSON.stringify(env));
    return new Promise((resolve, reject) => {
      if (this.queue.length === 0) setImmediate(() => this.flush());
      const bytes = data.byteLength + Buffer.byteLength(meta.partitionKey);
      this.queue.push({ entry: { PartitionKey: meta.partitionKey, Data: data }, id: env.id, bytes, resolve, reject });
    });
  }

  /** Sends the queued writes in calls within the PutRecords limits. */
  private flush(): void {
    const queue = this.queue;
    this.queue = [];
    let call: Pending[] = [];
    let bytes = 0;
    for (const p of queue) {
      if (call.length === PUT_RECORDS_MAX_ENTRIES || (call.length > 0 && bytes + p.bytes > PUT_RECORDS_MAX_BYTES)) {
        void this.putRecords(call);
        call = [];
        bytes = 0;
      }
      call.push(p);
      bytes += p.bytes;
    }
    if (call.length > 0) void this.putRecords(call);
  }

  /** One PutRecords call: each entry settles its own write. */
  private async putRecords(call: readonly Pending[]): Promise<void> {
    let results;
    try {
      results = (await this.client.send(new PutRecordsCommand({ ...this.streamRef, Records: call.map((p) => p.entry) }))).Records ?? [];
    } catch (err) {
      // One bad record fails the whole call: give every record its own verdict.
      if (isRejection(err)) await Promise.all(call.map((p) => this.putRecord(p)));
      else for (const p of call) p.reject(err);
      return;
    }
    call.forEach((p, i) => {
      const r = results[i];
      if (r?.ErrorCode === undefined && r?.SequenceNumber !== undefined) return p.resolve('written');
      const code = r?.ErrorCode ?? 'InternalFailure';
      p.reject(new KinesisEntryError(code, `Kinesis did not write record ${p.id}: ${code} ${r?.ErrorMessage ?? '(no result for the entry)'}`));
    });
  }

  /** A single PutRecord, for a call that one rejected record made fail. */
  private async putRecord(p: Pending): Promise<void> {
    try {
      await this.client.send(new PutRecordCommand({ ...this.streamRef, PartitionKey: p.entry.PartitionKey, Data: p.entry.Data }));
      p.resolve('written');
    } catch (err) {
      p.reject(isRejection(err) ? new PermanentError('sink-rejected', `Kinesis rejected record ${p.id}: ${(err as Error).message}`, { cause: err }) : err);
    }
  }
}
