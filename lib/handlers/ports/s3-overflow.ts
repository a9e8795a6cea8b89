/**
 * S3 store for dead letters too large for the queue. A module of its own so that the S3 client (the heaviest SDK
 * client to load, ~60 ms) is only loaded by the first overflow, not at every cold start.
 */
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { s3Client } from '../../aws/clients';

/** Returns a function storing base64 text at `key` in `bucket` and returning `s3://bucket/key`. */
export function s3OverflowStore(bucket: string, client: S3Client = s3Client()): (key: string, base64Data: string) => Promise<string> {
  return async (key, base64Data) => {
    await client.send(new PutObjectCommand({
      Bucket: bucket,
      Key: key,
      Body: base64Data,
      ContentType: 'text/plain; charset=us-ascii',
    }));
    return `s3://${bucket}/${key}`;
  };
}
