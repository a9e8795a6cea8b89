/**
 * DLQ port on SQS, with S3 for dead letters too large for a message (the processor decides on overflow).
 */
import { SendMessageCommand, type MessageAttributeValue, type SQSClient } from '@aws-sdk/client-sqs';
import type { DlqPort } from './types';
import { sqsClient } from '../../aws/clients';

type OverflowStore = (key: string, base64Data: string) => Promise<string>;

export class SqsDlq implements DlqPort {
  /** Defined only when an overflow bucket is configured (DlqPort.putOverflow is optional). */
  readonly putOverflow?: (key: string, base64Data: string) => Promise<string>;

  /**
   * @param overflow the overflow bucket; `store` defaults to an S3 store loaded on first use (s3-overflow.ts)
   */
  constructor(
    private readonly sqs: SQSClient,
    private readonly queueUrl: string,
    overflow?: { bucket: string; store?: OverflowStore },
  ) {
    if (overflow) {
      let store: Promise<OverflowStore> | undefined = overflow.store ? Promise.resolve(overflow.store) : undefined;
      this.putOverflow = async (key, base64Data) => {
        store ??= import('./s3-overflow.js').then((m) => m.s3OverflowStore(overflow.bucket));
        return (await store)(key, base64Data);
      };
    }
  }

  async sendMessage(body: string, attributes: Readonly<Record<string, string>>): Promise<void> {
    const MessageAttributes: Record<string, MessageAttributeValue> = {};
    for (const [name, value] of Object.entries(attributes)) {
      // SQS rejects empty attribute values.
      if (value !== '') MessageAttributes[name] = { DataType: 'String', StringValue: value };
    }
    await this.sqs.send(new SendMessageCommand({ QueueUrl: this.queueUrl, MessageBody: body, MessageAttributes }));
  }
}

/** The DLQ port of the ingest function: SQS (endpoint from the SDK configuration, never from the queue URL). */
export function createSqsDlq(queueUrl: string, overflowBucket: string | undefined): SqsDlq {
  return new SqsDlq(sqsClient(), queueUrl, overflowBucket ? { bucket: overflowBucket } : undefined);
}
