import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { recordId } from '../core';
import { Random } from './random';
import type { PayloadValidator } from '../handlers/schema';

/** Kinesis limit on a record (data + partition key). */
export const KINESIS_MAX_RECORD_BYTES = 1_048_576;

/** Kinds of bad records the generator mixes in. */
export const POISON_KINDS = [
  'invalid-utf8', 'non-json', 'json-array', 'schema-violation', 'missing-key', 'oversize', 'deeply-nested', 'huge-number',
] as const;
export type PoisonKind = typeof POISON_KINDS[number];

/** One record to put on the stream. */
export interface WorkloadRecord {
  /** Position in the workload (0-based). */
  readonly index: number;
  /** `valid`: a new record expected in the sink; `duplicate`: identical bytes of an earlier valid record; `poison`: expected in the DLQ. */
  readonly kind: 'valid' | 'duplicate' | 'poison';
  /** `input`: a bad line of an input file; `injected`: drift a phased workload made invalid (e.g. a null user). */
  readonly poisonKind?: PoisonKind | 'input' | 'injected';
  readonly data: Buffer;
  readonly partitionKey: string;
  /** sha256 of `data` (hex): how a dead letter's payload is matched to the record. */
  readonly hash: string;
  /** Record id the pipeline computes (valid and duplicate records). */
  readonly id?: string;
  readonly payload?: Record<string, unknown>;
}

/** What the pipeline under test applies, read from the ingest function's environment. */
export interface PipelineRules {
  /** PHX_ID_NAMESPACE. */
  readonly namespace: string;
  /** PHX_KEY_FIELDS. */
  readonly keyFields: readonly string[];
  /** The schema validator (PHX_SCHEMA), or undefined when there is none. */
  readonly validate?: PayloadValidator;
  /** PHX_MAX_RECORD_BYTES. */
  readonly maxRecordBytes: number;
}

export interface WorkloadOptions {
  readonly records: number;
  readonly seed: number;
  /** Fraction of records that are poison (0-1). */
  readonly poisonRate: number;
  /** Fraction of records that re-put an earlier valid record (0-1). */
  readonly duplicateRate: number;
  /**
   * Most concurrent sessions of the generator (default 64). Few sessions make `seq` (the position in the session)
   * move with each session from window to window; a profiler comparing windows needs many.
   */
  readonly sessions?: number;
}

/** A source of records: the generator or an input file. */
export interface Workload {
  readonly total: number;
  /** Notes on kinds that cannot be produced (e.g. empty records, which Kinesis rejects). */
  readonly notes: readonly string[];
  /** The next record, built now (event times are the time of the call); undefined when done. */
  next(): WorkloadRecord | undefined;
  /**
   * A workload that paces itself: milliseconds until its next record is due (0 = now). The producer waits for it
   * and ignores its own rate. Absent: the producer's rate paces the workload.
   */
  waitMs?(now: number): number;
}

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
/** Most concurrent sessions of the clickstream generator by default. */
export const DEFAULT_SESSIONS = 64;
const EVENT_TYPES = ['page_view', 'page_view', 'page_view', 'click', 'click', 'add_to_cart', 'purchase'] as const;
const PAGES = ['/', '/search', '/p/espresso-machine', '/p/grinder', '/p/beans-1kg', '/cart', '/checkout', '/account', '/help'];

interface Session { userId: string; sessionId: string; seq: number }

/**
 * Seedable generator of the clickstream example's events (userId, sessionId, seq, eventType, url, ts, optional
 * referrer and properties), valid per the example schema, mixed with poison records and duplicates.
 * Events of a session share a partition key (the sessionId), so a poison record sits in the same shard as valid ones.
 */
export class ClickstreamWorkload implements Workload {
  readonly total: number;
  readonly notes: string[] = [];
  private index = 0;
  private readonly rnd: Random;
  private readonly sessions: Session[] = [];
  private readonly produced: WorkloadRecord[] = [];
  private readonly kinds: PoisonKind[];
  private poisonCounter = 0;
  private sessionCounter = 0;

