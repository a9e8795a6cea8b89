import { HeadObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterEach, describe, expect, it } from 'vitest';
import { contentHash, type Envelope } from '../../../../lib/core';
import { S3_KNOWN_OBJECTS, S3Sink } from '../../../../lib/handlers/ports/s3';
import { fakeS3, putFakeObject, type FakeS3 } from '../support/fake-aws';

let s3: FakeS3;
afterEach(() => s3?.mock.restore());

function env(day: number, id = '9613b6ef-b2fe-5458-84cf-23be3c6f4870'): Envelope {
  return { v: 1, id, correlationId: 'c', source: 's', eventTime: `2026-01-0${day}T00:00:00.000Z`, hops: [], payload: { day } };
}
const meta = (e: Envelope) => ({ partitionKey: 'pk', sequenceNumber: '1', contentHash: contentHash(e.payload) });
const heads = () => s3.mock.commandCalls(HeadObjectCommand).length;
const puts = () => s3.mock.commandCalls(PutObjectCommand).map((c) => c.args[0].input);

describe('S3 sink without a HEAD before each PUT', () => {
  it('creates a new object with one conditional PUT (If-None-Match), then replaces it with If-Match on the ETag it got', async () => {
    s3 = fakeS3();
    const sink = new S3Sink(new S3Client({ region: 'us-east-2' }), 'bkt');
    expect(await sink.write(env(1), meta(env(1)))).toBe('written');
    expect(await sink.write(env(2), meta(env(2)))).toBe('written');
    expect(heads()).toBe(0);
    expect(puts().map((p) => [p.IfNoneMatch, p.IfMatch])).toEqual([['*', undefined], [undefined, '"e1"']]);
  });

  it('counts an older version than one it wrote as stale without any request', async () => {
    s3 = fakeS3();
    const sink = new S3Sink(new S3Client({ region: 'us-east-2' }), 'bkt');
    await sink.write(env(3), meta(env(3)));
    expect(await sink.write(env(2), meta(env(2)))).toBe('stale');
    expect(puts()).toHaveLength(1);
    expect(heads()).toBe(0);
  });

  it('reads the object (HEAD) when the condition fails, and decides again: an existing newer object makes it stale', async () => {
    s3 = fakeS3();
    const theirs = env(5);
    putFakeObject(s3, `bkt/${theirs.id}.json`, JSON.stringify(theirs), { 'phx-event-time': theirs.eventTime, 'phx-content-hash': contentHash(theirs.payload) });
    const sink = new S3Sink(new S3Client({ region: 'us-east-2' }), 'bkt');
    expect(await sink.write(env(1), meta(env(1)))).toBe('stale');
    expect(heads()).toBe(1);
    // An older object written by another writer after ours: If-Match fails, HEAD, replace it.
    expect(await sink.write(env(6), meta(env(6)))).toBe('written');
    const old = env(7);
    putFakeObject(s3, `bkt/${old.id}.json`, '{}', { 'phx-event-time': '2026-01-06T12:00:00.000Z', 'phx-content-hash': 'x' });
    expect(await sink.write(old, meta(old))).toBe('written');
    expect(JSON.parse(s3.objects.get(`bkt/${old.id}.json`)!.body).payload).toEqual({ day: 7 });
  });

  it('reads the object to tell a duplicate of the version it knows from a newer one written by another writer', async () => {
    s3 = fakeS3();
    const sink = new S3Sink(new S3Client({ region: 'us-east-2' }), 'bkt');
    await sink.write(env(2), meta(env(2)));
    expect(await sink.write(env(2), meta(env(2)))).toBe('duplicate');
    const newer = env(4);
    putFakeObject(s3, `bkt/${newer.id}.json`, '{}', { 'phx-event-time': newer.eventTime, 'phx-content-hash': contentHash(newer.payload) });
    expect(await sink.write(env(2), meta(env(2)))).toBe('stale');
    expect(heads()).toBe(2);
  });

  it(`remembers at most ${S3_KNOWN_OBJECTS} objects (the oldest forgotten first)`, async () => {
    s3 = fakeS3();
    const sink = new S3Sink(new S3Client({ region: 'us-east-2' }), 'bkt');
    const ids = Array.from({ length: S3_KNOWN_OBJECTS + 1 }, (_, i) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`);
    for (const id of ids) await sink.write(env(1, id), meta(env(1, id)));
    // The first id was forgotten: its stale write needs a round trip; the last one is still known.
    await sink.write(env(1, ids[ids.length - 1]), meta(env(1, ids[ids.length - 1])));
    expect(heads()).toBe(1);
    const before = puts().length;
    expect(await sink.write(env(1, ids[0]), meta(env(1, ids[0])))).toBe('duplicate');
    expect(puts().length).toBe(before + 1);
  });
});
