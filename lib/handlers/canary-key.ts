/**
 * The deployment's canary key (docs/ARCHITECTURE.md, "Control records"): 32 random bytes in one S3 object
 * (PHX_CANARY_KEY_URI, in the terminal stage's dead-letter overflow bucket), created by whichever of the canary
 * function and the stages reads it first. Producers cannot read the bucket, so they cannot sign a canary.
 */
import { randomBytes } from 'node:crypto';
import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { ENV } from '../../constructs/contract';
import { s3Client } from '../aws/clients';
import { MIN_CANARY_KEY_BYTES } from '../core/canary';
import { ConfigError, PhoenixError } from '../core/errors';

/** Bucket and key of an `s3://bucket/key` URI. */
export function parseS3Uri(uri: string): { bucket: string; key: string } {
  const m = /^s3:\/\/([^/]+)\/(.+)$/.exec(uri);
  if (m === null) throw new ConfigError(ENV.canaryKeyUri, uri, 'an S3 object URI s3://<bucket>/<key>');
  return { bucket: m[1], key: m[2] };
}

function isPreconditionFailure(err: unknown): boolean {
  const e = err as { name?: unknown; $metadata?: { httpStatusCode?: unknown } };
  return e?.name === 'PreconditionFailed' || e?.name === 'ConditionalRequestConflict'
    || e?.$metadata?.httpStatusCode === 412 || e?.$metadata?.httpStatusCode === 409;
}

/**
 * Reads the canary key at `uri`, creating it first when absent: a PUT with If-None-Match (no ListBucket needed), and
 * on its precondition failure (the key exists) a GET. Both writers racing end with the one key stored.
 */
export async function loadCanaryKey(uri: string, client: S3Client = s3Client()): Promise<Uint8Array> {
  const { bucket, key } = parseS3Uri(uri);
  const fresh = randomBytes(MIN_CANARY_KEY_BYTES).toString('base64');
  try {
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: fresh, IfNoneMatch: '*', ContentType: 'text/plain' }));
    return Buffer.from(fresh, 'base64');
  } catch (err) {
    if (!isPreconditionFailure(err)) throw err;
  }
  const out = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  const stored = Buffer.from((await out.Body?.transformToString()) ?? '', 'base64');
  if (stored.length < MIN_CANARY_KEY_BYTES) {
    throw new PhoenixError('CANARY_KEY', `the canary key at ${uri} holds ${stored.length} bytes; at least ${MIN_CANARY_KEY_BYTES} (base64) are required: delete the object to have a new one created`);
  }
  return stored;
}
