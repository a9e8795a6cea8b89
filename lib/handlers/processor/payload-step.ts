/** Payload step: the payload to write (kept, or the transform's), serialized once and hashed. */
import type { OutPayload, RecordState, StepContext, Transform } from './types';
import { assertJsonValue, classifyError, describeError, payloadBytesHash, payloadTextHash } from '../../core';

/**
 * Serializes and hashes the payload to write. `text` is its JSON when already known (the canonical text computed for
 * the id); otherwise JSON.stringify, after checking that JSON represents the value exactly when it does not come from
 * JSON.parse (`untrusted`: a transform's output; NaN, BigInt, cycles... throw PermanentError('decode')).
 */
export function serializePayload(payload: Record<string, unknown>, text: string | undefined, untrusted: boolean, utf8?: Buffer): OutPayload {
  if (text === undefined) {
    if (untrusted) assertJsonValue(payload);
    text = JSON.stringify(payload);
  }
  return { payload, json: text, hash: utf8 !== undefined ? payloadBytesHash(utf8) : payloadTextHash(text) };
}

/** The payload as received is the one written (no transform): sets st.out, or st.dead. */
export function keepPayload(st: RecordState): void {
  try {
    st.out = serializePayload(st.env!.payload, st.canonical, false, st.canonicalUtf8);
  } catch (err) {
    st.dead = { class: 'decode', message: describeError(err) };
  }
}

/** Runs the transform once: sets st.out or st.dead, or returns 'filtered'. Throws transient errors (retried). */
export async function runTransform(st: RecordState, fn: Transform): Promise<'filtered' | undefined> {
  const env = st.env!;
  let payload: Record<string, unknown> | null;
  try {
    payload = await fn(env.payload, {
      recordId: env.id,
      correlationId: env.correlationId,
      eventTime: env.eventTime,
      partitionKey: st.rec.kinesis.partitionKey,
      sequenceNumber: st.rec.kinesis.sequenceNumber,
      envelope: env,
    });
  } catch (err) {
    const c = classifyError(err, 'transform');
    if (c.kind === 'transient') throw err;
    st.dead = c.reason;
    return undefined;
  }
  if (payload === null) return 'filtered';
  if (typeof payload !== 'object' || Array.isArray(payload)) {
    st.dead = { class: 'transform', message: `transform returned ${Array.isArray(payload) ? 'an array' : typeof payload}; expected an object or null` };
    return undefined;
  }
  try {
    st.out = serializePayload(payload, undefined, true);
  } catch (err) {
    // A transform that returned something JSON cannot represent exactly (NaN, BigInt, a cycle...).
    st.dead = { class: 'transform', message: describeError(err) };
  }
  return undefined;
}

/** The payload step of an attempt: a canary forwarded as it is, else kept or transformed (once across attempts). */
export async function payloadStep(st: RecordState, ctx: StepContext): Promise<'filtered' | undefined> {
  if (st.canary) {
    if (st.out === undefined) st.out = serializePayload(st.env!.payload, undefined, true);
    return undefined;
  }
  if (st.dead !== undefined || st.out !== undefined) return undefined;
  if (ctx.transform === undefined) {
    keepPayload(st);
    return undefined;
  }
  return runTransform(st, ctx.transform);
}
