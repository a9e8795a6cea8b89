import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { REASON_CLASSES } from '../../../constructs/contract';
import {
  DlqMessage,
  PermanentError,
  decodeDlqMessage,
  decodePayload,
  dlqMessageAttributes,
  encodeDlqMessage,
  overflowKey,
  withPayloadRef,
} from '../../../lib/core';

import { deadLetter } from '../../support/dlq';
const data = Buffer.from('{"eventId":"e-1","page":"/"}');

function decodeError(body: string): PermanentError {
  try {
    decodeDlqMessage(body);
  } catch (e) {
    expect(e).toBeInstanceOf(PermanentError);
    expect((e as PermanentError).reasonClass).toBe('decode');
    return e as PermanentError;
  }
  throw new Error('expected decodeDlqMessage to throw');
}

const nullableString = fc.option(fc.string({ maxLength: 40 }), { nil: null });
const isoDate = fc.date({ min: new Date('2000-01-01T00:00:00Z'), max: new Date('2100-01-01T00:00:00Z'), noInvalidDate: true }).map((d) => d.toISOString());
const dlqMessage: fc.Arbitrary<DlqMessage> = fc.record({
  v: fc.constant(1 as const),
  id: fc.option(fc.uuid(), { nil: null }),
  correlationId: nullableString,
  stage: fc.string({ minLength: 1, maxLength: 20 }),
  reason: fc.record({ class: fc.constantFrom(...REASON_CLASSES), message: fc.string({ maxLength: 200 }) }),
  attempts: fc.nat(1000),
  firstFailedAt: isoDate,
  lastFailedAt: isoDate,
  source: fc.record({
    streamArn: nullableString,
    shardId: nullableString,
    sequenceNumber: fc.option(fc.bigInt({ min: BigInt(0), max: BigInt(10) ** BigInt(60) }).map(String), { nil: null }),
    partitionKey: nullableString,
    arrivedAt: fc.option(isoDate, { nil: null }),
  }),
  payload: fc.option(fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b).toString('base64')), { nil: null }),
  payloadRef: fc.constant(null),
});

describe('encodeDlqMessage / decodeDlqMessage', () => {
  it('writes the v1 fields in contract order', () => {
    const { body } = encodeDlqMessage(deadLetter(), 262_144);
    expect(Object.keys(JSON.parse(body) as object)).toEqual([
      'v', 'id', 'correlationId', 'stage', 'reason', 'attempts', 'firstFailedAt', 'lastFailedAt', 'source', 'payload', 'payloadRef',
    ]);
  });

  it('counts the body and the message attributes', () => {
    const msg = deadLetter();
    const { body, bytes, fits } = encodeDlqMessage(msg, 262_144);
    const attrs = 'reasonClass'.length + 6 + 'schema'.length + 'stage'.length + 6 + 'ingest'.length + 'id'.length + 6 + 36;
    expect(bytes).toBe(Buffer.byteLength(body) + attrs);
    expect(fits).toBe(true);
    expect(encodeDlqMessage(msg, bytes).fits).toBe(true);
    expect(encodeDlqMessage(msg, bytes - 1).fits).toBe(false);
  });

  it('counts multi-byte characters as UTF-8 bytes', () => {
    const ascii = encodeDlqMessage(deadLetter({ reason: { class: 'schema', message: 'aaaa' } }), 1e6).bytes;
    const multi = encodeDlqMessage(deadLetter({ reason: { class: 'schema', message: 'éééé' } }), 1e6).bytes;
    expect(multi - ascii).toBe(4);
  });

  it('drops unknown fields and refuses to encode an invalid message', () => {
    const extra = { ...deadLetter(), extra: 'x' } as DlqMessage;
    expect(JSON.parse(encodeDlqMessage(extra, 1e6).body)).not.toHaveProperty('extra');
    expect(() => encodeDlqMessage(deadLetter({ stage: '' }), 1e6)).toThrow(/stage must be a non-empty string/);
    expect(() => encodeDlqMessage(deadLetter(), 0)).toThrow(/maxMessageBytes must be an integer >= 1; got number 0/);
  });

  it('roundtrips any valid message (property)', () => {
    fc.assert(
      fc.property(dlqMessage, fc.boolean(), (msg, moved) => {
        const m = moved ? withPayloadRef(msg, `s3://bucket/${overflowKey(msg)}`) : msg;
        expect(decodeDlqMessage(encodeDlqMessage(m, 262_144).body)).toEqual(m);
      }),
      { numRuns: 300 },
    );
  });

  it.each([
    ['not json', /body is not JSON/],
    ['[]', /expected a JSON object; got an array/],
    [JSON.stringify({ ...deadLetter(), v: 2 }), /v must be 1; got number 2/],
    [JSON.stringify({ ...deadLetter(), id: 5 }), /id must be a string or null; got number 5/],
    [JSON.stringify({ ...deadLetter(), stage: null }), /stage must be a non-empty string; got null/],
    [JSON.stringify({ ...deadLetter(), reason: 'x' }), /reason must be an object/],
    [JSON.stringify({ ...deadLetter(), reason: { class: 'oops', message: '' } }), /reason.class must be one of decode, schema, .*; got "oops"/],
    [JSON.stringify({ ...deadLetter(), reason: { class: 'decode' } }), /reason.message must be a string; got undefined/],
    [JSON.stringify({ ...deadLetter(), attempts: -1 }), /attempts must be an integer >= 0; got number -1/],
    [JSON.stringify({ ...deadLetter(), firstFailedAt: 'then' }), /firstFailedAt must be an ISO-8601 timestamp; got "then"/],
    [JSON.stringify({ ...deadLetter(), source: null }), /source must be an object; got null/],
    [JSON.stringify({ ...deadLetter(), source: { ...deadLetter().source, shardId: 1 } }), /source.shardId must be a string or null/],
    [JSON.stringify({ ...deadLetter(), payloadRef: 's3://b/k' }), /payload and payloadRef are both set/],
    [JSON.stringify({ ...deadLetter(), payload: null, payloadRef: 'https://b/k' }), /payloadRef must look like s3:\/\/bucket\/key/],
  ])('rejects %s', (body, expected) => {
    const e = decodeError(body);
    expect(e.message).toMatch(/^invalid DLQ message v1: /);
    expect(e.message).toMatch(expected);
  });

  it('accepts a message with neither payload nor payloadRef (data unknown)', () => {
    const m = deadLetter({ id: null, correlationId: null, payload: null, reason: { class: 'esm-exhausted', message: 'records expired' } });
    expect(decodeDlqMessage(encodeDlqMessage(m, 1e6).body)).toEqual(m);
  });
});

