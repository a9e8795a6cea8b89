import { createHash } from 'node:crypto';
import { canonicalJson, contentHash } from '../../core';
import type { SinkEnvelope } from '../verify';
import type { DrillReport } from './types';

/** One sink item's hashed state: canonical JSON of { eventTime, payload }. */
function itemState(e: SinkEnvelope): string {
  return canonicalJson({ eventTime: e.eventTime ? new Date(Date.parse(e.eventTime)).toISOString() : null, payload: e.payload });
}

/**
 * Canonical, order-independent hash of a sink: per id the newest version (eventTime, then content hash, as the
 * idempotent sinks decide), sorted by id, sha256 over `id \t canonical({eventTime, payload}) \n`. Hops and replay marks
 * are not hashed.
 */
export function sinkHash(items: readonly SinkEnvelope[]): { hash: string; states: Map<string, string> } {
  const best = new Map<string, SinkEnvelope>();
  for (const e of items) {
    const cur = best.get(e.id);
    if (!cur) { best.set(e.id, e); continue; }
    const a = [cur.eventTime ?? '', contentHash(cur.payload)];
    const b = [e.eventTime ?? '', contentHash(e.payload)];
    if (b[0] > a[0] || (b[0] === a[0] && b[1] > a[1])) best.set(e.id, e);
  }
  const states = new Map<string, string>();
  const h = createHash('sha256');
  for (const id of [...best.keys()].sort()) {
    const s = itemState(best.get(id)!);
    states.set(id, s);
    h.update(`${id}\t${s}\n`);
  }
  return { hash: h.digest('hex'), states };
}

/** The first `max` ids whose state differs between two {@link sinkHash} results. */
export function stateDifferences(before: Map<string, string>, after: Map<string, string>, max = 20): DrillReport['differences'] {
  const differences: DrillReport['differences'] = [];
  for (const id of new Set([...before.keys(), ...after.keys()])) {
    if (before.get(id) !== after.get(id)) {
      differences.push({ id, before: before.get(id), after: after.get(id) });
      if (differences.length >= max) break;
    }
  }
  return differences;
}
