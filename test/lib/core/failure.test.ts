import { describe, expect, it } from 'vitest';
import { REASON_CLASSES } from '../../../constructs/contract';
import {
  PermanentError,
  PhoenixError,
  TransientError,
  boundMessage,
  classifyError,
  isReasonClass,
} from '../../../lib/core';

/** An error shaped like an AWS SDK v3 service exception (name, $metadata, optional $retryable). */
function sdkError(name: string, status?: number, extra: Record<string, unknown> = {}): Error {
  const e = new Error(`${name} happened`);
  e.name = name;
  Object.assign(e, { $metadata: status === undefined ? {} : { httpStatusCode: status }, $fault: 'client' }, extra);
  return e;
}

function nodeError(code: string): Error {
  return Object.assign(new Error(`connect ${code} 10.0.0.1:443`), { code });
}

describe('errors', () => {
  it('sets name, message and cause on every package error', () => {
    const cause = new Error('root');
    const p = new PermanentError('schema', 'bad field', { cause });
    const t = new TransientError('later', { cause });
    const b = new PhoenixError('BASE', 'base');
    expect([p.name, t.name, b.name]).toEqual(['PermanentError', 'TransientError', 'PhoenixError']);
    expect(p.cause).toBe(cause);
    expect(t.cause).toBe(cause);
    expect(p).toBeInstanceOf(PhoenixError);
    expect(t).toBeInstanceOf(PhoenixError);
    expect(p).toBeInstanceOf(Error);
    expect(p.reasonClass).toBe('schema');
    expect(p.reason).toEqual({ class: 'schema', message: 'bad field' });
  });

  it('rejects an unknown reason class, naming it and the allowed ones', () => {
    expect(() => new PermanentError('nope' as never, 'x')).toThrow(/reason class must be one of decode, schema.*got "nope"/);
  });

  it('recognizes exactly the contract reason classes', () => {
    for (const c of REASON_CLASSES) {
      expect(isReasonClass(c)).toBe(true);
    }
    expect(isReasonClass('Decode')).toBe(false);
    expect(isReasonClass(undefined)).toBe(false);
  });

  it('bounds long messages and says how much was cut', () => {
    const long = 'x'.repeat(5000);
    const bounded = boundMessage(long, 100);
    expect(bounded.length).toBeLessThanOrEqual(100);
    expect(bounded).toMatch(/more chars\)$/);
    expect(boundMessage('short', 100)).toBe('short');
    expect(new PermanentError('decode', long).reason.message.length).toBeLessThanOrEqual(2048);
  });
});

