import { createHash } from 'node:crypto';
import { decodeBase64Strict } from './decode';
import { InvalidArgumentError } from './errors';
import { FailureReason, PermanentError, describeValue, isReasonClass } from './failure';
import { DLQ_OVERFLOW_PREFIX, REASON_CLASSES } from '../../constructs/contract';

/** Where the failed record came from (null when unknown, e.g. for records read back after ESM exhaustion). */
export interface DlqSource {
  streamArn: string | null;
  shardId: string | null;
  sequenceNumber: string | null;
  partitionKey: string | null;
  arrivedAt: string | null;
}

/** DLQ message v1 (docs/ARCHITECTURE.md). Exactly one of payload/payloadRef is set, or neither when the data is unknown. */
export interface DlqMessage {
  v: 1;
  id: string | null;
  correlationId: string | null;
  stage: string;
  reason: FailureReason;
  attempts: number;
  firstFailedAt: string;
  lastFailedAt: string;
  source: DlqSource;
  /** Base64 of the original record data. */
  payload: string | null;
  /** `s3://bucket/key` of the payload when it did not fit in the message. */
  payloadRef: string | null;
}

/** Default SQS message size limit used for the overflow decision (PHX_DLQ_MAX_MESSAGE_BYTES). */
export const DEFAULT_DLQ_MAX_MESSAGE_BYTES = 262_144;

function invalid(message: string): never {
  throw new PermanentError('decode', `invalid DLQ message v1: ${message}`);
}

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function stringOrNull(x: unknown, field: string): string | null {
  if (x === null || typeof x === 'string') {
    return x;
  }
  return invalid(`${field} must be a string or null; got ${describeValue(x)}`);
}

function timestamp(x: unknown, field: string): string {
  if (typeof x !== 'string' || Number.isNaN(Date.parse(x))) {
    return invalid(`${field} must be an ISO-8601 timestamp; got ${describeValue(x)}`);
  }
  return x;
}

/** Validates the shape of a DLQ message and returns a copy holding only the v1 fields, in contract order. */
function checkDlqMessage(x: unknown): DlqMessage {
  if (!isObject(x)) {
    return invalid(`expected a JSON object; got ${describeValue(x)}`);
  }
  if (x.v !== 1) {
    return invalid(`v must be 1; got ${describeValue(x.v)}`);
  }
  if (typeof x.stage !== 'string' || x.stage.length === 0) {
    invalid(`stage must be a non-empty string; got ${describeValue(x.stage)}`);
  }
  const reason = x.reason;
  if (!isObject(reason)) {
    return invalid(`reason must be an object { class, message }; got ${describeValue(reason)}`);
  }
  if (!isReasonClass(reason.class)) {
    invalid(`reason.class must be one of ${REASON_CLASSES.join(', ')}; got ${describeValue(reason.class)}`);
  }
  if (typeof reason.message !== 'string') {
    invalid(`reason.message must be a string; got ${describeValue(reason.message)}`);
  }
  if (typeof x.attempts !== 'number' || !Number.isInteger(x.attempts) || x.attempts < 0) {
    invalid(`attempts must be an integer >= 0; got ${describeValue(x.attempts)}`);
  }
  const source = x.source;
  if (!isObject(source)) {
    return invalid(`source must be an object; got ${describeValue(source)}`);
  }
  const msg: DlqMessage = {
    v: 1,
    id: stringOrNull(x.id, 'id'),
    correlationId: stringOrNull(x.correlationId, 'correlationId'),
    stage: x.stage as string,
    reason: { class: reason.class as FailureReason['class'], message: reason.message as string },
    attempts: x.attempts as number,
    firstFailedAt: timestamp(x.firstFailedAt, 'firstFailedAt'),
    lastFailedAt: timestamp(x.lastFailedAt, 'lastFailedAt'),
    source: {
      streamArn: stringOrNull(source.streamArn, 'source.streamArn'),
      shardId: stringOrNull(source.shardId, 'source.shardId'),
      sequenceNumber: stringOrNull(source.sequenceNumber, 'source.sequenceNumber'),
      partitionKey: stringOrNull(source.partitionKey, 'source.partitionKey'),
      arrivedAt: stringOrNull(source.arrivedAt, 'source.arrivedAt'),
    },
    payload: stringOrNull(x.payload, 'payload'),
    payloadRef: stringOrNull(x.payloadRef, 'payloadRef'),
  };
  if (msg.payload !== null && msg.payloadRef !== null) {
    invalid('payload and payloadRef are both set; exactly one of them (or neither) is allowed');
  }
  if (msg.payloadRef !== null) {
    checkS3Ref(msg.payloadRef, invalid);
  }
  return msg;
}

function checkS3Ref(ref: string, fail: (message: string) => never): void {
  const m = /^s3:\/\/([^/]+)\/(.+)$/.exec(ref);
  if (m === null) {
    fail(`payloadRef must look like s3://bucket/key; got ${describeValue(ref)}`);
  }
}

