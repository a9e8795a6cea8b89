import { InvalidArgumentError, PhoenixError } from './errors';
import { REASON_CLASSES } from '../../constructs/contract';

/** Reason class of a failed record (DLQ message v1 `reason.class`). */
export type ReasonClass = typeof REASON_CLASSES[number];

/** Why a record failed: a reason class and a human-readable message. */
export interface FailureReason {
  readonly class: ReasonClass;
  readonly message: string;
}

/** Longest failure message kept (DLQ messages and logs must stay bounded whatever an error carries). */
export const MAX_REASON_MESSAGE_CHARS = 2048;

const REASON_CLASS_SET: ReadonlySet<string> = new Set(REASON_CLASSES);

/** True when `x` is one of the reason classes of the DLQ message contract. */
export function isReasonClass(x: unknown): x is ReasonClass {
  return typeof x === 'string' && REASON_CLASS_SET.has(x);
}

/** Truncates a message to {@link MAX_REASON_MESSAGE_CHARS}, marking the cut. */
export function boundMessage(message: string, max: number = MAX_REASON_MESSAGE_CHARS): string {
  if (message.length <= max) {
    return message;
  }
  const suffix = `... (${message.length - max} more chars)`;
  return message.slice(0, Math.max(0, max - suffix.length)) + suffix;
}

export { PhoenixError } from './errors';

/** A failure that retrying cannot fix: the record goes to the DLQ at once with `reasonClass`. */
export class PermanentError extends PhoenixError {
  public readonly reasonClass: ReasonClass;

  constructor(reasonClass: ReasonClass, message: string, options?: { cause?: unknown }) {
    if (!isReasonClass(reasonClass)) {
      throw new InvalidArgumentError(`PermanentError: reason class must be one of ${REASON_CLASSES.join(', ')}; got ${describeValue(reasonClass)}`);
    }
    super('PERMANENT', message, options);
    this.reasonClass = reasonClass;
  }

  /** The failure reason carried into the DLQ message. */
  public get reason(): FailureReason {
    return { class: this.reasonClass, message: boundMessage(this.message) };
  }
}

/**
 * A failure that may succeed when retried (throttling, timeouts, unavailable dependency).
 * `timeout: true` marks connection-level failures (charged the higher timeout cost by the retry-token bucket).
 */
export class TransientError extends PhoenixError {
  public readonly timeout: boolean;

  constructor(message: string, options?: { cause?: unknown; timeout?: boolean }) {
    super('TRANSIENT', message, options);
    this.timeout = options?.timeout === true;
  }
}

/**
 * Outcome of {@link classifyError}. A transient classification carries the class that a DLQ message would use once
 * retries are exhausted (`transient-exhausted`), whether it was a timeout/connection failure and whether it was throttling.
 */
export type Classification =
  | { kind: 'permanent'; reason: FailureReason }
  | { kind: 'transient'; reason: FailureReason; timeout: boolean; throttling?: boolean };

/*
 * AWS SDK v3 errors are recognised by shape, without importing the SDK (lib/core must stay SDK-free so that it is
 * testable and bundles small). The lists mirror @smithy/service-error-classification (THROTTLING_ERROR_CODES,
 * TRANSIENT_ERROR_CODES, NODEJS_TIMEOUT_ERROR_CODES, NODEJS_NETWORK_ERROR_CODES, CLOCK_SKEW_ERROR_CODES) plus
 * service-specific names seen from Kinesis, DynamoDB, S3, SQS and KMS.
 */
const THROTTLING_NAMES: ReadonlySet<string> = new Set([
  'BandwidthLimitExceeded',
  'EC2ThrottledException',
  'KMSThrottlingException',
  'LimitExceededException',
  'PriorRequestNotComplete',
  'ProvisionedThroughputExceededException',
  'RequestLimitExceeded',
  'RequestThrottled',
  'RequestThrottledException',
  'SlowDown',
  'ThrottledException',
  'Throttling',
  'ThrottlingException',
  'TooManyRequestsException',
  'TransactionInProgressException',
  'RequestRateExceeded',
  'ThrottlingError',
]);

const TIMEOUT_NAMES: ReadonlySet<string> = new Set([
  'TimeoutError',
  'RequestTimeout',
  'RequestTimeoutException',
  'AbortError',
]);

