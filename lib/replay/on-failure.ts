/**
 * Event source mapping on-failure records -> DLQ messages v1 (reason class `esm-exhausted`). Pure: no AWS SDK.
 *
 * Lambda writes one on-failure record per failed batch. S3 destinations carry the invocation payload (the whole
 * Kinesis event: its exact encoding is not documented, so `payload` is accepted as a JSON string, a base64 JSON string
 * or an object); SQS/SNS destinations carry metadata only (`KinesisBatchInfo`), and the records must be read back from
 * the stream (see readBatchBack in engine code) while the stream still retains them.
 */
import { decodeData, describeError, toEnvelope, type DlqMessage, type DlqSource } from '../core';
import { PhoenixError } from '../core/errors';

/** KinesisBatchInfo of an on-failure record. Sequence numbers are decimal strings of up to 129 digits. */
export interface BatchInfo {
  readonly shardId: string;
  readonly startSequenceNumber: string;
  readonly endSequenceNumber: string;
  readonly approximateArrivalOfFirstRecord?: string;
  readonly approximateArrivalOfLastRecord?: string;
  readonly batchSize?: number;
  readonly streamArn: string;
}

/** One Kinesis record of the failed invocation. */
export interface FailedRecord {
  /** Base64 of the record data. */
  readonly data: string;
  readonly partitionKey: string;
  readonly sequenceNumber: string;
  /** Epoch seconds (Lambda event) of the approximate arrival. */
  readonly approximateArrivalTimestamp?: number;
  readonly shardId?: string;
  readonly streamArn?: string;
}

/** A parsed on-failure record. `records` is undefined when the record carries metadata only. */
export interface OnFailure {
  readonly condition: string;
  readonly approximateInvokeCount: number;
  readonly timestamp: string;
  readonly batchInfo?: BatchInfo;
  readonly records?: FailedRecord[];
  /** Set when a payload was present but could not be read (then the batch is read back from the stream). */
  readonly payloadProblem?: string;
}

/** Not an on-failure record at all (the object/message is reported and left alone). */
export class OnFailureFormatError extends PhoenixError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ON_FAILURE_FORMAT', message, options);
  }
}

function obj(x: unknown): Record<string, unknown> | undefined {
  return typeof x === 'object' && x !== null && !Array.isArray(x) ? x as Record<string, unknown> : undefined;
}

const DECIMAL = /^\d{1,129}$/;

function batchInfoOf(x: unknown): BatchInfo | undefined {
  const b = obj(x);
  if (!b) return undefined;
  if (typeof b.shardId !== 'string' || typeof b.streamArn !== 'string'
    || typeof b.startSequenceNumber !== 'string' || !DECIMAL.test(b.startSequenceNumber)
    || typeof b.endSequenceNumber !== 'string' || !DECIMAL.test(b.endSequenceNumber)) {
    return undefined;
  }
  return {
    shardId: b.shardId,
    streamArn: b.streamArn,
    startSequenceNumber: b.startSequenceNumber,
    endSequenceNumber: b.endSequenceNumber,
    approximateArrivalOfFirstRecord: typeof b.approximateArrivalOfFirstRecord === 'string' ? b.approximateArrivalOfFirstRecord : undefined,
    approximateArrivalOfLastRecord: typeof b.approximateArrivalOfLastRecord === 'string' ? b.approximateArrivalOfLastRecord : undefined,
    batchSize: typeof b.batchSize === 'number' ? b.batchSize : undefined,
  };
}

/** The invocation event of a `payload` field: an object, a JSON string, or base64 of a JSON string. */
function payloadEvent(p: unknown): Record<string, unknown> {
  if (obj(p)) return p as Record<string, unknown>;
  if (typeof p !== 'string') throw new Error(`payload is ${p === null ? 'null' : typeof p}`);
  const text = p.trim();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    const bytes = Buffer.from(text, 'base64');
    try {
      parsed = JSON.parse(bytes.toString('utf8'));
    } catch {
      throw new Error('payload is a string that is neither JSON nor base64 of JSON');
    }
  }
  // Doubly encoded JSON (a JSON string holding JSON) is unwrapped once.
  if (typeof parsed === 'string') return payloadEvent(parsed);
  const o = obj(parsed);
  if (!o) throw new Error('payload JSON is not an object');
  return o;
}

function recordsOf(event: Record<string, unknown>): FailedRecord[] {
  const recs = event.Records ?? event.records;
  if (!Array.isArray(recs)) throw new Error('payload has no Records array');
  return recs.map((r, i) => {
    const rec = obj(r);
    const k = obj(rec?.kinesis);
    if (!rec || !k || typeof k.data !== 'string' || typeof k.sequenceNumber !== 'string' || typeof k.partitionKey !== 'string') {
      throw new Error(`payload Records[${i}] is not a Kinesis record (kinesis.data, kinesis.sequenceNumber, kinesis.partitionKey)`);
    }
    const eventId = typeof rec.eventID === 'string' ? rec.eventID : undefined;
    const colon = eventId?.indexOf(':') ?? -1;
    return {
      data: k.data,
      partitionKey: k.partitionKey,
      sequenceNumber: k.sequenceNumber,
      approximateArrivalTimestamp: typeof k.approximateArrivalTimestamp === 'number' ? k.approximateArrivalTimestamp : undefined,
      shardId: eventId && colon > 0 ? eventId.slice(0, colon) : undefined,
      streamArn: typeof rec.eventSourceARN === 'string' ? rec.eventSourceARN : undefined,
    };
  });
}

