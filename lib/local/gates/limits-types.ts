/**
 * Extensions of the gate interface (types.ts) the service-limit gate needs. For the gate-chain owner:
 * - a `partial` verdict: the call goes on, but the listed entries of a batch (PutRecords, SendMessageBatch) fail with
 *   the given code and message and are not sent to the emulator; the response reports them as the service does
 *   (PutRecords: `FailedRecordCount` and `ErrorCode`/`ErrorMessage` per failed entry, in request order);
 * - payload sizes on the call that the request size alone does not give (DynamoDB item sizes, SQS message sizes).
 */
import type { AwsCall, GateVerdict } from './types';

export interface EntryFailure {
  /** 0-based index of the entry in the request. */
  readonly index: number;
  readonly errorCode: string;
  readonly errorMessage: string;
}

export type LimitsVerdict = GateVerdict | { readonly kind: 'partial'; readonly failures: readonly EntryFailure[] };

/** Sizes the call builder computes from the request body. */
export interface PayloadSizes {
  /** DynamoDB: size of each item written (PutItem: one; BatchWriteItem: each PutRequest), per {@link dynamodbItemSize}. */
  readonly dynamodbItems?: readonly number[];
  /** SQS: size of each message (body plus message attributes: names, types and values), in request order. */
  readonly sqsMessages?: readonly number[];
  /** Firehose: data size of each record (before base64), in request order. */
  readonly firehoseRecords?: readonly number[];
}

export interface LimitsCall extends AwsCall {
  readonly sizes?: PayloadSizes;
}