const SERVER_NAMES: ReadonlySet<string> = new Set([
  'InternalServerError',
  'InternalServerErrorException',
  'InternalFailure',
  'InternalError',
  'InternalErrorException',
  'ServiceUnavailable',
  'ServiceUnavailableException',
  'ServiceUnavailableError',
  'KMSInternalException',
  'KMSUnavailableException',
  'TransactionConflict',
  'TransactionConflictException',
  'OperationAborted',
  'ReplicatedWriteConflictException',
  // Clock skew: the SDK corrects its offset and retries.
  'AuthFailure',
  'InvalidSignatureException',
  'RequestExpired',
  'RequestInTheFuture',
  'RequestTimeTooSkewed',
  'SignatureDoesNotMatch',
  // Expired or not-yet-refreshed credentials: the credential provider refreshes them on the next attempt.
  'ExpiredToken',
  'ExpiredTokenException',
  'IDPCommunicationError',
]);

/**
 * Errors that say the *infrastructure* is wrong (missing permission, table, bucket, queue or stream, bad key), not the
 * record. Dead-lettering on them would move every record of the shard to the DLQ during a misconfiguration;
 * instead they are transient: the shard stops at the record, the iterator-age alarm fires, and processing resumes
 * where it stopped once the deployment is fixed.
 */
const INFRASTRUCTURE_NAMES: ReadonlySet<string> = new Set([
  'AccessDenied',
  'AccessDeniedException',
  'UnauthorizedOperation',
  'UnrecognizedClientException',
  'InvalidClientTokenId',
  'MissingAuthenticationToken',
  'ResourceNotFoundException',
  'NoSuchBucket',
  'QueueDoesNotExist',
  'AWS.SimpleQueueService.NonExistentQueue',
  'KMSAccessDeniedException',
  'KMSDisabledException',
  'KMSInvalidStateException',
  'KMSNotFoundException',
  'KmsAccessDenied',
  'KmsDisabled',
  'KmsNotFound',
  'KmsThrottled',
  'KmsInvalidState',
  // S3 errors without a body (HEAD): the SDK names them after the status code.
  '401',
  '403',
  'Forbidden',
  'Unauthorized',
]);

/** Node.js socket/DNS error codes: the request may not have reached the service, retrying is safe for idempotent writes. */
const NETWORK_CODES: ReadonlySet<string> = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'ESOCKETTIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'ENOTFOUND',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);

const MAX_CAUSE_DEPTH = 8;

interface ErrorShape {
  readonly name?: unknown;
  readonly code?: unknown;
  readonly message?: unknown;
  readonly $retryable?: unknown;
  readonly $metadata?: { readonly httpStatusCode?: unknown };
  readonly cause?: unknown;
}

/** `Name: message` of anything thrown, bounded in length. */
export function describeError(err: unknown): string {
  if (err instanceof Error) {
    const msg = err.message ? `${err.name}: ${err.message}` : err.name;
    return boundMessage(msg);
  }
  if (typeof err === 'object' && err !== null) {
    const shape = err as ErrorShape;
    const name = typeof shape.name === 'string' ? shape.name : 'Error';
    if (typeof shape.message === 'string') {
      return boundMessage(`${name}: ${shape.message}`);
    }
  }
  return boundMessage(`thrown value ${describeValue(err)}`);
}

function transient(err: unknown, timeout: boolean, throttling: boolean): Classification {
  return { kind: 'transient', reason: { class: 'transient-exhausted', message: describeError(err) }, timeout, throttling };
}