/** Parses an on-failure record (the text of an S3 object or of an SQS message body). */
export function parseOnFailure(text: string): OnFailure {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new OnFailureFormatError(`not JSON: ${(e as Error).message}`);
  }
  const o = obj(parsed);
  if (!o) throw new OnFailureFormatError('not a JSON object');
  const ctx = obj(o.requestContext);
  const batchInfo = batchInfoOf(o.KinesisBatchInfo);
  if (!ctx && !batchInfo && o.payload === undefined) {
    throw new OnFailureFormatError('neither requestContext, KinesisBatchInfo nor payload: not an event source mapping on-failure record');
  }
  const condition = typeof ctx?.condition === 'string' ? ctx.condition : 'unknown condition';
  const approximateInvokeCount = typeof ctx?.approximateInvokeCount === 'number' ? ctx.approximateInvokeCount : 0;
  const timestamp = typeof o.timestamp === 'string' && !Number.isNaN(Date.parse(o.timestamp)) ? new Date(Date.parse(o.timestamp)).toISOString() : new Date().toISOString();
  let records: FailedRecord[] | undefined;
  let payloadProblem: string | undefined;
  if (o.payload !== undefined && o.payload !== null) {
    try {
      records = recordsOf(payloadEvent(o.payload));
    } catch (e) {
      payloadProblem = describeError(e);
    }
  }
  if (records === undefined && !batchInfo) {
    throw new OnFailureFormatError(`no readable payload (${payloadProblem ?? 'absent'}) and no KinesisBatchInfo to read the records back`);
  }
  return { condition, approximateInvokeCount, timestamp, batchInfo, records, payloadProblem };
}

/** -1, 0, 1: sequence numbers compared as integers (they exceed Number and differ in length). */
export function compareSequenceNumbers(a: string, b: string): number {
  const x = BigInt(a);
  const y = BigInt(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

/** How the normalizer computes ids: only when the pipeline's namespace and key fields are known. */
export interface IdRules {
  readonly namespace: string;
  readonly keyFields: readonly string[];
  readonly maxRecordBytes: number;
}

function idsOf(rec: FailedRecord, rules: IdRules | undefined, source: string): { id: string | null; correlationId: string | null } {
  if (!rules) return { id: null, correlationId: null };
  const decoded = decodeData(rec.data, { maxBytes: rules.maxRecordBytes });
  if (!decoded.ok) return { id: null, correlationId: null };
  try {
    const env = toEnvelope(decoded.value, {
      namespace: rules.namespace,
      keyFields: rules.keyFields,
      source,
      arrivedAtMs: Math.round((rec.approximateArrivalTimestamp ?? 0) * 1000),
    });
    return { id: env.id, correlationId: env.correlationId };
  } catch {
    return { id: null, correlationId: null };
  }
}

function streamName(arn: string): string {
  const i = arn.lastIndexOf(':stream/');
  return i >= 0 ? arn.slice(i + 8) : arn;
}

/** The reason message of an exhausted batch: the on-failure condition and the invoke count. */
export function exhaustedMessage(f: OnFailure): string {
  return `${f.condition}: the event source mapping gave up on the batch after ${f.approximateInvokeCount} invocation(s)`;
}

/** One DLQ message v1 per record of a failed batch (records from the payload or read back from the stream). */
export function dlqMessagesFor(f: OnFailure, records: readonly FailedRecord[], stage: string, rules?: IdRules): DlqMessage[] {
  const message = exhaustedMessage(f);
  // The first failed invocation's time is not in the record: the give-up time stands for both.
  const firstFailedAt = f.timestamp;
  return records.map((rec) => {
    const streamArn = rec.streamArn ?? f.batchInfo?.streamArn ?? null;
    const source: DlqSource = {
      streamArn,
      shardId: rec.shardId ?? f.batchInfo?.shardId ?? null,
      sequenceNumber: rec.sequenceNumber,
      partitionKey: rec.partitionKey,
      arrivedAt: rec.approximateArrivalTimestamp !== undefined ? new Date(Math.round(rec.approximateArrivalTimestamp * 1000)).toISOString() : null,
    };
    return {
      v: 1,
      ...idsOf(rec, rules, streamArn ? streamName(streamArn) : stage),
      stage,
      reason: { class: 'esm-exhausted', message },
      attempts: f.approximateInvokeCount,
      firstFailedAt,
      lastFailedAt: f.timestamp,
      source,
      payload: rec.data,
      payloadRef: null,
    };
  });
}

/** The DLQ message standing for records of a batch that could not be read back (past retention, stream deleted). */
export function expiredMessage(f: OnFailure, stage: string, detail: string, fromSequenceNumber?: string): DlqMessage {
  const b = f.batchInfo!;
  return {
    v: 1,
    id: null,
    correlationId: null,
    stage,
    reason: {
      class: 'esm-exhausted',
      message: `expired: ${detail}; records ${fromSequenceNumber ?? b.startSequenceNumber}..${b.endSequenceNumber} of ${b.shardId} (batch of ${b.batchSize ?? '?'}) cannot be replayed (${exhaustedMessage(f)})`,
    },
    attempts: f.approximateInvokeCount,
    firstFailedAt: f.timestamp,
    lastFailedAt: f.timestamp,
    source: {
      streamArn: b.streamArn,
      shardId: b.shardId,
      sequenceNumber: fromSequenceNumber ?? b.startSequenceNumber,
      partitionKey: null,
      arrivedAt: b.approximateArrivalOfFirstRecord ?? null,
    },
    payload: null,
    payloadRef: null,
  };
}
