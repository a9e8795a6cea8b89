import { readFileSync } from 'node:fs';
import { KINESIS_MAX_RECORD_BYTES, sha256, type PipelineRules, type Workload, type WorkloadRecord } from './types';
import { recordId } from '../../core';
import { InputError } from '../../replay/filter';

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
      throw new InputError(`cannot read --input ${file}: ${(e as Error).message}`);
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
        if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64) || b64.length % 4 !== 0) throw new InputError(`--input ${file}:${lineNo}: invalid base64 after "base64:"`);
        data = Buffer.from(b64, 'base64');
      } else {
        data = Buffer.from(trimmed, 'utf8');
      }
      if (data.length === 0) { empty++; continue; }
      if (data.length > KINESIS_MAX_RECORD_BYTES - 256) throw new InputError(`--input ${file}:${lineNo}: ${data.length} bytes is above the Kinesis record limit`);
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