describe('classifyError', () => {
  it('keeps the class of a PermanentError', () => {
    expect(classifyError(new PermanentError('missing-key', 'no id'))).toEqual({
      kind: 'permanent',
      reason: { class: 'missing-key', message: 'no id' },
    });
  });

  it('classifies a TransientError as transient, with its timeout flag', () => {
    const c = classifyError(new TransientError('busy'));
    expect(c).toMatchObject({ kind: 'transient', timeout: false, reason: { class: 'transient-exhausted', message: 'TransientError: busy' } });
    expect(classifyError(new TransientError('slow', { timeout: true }))).toMatchObject({ kind: 'transient', timeout: true });
  });

  it.each([
    'ThrottlingException',
    'ProvisionedThroughputExceededException',
    'RequestLimitExceeded',
    'TooManyRequestsException',
    'KMSThrottlingException',
    'LimitExceededException',
    'SlowDown',
    'Throttling',
  ])('treats %s as transient throttling even with a 400 status', (name) => {
    expect(classifyError(sdkError(name, 400))).toMatchObject({ kind: 'transient', timeout: false, throttling: true });
  });

  it.each(['TimeoutError', 'RequestTimeout', 'RequestTimeoutException'])('treats %s as a transient timeout', (name) => {
    expect(classifyError(sdkError(name))).toMatchObject({ kind: 'transient', timeout: true });
  });

  it.each([
    ['InternalServerError', 500],
    ['ServiceUnavailable', 503],
    ['TransactionConflictException', 400],
    ['InternalFailure', 500],
    ['ExpiredTokenException', 400],
    ['RequestTimeTooSkewed', 403],
  ])('treats %s (%d) as transient, not a timeout', (name, status) => {
    expect(classifyError(sdkError(name, status))).toMatchObject({ kind: 'transient', timeout: false });
  });

  it.each(['ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN', 'ENOTFOUND', 'EHOSTUNREACH'])(
    'treats the Node.js network code %s as a transient timeout',
    (code) => {
      expect(classifyError(nodeError(code))).toMatchObject({ kind: 'transient', timeout: true });
    },
  );

  it.each([
    ['AccessDeniedException', 400],
    ['AccessDenied', 403],
    ['ResourceNotFoundException', 400],
    ['NoSuchBucket', 404],
    ['QueueDoesNotExist', 400],
    ['KMSAccessDeniedException', 400],
  ])('treats the infrastructure error %s (%d) as transient, so a misconfiguration stops the shard instead of dead-lettering it', (name, status) => {
    expect(classifyError(sdkError(name, status))).toMatchObject({ kind: 'transient' });
  });

  it('uses $retryable of unknown SDK errors', () => {
    expect(classifyError(sdkError('SomeNewError', 400, { $retryable: { throttling: true } }))).toMatchObject({ kind: 'transient', throttling: true });
    expect(classifyError(sdkError('SomeNewError', 400, { $retryable: {} }))).toMatchObject({ kind: 'transient', throttling: false });
  });

  it.each([
    [429, 'transient'],
    [500, 'transient'],
    [502, 'transient'],
    [503, 'transient'],
    [504, 'transient'],
    [408, 'transient'],
    [400, 'permanent'],
    // 401/403: the deployment lacks a permission (an S3 HEAD 403 has no body: the SDK names it "403"), never the record.
    [401, 'transient'],
    [403, 'transient'],
    [404, 'permanent'],
    [413, 'permanent'],
  ])('classifies an unnamed SDK error with HTTP status %d as %s', (status, kind) => {
    const c = classifyError(sdkError('WhateverException', status));
    expect(c.kind).toBe(kind);
    if (c.kind === 'permanent') {
      expect(c.reason).toEqual({ class: 'sink-rejected', message: 'WhateverException: WhateverException happened' });
    }
  });

  it('marks 408 and 504 as timeouts and 429 as throttling', () => {
    expect(classifyError(sdkError('X', 408))).toMatchObject({ timeout: true });
    expect(classifyError(sdkError('X', 504))).toMatchObject({ timeout: true });
    expect(classifyError(sdkError('X', 429))).toMatchObject({ timeout: false, throttling: true });
  });

  it('classifies a ValidationException (item too large) as sink-rejected', () => {
    expect(classifyError(sdkError('ValidationException', 400))).toMatchObject({ kind: 'permanent', reason: { class: 'sink-rejected' } });
  });

  it('treats unknown errors as transient unless a default permanent class is given', () => {
    const err = new TypeError('cannot read x of undefined');
    expect(classifyError(err)).toMatchObject({ kind: 'transient', timeout: false, reason: { message: 'TypeError: cannot read x of undefined' } });
    expect(classifyError(err, 'transform')).toEqual({
      kind: 'permanent',
      reason: { class: 'transform', message: 'TypeError: cannot read x of undefined' },
    });
  });

  it('describes thrown non-errors', () => {
    expect(classifyError('boom', 'transform').reason.message).toBe('thrown value "boom"');
    expect(classifyError(undefined, 'transform').reason.message).toBe('thrown value undefined');
    expect(classifyError(42).reason.message).toBe('thrown value number 42');
    expect(classifyError({ name: 'Odd', message: 'plain object' }).reason.message).toBe('Odd: plain object');
  });

  it('follows the cause chain and keeps the outer message', () => {
    const wrapped = new Error('writing to table t failed', { cause: sdkError('ThrottlingException', 400) });
    expect(classifyError(wrapped)).toMatchObject({
      kind: 'transient',
      throttling: true,
      reason: { class: 'transient-exhausted', message: 'Error: writing to table t failed' },
    });
    const permanent = new Error('transform failed', { cause: new PermanentError('schema', 'no field') });
    expect(classifyError(permanent)).toEqual({ kind: 'permanent', reason: { class: 'schema', message: 'Error: transform failed' } });
  });

  it('prefers the outer error over its cause when the outer one is recognised', () => {
    const e = new PermanentError('transform', 'bad record', { cause: sdkError('ThrottlingException', 400) });
    expect(classifyError(e).kind).toBe('permanent');
  });

  it('stops on cyclic cause chains', () => {
    const a = new Error('a') as Error & { cause?: unknown };
    const b = new Error('b', { cause: a });
    a.cause = b;
    expect(classifyError(a)).toMatchObject({ kind: 'transient' });
    expect(classifyError(a, 'transform')).toMatchObject({ kind: 'permanent', reason: { class: 'transform' } });
  });

  it('rejects an invalid default class', () => {
    expect(() => classifyError(new Error('x'), 'bogus' as never)).toThrow(/defaultPermanentClass must be one of .*got "bogus"/);
  });
});
