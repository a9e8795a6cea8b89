import { describe, expect, it } from 'vitest';
import { CANARY_SOURCE } from '../../../constructs/contract';
import { buildCanaryEnvelope, canaryEnvelope, isCanary, isCanaryData, isCanaryPayload } from '../../../lib/core/canary';

const KEY = Buffer.alloc(32, 7);
const CANARY = buildCanaryEnvelope('orders', 1_764_000_000_000, KEY);

describe('the one canary recognizer', () => {
  it('payload rule: canary true, sentAt an event time, pipeline a non-empty string', () => {
    expect(isCanaryPayload(CANARY.payload)).toBe(true);
    expect(isCanaryPayload({ canary: true, sentAt: 1_764_000_000_000, pipeline: 'p' })).toBe(true);
    expect(isCanaryPayload({ canary: true, sentAt: 'yesterday', pipeline: 'p' })).toBe(false);
    expect(isCanaryPayload({ canary: true, sentAt: '2026-01-01T00:00:00Z' })).toBe(false);
    expect(isCanaryPayload({ canary: true, sentAt: '2026-01-01T00:00:00Z', pipeline: '' })).toBe(false);
    expect(isCanaryPayload({ canary: 'yes', sentAt: '2026-01-01T00:00:00Z', pipeline: 'p' })).toBe(false);
  });

  it('envelope rule: v 1 and the canary source', () => {
    expect(isCanary(CANARY)).toBe(true);
    expect(isCanary({ ...CANARY, v: 2 })).toBe(false);
    expect(isCanary({ ...CANARY, source: 'web' })).toBe(false);
    expect(canaryEnvelope({ ...CANARY, source: 'web' }, KEY)).toBeUndefined();
  });

  it('canaryEnvelope keeps the producer id and correlation id, and takes sentAt as the event time', () => {
    const env = canaryEnvelope(JSON.parse(JSON.stringify(CANARY)), KEY)!;
    expect(env).toEqual({
      v: 1,
      id: CANARY.id,
      correlationId: CANARY.correlationId,
      source: CANARY_SOURCE,
      eventTime: CANARY.payload.sentAt,
      hops: [],
      payload: CANARY.payload,
    });
  });

  it('record bytes: recognized with a byte order mark, not when malformed', () => {
    const text = JSON.stringify(CANARY);
    expect(isCanaryData(Buffer.from(text))).toBe(true);
    expect(isCanaryData(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text)]))).toBe(true);
    expect(isCanaryData(Buffer.from(text.replace('"v":1', '"v":2')))).toBe(false);
    expect(isCanaryData(Buffer.from(`${text.slice(0, -1)}`))).toBe(false);
  });
});
