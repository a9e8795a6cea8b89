/**
 * S3 sink: one object per record id at `<prefix><id>.json` holding the envelope JSON, with the version in metadata
 * (`phx-event-time`, `phx-content-hash`). Every PUT is conditional (If-None-Match: * for a new object, If-Match:
 * <etag> to replace an older version), so that two writers never overwrite a newer version (docs/ARCHITECTURE.md,
 * "Idempotent sinks"). The conditions make a HEAD before each PUT unnecessary: the sink remembers the ETag and version
 * of the objects it wrote or read last (per container), PUTs against that (or If-None-Match when it knows nothing),
 * and HEADs only when the condition fails.
 */
import { HeadObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { SinkPort, SinkWriteMeta, WriteResult } from './types';
import { compareVersions, notAppliedOutcome, sortableEventTime, type Version } from './version';
import type { Envelope } from '../../core/envelope';
import { TransientError } from '../../core/failure';

export const S3_META_EVENT_TIME = 'phx-event-time';
export const S3_META_CONTENT_HASH = 'phx-content-hash';

/** Conditional PUT rounds when another writer changes the object in between. */
const MAX_ROUNDS = 4;

/** Objects whose last known ETag and version a sink remembers (the oldest entry is dropped first). */
export const S3_KNOWN_OBJECTS = 10_000;

/** What the sink knows of an object: its ETag, and its version (undefined: no complete version metadata). */
interface Known {
  readonly etag: string;
  readonly version?: Version;
}

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

/** Drops the oldest entries of a Map used as a bounded memory (Maps iterate in insertion order). */
function remember(known: Map<string, Known>, key: string, value: Known): void {
  known.delete(key);
  known.set(key, value);
  if (known.size > S3_KNOWN_OBJECTS) known.delete(known.keys().next().value!);
}

export class S3Sink implements SinkPort {
  private readonly bucket: string;
  private readonly prefix: string;
  private readonly known = new Map<string, Known>();

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
    let head: Known | undefined = this.known.get(key);
    const vsKnown = head?.version !== undefined ? compareVersions(incoming, head.version) : 1;
    // Older than a version the object held: stale, whatever was written since (versions only grow).
    if (vsKnown < 0) return 'stale';
    // Equal to it: duplicate unless another writer stored a newer one; read to tell.
    if (vsKnown === 0) head = await this.head(key);
    for (let round = 1; round <= MAX_ROUNDS; round++) {
      if (head?.version !== undefined && compareVersions(incoming, head.version) <= 0) {
        remember(this.known, key, head);
        return notAppliedOutcome(incoming, head.version);
      }
      try {
        const out = await this.client.send(new PutObjectCommand({
          Bucket: this.bucket,
          Key: key,
          Body: body,
          ContentType: 'application/json',
          Metadata: { [S3_META_EVENT_TIME]: incoming.eventTime, [S3_META_CONTENT_HASH]: incoming.contentHash },
          ...(head === undefined ? { IfNoneMatch: '*' } : { IfMatch: head.etag }),
        }));
        if (out.ETag !== undefined) remember(this.known, key, { etag: out.ETag, version: incoming });
        else this.known.delete(key);
        return 'written';
      } catch (err) {
        // The object is not what the condition assumed (another writer, or deleted since): read it and decide again.
        if (!isConditionConflict(err) && !isNotFound(err)) throw err;
        head = await this.head(key);
      }
    }
    throw new TransientError(`s3://${this.bucket}/${key} kept changing during ${MAX_ROUNDS} conditional writes`);
  }

  /** undefined = no object; version undefined = an object without (complete) version metadata, replaced by any version. */
  private async head(key: string): Promise<Known | undefined> {
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
