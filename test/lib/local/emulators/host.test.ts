/** S3's conditional PutObject on the local emulators: decided as S3 decides it, also under concurrent writers. */
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, describe, expect, it } from 'vitest';
import { liveChildren, withDeployed } from '../support';

const TEMPLATE = { Resources: { Data: { Type: 'AWS::S3::Bucket' } } };

const errorName = (p: Promise<unknown>): Promise<string> => p.then(() => 'ok', (e: Error) => e.name);

describe('local S3: conditional PutObject', () => {
  afterAll(() => expect(liveChildren()).toEqual([]));

  it('If-None-Match: * creates once (412 after), If-Match needs the current ETag (412 otherwise, 404 on a missing key)', async () => {
    await withDeployed('Cond', TEMPLATE, false, async ({ services, provisioned }) => {
      const s3 = services.clients.s3;
      const Bucket = provisioned.buckets[0].name;
      const put = (Key: string, Body: string, cond: { IfNoneMatch?: string; IfMatch?: string }) =>
        s3.send(new PutObjectCommand({ Bucket, Key, Body, ...cond }));
      const first = await put('k', 'one', { IfNoneMatch: '*' });
      expect(await errorName(put('k', 'two', { IfNoneMatch: '*' }))).toBe('PreconditionFailed');
      expect(await errorName(put('k', 'three', { IfMatch: '"not-the-etag"' }))).toBe('PreconditionFailed');
      expect(await errorName(put('k', 'four', { IfMatch: first.ETag }))).toBe('ok');
      expect(await errorName(put('missing', 'x', { IfMatch: first.ETag }))).toBe('NoSuchKey');
      // Ten writers racing to create one object: exactly one wins, as with S3.
      const outcomes = await Promise.all(Array.from({ length: 10 }, (_, i) => errorName(put('race', `w${i}`, { IfNoneMatch: '*' }))));
      expect(outcomes.filter((o) => o === 'ok')).toHaveLength(1);
      expect(outcomes.filter((o) => o === 'PreconditionFailed')).toHaveLength(9);
      const stored = await (await s3.send(new GetObjectCommand({ Bucket, Key: 'race' }))).Body!.transformToString();
      expect(stored).toBe(`w${outcomes.indexOf('ok')}`);
    });
  }, 120_000);
});