  constructor(private readonly opts: WorkloadOptions, private readonly rules: PipelineRules) {
    for (const [name, v] of [['--poison-rate', opts.poisonRate], ['--duplicate-rate', opts.duplicateRate]] as const) {
      if (!(v >= 0 && v <= 1)) throw new RangeError(`${name} must be between 0 and 1; got ${v}`);
    }
    if (opts.poisonRate + opts.duplicateRate > 1) throw new RangeError('--poison-rate plus --duplicate-rate must not exceed 1');
    this.total = opts.records;
    this.rnd = new Random(opts.seed);
    this.kinds = POISON_KINDS.filter((k) => this.usable(k));
    this.notes.push('empty records are not generated: Kinesis rejects records with no data');
    // Check once that the generator's events are what the pipeline accepts.
    const probe = this.validPayload({ userId: 'u-probe', sessionId: 's-probe', seq: 0 }, Date.now());
    const problem = this.rules.validate?.(probe);
    if (problem) throw new Error(`the built-in clickstream workload does not match the function's schema (${problem}); pass --input FILE with your own records`);
    try {
      recordId(probe, rules.namespace, rules.keyFields);
    } catch (e) {
      throw new Error(`the built-in clickstream workload lacks the function's key fields ${JSON.stringify(rules.keyFields)}: ${(e as Error).message}; pass --input FILE`);
    }
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
    let rec: WorkloadRecord;
    const earlierValid = this.produced.length > 0;
    if (r < this.opts.poisonRate && this.kinds.length > 0) {
      rec = this.poison(index, now);
    } else if (r < this.opts.poisonRate + this.opts.duplicateRate && earlierValid) {
      const orig = this.produced[this.rnd.int(0, this.produced.length - 1)];
      rec = { ...orig, index, kind: 'duplicate' };
    } else {
      rec = this.valid(index, now);
      this.produced.push(rec);
    }
    return rec;
  }

  /**
   * Advances the session model by `events` events without producing them: the workload then starts like a stream
   * joined in progress (sessions of every age) instead of with every session at seq 0.
   */
  warmUp(events: number): void {
    for (let i = 0; i < events; i++) this.session().seq++;
  }

  private session(): Session {
    // Up to 64 (opts.sessions) concurrent sessions; a session ends with probability 1/40 per event.
    const most = this.opts.sessions ?? DEFAULT_SESSIONS;
    if (this.sessions.length < most / 8 || (this.sessions.length < most && this.rnd.chance(0.1))) {
      const n = this.sessionCounter++;
      this.sessions.push({ userId: `u-${String(this.rnd.int(1, 5000)).padStart(5, '0')}`, sessionId: `s-${this.opts.seed}-${n}`, seq: 0 });
    }
    const i = this.rnd.int(0, this.sessions.length - 1);
    const s = this.sessions[i];
    if (this.rnd.chance(1 / 40)) this.sessions.splice(i, 1);
    return s;
  }

  private validPayload(s: Pick<Session, 'userId' | 'sessionId' | 'seq'>, now: number): Record<string, unknown> {
    const eventType = this.rnd.pick(EVENT_TYPES);
    const payload: Record<string, unknown> = {
      userId: s.userId,
      sessionId: s.sessionId,
      seq: s.seq,
      eventType,
      url: `https://shop.example.com${this.rnd.pick(PAGES)}`,
      ts: new Date(now).toISOString(),
    };
    if (this.rnd.chance(0.3)) payload.referrer = this.rnd.pick(['https://www.google.com/', 'https://news.example.org/', 'https://shop.example.com/']);
    if (eventType === 'add_to_cart' || eventType === 'purchase') {
      payload.properties = { sku: `SKU-${this.rnd.int(100, 999)}`, qty: this.rnd.int(1, 3), price: this.rnd.int(199, 99_999) / 100 };
    }
    return payload;
  }

  private valid(index: number, now: number): WorkloadRecord {
    const s = this.session();
    const payload = this.validPayload(s, now);
    s.seq++;
    const data = Buffer.from(JSON.stringify(payload), 'utf8');
    return { index, kind: 'valid', data, partitionKey: s.sessionId, hash: sha256(data), id: recordId(payload, this.rules.namespace, this.rules.keyFields), payload };
  }

