import type { LatencySummary } from './metrics';
import { summarize } from './metrics';
import { canonicalPayload, sha256, type DeadLetter, type SinkEnvelope } from './verify';
import type { WorkloadRecord } from './workloads/types';
import { isCanaryData, isCanaryPayload } from '../core/canary';

/** What was put on the stream, by logical record. */
export class ProducedLog {
  /**
   * Valid records by id: canonical payload, hash and the first put attempt time of the record the sink must end with
   * (the first one put, or, for records with versions, the highest version put).
   */
  readonly valid = new Map<string, {
    canonical: string; hash: string; firstAttemptAt: number; index: number; correlationId?: string; version?: number;
  }>();
  /** Every logical record by data hash. */
  readonly byHash = new Map<string, { kind: 'valid' | 'poison'; poisonKind?: string; id?: string }>();
  recordsIn = 0;
  duplicatesPut = 0;
  /**
   * Valid records put that were a newer version of an id than every version put before them: each is a legitimate
   * second (third...) write of the id to the sink, not a duplicate applied again.
   */
  newerVersionsPut = 0;
  poisonPut = 0;
  validPut = 0;
  firstPutAt?: number;
  lastPutAt?: number;

  record(rec: WorkloadRecord, firstAttemptAt: number): void {
    this.recordsIn++;
    const now = Date.now();
    this.firstPutAt ??= firstAttemptAt;
    this.lastPutAt = now;
    if (rec.kind === 'poison') {
      this.poisonPut++;
      if (!this.byHash.has(rec.hash)) this.byHash.set(rec.hash, { kind: 'poison', poisonKind: rec.poisonKind });
      return;
    }
    if (rec.kind === 'duplicate') this.duplicatesPut++; else this.validPut++;
    if (!this.byHash.has(rec.hash)) this.byHash.set(rec.hash, { kind: 'valid', id: rec.id });
    const known = this.valid.get(rec.id!);
    const newer = known !== undefined && rec.version !== undefined && known.version !== undefined && rec.version > known.version;
    if (newer) this.newerVersionsPut++;
    if (!known || newer) {
      this.valid.set(rec.id!, { canonical: canonicalPayload(rec.payload), hash: rec.hash, firstAttemptAt, index: rec.index, version: rec.version });
    }
  }
}

export interface Accounting {
  recordsIn: number;
  validRecords: number;
  poisonRecords: number;
  duplicatesPut: number;
  /** Valid records that were a newer version of an id put before (legitimate extra sink writes; see ProducedLog). */
  newerVersionsPut: number;
  sinkRecords: number;
  /** Expected (valid) records found in the sink. */
  sinkExpectedFound: number;
  /** Sink items that are not unique per id, plus items whose payload differs from the produced record. */
  duplicatesInSink: number;
  sameIdItems: number;
  versionMismatches: number;
  /** Sink items whose id was never produced as a valid record (e.g. a poison record written to the sink). */
  unexpectedSinkItems: number;
  /** Synthetic canaries found in the sink (the terminal stage must keep them out; not counted as unexpected items). */
  canariesInSink: number;
  /**
   * Dead letters carrying a synthetic canary (the run's canary schedule put it on the stream; e.g. captured on-failure
   * with the rest of a batch the mapping gave up on): not counted as unmatched.
   */
  canaryDeadLetters: number;
  /** Unique records found dead-lettered (by payload). */
  dlqRecords: number;
  /** Dead-letter entries read (a record dead-lettered twice counts twice). */
  dlqMessages: number;
  /** Of `dlqMessages`: the messages of the dead-letter queues (what `phoenix dlq stats` counts). */
  dlqQueueMessages: number;
  /** Of `dlqMessages`: the mappings' on-failure captures (S3 objects; the failure normalizer also queues them). */
  dlqOnFailureCaptures: number;
  dlqByReason: Record<string, number>;
  /** Poison kind -> reason class -> count. */
  dlqReasonByPoisonKind: Record<string, Record<string, number>>;
  /** Dead letters whose payload was not produced by this run or could not be read. */
  dlqUnmatched: number;
  dlqProblems: string[];
  /** Valid records in the DLQ and not in the sink. */
  validInDlq: number;
  /**
   * Valid records both in the sink and in the dead letters: written, then sent on-failure with the rest of a batch
   * the mapping gave up on (Lambda resumes from the lowest failed record, so later records may be applied already).
   */
  validInSinkAndDlq: number;
  lostValid: number;
  lostPoison: number;
  lost: number;
  /** Sample ids / hashes for investigation. */
  samples: { lostValidIds: string[]; lostPoisonHashes: string[]; validInDlqIds: string[]; unexpectedSinkIds: string[]; versionMismatchIds: string[] };
  latencyMs: LatencySummary & { stages: Record<string, LatencySummary>; queueDelay: LatencySummary };
  /** Epoch ms of the last completion seen (latest hop out), for throughput. */
  lastCompletionAt?: number;
}

const SAMPLE = 10;

/**
 * The run's invariant check: every valid record in the sink exactly once with its content, every poison record in
 * the DLQ (with its payload), nothing else. `lost` counts records found in neither place.
 */
