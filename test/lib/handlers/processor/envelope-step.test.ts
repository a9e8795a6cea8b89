import { describe, expect, it } from 'vitest';
import { fixture, NAMESPACE, state, TEST_CANARY_KEY } from './support';
import { CANARY_SOURCE } from '../../../../constructs/contract';
import { recordId } from '../../../../lib/core';
import { buildCanaryEnvelope } from '../../../../lib/core/canary';
import { envelopeStep, prepare } from '../../../../lib/handlers/processor/envelope-step';

describe('envelopeStep / prepare', () => {
  it('builds the envelope with the deterministic id and the stream as source', () => {
    const f = fixture();
    const st = state({ orderId: 'o-1', eventTime: '2026-01-01T00:00:00Z' }, f.clock);
    prepare(st, 'lambda-stream', f.ctx);
    expect(st.dead).toBeUndefined();
    expect(st.id).toBe(recordId({ orderId: 'o-1' }, NAMESPACE, ['orderId']));
    expect(st.env).toMatchObject({ v: 1, id: st.id, correlationId: st.id, source: 'lambda-stream', eventTime: '2026-01-01T00:00:00.000Z' });
    // The record text is JSON.stringify of the payload: kept as its serialization.
    expect(st.canonical).toBe('{"orderId":"o-1","eventTime":"2026-01-01T00:00:00Z"}');
    expect(st.canonicalUtf8?.toString('utf8')).toBe(st.canonical);
  });

  it('keeps the canonical text of the id when there are no key fields', () => {
    const f = fixture({ PHX_KEY_FIELDS: '[]' });
    const st = state('{"b":1, "a":2}', f.clock);
    prepare(st, 's', f.ctx);
    expect(st.canonical).toBe('{"a":2,"b":1}');
    expect(st.canonicalUtf8).toBeUndefined();
  });

  it('dead-letters a record without its natural key as missing-key', () => {
    const f = fixture();
    const st = state({ other: 1 }, f.clock);
    prepare(st, 's', f.ctx);
    expect(st.dead?.class).toBe('missing-key');
    expect(st.env).toBeUndefined();
  });

  it('applies the schema validator: a problem makes the record dead with reason schema', () => {
    const f = fixture({}, { validate: (p) => (typeof (p as { amount?: unknown }).amount === 'number' ? null : 'amount must be a number') });
    const st = state({ orderId: 'o-1', amount: 'x' }, f.clock);
    prepare(st, 's', f.ctx);
    expect(st.dead).toEqual({ class: 'schema', message: 'amount must be a number' });
    expect(st.id).not.toBeNull();
  });

  it('takes a canary as sent: no key, no schema, its own id and sentAt as event time', () => {
    const f = fixture({}, { validate: () => 'never valid' });
    const canary = buildCanaryEnvelope('orders', 1_764_000_000_000, TEST_CANARY_KEY);
    const st = state(canary as unknown as Record<string, unknown>, f.clock);
    prepare(st, 's', f.ctx);
    expect(st.canary).toBe(true);
    expect(st.dead).toBeUndefined();
    expect(st.id).toBe(canary.id);
    expect(st.env).toMatchObject({ source: CANARY_SOURCE, eventTime: canary.payload.sentAt, correlationId: canary.correlationId });
  });

  it('does not decode again: envelopeStep works on the decoded value it is given', () => {
    const f = fixture();
    const st = state({ ignored: true }, f.clock);
    envelopeStep(st, { orderId: 'o-9' }, 's', f.ctx);
    expect(st.env?.payload).toEqual({ orderId: 'o-9' });
    expect(st.canonical).toBeUndefined();
  });
});
