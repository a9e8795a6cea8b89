import { describe, expect, it } from 'vitest';
import { fixture, state } from './support';
import { decodeStep } from '../../../../lib/handlers/processor/decode-step';

describe('decodeStep', () => {
  it('returns the decoded object and leaves JSON.stringify text in the verbatim slot', () => {
    const f = fixture();
    const st = state({ orderId: 'o-1', amount: 3 }, f.clock);
    expect(decodeStep(st, f.ctx)).toEqual({ orderId: 'o-1', amount: 3 });
    expect(st.dead).toBeUndefined();
    expect(f.ctx.verbatim.json).toBe('{"orderId":"o-1","amount":3}');
  });

  it('marks a record that is not JSON as dead with reason decode', () => {
    const f = fixture();
    const st = state('not json', f.clock);
    expect(decodeStep(st, f.ctx)).toBeUndefined();
    expect(st.dead?.class).toBe('decode');
    expect(st.dead?.message).toMatch(/not valid JSON/);
  });

  it('marks a record over PHX_MAX_RECORD_BYTES as oversize', () => {
    const f = fixture({ PHX_MAX_RECORD_BYTES: '16' });
    const st = state({ orderId: 'o-1', note: 'x'.repeat(40) }, f.clock);
    expect(decodeStep(st, f.ctx)).toBeUndefined();
    expect(st.dead?.class).toBe('oversize');
  });

  it('clears the verbatim slot for text JSON.stringify would not write', () => {
    const f = fixture();
    decodeStep(state({ orderId: 'o-1' }, f.clock), f.ctx);
    const st = state('{ "orderId": "o-2" }', f.clock);
    expect(decodeStep(st, f.ctx)).toEqual({ orderId: 'o-2' });
    expect(f.ctx.verbatim.json).toBeUndefined();
  });
});
