import { describe, expect, it } from 'vitest';
import { fixture, state } from './support';
import { decodeDlqMessage, TransientError } from '../../../../lib/core';
import type { DlqPort } from '../../../../lib/handlers/ports/types';
import { deadLetterMessage, deadLetterStep, sendDlqMessage, shardIdOf, sourceOf } from '../../../../lib/handlers/processor/dead-letter-step';
import { prepare } from '../../../../lib/handlers/processor/envelope-step';
import { ARRIVAL_SECONDS, SHARD_ID, STREAM_ARN } from '../support/kinesis';

describe('dead-letter step', () => {
  it('describes the record source from the Kinesis event record', () => {
    const f = fixture();
    const st = state('x', f.clock, 0, { partitionKey: 'pk-1' });
    expect(shardIdOf(st.rec)).toBe(SHARD_ID);
    expect(sourceOf(st.rec)).toEqual({
      streamArn: STREAM_ARN,
      shardId: SHARD_ID,
      sequenceNumber: st.rec.kinesis.sequenceNumber,
      partitionKey: 'pk-1',
      arrivedAt: new Date(Math.round(ARRIVAL_SECONDS * 1000)).toISOString(),
    });
  });

  it('builds the DLQ message v1 of a dead record, with the field order of the contract', () => {
    const f = fixture();
    const st = state({ other: 1 }, f.clock);
    prepare(st, 's', f.ctx);
    st.firstFailedMs = f.clock.t - 1000;
    const msg = deadLetterMessage(st, 2, f.clock.t, 'ingest');
    expect(Object.keys(msg)).toEqual(['v', 'id', 'correlationId', 'stage', 'reason', 'attempts', 'firstFailedAt', 'lastFailedAt', 'source', 'payload', 'payloadRef']);
    expect(msg).toMatchObject({ v: 1, id: null, stage: 'ingest', reason: { class: 'missing-key' }, attempts: 2, payload: st.rec.kinesis.data, payloadRef: null });
    expect(msg.firstFailedAt).toBe(new Date(f.clock.t - 1000).toISOString());
  });

  it('sends the message with its attributes; a message over the limit moves its payload to the overflow bucket', async () => {
    const f = fixture({ PHX_DLQ_MAX_MESSAGE_BYTES: '4096' });
    const st = state({ orderId: 'o', big: 'x'.repeat(5000) }, f.clock);
    st.dead = { class: 'schema', message: 'too big to inline' };
    expect(await deadLetterStep(st, 1, f.ctx)).toBe('dead-lettered');
    expect(st.payloadRef).toMatch(/^s3:\/\/memory-overflow\/dlq-payloads\/.*\.b64$/);
    const sent = decodeDlqMessage(f.dlq.messages[0].body);
    expect(sent.payload).toBeNull();
    expect(sent.payloadRef).toBe(st.payloadRef);
    expect(f.dlq.overflow.get(st.payloadRef!.replace('s3://memory-overflow/', ''))).toBe(st.rec.kinesis.data);
    expect(f.dlq.messages[0].attributes).toMatchObject({ reasonClass: 'schema', stage: 'ingest' });
  });

  it('throws TransientError when a message is too large and there is no overflow bucket', async () => {
    const dlq: DlqPort = { sendMessage: async () => undefined };
    const msg = { ...deadLetterMessage(state('x'.repeat(3000), fixture().clock), 1, 0, 'ingest'), reason: { class: 'decode' as const, message: 'm' } };
    await expect(sendDlqMessage(dlq, msg, 1024)).rejects.toThrow(/exceeds 1024 bytes and no DLQ overflow bucket is configured/);
  });

  it('turns any DLQ failure into a TransientError so the record stays in the stream', async () => {
    const boom = new Error('queue gone');
    const f = fixture({}, { dlq: { sendMessage: async () => { throw boom; } } });
    const st = state('x', f.clock);
    st.dead = { class: 'decode', message: 'bad' };
    const err = await deadLetterStep(st, 1, f.ctx).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TransientError);
    expect((err as TransientError).message).toBe('dead-letter send failed: Error: queue gone');
    expect((err as TransientError).cause).toBe(boom);
  });
});
