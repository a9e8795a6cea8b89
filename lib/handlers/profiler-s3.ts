/**
 * S3 adapter of the profiler's ProfileStore: GetObject, PutObject (If-None-Match: * for evaluation markers),
 * ListObjectsV2 (paginated; with Delimiter for window folders). Works against fauxqs locally through
 * AWS_ENDPOINT_URL_S3 (an IP-address endpoint makes the SDK use path-style addressing).
 */
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { ProfileStore } from './profiler-window';

/** Pages read per listing at most (1,000 keys each): a window has one part per shard, a lookback at most 101 folders. */
const MAX_PAGES = 20;

function statusOf(err: unknown): number | undefined {
  return (err as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
}

export class S3ProfileStore implements ProfileStore {
  constructor(private readonly client: S3Client, private readonly bucket: string) {}

  async get(key: string): Promise<string | undefined> {
    try {
      const res = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      return await res.Body!.transformToString('utf-8');
    } catch (err) {
      const name = (err as Error)?.name;
      if (name === 'NoSuchKey' || name === 'NotFound' || statusOf(err) === 404) return undefined;
      throw err;
    }
  }

  async put(key: string, body: string, opts: { ifNoneMatch?: boolean } = {}): Promise<boolean> {
    try {
      await this.client.send(new PutObjectCommand({
        Bucket: this.bucket,
        Key: key,
        Body: body,
        ContentType: 'application/json',
        ...(opts.ifNoneMatch ? { IfNoneMatch: '*' } : {}),
      }));
      return true;
    } catch (err) {
      const name = (err as Error)?.name;
      const status = statusOf(err);
      // 412: the object exists; 409: a concurrent conditional write of the same key won.
      if (opts.ifNoneMatch && (name === 'PreconditionFailed' || name === 'ConditionalRequestConflict' || status === 412 || status === 409)) return false;
      throw err;
    }
  }

  async listKeys(prefix: string): Promise<string[]> {
    const keys: string[] = [];
    let token: string | undefined;
    for (let page = 0; page < MAX_PAGES; page++) {
      const res = await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken: token }));
      for (const o of res.Contents ?? []) if (o.Key) keys.push(o.Key);
      if (!res.IsTruncated || !res.NextContinuationToken) break;
      token = res.NextContinuationToken;
    }
    return keys.sort();
  }

  async listFolders(prefix: string, startAfter: string): Promise<string[]> {
    const folders: string[] = [];
    let token: string | undefined;
    for (let page = 0; page < MAX_PAGES; page++) {
      const res = await this.client.send(new ListObjectsV2Command({
        Bucket: this.bucket, Prefix: prefix, Delimiter: '/', StartAfter: token ? undefined : startAfter, ContinuationToken: token,
      }));
      for (const p of res.CommonPrefixes ?? []) if (p.Prefix && p.Prefix > startAfter) folders.push(p.Prefix);
      if (!res.IsTruncated || !res.NextContinuationToken) break;
      token = res.NextContinuationToken;
    }
    return folders.sort();
  }
}
