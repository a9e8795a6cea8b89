/**
 * Ports of the ingest processor: the only way it touches the outside world. The AWS SDK adapters live beside this
 * file; tests and benchmarks use the in-memory adapters (memory.ts).
 */
import type { Envelope } from '../../core';

/** Outcome of an idempotent write. `duplicate` and `stale` are successes (nothing to apply) and are counted. */
export type WriteResult = 'written' | 'duplicate' | 'stale';

/** What the processor knows about a record besides its envelope. */
export interface SinkWriteMeta {
  /** Partition key of the source Kinesis record (kept by a Kinesis next-stage sink). */
  readonly partitionKey: string;
  /** Sequence number of the source Kinesis record (for logs and tests; never an idempotency key). */
  readonly sequenceNumber: string;
  /**
   * SHA-256 (hex) of the payload's JSON text as written in `envelopeJson` (payloadTextHash): the tie-break between
   * two versions with the same eventTime (docs/ARCHITECTURE.md, "Idempotent sinks").
   */
  readonly contentHash: string;
  /**
   * The envelope serialized once by the processor (parses to the same value as JSON.stringify(env)); sinks store or
   * send this text instead of serializing the envelope again. Absent when the caller did not serialize it.
   */
  readonly envelopeJson?: string;
}

/**
 * An idempotent sink. `write` must be safe to call any number of times for one envelope id:
 * - the first write of an id, or a newer version (later eventTime; equal eventTime and greater contentHash) is `written`;
 * - the same version again is `duplicate`; an older version is `stale` and must not be applied.
 * Throw PermanentError('sink-rejected', ...) for a write that can never succeed (e.g. item too large); any other
 * error is classified by classifyError (throttling, timeouts, 5xx: transient, retried).
 */
export interface SinkPort {
  write(env: Envelope, meta: SinkWriteMeta): Promise<WriteResult>;
}

/**
 * Where dead letters go. The processor encodes the DLQ message (and decides on overflow); the port only moves bytes.
 */
export interface DlqPort {
  /** Sends one encoded DLQ message with its string message attributes. */
  sendMessage(body: string, attributes: Readonly<Record<string, string>>): Promise<void>;
  /**
   * Stores the record data (base64 text exactly as received) of a dead letter too large for the queue at `key`
   * (overflowKey, ending in `.b64`); returns its `s3://bucket/key` reference.
   * Undefined when no overflow store is configured (a too-large dead letter then fails, and the record stays in the stream).
   */
  putOverflow?(key: string, base64Data: string): Promise<string>;
}
