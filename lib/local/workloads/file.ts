import { readFileSync, statSync } from 'node:fs';
import { KINESIS_MAX_RECORD_BYTES, sha256, type PipelineRules, type Workload, type WorkloadRecord } from './types';
import { decodeData, replayCountOf, toEnvelope } from '../../core';
import { CONFIG_DEFAULTS } from '../../handlers/config';
import { InputError } from '../../replay/filter';

/**
 * The envelope the stage would write for these bytes, or undefined when it must dead-letter them: decoded and
 * enveloped by the stage's own functions (strict decode, exact envelope detection, event-time bounds around now,
 * replay count, natural key), then the schema.
 */
export function expectedInSink(data: Buffer, rules: PipelineRules): { payload: Record<string, unknown>; id: string } | undefined {
  const decoded = decodeData(data.toString('base64'), { maxBytes: rules.maxRecordBytes });
  if (!decoded.ok) return undefined;
  const now = Date.now();
  try {
    const env = toEnvelope(decoded.value, {
      namespace: rules.namespace,
      keyFields: rules.keyFields,
      source: 'local',
      arrivedAtMs: now,
      nowMs: now,
      eventTimeField: rules.eventTimeField,
      eventTimeBounds: rules.eventTimeBounds,
    });
    if (replayCountOf(env.replay) > (rules.replayMaxCount ?? CONFIG_DEFAULTS.replayMaxCount)) return undefined;
    return rules.validate?.(env.payload) ? undefined : { payload: env.payload, id: env.id };
  } catch {
    return undefined;
  }
}

/** One record line of an --input file: its 1-based line number and the bytes to put. */
export interface InputLine {
  readonly lineNo: number;
  readonly data: Buffer;
}

/**
 * Reads an --input file: one record per line, a JSON text (its UTF-8 bytes) or `base64:` and the bytes in base64;
 * blank lines skipped, empty records counted. Throws InputError (one line, with the line number) for a file that is
 * missing or a directory, invalid base64, or a record above the Kinesis record limit: `phoenix local run` checks the
 * file with it before synthesizing anything.
 */
export function readInputFile(file: string): { lines: InputLine[]; empty: number } {
  let text: string;
  try {
    if (statSync(file).isDirectory()) throw new InputError(`--input ${file} is a directory: give a file with one record per line`);
    text = readFileSync(file, 'utf8');
  } catch (e) {
    if (e instanceof InputError) throw e;
    throw new InputError(`cannot read --input ${file}: ${(e as Error).message}`);
  }
  const lines: InputLine[] = [];
  let lineNo = 0;
  let empty = 0;
  for (const line of text.split('\n')) {
    lineNo++;
    const trimmed = line.replace(/\r$/, '');
    if (trimmed.trim() === '') continue;
    let data: Buffer;
    if (trimmed.startsWith('base64:')) {
      const b64 = trimmed.slice(7).trim();
      if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64) || b64.length % 4 !== 0) {
        throw new InputError(`--input ${file}:${lineNo}: invalid base64 after "base64:" (allowed: A-Z, a-z, 0-9, +, /, padded with = to a multiple of 4)`);
      }
      data = Buffer.from(b64, 'base64');
    } else {
      data = Buffer.from(trimmed, 'utf8');
    }
    if (data.length === 0) {
      empty++;
      continue;
    }
    if (data.length > KINESIS_MAX_RECORD_BYTES - 256) {
      throw new InputError(`--input ${file}:${lineNo}: ${data.length} bytes is above the Kinesis record limit (${KINESIS_MAX_RECORD_BYTES - 256} bytes of data with a 256-byte partition key)`);
    }
    lines.push({ lineNo, data });
  }
  return { lines, empty };
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
    const { lines, empty } = readInputFile(file);
    const seen = new Map<string, WorkloadRecord>();
    for (const { lineNo, data } of lines) {
      const index = this.records.length;
      const hash = sha256(data);
      const earlier = seen.get(hash);
      if (earlier) {
        this.records.push({ ...earlier, index, kind: earlier.kind === 'poison' ? 'poison' : 'duplicate' });
        continue;
      }
      const expected = expectedInSink(data, rules);
      const payload = expected?.payload;
      const id = expected?.id;
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
