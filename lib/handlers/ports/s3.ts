/**
 * S3 sink: one object per record id at `<prefix><id>.json` holding the envelope JSON, with the version in metadata
 * (`phx-event-time`, `phx-content-hash`). HEAD, then a conditional PUT (If-None-Match: * for a new object,
 * If-Match: <etag> to replace an older version), so that two writers never overwrite a newer version
 * (docs/ARCHITECTURE.md, "Idempotent sinks").
 */
import { HeadObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { SinkPort, SinkWriteMeta, WriteResult } from './types';
import { compareVersions, notAppliedOutcome, sortableEventTime, type Version } from './version';
import { TransientError, type Envelope } from '../../core';

export const S3_META_EVENT_TIME = 'phx-event-time';
export const S3_META_CONTENT_HASH = 'phx-content-hash';

/** HEAD + conditional PUT rounds when another writer changes the object in between. */
const MAX_ROUNDS = 4;

/** Parses a sink target `bucket`, `bucket/prefix/` or `s3://bucket/prefix/`. */
export function parseS3Target(target: string): { bucket: string; prefix: string } {
  const t = target.startsWith('s3://') ? target.slice(5) : target;
  const slash = t.indexOf('/');
  return slash < 0 ? { bucket: t, prefix: '' } : { bucket: t.slice(0, slash), prefix: t.slice(slash + 1) };
}

function statusOf(err: unknown): number | undefined {
  return (err as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
}

function isNotFound(err: unknown): boolean {
  const name = (err as Error)?.name;
  return name === 'NotFound' || name === 'NoSuchKey' || statusOf(err) === 404;
}

/** 412: the If-Match/If-None-Match condition failed; 409: a concurrent conditional write to the same key. */
function isConditionConflict(err: unknown): boolean {
  const name = (err as Error)?.name;
  const status = statusOf(err);
  return name === 'PreconditionFailed' || name === 'ConditionalRequestConflict' || status === 412 || status === 409;
}

export class S3Sink implements SinkPort {
  private readonly bucket: string;
  private readonly prefix: string;

  constructor(
    private readonly client: S3Client,
    target: string,
  ) {
    ({ bucket: this.bucket, prefix: this.prefix } = parseS3Target(target));
  }

  /** Object key of a record id. */
  keyOf(id: string): string {
    return `${this.prefix}${id}.json`;
  }

  async write(env: Envelope, meta: SinkWriteMeta): Promise<WriteResult> {
    const incoming: Version = { eventTime: sortableEventTime(env.eventTime), contentHash: meta.contentHash };
    const key = this.keyOf(env.id);
    const body = meta.envelopeJson ?? JSON.stringify(env);
    for (let round = 1; round <= MAX_ROUNDS; round++) {
      const head = await this.head(key);
      if (head !== undefined && head.version !== undefined && compareVersions(incoming, head.version) <= 0) {
        return notAppliedOutcome(incoming, head.version);
      }
      try {
        await this.client.send(new PutObjectCommand({
          Bucket: this.bucket,
          Key: key,
          Body: body,
          ContentType: 'application/json',
          Metadata: { [S3_META_EVENT_TIME]: incoming.eventTime, [S3_META_CONTENT_HASH]: incoming.contentHash },
          ...(head === undefined ? { IfNoneMatch: '*' } : { IfMatch: head.etag }),
        }));
        return 'written';
      } catch (err) {
        if (!isConditionConflict(err)) throw err;
        // Another writer got there first: re-read and decide again.
      }
    }
    throw new TransientError(`s3://${this.bucket}/${key} kept changing during ${MAX_ROUNDS} conditional writes`);
  }

  /** undefined = no object; version undefined = an object without (complete) version metadata, replaced by any version. */
  private async head(key: string): Promise<{ etag: string; version?: Version } | undefined> {
    try {
      const out = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      const et = out.Metadata?.[S3_META_EVENT_TIME];
      const h = out.Metadata?.[S3_META_CONTENT_HASH];
      return {
        etag: out.ETag ?? '*',
        version: et !== undefined && h !== undefined ? { eventTime: et, contentHash: h } : undefined,
      };
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }
}
