import { KINESIS_MAX_RECORD_BYTES, POISON_KINDS, sha256, type PipelineRules, type PoisonKind, type Workload, type WorkloadOptions, type WorkloadRecord } from './types';
import { recordId } from '../../core';
import { InputError } from '../../replay/filter';
import { Random } from '../random';

/** A valid event of a generator and where it goes. */
export interface GeneratedEvent {
  readonly payload: Record<string, unknown>;
  readonly partitionKey: string;
  /** See WorkloadRecord.version (only for generators that put several versions of an id). */
  readonly version?: number;
}

/**
 * The mechanics every built-in generator shares: a seeded mix of valid events, duplicates (identical bytes of an
 * earlier valid record) and poison records of every kind the pipeline can be given (those that cannot apply to the
 * function under test are skipped with a note). A subclass says what a valid event of its domain looks like, what a
 * schema violation of it is, and which integer field becomes a number JSON cannot hold.
 *
 * The draw order (one draw per record to choose its kind, then the subclass's draws) is part of the reproducibility
 * contract: the same seed gives the same ids, kinds and partition keys.
 */
export abstract class GeneratedWorkload implements Workload {
  readonly total: number;
  readonly notes: string[] = [];
  protected readonly rnd: Random;
  private index = 0;
  private readonly produced: WorkloadRecord[] = [];
  private readonly kinds: PoisonKind[];
  private poisonCounter = 0;

  /**
   * @param name the generator's `--workload` name (in error messages)
   * @param hugeNumberField an integer field of the payload written as 1e400 for `huge-number` poison records
   */
  constructor(
    readonly name: string,
    protected readonly opts: WorkloadOptions,
    protected readonly rules: PipelineRules,
    private readonly hugeNumberField: string,
  ) {
    for (const [flag, v] of [['--poison-rate', opts.poisonRate], ['--duplicate-rate', opts.duplicateRate]] as const) {
      if (!(v >= 0 && v <= 1)) throw new RangeError(`${flag} must be between 0 and 1; got ${v}`);
    }
    if (opts.poisonRate + opts.duplicateRate > 1) throw new RangeError('--poison-rate plus --duplicate-rate must not exceed 1');
    this.total = opts.records;
    this.rnd = new Random(opts.seed);
    this.kinds = POISON_KINDS.filter((k) => this.usable(k));
    this.notes.push('empty records are not generated: Kinesis rejects records with no data');
  }

  /** Checks once (from the subclass constructor) that the generator's events are what the pipeline accepts. */
  protected checkMatches(probe: Record<string, unknown>): void {
    const problem = this.rules.validate?.(probe);
    if (problem) {
      throw new InputError(`the built-in ${this.name} workload does not match the function's schema (${problem}); `
        + 'pass --input FILE or another --workload (a built-in name or your own module)');
    }
    try {
      recordId(probe, this.rules.namespace, this.rules.keyFields);
    } catch (e) {
      throw new InputError(`the built-in ${this.name} workload lacks the function's key fields ${JSON.stringify(this.rules.keyFields)}: `
        + `${(e as Error).message}; pass --input FILE or another --workload`);
    }
  }

  /** A valid event, built at `now` (epoch ms). */
  protected abstract validEvent(now: number): GeneratedEvent;
  /** A valid-looking payload for poison record `n` (its key must not collide with a valid event's) and its partition key. */
  protected abstract poisonBase(n: number, now: number): GeneratedEvent;
  /** `base` changed so that the function's schema rejects it. */
  protected abstract schemaViolation(base: Record<string, unknown>, n: number): Record<string, unknown>;
  /** Text that is not JSON (default: a form-encoded line). */
  protected nonJson(base: GeneratedEvent, n: number): string {
    const key = this.rules.keyFields[0];
    return `${key ?? 'record'}=${key ? String(base.payload[key]) : n}&poison=${n} {not json`;
  }
  /** `base` padded above the record limit with `pad` bytes (default: a top-level `blob` field). */
  protected oversize(base: Record<string, unknown>, pad: number): Record<string, unknown> {
    return { ...base, blob: 'x'.repeat(pad) };
  }

