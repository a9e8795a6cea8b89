/** Envelope step: the envelope with its deterministic id (or the canary's), the payload text when known, the schema. */
import { decodeStep } from './decode-step';
import type { RecordState, StepContext } from './types';
import { CANARY_SOURCE } from '../../../constructs/contract';
import { classifyError, describeError, replayCountOf, toEnvelope, type Envelope } from '../../core';
import { canaryEnvelope, isCanary } from '../../core/canary';
import { arrivalMsOf } from '../../core/kinesis-record';

/** Decode, envelope, schema: deterministic, so run once per record whatever the number of attempts. */
export function prepare(st: RecordState, source: string, ctx: StepContext): void {
  const decoded = decodeStep(st, ctx);
  if (decoded !== undefined) envelopeStep(st, decoded, source, ctx);
}

/** Least time between two loads of the canary key caused by canary-shaped records that failed authentication. */
export const CANARY_KEY_RELOAD_MS = 60_000;

/**
 * Loads the canary key before the first batch, and again (at most once a minute) after a canary-shaped record failed
 * authentication. A failure fails the invocation: the key lives in the dead letters' overflow bucket, and the batch
 * is retried once it is reachable. No-op without a key configured.
 */
export async function ensureCanaryKey(ctx: StepContext): Promise<void> {
  const state = ctx.canaryKey;
  if (state.load === undefined) return;
  const now = ctx.clock.now();
  if (state.key !== undefined && !(state.stale && now - state.loadedAtMs >= CANARY_KEY_RELOAD_MS)) return;
  state.key = await state.load();
  state.loadedAtMs = now;
  state.stale = false;
}

/**
 * Builds st's envelope from the decoded record: an authentic canary is taken as it is (no key, schema or transform);
 * any other record (a forged canary included) gets its id and correlation id, its payload text when already known
 * (`st.canonical`), its replay-count and schema checks. Sets `st.dead` for a record that cannot be enveloped
 * (missing key, bad envelope fields, event time out of bounds), replayed too often, or failing the schema.
 * Throws only a transient error.
 */
export function envelopeStep(st: RecordState, decoded: Record<string, unknown>, source: string, ctx: StepContext): void {
  const canary = canaryEnvelope(decoded, ctx.canaryKey.key);
  if (canary) {
    st.canary = true;
    setEnvelope(st, canary);
    return;
  }
  // Shaped as a canary but not authentic: forged, or signed with a key recreated since this container loaded its own.
  if (decoded.source === CANARY_SOURCE && isCanary(decoded)) ctx.canaryKey.stale = true;
  let env: Envelope;
  try {
    ctx.envCtx.source = source;
    ctx.envCtx.arrivedAtMs = arrivalMsOf(st.rec) ?? st.startMs;
    ctx.envCtx.nowMs = st.startMs;
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
  const replays = replayCountOf(env.replay);
  if (replays > ctx.cfg.replayMaxCount) {
    st.dead = { class: 'replay-exhausted', message: `replayed ${replays} times, more than the ${ctx.cfg.replayMaxCount} allowed (replayMaxCount)` };
    return;
  }
  if (ctx.validate) validateSchema(st, env.payload, ctx);
}

/** Runs the schema validator; a validator that throws (a bug, or a hostile payload it cannot handle) dead-letters too. */
function validateSchema(st: RecordState, payload: Record<string, unknown>, ctx: StepContext): void {
  let problem: string | null;
  try {
    problem = ctx.validate!(payload);
  } catch (err) {
    problem = `schema validator failed: ${describeError(err)}`;
  }
  if (problem !== null) st.dead = { class: 'schema', message: problem };
}

function setEnvelope(st: RecordState, env: Envelope): void {
  st.id = env.id;
  st.correlationId = env.correlationId;
  st.env = env;
}
