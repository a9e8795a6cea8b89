/**
 * Builds the sink configured by PHX_SINK_KIND. Each adapter module (and so its AWS SDK client) is loaded only when
 * it is the configured one: loading all four clients costs ~100 ms of cold start, one ~50 ms.
 */
import type { IngestConfig } from '../config';
import { KINESIS_CLIENT_OPTIONS } from './kinesis-client';
import type { DlqPort, SinkPort } from './types';

export async function createConfiguredSink(config: Pick<IngestConfig, 'sinkKind' | 'sinkTarget'>): Promise<SinkPort> {
  const target = config.sinkTarget!;
  switch (config.sinkKind) {
    case 'dynamodb': {
      const [{ DynamoDbSink }, { DynamoDBClient }] = await Promise.all([import('./dynamodb.js'), import('@aws-sdk/client-dynamodb')]);
      return new DynamoDbSink(new DynamoDBClient({}), target);
    }
    case 's3': {
      const [{ S3Sink }, { S3Client }] = await Promise.all([import('./s3.js'), import('@aws-sdk/client-s3')]);
      return new S3Sink(new S3Client({}), target);
    }
    case 'kinesis': {
      const [{ KinesisSink }, { KinesisClient }] = await Promise.all([import('./kinesis.js'), import('@aws-sdk/client-kinesis')]);
      return new KinesisSink(new KinesisClient({ ...KINESIS_CLIENT_OPTIONS }), target);
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
