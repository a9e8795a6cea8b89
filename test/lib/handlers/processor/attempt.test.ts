import { describe, expect, it } from 'vitest';
import { fixture, state, TEST_CANARY_KEY } from './support';
import { TransientError } from '../../../../lib/core';
import { buildCanaryEnvelope } from '../../../../lib/core/canary';
import type { SinkPort } from '../../../../lib/handlers/ports/types';
import { attemptRecord, firstAttempt } from '../../../../lib/handlers/processor/attempt';
import { prepare } from '../../../../lib/handlers/processor/envelope-step';

const CANARY = buildCanaryEnvelope('orders', 1_764_000_000_000, TEST_CANARY_KEY) as unknown as Record<string, unknown>;

describe('attempts', () => {
  it('first attempt of a plain record writes it', async () => {
    const f = fixture();
    const st = state({ orderId: 'o-1' }, f.clock);
    prepare(st, 's', f.ctx);
    expect(await firstAttempt(st, f.ctx)).toBe('written');
    expect(f.sink.items.get(st.id!)?.envelope.payload).toEqual({ orderId: 'o-1' });
  });

  it('a bad record is dead-lettered, not written', async () => {
    const f = fixture();
    const st = state('nope', f.clock);
    prepare(st, 's', f.ctx);
    expect(await firstAttempt(st, f.ctx)).toBe('dead-lettered');
    expect(f.sink.items.size).toBe(0);
    expect(f.dlq.messages).toHaveLength(1);
  });

  it('a terminal stage counts a canary and keeps it out of the sink; a next-stage sink forwards it', async () => {
    const f = fixture();
    const st = state(CANARY, f.clock);
    prepare(st, 's', f.ctx);
    expect(await firstAttempt(st, f.ctx)).toBe('canary');
    expect(f.sink.items.size).toBe(0);
    const g = fixture({}, { terminal: false });
    const st2 = state(CANARY, g.clock);
    prepare(st2, 's', g.ctx);
    expect(await firstAttempt(st2, g.ctx)).toBe('written');
    expect(g.sink.items.size).toBe(1);
  });

  it('a filtered record is neither written nor dead-lettered', async () => {
    const f = fixture({}, { transform: () => null });
    const st = state({ orderId: 'o-1' }, f.clock);
    prepare(st, 's', f.ctx);
    expect(await firstAttempt(st, f.ctx)).toBe('filtered');
    expect(f.sink.calls).toHaveLength(0);
    expect(f.dlq.messages).toHaveLength(0);
  });

  it('a later attempt reuses the transformed payload and writes with its attempt number', async () => {
    let calls = 0;
    let fail = true;
    const writes: number[] = [];
    const sink: SinkPort = {
      write: async (env) => {
        writes.push(env.hops[env.hops.length - 1].attempt);
        if (fail) throw new TransientError('throttled');
        return 'written';
      },
    };
    const f = fixture({}, { sink, transform: (p) => ({ ...p, n: ++calls }) });
    const st = state({ orderId: 'o-1' }, f.clock);
    prepare(st, 's', f.ctx);
    await expect(firstAttempt(st, f.ctx)).rejects.toThrow('throttled');
    fail = false;
    expect(await attemptRecord(st, 2, f.ctx)).toBe('written');
    expect(calls).toBe(1);
    expect(writes).toEqual([1, 2]);
  });
});
