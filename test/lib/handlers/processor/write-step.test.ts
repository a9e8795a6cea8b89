import { describe, expect, it } from 'vitest';
import { fixture, state } from './support';
import { envelopeJson, PermanentError, TransientError, type Envelope } from '../../../../lib/core';
import type { SinkPort, SinkWriteMeta } from '../../../../lib/handlers/ports/types';
import { prepare } from '../../../../lib/handlers/processor/envelope-step';
import { keepPayload } from '../../../../lib/handlers/processor/payload-step';
import { sealOut, writeStep } from '../../../../lib/handlers/processor/write-step';

class FailingSink implements SinkPort {
  constructor(private readonly error: unknown) {}
  async write(): Promise<never> {
    throw this.error;
  }
}

function ready(f: ReturnType<typeof fixture>) {
  const st = state({ orderId: 'o-1', eventTime: '2026-01-01T00:00:00Z' }, f.clock);
  prepare(st, 's', f.ctx);
  keepPayload(st);
  return st;
}

describe('write step', () => {
  it('closes this stage hop with the attempt number at the clock time', () => {
    const f = fixture();
    const st = ready(f);
    f.clock.t += 12;
    const env = sealOut(st, 2, f.ctx);
    expect(env.hops).toEqual([{ stage: 'ingest', in: st.startMs, out: st.startMs + 12, attempt: 2 }]);
  });

  it('writes the envelope with the serialized text and content hash, and returns the sink result', async () => {
    const metas: SinkWriteMeta[] = [];
    const envs: Envelope[] = [];
    const sink: SinkPort = {
      write: async (env, meta) => {
        envs.push(env);
        metas.push(meta);
        return 'duplicate';
      },
    };
    const f = fixture({}, { sink });
    const st = ready(f);
    expect(await writeStep(st, 1, f.ctx)).toBe('duplicate');
    expect(metas[0]).toMatchObject({ partitionKey: '1', sequenceNumber: st.rec.kinesis.sequenceNumber, contentHash: st.out!.hash });
    expect(metas[0].envelopeJson).toBe(envelopeJson(envs[0], st.out!.json));
  });

  it('rethrows a transient sink error and remembers when the record first failed', async () => {
    const f = fixture({}, { sink: new FailingSink(new TransientError('slow down')) });
    const st = ready(f);
    await expect(writeStep(st, 1, f.ctx)).rejects.toThrow('slow down');
    expect(st.firstFailedMs).toBe(f.clock.t);
    expect(f.dlq.messages).toHaveLength(0);
  });

  it('dead-letters the record on a permanent sink error', async () => {
    const f = fixture({}, { sink: new FailingSink(new PermanentError('sink-rejected', 'item too large')) });
    const st = ready(f);
    expect(await writeStep(st, 3, f.ctx)).toBe('dead-lettered');
    expect(st.dead).toEqual({ class: 'sink-rejected', message: 'item too large' });
    expect(JSON.parse(f.dlq.messages[0].body)).toMatchObject({ attempts: 3, reason: { class: 'sink-rejected' } });
  });
});