describe('overflow to S3', () => {
  it('derives a deterministic key from stage, id and sequence number', () => {
    const m = deadLetter();
    expect(overflowKey(m)).toBe(`dlq-payloads/ingest/${m.id}/${m.source.sequenceNumber}.b64`);
    expect(overflowKey(m)).toBe(overflowKey(deadLetter()));
  });

  it('uses the payload hash without id and "none" without sequence number', () => {
    const m = deadLetter({ id: null, source: { ...deadLetter().source, sequenceNumber: null } });
    const hash = createHash('sha256').update(m.payload as string, 'utf8').digest('hex');
    expect(overflowKey(m)).toBe(`dlq-payloads/ingest/${hash}/none.b64`);
  });

  it('keeps a stage with a slash in one key segment', () => {
    expect(overflowKey(deadLetter({ stage: 'a/b' }))).toMatch(/^dlq-payloads\/a%2Fb\//);
  });

  it('moves the payload to a reference without modifying the input', () => {
    const m = deadLetter();
    const moved = withPayloadRef(m, 's3://overflow-bucket/dlq-payloads/x.b64');
    expect(moved).toEqual({ ...m, payload: null, payloadRef: 's3://overflow-bucket/dlq-payloads/x.b64' });
    expect(m.payload).not.toBeNull();
    expect(() => withPayloadRef(m, 'overflow-bucket/key')).toThrow(/withPayloadRef: payloadRef must look like s3:\/\/bucket\/key/);
  });

  it('a large payload does not fit and its reference does', () => {
    const big = deadLetter({ payload: Buffer.alloc(300_000, 1).toString('base64') });
    expect(encodeDlqMessage(big, 262_144).fits).toBe(false);
    expect(encodeDlqMessage(withPayloadRef(big, `s3://b/${overflowKey(big)}`), 262_144).fits).toBe(true);
  });
});

describe('dlqMessageAttributes', () => {
  it('mirrors reason class, stage and id', () => {
    expect(dlqMessageAttributes(deadLetter())).toEqual({ reasonClass: 'schema', stage: 'ingest', id: '4222734f-15b2-5084-8f3c-efd5b29bea2f' });
    expect(dlqMessageAttributes(deadLetter({ id: null }))).toEqual({ reasonClass: 'schema', stage: 'ingest' });
  });
});

describe('decodePayload', () => {
  it('returns the original bytes, or null without payload', () => {
    expect(decodePayload(deadLetter())).toEqual(data);
    expect(decodePayload(deadLetter({ payload: null }))).toBeNull();
    expect(decodePayload(deadLetter({ payload: '' }))).toEqual(Buffer.alloc(0));
  });

  it('rejects a payload that is not strict base64', () => {
    expect(() => decodePayload(deadLetter({ payload: 'e30' }))).toThrow(/payload is not valid base64: length 3/);
    expect(() => decodePayload(deadLetter({ payload: 'e3-=' }))).toThrow(PermanentError);
  });
});
