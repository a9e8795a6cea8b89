/**
 * In-memory adapters with the same idempotency semantics as the AWS ones, for tests, benchmarks and local
 * experiments with a transform. Not for production: state lives in the process.
 */
import type { DlqPort, SinkPort, SinkWriteMeta, WriteResult } from './types';
import { compareVersions, notAppliedOutcome, sortableEventTime, type Version } from './version';
import type { Envelope } from '../../core';

export interface StoredRecord {
  readonly version: Version;
  readonly envelope: Envelope;
}

export class MemorySink implements SinkPort {
  readonly items = new Map<string, StoredRecord>();
  /** Every write call, in order (for assertions). */
  readonly calls: Array<{ id: string; result: WriteResult }> = [];

  async write(env: Envelope, meta: SinkWriteMeta): Promise<WriteResult> {
    const version: Version = { eventTime: sortableEventTime(env.eventTime), contentHash: meta.contentHash };
    const stored = this.items.get(env.id);
    let result: WriteResult;
    if (stored === undefined || compareVersions(version, stored.version) > 0) {
      this.items.set(env.id, { version, envelope: env });
      result = 'written';
    } else {
      result = notAppliedOutcome(version, stored.version);
    }
    this.calls.push({ id: env.id, result });
    return result;
  }
}

export class MemoryDlq implements DlqPort {
  readonly messages: Array<{ body: string; attributes: Readonly<Record<string, string>> }> = [];
  readonly overflow = new Map<string, string>();

  constructor(private readonly overflowBucket = 'memory-overflow') {}

  async sendMessage(body: string, attributes: Readonly<Record<string, string>>): Promise<void> {
    this.messages.push({ body, attributes });
  }

  async putOverflow(key: string, base64Data: string): Promise<string> {
    this.overflow.set(key, base64Data);
    return `s3://${this.overflowBucket}/${key}`;
  }
}