  private usable(kind: PoisonKind): boolean {
    switch (kind) {
      case 'schema-violation':
        if (!this.rules.validate) { this.notes.push('schema-violation records are not generated: the function has no schema (PHX_SCHEMA)'); return false; }
        return true;
      case 'missing-key':
        if (this.rules.keyFields.length === 0) { this.notes.push('missing-key records are not generated: the id covers the whole payload (PHX_KEY_FIELDS is [])'); return false; }
        return true;
      case 'oversize':
        if (this.rules.maxRecordBytes >= KINESIS_MAX_RECORD_BYTES - 512) {
          this.notes.push(`oversize records are not generated: PHX_MAX_RECORD_BYTES (${this.rules.maxRecordBytes}) is at the Kinesis record limit`);
          return false;
        }
        return true;
      default:
        return true;
    }
  }

  next(): WorkloadRecord | undefined {
    if (this.index >= this.total) return undefined;
    const index = this.index++;
    const now = Date.now();
    const r = this.rnd.next();
    if (r < this.opts.poisonRate && this.kinds.length > 0) return this.poison(index, now);
    if (r < this.opts.poisonRate + this.opts.duplicateRate && this.produced.length > 0) {
      const orig = this.produced[this.rnd.int(0, this.produced.length - 1)];
      return { ...orig, index, kind: 'duplicate' };
    }
    const e = this.validEvent(now);
    const data = Buffer.from(JSON.stringify(e.payload), 'utf8');
    const rec: WorkloadRecord = {
      index,
      kind: 'valid',
      data,
      partitionKey: e.partitionKey,
      hash: sha256(data),
      id: recordId(e.payload, this.rules.namespace, this.rules.keyFields),
      payload: e.payload,
      ...(e.version !== undefined ? { version: e.version } : {}),
    };
    this.produced.push(rec);
    return rec;
  }

  private poison(index: number, now: number): WorkloadRecord {
    const kind = this.kinds[this.poisonCounter % this.kinds.length];
    const n = this.poisonCounter++;
    const b = this.poisonBase(n, now);
    const base = b.payload;
    let data: Buffer;
    switch (kind) {
      case 'invalid-utf8':
        data = Buffer.concat([Buffer.from(`{"poison":${n},"bytes":"`), Buffer.from([0xc3, 0x28, 0xff, 0xfe]), Buffer.from('"}')]);
        break;
      case 'non-json':
        data = Buffer.from(this.nonJson(b, n), 'utf8');
        break;
      case 'json-array':
        data = Buffer.from(JSON.stringify([base]), 'utf8');
        break;
      case 'schema-violation':
        data = Buffer.from(JSON.stringify(this.schemaViolation(base, n)), 'utf8');
        break;
      case 'missing-key': {
        const { [this.rules.keyFields[0]]: _dropped, ...rest } = base;
        data = Buffer.from(JSON.stringify(rest), 'utf8');
        break;
      }
      case 'oversize': {
        const pad = this.rules.maxRecordBytes + 1 + this.rnd.int(0, 64);
        data = Buffer.from(JSON.stringify(this.oversize(base, pad)), 'utf8');
        break;
      }
      case 'deeply-nested': {
        const depth = 2000;
        data = Buffer.from(`${'{"a":'.repeat(depth)}{"poison":${n}}${'}'.repeat(depth)}`, 'utf8');
        break;
      }
      case 'huge-number':
        data = Buffer.from(JSON.stringify(base).replace(new RegExp(`"${this.hugeNumberField}":-?\\d+`), `"${this.hugeNumberField}":1e400`), 'utf8');
        break;
    }
    return { index, kind: 'poison', poisonKind: kind, data, partitionKey: b.partitionKey, hash: sha256(data) };
  }
}

/** A standard normal draw (Box-Muller) from a seeded generator. */
export function normal(rnd: Random): number {
  const u1 = 1 - rnd.next();
  const u2 = rnd.next();
  return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
}