  private poison(index: number, now: number): WorkloadRecord {
    const kind = this.kinds[this.poisonCounter % this.kinds.length];
    const n = this.poisonCounter++;
    const s = this.session();
    const base = this.validPayload({ ...s, seq: 1_000_000 + n }, now);
    let data: Buffer;
    switch (kind) {
      case 'invalid-utf8':
        data = Buffer.concat([Buffer.from(`{"poison":${n},"bytes":"`), Buffer.from([0xc3, 0x28, 0xff, 0xfe]), Buffer.from('"}')]);
        break;
      case 'non-json':
        data = Buffer.from(`userId=${s.userId}&poison=${n} {not json`, 'utf8');
        break;
      case 'json-array':
        data = Buffer.from(JSON.stringify([base]), 'utf8');
        break;
      case 'schema-violation':
        data = Buffer.from(JSON.stringify({ ...base, eventType: 404 }), 'utf8');
        break;
      case 'missing-key': {
        const { [this.rules.keyFields[0]]: _dropped, ...rest } = base;
        data = Buffer.from(JSON.stringify(rest), 'utf8');
        break;
      }
      case 'oversize': {
        const pad = this.rules.maxRecordBytes + 1 + this.rnd.int(0, 64);
        data = Buffer.from(JSON.stringify({ ...base, properties: { blob: 'x'.repeat(pad) } }), 'utf8');
        break;
      }
      case 'deeply-nested': {
        const depth = 2000;
        data = Buffer.from(`${'{"a":'.repeat(depth)}{"poison":${n}}${'}'.repeat(depth)}`, 'utf8');
        break;
      }
      case 'huge-number':
        data = Buffer.from(JSON.stringify({ ...base }).replace(/"seq":\d+/, '"seq":1e400'), 'utf8');
        break;
    }
    return { index, kind: 'poison', poisonKind: kind, data, partitionKey: s.sessionId, hash: sha256(data) };
  }
}

/**
 * Records from a file, one per line: a JSON text (put as its UTF-8 bytes), or `base64:` followed by the raw bytes in
 * base64 (for bytes that are not text). Blank lines are skipped. Each record is classified the way the pipeline would
 * (strict UTF-8, JSON object, schema, key fields, size) to know where it is expected: the sink or the DLQ.
 */
export class FileWorkload implements Workload {
  readonly total: number;
  readonly notes: string[] = [];
  private readonly records: WorkloadRecord[] = [];
  private index = 0;

  constructor(file: string, rules: PipelineRules) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      throw new Error(`cannot read --input ${file}: ${(e as Error).message}`);
    }
    const seen = new Map<string, WorkloadRecord>();
    const utf8 = new TextDecoder('utf-8', { fatal: true });
    let lineNo = 0;
    let empty = 0;
    for (const line of text.split('\n')) {
      lineNo++;
      const trimmed = line.replace(/\r$/, '');
      if (trimmed.trim() === '') continue;
      let data: Buffer;
      if (trimmed.startsWith('base64:')) {
        const b64 = trimmed.slice(7).trim();
        if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64) || b64.length % 4 !== 0) throw new Error(`--input ${file}:${lineNo}: invalid base64 after "base64:"`);
        data = Buffer.from(b64, 'base64');
      } else {
        data = Buffer.from(trimmed, 'utf8');
      }
      if (data.length === 0) { empty++; continue; }
      if (data.length > KINESIS_MAX_RECORD_BYTES - 256) throw new Error(`--input ${file}:${lineNo}: ${data.length} bytes is above the Kinesis record limit`);
      const index = this.records.length;
      const hash = sha256(data);
      const earlier = seen.get(hash);
      if (earlier) {
        this.records.push({ ...earlier, index, kind: earlier.kind === 'poison' ? 'poison' : 'duplicate' });
        continue;
      }
      let payload: Record<string, unknown> | undefined;
      let id: string | undefined;
      try {
        const parsed: unknown = JSON.parse(utf8.decode(data));
        if (parsed && typeof parsed === 'object' && !Array.isArray(parsed) && data.length <= rules.maxRecordBytes) {
          // A producer may send an already-built envelope (v: 1 and payload present): its payload is the record.
          const o = parsed as Record<string, unknown>;
          const envelopeLike = o.v === 1 && o.payload !== null && typeof o.payload === 'object' && !Array.isArray(o.payload);
          const p = (envelopeLike ? o.payload : o) as Record<string, unknown>;
          if (!rules.validate?.(p)) {
            id = recordId(p, rules.namespace, rules.keyFields);
            payload = p;
          }
        }
      } catch {
        payload = undefined;
      }
      const partitionKey = payload ? String(rules.keyFields.length > 0 ? (payload[rules.keyFields[0]] ?? `line-${lineNo}`) : `line-${lineNo}`).slice(0, 256) : `line-${lineNo}`;
      const rec: WorkloadRecord = payload && id
        ? { index, kind: 'valid', data, partitionKey, hash, id, payload }
        : { index, kind: 'poison', poisonKind: 'input', data, partitionKey, hash };
      seen.set(hash, rec);
      this.records.push(rec);
    }
    if (empty > 0) this.notes.push(`${empty} empty record(s) in --input skipped: Kinesis rejects records with no data`);
    this.total = this.records.length;
  }

  next(): WorkloadRecord | undefined {
    return this.index < this.records.length ? this.records[this.index++] : undefined;
  }
}
