import { expectedInSink } from './file';
import { HOSTILE_CLASSES } from './hostile-records';
import { sha256, type PipelineRules, type Workload, type WorkloadRecord } from './types';
import type { Random } from '../random';

/** The suite's classes that are plain bytes (no Kinesis metadata override): what a producer can put. */
const BYTE_CLASSES: readonly Buffer[] = HOSTILE_CLASSES
  .filter((c) => c.meta === undefined && Buffer.isBuffer(c.data) && c.data.length > 0)
  .map((c) => c.data as Buffer);

const TIME_FIELDS = ['ts', 'eventTime', 'timestamp'];
const timeFieldOf = (p: Record<string, unknown>): string => TIME_FIELDS.find((f) => f in p) ?? 'eventTime';

/** Variants of a valid record's bytes an attacker (or a broken producer) would put in its place. */
const VARIANTS: ReadonlyArray<(data: Buffer, payload: Record<string, unknown>) => Buffer> = [
  (d) => Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), d]),
  (d) => Buffer.from(`{"__proto__":{"polluted":1},${d.toString('utf8').slice(1)}`),
  (d, p) => Buffer.from(`{"${Object.keys(p)[0]}":"shadowed",${d.toString('utf8').slice(1)}`),
  (d) => Buffer.from(`{"v":1,"payload":${d.toString('utf8')}}`),
  (d) => Buffer.from(`{"v":1,"customer":"c1","payload":${d.toString('utf8')}}`),
  (d) => Buffer.from(`{"v":1,"replay":{"of":"dlq","at":"2025-01-01T00:00:00Z","count":9},"payload":${d.toString('utf8')}}`),
  (d) => Buffer.from(`{"v":1,"source":"phoenix-canary","mac":"${'0'.repeat(64)}","payload":${d.toString('utf8')}}`),
  (_d, p) => Buffer.from(JSON.stringify({ ...p, [timeFieldOf(p)]: '9999-12-31T23:59:59Z' })),
  (_d, p) => Buffer.from(JSON.stringify({ ...p, [timeFieldOf(p)]: '0000-01-01T00:00:00Z' })),
  (d) => d.subarray(0, Math.max(1, d.length - 3)),
  (d) => Buffer.concat([d.subarray(0, 2), Buffer.from([0xc3, 0x28]), d.subarray(2)]),
];

/** How many different hostile records the mix draws from (the suite's byte classes and the variants). */
export const HOSTILE_KINDS = BYTE_CLASSES.length + VARIANTS.length;

/**
 * A workload with the hostile-record suite mixed in (`phoenix local run --hostile-rate`): each valid record of `inner`
 * is, with probability `rate`, replaced by a class of the suite or a hostile variant of itself. Where each must end
 * (sink or DLQ) is decided by the stage's own rules (expectedInSink), so the run's accounting checks that nothing is
 * lost or written twice.
 */
export class HostileMix implements Workload {
  readonly total: number;
  readonly notes: string[];
  readonly waitMs?: (now: number) => number;
  private readonly seen = new Map<string, WorkloadRecord>();
  private hostile = 0;
  private ended = false;

  constructor(
    private readonly inner: Workload,
    private readonly rules: PipelineRules,
    private readonly rate: number,
    private readonly random: Random,
  ) {
    this.total = inner.total;
    if (inner.waitMs) this.waitMs = (now) => inner.waitMs!(now);
    this.notes = [...inner.notes, `hostile records mixed in at rate ${rate} (${HOSTILE_KINDS} kinds: the hostile-record suite and variants of valid records)`];
  }

  /** Hostile records put so far. */
  get hostileRecords(): number {
    return this.hostile;
  }

  next(): WorkloadRecord | undefined {
    const rec = this.inner.next();
    if (rec === undefined) {
      if (!this.ended) this.notes.push(`${this.hostile} hostile records put`);
      this.ended = true;
      return undefined;
    }
    if (rec.kind !== 'valid' || rec.payload === undefined || !this.random.chance(this.rate)) return rec;
    this.hostile++;
    const pick = this.random.int(0, HOSTILE_KINDS - 1);
    const data = pick < BYTE_CLASSES.length ? BYTE_CLASSES[pick] : VARIANTS[pick - BYTE_CLASSES.length](rec.data, rec.payload);
    return this.classified(rec, data);
  }

  /** The hostile record where the stage's rules say it must end: the sink (new, or a duplicate of an earlier one) or the DLQ. */
  private classified(base: WorkloadRecord, data: Buffer): WorkloadRecord {
    const hash = sha256(data);
    const earlier = this.seen.get(hash);
    if (earlier) return { ...earlier, index: base.index, kind: earlier.kind === 'poison' ? 'poison' : 'duplicate' };
    const sink = expectedInSink(data, this.rules);
    const version = sink?.id === base.id && base.version !== undefined ? { version: base.version } : {};
    const rec: WorkloadRecord = sink
      ? { index: base.index, kind: 'valid', data, partitionKey: base.partitionKey, hash, id: sink.id, payload: sink.payload, ...version }
      : { index: base.index, kind: 'poison', poisonKind: 'hostile', data, partitionKey: base.partitionKey, hash };
    this.seen.set(hash, rec);
    return rec;
  }
}
