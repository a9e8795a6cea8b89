/** Decode step: the record's data (base64 of a UTF-8 JSON object) to a value, or the reason it is bad. */
import type { RecordState, StepContext } from './types';
import { decodeData } from '../../core';

/**
 * Decodes st's record. Returns the object, or undefined with `st.dead` set (decode or oversize). When the text is
 * exactly JSON.stringify of the value, decodeData leaves it in `ctx.verbatim` for the envelope step.
 */
export function decodeStep(st: RecordState, ctx: StepContext): Record<string, unknown> | undefined {
  const decoded = decodeData(st.rec.kinesis?.data as string, ctx.decodeLimits, ctx.verbatim);
  if (!decoded.ok) {
    st.dead = decoded.reason;
    return undefined;
  }
  return decoded.value;
}