/** SQS size of the message attributes of {@link dlqMessageAttributes}: name + data type ('String') + value, UTF-8. */
function attributesBytes(attrs: Record<string, string>): number {
  let n = 0;
  for (const [k, v] of Object.entries(attrs)) {
    n += Buffer.byteLength(k, 'utf8') + 'String'.length + Buffer.byteLength(v, 'utf8');
  }
  return n;
}

/**
 * Serializes a DLQ message (validated first: a malformed message is a bug and throws PermanentError('decode')).
 * `bytes` = body size + the size SQS counts for the message attributes; `fits` = bytes <= maxMessageBytes
 * (when it does not, store the payload in S3 under {@link overflowKey} and send {@link withPayloadRef}).
 */
export function encodeDlqMessage(msg: DlqMessage, maxMessageBytes: number): { body: string; bytes: number; fits: boolean } {
  if (!Number.isInteger(maxMessageBytes) || maxMessageBytes < 1) {
    throw new InvalidArgumentError(`encodeDlqMessage: maxMessageBytes must be an integer >= 1; got ${describeValue(maxMessageBytes)}`);
  }
  const checked = checkDlqMessage(msg);
  const body = sqsSafeJson(checked);
  const bytes = Buffer.byteLength(body, 'utf8') + attributesBytes(dlqMessageAttributes(checked));
  return { body, bytes, fits: bytes <= maxMessageBytes };
}

/** Parses and validates a DLQ message body; PermanentError('decode') with the offending field otherwise. */
export function decodeDlqMessage(body: string): DlqMessage {
  if (typeof body !== 'string') {
    return invalid(`body must be a string; got ${describeValue(body)}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch (e) {
    return invalid(`body is not JSON (${(e as Error).message})`);
  }
  return checkDlqMessage(parsed);
}

/**
 * Deterministic S3 key of an overflowing payload:
 * `dlq-payloads/<stage>/<id, else sha256 of the payload>/<sequenceNumber, else 'none'>.b64`.
 * The stage is URI-encoded so that it stays one key segment. The same record failing twice maps to the same key.
 */
export function overflowKey(msg: DlqMessage): string {
  const who = msg.id ?? createHash('sha256').update(msg.payload ?? '', 'utf8').digest('hex');
  const seq = msg.source.sequenceNumber ?? 'none';
  return `${DLQ_OVERFLOW_PREFIX}${keySegment(msg.stage)}/${keySegment(who)}/${keySegment(seq)}.b64`;
}

/**
 * One S3 key segment for a value: URI-encoded when it is short and plain (stage names, uuids, sequence numbers),
 * else the SHA-256 of it (hostile metadata must neither break the key nor exceed S3's 1024-byte key limit).
 */
function keySegment(x: string): string {
  return /^[A-Za-z0-9._-]{1,128}$/.test(x) ? x : createHash('sha256').update(x, 'utf8').digest('hex');
}

// Characters SQS refuses in a message body (it allows #x9 #xA #xD #x20-#xD7FF #xE000-#xFFFD #x10000-#x10FFFF) that
// JSON.stringify leaves as they are; inside JSON strings they are escaped (the value is unchanged).
const SQS_REFUSED = /[\uFFFE\uFFFF]/g;

function sqsSafeJson(value: unknown): string {
  return JSON.stringify(value).replace(SQS_REFUSED, (c) => `\\u${c.charCodeAt(0).toString(16)}`);
}

/** A copy of the message whose payload was moved to S3: payload null, payloadRef `s3://bucket/key`. */
export function withPayloadRef(msg: DlqMessage, ref: string): DlqMessage {
  checkS3Ref(ref, (message) => {
    throw new InvalidArgumentError(`withPayloadRef: ${message}`);
  });
  return { ...msg, source: { ...msg.source }, reason: { ...msg.reason }, payload: null, payloadRef: ref };
}

/** SQS message attributes (all String): reasonClass, stage and, when known, id; for filtering without parsing the body. */
export function dlqMessageAttributes(msg: DlqMessage): Record<string, string> {
  const attrs: Record<string, string> = { reasonClass: msg.reason.class, stage: msg.stage };
  if (msg.id !== null) {
    attrs.id = msg.id;
  }
  return attrs;
}

/** The original record bytes (strict base64 decoding), or null when the message carries none (payloadRef or unknown). */
export function decodePayload(msg: DlqMessage): Buffer | null {
  if (msg.payload === null) {
    return null;
  }
  if (msg.payload === '') {
    return Buffer.alloc(0);
  }
  const out = decodeBase64Strict(msg.payload);
  if (typeof out === 'string') {
    return invalid(`payload is not valid base64: ${out}`);
  }
  return out;
}