/** Classifies by the AWS SDK / Node.js error shape. undefined = not recognised. */
function classifyShape(err: unknown, depth: number): Classification | undefined {
  if (typeof err !== 'object' || err === null) {
    return undefined;
  }
  if (err instanceof PermanentError) {
    return { kind: 'permanent', reason: err.reason };
  }
  if (err instanceof TransientError) {
    return transient(err, err.timeout, false);
  }
  const shape = err as ErrorShape;
  const name = typeof shape.name === 'string' ? shape.name : '';
  const code = typeof shape.code === 'string' ? shape.code : '';
  if (THROTTLING_NAMES.has(name) || THROTTLING_NAMES.has(code)) {
    return transient(err, false, true);
  }
  if (TIMEOUT_NAMES.has(name) || TIMEOUT_NAMES.has(code)) {
    return transient(err, true, false);
  }
  if (NETWORK_CODES.has(code)) {
    return transient(err, true, false);
  }
  if (SERVER_NAMES.has(name) || SERVER_NAMES.has(code)) {
    return transient(err, false, false);
  }
  if (INFRASTRUCTURE_NAMES.has(name) || INFRASTRUCTURE_NAMES.has(code)) {
    return transient(err, false, false);
  }
  if (typeof shape.$retryable === 'object' && shape.$retryable !== null) {
    const throttling = (shape.$retryable as { throttling?: unknown }).throttling === true;
    return transient(err, false, throttling);
  }
  const status = shape.$metadata?.httpStatusCode;
  if (typeof status === 'number') {
    if (status === 429) {
      return transient(err, false, true);
    }
    if (status === 408 || status === 504) {
      return transient(err, true, false);
    }
    if (status >= 500 && status <= 599) {
      return transient(err, false, false);
    }
    if (status === 401 || status === 403) {
      // Authentication or authorization: the deployment is wrong, not the record (stall and alarm, never a dead letter).
      return transient(err, false, false);
    }
    if (status >= 400 && status <= 499) {
      return { kind: 'permanent', reason: { class: 'sink-rejected', message: describeError(err) } };
    }
  }
  // Wrapped errors (e.g. a transform that rethrows with { cause }): look at the cause chain.
  if (shape.cause !== undefined && depth < MAX_CAUSE_DEPTH) {
    const inner = classifyShape(shape.cause, depth + 1);
    if (inner !== undefined) {
      // Keep the outer message: it usually says what was being done.
      return inner.kind === 'permanent'
        ? { kind: 'permanent', reason: { class: inner.reason.class, message: describeError(err) } }
        : { ...inner, reason: { class: 'transient-exhausted', message: describeError(err) } };
    }
  }
  return undefined;
}

/**
 * Decides whether a failure is permanent (DLQ now) or transient (retry).
 *
 * - {@link PermanentError}: permanent with its reason class; {@link TransientError}: transient.
 * - AWS SDK v3 errors by `name` (throttling, timeouts, server errors, clock skew), `$retryable`, and
 *   `$metadata.httpStatusCode` (429, 408, 401, 403 and 5xx transient; other 4xx permanent as `sink-rejected`).
 * - Infrastructure errors (access denied, resource not found, KMS key unusable) are transient: a misconfigured
 *   deployment stops the shard (and alarms on iterator age) rather than dead-lettering every record.
 * - Node.js network error codes (ECONNRESET, ETIMEDOUT, EAI_AGAIN, ...): transient with `timeout: true`.
 * - The `cause` chain is followed for wrapped errors.
 * - Anything else: transient (retried, then left in the stream, never lost), unless `defaultPermanentClass` is given.
 */
export function classifyError(err: unknown, defaultPermanentClass?: ReasonClass): Classification {
  if (defaultPermanentClass !== undefined && !isReasonClass(defaultPermanentClass)) {
    throw new InvalidArgumentError(`classifyError: defaultPermanentClass must be one of ${REASON_CLASSES.join(', ')}; got ${describeValue(defaultPermanentClass)}`);
  }
  const known = classifyShape(err, 0);
  if (known !== undefined) {
    return known;
  }
  if (defaultPermanentClass !== undefined) {
    return { kind: 'permanent', reason: { class: defaultPermanentClass, message: describeError(err) } };
  }
  return transient(err, false, false);
}

/** Short description of a value for error messages (type and a bounded rendering). */
export function describeValue(x: unknown): string {
  if (x === null) {
    return 'null';
  }
  if (x === undefined) {
    return 'undefined';
  }
  if (Array.isArray(x)) {
    return `an array of length ${x.length}`;
  }
  switch (typeof x) {
    case 'string':
      return boundMessage(JSON.stringify(x), 80);
    case 'number':
    case 'boolean':
    case 'bigint':
      return `${typeof x} ${String(x)}`;
    case 'object':
      return 'an object';
    default:
      return `a ${typeof x}`;
  }
}
