/**
 * Kinesis on-failure destinations (DestinationConfig.OnFailure): the invocation record Lambda writes when it gives up
 * on a batch (retries exhausted or records too old).
 * SQS / SNS carry metadata only; S3 also carries the whole invocation payload and uses the documented key layout
 * `aws/lambda/<ESM-UUID>/<shardId>/YYYY/MM/DD/YYYY-MM-DDTHH.MM.SS-<UUID>`.
 */
import { randomUUID } from 'node:crypto';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import type { EsmClients, InvokeResult, OnFailureDestination } from './types';
import { responseContext } from './util';
import { ESM_ON_FAILURE_PREFIX } from '../../../constructs/contract';

export type FailureCondition = 'RetryAttemptsExhausted' | 'RecordAgeExceeded';

export interface KinesisBatchInfo {
  readonly shardId: string;
  readonly startSequenceNumber: string;
  readonly endSequenceNumber: string;
  readonly approximateArrivalOfFirstRecord: string;
  readonly approximateArrivalOfLastRecord: string;
  readonly batchSize: number;
  readonly streamArn: string;
}

export interface FailedBatch {
  readonly condition: FailureCondition;
  readonly approximateInvokeCount: number;
  /** Outcome of the last invocation of these records; undefined if they were never invoked. */
  readonly lastResult?: InvokeResult;
  readonly batchInfo: KinesisBatchInfo;
  /** The invocation event of these records (S3 destinations carry it). */
  readonly event: unknown;
}

/** SNS drops messages above 256 KB. */
const SNS_MAX_BYTES = 256 * 1024;

export function onFailureRecord(functionArn: string, failed: FailedBatch, nowMs: number): Record<string, unknown> {
  return {
    requestContext: {
      requestId: randomUUID(),
      functionArn,
      condition: failed.condition,
      approximateInvokeCount: failed.approximateInvokeCount,
    },
    responseContext: responseContext(failed.lastResult),
    version: '1.0',
    timestamp: new Date(nowMs).toISOString(),
    KinesisBatchInfo: failed.batchInfo,
  };
}

/** `aws/lambda/<ESM-UUID>/<shardId>/YYYY/MM/DD/YYYY-MM-DDTHH.MM.SS-<UUID>` (UTC). */
export function s3OnFailureKey(mappingUuid: string, shardId: string, nowMs: number, id: string = randomUUID()): string {
  const iso = new Date(nowMs).toISOString(); // YYYY-MM-DDTHH:MM:SS.sssZ
  const [y, m, d] = [iso.slice(0, 4), iso.slice(5, 7), iso.slice(8, 10)];
  const stamp = `${iso.slice(0, 10)}T${iso.slice(11, 19).replace(/:/g, '.')}`;
  return `${ESM_ON_FAILURE_PREFIX}${mappingUuid}/${shardId}/${y}/${m}/${d}/${stamp}-${id}`;
}

/** Writes one on-failure record; throws if the destination rejects it (the caller retries: records are never dropped silently). */
export async function sendOnFailure(
  destination: OnFailureDestination,
  clients: EsmClients,
  mappingUuid: string,
  functionArn: string,
  failed: FailedBatch,
  nowMs: number,
  signal?: AbortSignal,
): Promise<string> {
  const record = onFailureRecord(functionArn, failed, nowMs);
  switch (destination.kind) {
    case 'sqs':
      await clients.sqs.send(
        new SendMessageCommand({ QueueUrl: destination.queueUrl, MessageBody: JSON.stringify(record) }),
        { abortSignal: signal },
      );
      return destination.queueArn;
    case 'sns': {
      if (!clients.sns) throw new Error(`on-failure destination ${destination.topicArn} needs an SNS client`);
      const message = JSON.stringify(record);
      if (Buffer.byteLength(message) > SNS_MAX_BYTES) return `${destination.topicArn} (dropped: above 256 KB, as SNS does)`;
      await clients.sns.publish({ TopicArn: destination.topicArn, Message: message });
      return destination.topicArn;
    }
    case 's3': {
      const key = s3OnFailureKey(mappingUuid, failed.batchInfo.shardId, nowMs);
      const body = JSON.stringify({ ...record, payload: JSON.stringify(failed.event) });
      await clients.s3.send(
        new PutObjectCommand({ Bucket: destination.bucket, Key: key, Body: body, ContentType: 'application/json' }),
        { abortSignal: signal },
      );
      return `s3://${destination.bucket}/${key}`;
    }
  }
}
