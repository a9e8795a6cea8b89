/** Envelope step: the envelope with its deterministic id (or the canary's), the payload text when known, the schema. */
import { decodeStep } from './decode-step';
import type { RecordState, StepContext } from './types';
import { classifyError, toEnvelope, type Envelope } from '../../core';
import { canaryEnvelope } from '../../core/canary';

/** Decode, envelope, schema: deterministic, so run once per record whatever the number of attempts. */
export function prepare(st: RecordState, source: string, ctx: StepContext): void {
  const decoded = decodeStep(st, ctx);
  if (decoded !== undefined) envelopeStep(st, decoded, source, ctx);
}

/**
 * Builds st's envelope from the decoded record: a canary is taken as it is (no key, schema or transform); any other
 * record gets its id and correlation id, its payload text when already known (`st.canonical`) and its schema check.
 * Sets `st.dead` for a record that cannot be enveloped (missing key, bad envelope fields) or fails the schema.
 * Throws only a transient error.
 */
export function envelopeStep(st: RecordState, decoded: Record<string, unknown>, source: string, ctx: StepContext): void {
  const canary = canaryEnvelope(decoded, ctx.namespace);
  if (canary) {
    st.canary = true;
    setEnvelope(st, canary);
    return;
  }
  let env: Envelope;
  try {
    ctx.envCtx.source = source;
    ctx.envCtx.arrivedAtMs = Math.round(st.rec.kinesis.approximateArrivalTimestamp * 1000);
    ctx.slot.canonicalPayload = undefined;
    env = toEnvelope(decoded, ctx.envCtx, ctx.slot);
  } catch (err) {
    const c = classifyError(err, 'decode');
    if (c.kind !== 'permanent') throw err;
    st.dead = c.reason;
    return;
  }
  setEnvelope(st, env);
  st.canonical = ctx.slot.canonicalPayload;
  if (st.canonical === undefined && env.payload === decoded && ctx.verbatim.json !== undefined) {
    // A raw payload sent as JSON.stringify writes it: its text is its serialization (no second JSON.stringify).
    st.canonical = ctx.verbatim.json;
    st.canonicalUtf8 = ctx.verbatim.utf8;
  }
  if (ctx.validate) {
    const problem = ctx.validate(env.payload);
    if (problem !== null) st.dead = { class: 'schema', message: problem };
  }
}

function setEnvelope(st: RecordState, env: Envelope): void {
  st.id = env.id;
  st.correlationId = env.correlationId;
  st.env = env;
}
