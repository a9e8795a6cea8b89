import { describe, expect, it } from 'vitest';
import { fixture, state, TEST_CANARY_KEY } from './support';
import { payloadTextHash, PermanentError, TransientError } from '../../../../lib/core';
import { buildCanaryEnvelope } from '../../../../lib/core/canary';
import { prepare } from '../../../../lib/handlers/processor/envelope-step';
import { keepPayload, payloadStep, runTransform, serializePayload } from '../../../../lib/handlers/processor/payload-step';
import type { Transform } from '../../../../lib/handlers/processor/types';

describe('serializePayload', () => {
  it('uses the known text as is and hashes it', () => {
    const out = serializePayload({ a: 1 }, '{"a":1}', false);
    expect(out).toEqual({ payload: { a: 1 }, json: '{"a":1}', hash: payloadTextHash('{"a":1}') });
  });

  it('hashes the given UTF-8 bytes like the text', () => {
    const text = '{"name":"Zoë"}';
    expect(serializePayload({ name: 'Zoë' }, text, false, Buffer.from(text, 'utf8')).hash).toBe(payloadTextHash(text));
  });

  it('rejects an untrusted value JSON cannot represent', () => {
    expect(() => serializePayload({ x: NaN }, undefined, true)).toThrow(PermanentError);
    expect(serializePayload({ x: NaN }, undefined, false).json).toBe('{"x":null}');
  });
});

describe('keepPayload / runTransform / payloadStep', () => {
  it('keeps the received payload with its text', () => {
    const f = fixture();
    const st = state({ orderId: 'o-1' }, f.clock);
    prepare(st, 's', f.ctx);
    keepPayload(st);
    expect(st.out?.json).toBe('{"orderId":"o-1"}');
  });

  it('runs the transform once and serializes its output', async () => {
    let calls = 0;
    const transform: Transform = (p, c) => {
      calls++;
      return { ...p, id: c.recordId };
    };
    const f = fixture({}, { transform });
    const st = state({ orderId: 'o-1' }, f.clock);
    prepare(st, 's', f.ctx);
    expect(await payloadStep(st, f.ctx)).toBeUndefined();
    expect(await payloadStep(st, f.ctx)).toBeUndefined();
    expect(calls).toBe(1);
    expect(st.out?.json).toBe(JSON.stringify({ orderId: 'o-1', id: st.id }));
  });

  it('reports filtered when the transform returns null', async () => {
    const f = fixture({}, { transform: () => null });
    const st = state({ orderId: 'o-1' }, f.clock);
    prepare(st, 's', f.ctx);
    expect(await payloadStep(st, f.ctx)).toBe('filtered');
    expect(st.out).toBeUndefined();
  });

  it('dead-letters permanent transform failures and bad return values, rethrows transient ones', async () => {
    const f = fixture();
    const mk = () => {
      const st = state({ orderId: 'o-1' }, f.clock);
      prepare(st, 's', f.ctx);
      return st;
    };
    const a = mk();
    await runTransform(a, () => {
      throw new PermanentError('transform', 'bad price');
    });
    expect(a.dead).toEqual({ class: 'transform', message: 'bad price' });
    const b = mk();
    await runTransform(b, () => [] as unknown as Record<string, unknown>);
    expect(b.dead?.message).toBe('transform returned an array; expected an object or null');
    const c = mk();
    await expect(runTransform(c, () => {
      throw new TransientError('throttled');
    })).rejects.toThrow('throttled');
    expect(c.dead).toBeUndefined();
  });

  it('forwards a canary payload without calling the transform', async () => {
    const f = fixture({}, {
      transform: () => {
        throw new Error('must not run');
      },
    });
    const st = state(buildCanaryEnvelope('orders', 1_764_000_000_000, TEST_CANARY_KEY) as unknown as Record<string, unknown>, f.clock);
    prepare(st, 's', f.ctx);
    expect(await payloadStep(st, f.ctx)).toBeUndefined();
    expect(st.dead).toBeUndefined();
    expect(JSON.parse(st.out!.json)).toMatchObject({ canary: true, pipeline: 'orders' });
  });
});
