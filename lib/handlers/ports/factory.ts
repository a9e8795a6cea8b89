/**
 * Builds the sink configured by PHX_SINK_KIND. Each adapter module (and so its AWS SDK client) is loaded only when
 * it is the configured one: loading all four clients costs ~100 ms of cold start, one ~50 ms.
 */
import { dynamoDbClient, kinesisClient, s3Client } from '../../aws/clients';
import type { IngestConfig } from '../config';
import type { DlqPort, SinkPort } from './types';

export async function createConfiguredSink(config: Pick<IngestConfig, 'sinkKind' | 'sinkTarget'>): Promise<SinkPort> {
  const target = config.sinkTarget!;
  switch (config.sinkKind) {
    case 'dynamodb': {
      const { DynamoDbSink } = await import('./dynamodb.js');
      return new DynamoDbSink(dynamoDbClient(), target);
    }
    case 's3': {
      const { S3Sink } = await import('./s3.js');
      return new S3Sink(s3Client(), target);
    }
    case 'kinesis': {
      const { KinesisSink } = await import('./kinesis.js');
      return new KinesisSink(kinesisClient(), target);
    }
    case 'none': {
      const { NoneSink } = await import('./none.js');
      return new NoneSink();
    }
  }
}

/**
 * The DLQ port of PHX_DLQ_URL / PHX_DLQ_OVERFLOW_BUCKET, loaded on the first dead letter (most invocations have
 * none, so the SQS client stays off the cold-start path).
 */
export function createConfiguredDlq(queueUrl: string, overflowBucket: string | undefined): DlqPort {
  let port: Promise<DlqPort> | undefined;
  const load = (): Promise<DlqPort> => (port ??= import('./sqs-dlq.js').then((m) => m.createSqsDlq(queueUrl, overflowBucket)));
  return {
    sendMessage: async (body, attributes) => (await load()).sendMessage(body, attributes),
    ...(overflowBucket !== undefined
      ? { putOverflow: async (key: string, base64Data: string) => (await load()).putOverflow!(key, base64Data) }
      : {}),
  };
}
