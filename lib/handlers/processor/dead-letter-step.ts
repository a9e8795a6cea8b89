/** Dead-letter step: a bad record to the DLQ as a DLQ message v1 (its payload in the overflow bucket when too large). */
import type { RecordOutcome, RecordState, StepContext } from './types';
import {
  describeError, dlqMessageAttributes, encodeDlqMessage, overflowKey, TransientError, withPayloadRef, type DlqMessage,
} from '../../core';
import { dataOf, sourceOf } from '../../core/kinesis-record';
import type { DlqPort } from '../ports/types';

export { shardIdOf, sourceOf } from '../../core/kinesis-record';

/**
 * Sends one DLQ message. When it does not fit `maxBytes` (message attributes included, as SQS counts them), its
 * payload (the record data exactly as received, base64 text, so even data that is not valid base64 is kept byte for
 * byte) goes to the overflow bucket and the message carries its s3:// reference, returned. Throws TransientError when
 * the message is too large and there is no overflow bucket (or no payload to move).
 */
export async function sendDlqMessage(dlq: DlqPort, msg: DlqMessage, maxBytes: number): Promise<string | undefined> {
  let m = msg;
  let enc = encodeDlqMessage(m, maxBytes);
  let payloadRef: string | undefined;
  if (!enc.fits) {
    if (!dlq.putOverflow || m.payload === null) {
      throw new TransientError(`dead letter of ${enc.bytes} bytes exceeds ${maxBytes} bytes and no DLQ overflow bucket is configured`);
    }
    payloadRef = await dlq.putOverflow(overflowKey(m), m.payload);
    m = withPayloadRef(m, payloadRef);
    enc = encodeDlqMessage(m, maxBytes);
  }
  await dlq.sendMessage(enc.body, dlqMessageAttributes(m));
  return payloadRef;
}

/** The DLQ message of st (st.dead set) after `attempt` attempts. */
export function deadLetterMessage(st: RecordState, attempt: number, nowMs: number, stage: string): DlqMessage {
  return {
    v: 1,
    id: st.id,
    correlationId: st.correlationId,
    stage,
    reason: st.dead!,
    attempts: attempt,
    firstFailedAt: new Date(st.firstFailedMs ?? nowMs).toISOString(),
    lastFailedAt: new Date(nowMs).toISOString(),
    source: sourceOf(st.rec),
    payload: dataOf(st.rec),
    payloadRef: null,
  };
}

/** Sends st (st.dead set) to the DLQ: 'dead-lettered', or a TransientError when the DLQ itself failed. */
export async function deadLetterStep(st: RecordState, attempt: number, ctx: StepContext): Promise<RecordOutcome> {
  try {
    const msg = deadLetterMessage(st, attempt, ctx.clock.now(), ctx.stage);
    st.payloadRef = await sendDlqMessage(ctx.dlq, msg, ctx.cfg.dlqMaxMessageBytes);
  } catch (err) {
    // The DLQ is the last resort: whatever its error, the record must stay in the stream.
    throw new TransientError(`dead-letter send failed: ${describeError(err)}`, { cause: err });
  }
  return 'dead-lettered';
}
