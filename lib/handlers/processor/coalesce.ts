/**
 * Coalescing: when one partition key's records in a batch hold several versions of one id, only the highest version
 * is written; the others complete as `stale` (or `duplicate` when equal to it) once it is applied. Every sink keeps
 * the maximum version (docs/ARCHITECTURE.md, "Idempotent sinks"), so the final state is the same as writing them all.
 */
import type { KinesisStreamRecord } from 'aws-lambda';
import { prepare } from './envelope-step';
import { keepPayload } from './payload-step';
import { newRecordState, type RecordOutcome, type RecordState, type StepContext } from './types';
import { compareVersions, notAppliedOutcome, sortableEventTime, type Version } from '../ports/version';

/** Which records of a group are superseded by a higher version of their id in the same group. */
export interface CoalescePlan {
  /** Superseded record index -> index of the highest version of its id. */
  readonly winnerOf: ReadonlyMap<number, number>;
  /** Highest-version index -> the indices it supersedes, in batch order. */
  readonly losersOf: ReadonlyMap<number, readonly number[]>;
  /** Version of every coalescible record. */
  readonly versions: ReadonlyMap<number, Version>;
}

/**
 * Decode, envelope, schema and payload text of every record, in batch order (synchronous: the steps' shared slots are
 * never used by two records at once). undefined where a step threw a transient error: that record is prepared again
 * when it starts, and retried as usual.
 */
export function prepareAll(records: readonly KinesisStreamRecord[], source: string, ctx: StepContext): Array<RecordState | undefined> {
  const now = ctx.clock.now();
  return records.map((rec) => {
    const st = newRecordState(rec, now);
    try {
      prepare(st, source, ctx);
    } catch {
      return undefined;
    }
    if (ctx.transform === undefined && !st.canary && st.dead === undefined) keepPayload(st);
    return st;
  });
}

/** The version a plain prepared record would write; undefined when it is not coalescible (transform, canary, bad). */
function versionOf(st: RecordState | undefined, ctx: StepContext): Version | undefined {
  if (st === undefined || ctx.transform !== undefined || st.canary || st.dead !== undefined || st.out === undefined) return undefined;
  try {
    return { eventTime: sortableEventTime(st.env!.eventTime), contentHash: st.out.hash };
  } catch {
    return undefined; // an invalid eventTime: the write step dead-letters it
  }
}

/** The plan of one group of records (one partition key, or the whole batch when it runs sequentially). */
export function planGroup(indices: readonly number[], states: ReadonlyArray<RecordState | undefined>, ctx: StepContext): CoalescePlan {
  const versions = new Map<number, Version>();
  const best = new Map<string, number>();
  for (const i of indices) {
    const v = versionOf(states[i], ctx);
    if (v === undefined) continue;
    versions.set(i, v);
    const id = states[i]!.id!;
    const b = best.get(id);
    // The highest version wins; among equal versions the first one (later copies are duplicates of it).
    if (b === undefined || compareVersions(v, versions.get(b)!) > 0) best.set(id, i);
  }
  const winnerOf = new Map<number, number>();
  const losersOf = new Map<number, number[]>();
  for (const i of versions.keys()) {
    const w = best.get(states[i]!.id!)!;
    if (w === i) continue;
    winnerOf.set(i, w);
    const l = losersOf.get(w);
    if (l) l.push(i);
    else losersOf.set(w, [i]);
  }
  return { winnerOf, losersOf, versions };
}

/**
 * Runs a group in order, writing each id's highest version only. A superseded record completes (`supersede`, with
 * `stale`, or `duplicate` when it equals the winner) once its
 * winner is applied (written, duplicate or stale); if the winner is dead-lettered, its superseded records are written
 * as usual (the earlier ones at that point, the later ones when reached). false when the batch must stop.
 */
export async function runCoalesced(
  indices: readonly number[],
  plan: CoalescePlan,
  runOne: (index: number) => Promise<RecordOutcome | undefined>,
  supersede: (index: number, outcome: 'duplicate' | 'stale') => void,
  stopped: () => boolean,
): Promise<boolean> {
  const winnerOutcome = new Map<number, RecordOutcome>();
  const superseded = (i: number, w: number): void => supersede(i, notAppliedOutcome(plan.versions.get(i)!, plan.versions.get(w)!));
  for (const i of indices) {
    if (stopped()) return false;
    const w = plan.winnerOf.get(i);
    if (w !== undefined) {
      const o = winnerOutcome.get(w);
      if (o === undefined) continue; // completed when its winner is
      if (o !== 'dead-lettered') superseded(i, w);
      else if ((await runOne(i)) === undefined) return false;
      continue;
    }
    const outcome = await runOne(i);
    if (outcome === undefined) return false;
    const losers = plan.losersOf.get(i);
    if (losers === undefined) continue;
    winnerOutcome.set(i, outcome);
    for (const j of losers) {
      if (j > i) continue;
      if (outcome !== 'dead-lettered') superseded(j, i);
      else if ((await runOne(j)) === undefined) return false;
    }
  }
  return true;
}
