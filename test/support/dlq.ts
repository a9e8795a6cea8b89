import type { DlqMessage } from '../../lib/core';

/** A schema dead letter of one click event, as the ingest stage writes it; `patch` overrides any member. */
export function deadLetter(patch: Partial<DlqMessage> = {}): DlqMessage {
  return {
    v: 1,
    id: '4222734f-15b2-5084-8f3c-efd5b29bea2f',
    correlationId: 'corr-1',
    stage: 'ingest',
    reason: { class: 'schema', message: "must have required property 'page'" },
    attempts: 1,
    firstFailedAt: '2025-11-24T16:00:00.000Z',
    lastFailedAt: '2025-11-24T16:00:00.000Z',
    source: {
      streamArn: 'arn:aws:kinesis:eu-west-1:123456789012:stream/clicks',
      shardId: 'shardId-000000000000',
      sequenceNumber: '49590338271490256608559692538361571095921575989136588898',
      partitionKey: 'user-1',
      arrivedAt: '2025-11-24T15:59:59.000Z',
    },
    payload: Buffer.from('{"eventId":"e-1","page":"/"}').toString('base64'),
    payloadRef: null,
    ...patch,
  };
}

/** A schema dead letter without id or correlation id of `payload`, the record `seq` (1-based) on shard 0 of `streamArn`. */
export function payloadDeadLetter(payload: Buffer, where: { streamArn: string; seq: number; partitionKey: string; at: string }): DlqMessage {
  return deadLetter({
    id: null,
    correlationId: null,
    reason: { class: 'schema', message: 'replay fixture' },
    firstFailedAt: where.at,
    lastFailedAt: where.at,
    payload: payload.toString('base64'),
    source: { streamArn: where.streamArn, shardId: 'shardId-000000000000', sequenceNumber: String(where.seq), partitionKey: where.partitionKey, arrivedAt: where.at },
  });
}