export function account(produced: ProducedLog, sink: readonly SinkEnvelope[], letters: readonly DeadLetter[]): Accounting {
  const sinkCount = new Map<string, number>();
  const samples: Accounting['samples'] = { lostValidIds: [], lostPoisonHashes: [], validInDlqIds: [], unexpectedSinkIds: [], versionMismatchIds: [] };
  let versionMismatches = 0;
  let unexpected = 0;
  let canariesInSink = 0;
  let canaryDeadLetters = 0;
  const e2e: number[] = [];
  const queueDelay: number[] = [];
  const stages = new Map<string, number[]>();
  let lastCompletionAt: number | undefined;
  for (const item of sink) {
    sinkCount.set(item.id, (sinkCount.get(item.id) ?? 0) + 1);
    const expected = produced.valid.get(item.id);
    if (!expected && isCanaryPayload(item.payload)) {
      canariesInSink++;
      continue;
    }
    if (!expected) {
      unexpected++;
      if (samples.unexpectedSinkIds.length < SAMPLE) samples.unexpectedSinkIds.push(item.id);
      continue;
    }
    if (canonicalPayload(item.payload) !== expected.canonical) {
      versionMismatches++;
      if (samples.versionMismatchIds.length < SAMPLE) samples.versionMismatchIds.push(item.id);
    }
    for (const h of item.hops) {
      if (typeof h.out === 'number' && typeof h.in === 'number') {
        let list = stages.get(h.stage);
        if (!list) stages.set(h.stage, (list = []));
        list.push(h.out - h.in);
      }
    }
    const first = item.hops[0];
    const last = item.hops[item.hops.length - 1];
    if (first && typeof first.in === 'number') queueDelay.push(first.in - expected.firstAttemptAt);
    if (last && typeof last.out === 'number') {
      e2e.push(last.out - expected.firstAttemptAt);
      lastCompletionAt = Math.max(lastCompletionAt ?? 0, last.out);
    }
  }
  let sameIdItems = 0;
  for (const n of sinkCount.values()) sameIdItems += n - 1;
  let sinkExpectedFound = 0;
  for (const id of produced.valid.keys()) if (sinkCount.has(id)) sinkExpectedFound++;

  const dlqHashes = new Map<string, string>();
  const dlqByReason: Record<string, number> = {};
  const byKind: Record<string, Record<string, number>> = {};
  const problems: string[] = [];
  let unmatched = 0;
  for (const l of letters) {
    if (!l.data) {
      unmatched++;
      if (problems.length < SAMPLE) problems.push(`${l.location}: ${l.problem ?? 'no payload'}`);
      continue;
    }
    const hash = sha256(l.data);
    const rec = produced.byHash.get(hash);
    if (!rec && isCanaryData(l.data)) {
      canaryDeadLetters++;
      continue;
    }
    if (!rec) {
      unmatched++;
      if (problems.length < SAMPLE) problems.push(`${l.location}: a dead letter (${l.reason}) whose payload this run did not produce`);
      continue;
    }
    if (dlqHashes.has(hash)) continue;
    dlqHashes.set(hash, l.reason);
    dlqByReason[l.reason] = (dlqByReason[l.reason] ?? 0) + 1;
    const kind = rec.kind === 'poison' ? rec.poisonKind ?? 'poison' : 'valid';
    byKind[kind] ??= {};
    byKind[kind][l.reason] = (byKind[kind][l.reason] ?? 0) + 1;
  }
  let validInDlq = 0;
  let validInSinkAndDlq = 0;
  let lostValid = 0;
  for (const [id, v] of produced.valid) {
    if (sinkCount.has(id)) {
      if (dlqHashes.has(v.hash)) validInSinkAndDlq++;
      continue;
    }
    if (dlqHashes.has(v.hash)) {
      validInDlq++;
      if (samples.validInDlqIds.length < SAMPLE) samples.validInDlqIds.push(id);
    } else {
      lostValid++;
      if (samples.lostValidIds.length < SAMPLE) samples.lostValidIds.push(id);
    }
  }
  let poisonRecords = 0;
  let lostPoison = 0;
  for (const [hash, r] of produced.byHash) {
    if (r.kind !== 'poison') continue;
    poisonRecords++;
    if (!dlqHashes.has(hash)) {
      lostPoison++;
      if (samples.lostPoisonHashes.length < SAMPLE) samples.lostPoisonHashes.push(hash);
    }
  }
  const onFailureCaptures = letters.filter((l) => l.location.startsWith('s3://')).length;
  const stageSummaries: Record<string, LatencySummary> = {};
  for (const [stage, values] of stages) stageSummaries[stage] = summarize(values);
  return {
    recordsIn: produced.recordsIn,
    validRecords: produced.valid.size,
    poisonRecords,
    duplicatesPut: produced.duplicatesPut,
    newerVersionsPut: produced.newerVersionsPut,
    sinkRecords: sink.length,
    sinkExpectedFound,
    duplicatesInSink: sameIdItems + versionMismatches,
    sameIdItems,
    versionMismatches,
    unexpectedSinkItems: unexpected,
    canariesInSink,
    canaryDeadLetters,
    dlqRecords: dlqHashes.size,
    dlqMessages: letters.length,
    dlqQueueMessages: letters.length - onFailureCaptures,
    dlqOnFailureCaptures: onFailureCaptures,
    dlqByReason,
    dlqReasonByPoisonKind: byKind,
    dlqUnmatched: unmatched,
    dlqProblems: problems,
    validInDlq,
    validInSinkAndDlq,
    lostValid,
    lostPoison,
    lost: lostValid + lostPoison,
    samples,
    latencyMs: { ...summarize(e2e), stages: stageSummaries, queueDelay: summarize(queueDelay) },
    lastCompletionAt,
  };
}
