/** One attempt at a prepared record: the payload, write and dead-letter steps in order. */
import { deadLetterStep } from './dead-letter-step';
import { keepPayload, payloadStep } from './payload-step';
import type { RecordOutcome, RecordState, StepContext } from './types';
import { writeStep } from './write-step';

/**
 * An attempt at st (prepared): resolves with the outcome, throws a transient error to be retried. Deterministic
 * steps keep their results in st and are not repeated by later attempts.
 */
export async function attemptRecord(st: RecordState, attempt: number, ctx: StepContext): Promise<RecordOutcome> {
  if (st.canary && ctx.terminal) return 'canary';
  if ((await payloadStep(st, ctx)) === 'filtered') return 'filtered';
  if (st.dead === undefined) return writeStep(st, attempt, ctx);
  return deadLetterStep(st, attempt, ctx);
}

/**
 * The first attempt at a prepared record. A plain record (no transform, not a canary, not bad) takes the happy path:
 * the sink's promise is returned as is, without the payload step's promise. Anything else is an attemptRecord.
 */
export function firstAttempt(st: RecordState, ctx: StepContext): Promise<RecordOutcome> {
  if (ctx.transform === undefined && !st.canary && st.dead === undefined) {
    // Prepared records already hold their payload text and hash (prepareAll).
    if (st.out === undefined) keepPayload(st);
    if (st.dead === undefined) return writeStep(st, 1, ctx);
  }
  return attemptRecord(st, 1, ctx);
}
