/** Test helpers of the profiler: an in-memory ProfileStore with S3's conditional-write semantics, event builders. */
import { gzipSync } from 'node:zlib';
import type { ProfileStore, WindowEvent } from '../../../../lib/handlers/profiler-window';

export class MemoryStore implements ProfileStore {
  readonly objects = new Map<string, string>();
  puts = 0;

  async get(key: string): Promise<string | undefined> {
    return this.objects.get(key);
  }

  async put(key: string, body: string, opts: { ifNoneMatch?: boolean } = {}): Promise<boolean> {
    this.puts++;
    if (opts.ifNoneMatch && this.objects.has(key)) return false;
    this.objects.set(key, body);
    return true;
  }

  async listKeys(prefix: string): Promise<string[]> {
    return [...this.objects.keys()].filter((k) => k.startsWith(prefix)).sort();
  }

  async listFolders(prefix: string, startAfter: string): Promise<string[]> {
    const out = new Set<string>();
    for (const k of this.objects.keys()) {
      if (!k.startsWith(prefix) || k <= startAfter) continue;
      const slash = k.indexOf('/', prefix.length);
      if (slash >= 0) out.add(k.slice(0, slash + 1));
    }
    return [...out].filter((f) => f > startAfter).sort();
  }

  keys(): string[] {
    return [...this.objects.keys()].sort();
  }
}

let seq = 1000;

/** A Kinesis record of a JSON value (or raw text). */
export function record(value: unknown, raw = false): { kinesis: { data: string; sequenceNumber: string; partitionKey: string } } {
  const text = raw ? String(value) : JSON.stringify(value);
  return { kinesis: { data: Buffer.from(text).toString('base64'), sequenceNumber: String(seq++), partitionKey: 'k' } };
}

export function windowOf(startIso: string, seconds: number): { start: string; end: string } {
  const end = new Date(Date.parse(startIso) + seconds * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
  return { start: startIso, end };
}

export function batchEvent(window: { start: string; end: string }, state: Record<string, unknown>, records: unknown[], shardId = 'shardId-000000000000'): WindowEvent {
  return { Records: records as never, window, state, shardId, isFinalInvokeForWindow: false, isWindowTerminatedEarly: false };
}

export function finalEvent(window: { start: string; end: string }, state: Record<string, unknown>, shardId = 'shardId-000000000000', terminatedEarly = false): WindowEvent {
  return { Records: [], window, state, shardId, isFinalInvokeForWindow: true, isWindowTerminatedEarly: terminatedEarly };
}

export function gzRules(rules: unknown): string {
  return 'gz:' + gzipSync(Buffer.from(JSON.stringify(rules))).toString('base64');
}
