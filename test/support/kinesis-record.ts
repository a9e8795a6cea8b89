/**
 * Kinesis event records shaped exactly like the sample event of the AWS Lambda developer guide ("Using Lambda with
 * Kinesis Data Streams"). No test runner imports: the benches build their records with it too.
 */
import type { KinesisStreamRecord } from 'aws-lambda';

export const STREAM_ARN = 'arn:aws:kinesis:us-east-2:123456789012:stream/lambda-stream';
export const SHARD_ID = 'shardId-000000000006';
/** First sequence number of the AWS sample event. */
export const BASE_SEQUENCE = 49590338271490256608559692538361571095921575989136588898n;
/** approximateArrivalTimestamp of the AWS sample event (seconds, with milliseconds). */
export const ARRIVAL_SECONDS = 1545084650.987;

export type RecordData = Record<string, unknown> | string | Buffer | { readonly base64: string };

export interface RecordOptions {
  readonly sequenceNumber?: string;
  readonly partitionKey?: string;
  readonly arrivalSeconds?: number;
}

/** Base64 of the data: objects are JSON, strings UTF-8, Buffers raw, `{ base64 }` verbatim (for invalid base64). */
export function toBase64(data: RecordData): string {
  if (Buffer.isBuffer(data)) return data.toString('base64');
  if (typeof data === 'string') return Buffer.from(data, 'utf8').toString('base64');
  if ('base64' in data && typeof data.base64 === 'string' && Object.keys(data).length === 1) return data.base64;
  return Buffer.from(JSON.stringify(data), 'utf8').toString('base64');
}

export function kinesisRecord(data: RecordData, index: number, opts: RecordOptions = {}): KinesisStreamRecord {
  const sequenceNumber = opts.sequenceNumber ?? String(BASE_SEQUENCE + BigInt(index) * 1000n);
  return {
    kinesis: {
      kinesisSchemaVersion: '1.0',
      partitionKey: opts.partitionKey ?? '1',
      sequenceNumber,
      data: toBase64(data),
      approximateArrivalTimestamp: opts.arrivalSeconds ?? ARRIVAL_SECONDS + index / 1000,
    },
    eventSource: 'aws:kinesis',
    eventVersion: '1.0',
    eventID: `${SHARD_ID}:${sequenceNumber}`,
    eventName: 'aws:kinesis:record',
    invokeIdentityArn: 'arn:aws:iam::123456789012:role/lambda-role',
    awsRegion: 'us-east-2',
    eventSourceARN: STREAM_ARN,
  };
}
