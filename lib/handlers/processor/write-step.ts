/** Write step: seal this stage's hop and write the envelope to the idempotent sink. */
import { deadLetterStep } from './dead-letter-step';
import type { RecordOutcome, RecordState, StepContext } from './types';
import { classifyError, envelopeJson, sealEnvelope, type Envelope } from '../../core';
import type { WriteResult } from '../ports/types';

/** The envelope this attempt writes (st.out known, the record not dead): this stage's hop closed now. */
export function sealOut(st: RecordState, attempt: number, ctx: StepContext): Envelope {
  return sealEnvelope(st.env!, st.out!.payload, ctx.stage, st.startMs, ctx.clock.now(), attempt);
}

/** The idempotent write of `env` (from sealOut), with the envelope text and content hash serialized once. */
export function writeOut(st: RecordState, env: Envelope, ctx: StepContext): Promise<WriteResult> {
  const out = st.out!;
  const kinesis = st.rec.kinesis;
  return ctx.sink.write(env, {
    partitionKey: kinesis.partitionKey,
    sequenceNumber: kinesis.sequenceNumber,
    contentHash: out.hash,
    envelopeJson: envelopeJson(env, out.json),
  });
}

/** A failed write: a transient error is rethrown (retried), any other dead-letters the record with its reason. */
export async function writeFailed(st: RecordState, err: unknown, attempt: number, ctx: StepContext): Promise<RecordOutcome> {
  const c = classifyError(err);
  if (c.kind === 'transient') {
    st.firstFailedMs ??= ctx.clock.now();
    throw err;
  }
  st.dead = c.reason;
  return deadLetterStep(st, attempt, ctx);
}

/** Seal, write, and route a failed write: the outcome of the write, or of the dead letter it turned into. */
export async function writeStep(st: RecordState, attempt: number, ctx: StepContext): Promise<RecordOutcome> {
  const env = sealOut(st, attempt, ctx);
  try {
    return await writeOut(st, env, ctx);
  } catch (err) {
    return writeFailed(st, err, attempt, ctx);
  }
}
