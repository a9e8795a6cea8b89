/**
 * Test support: Kinesis events of records shaped like the AWS sample event (test/support/kinesis-record.ts), a Lambda
 * context on a fake clock, and stdout capture.
 */
import type { Context, KinesisStreamBatchResponse, KinesisStreamEvent } from 'aws-lambda';
import { expect, vi } from 'vitest';
import { kinesisRecord, type RecordData, type RecordOptions } from '../../../support/kinesis-record';
import { lambdaContext as fakeLambdaContext } from '../../../support/lambda';

export { ARRIVAL_SECONDS, BASE_SEQUENCE, kinesisRecord, SHARD_ID, STREAM_ARN, toBase64, type RecordData, type RecordOptions } from '../../../support/kinesis-record';

/** An event of one record per item; items may carry their own record options. */
export function kinesisEvent(items: ReadonlyArray<RecordData | { data: RecordData; opts: RecordOptions }>): KinesisStreamEvent {
  return {
    Records: items.map((item, i) => (
      typeof item === 'object' && item !== null && !Buffer.isBuffer(item) && 'data' in item && 'opts' in item
        ? kinesisRecord(item.data as RecordData, i, item.opts as RecordOptions)
        : kinesisRecord(item as RecordData, i)
    )),
  };
}

/** A clock whose sleep advances time instantly (tests never wait for real backoff). */
export class FakeClock {
  readonly sleeps: number[] = [];
  constructor(public t = 1_764_000_000_000) {}
  now = (): number => this.t;
  sleep = async (ms: number): Promise<void> => {
    this.sleeps.push(ms);
    this.t += ms;
  };
  random = (): number => 0.5;
}

/** A Lambda context whose remaining time follows the clock (deadline = start + timeoutMs). */
export function lambdaContext(clock: { now(): number }, timeoutMs = 60_000): Context {
  const deadline = clock.now() + timeoutMs;
  return fakeLambdaContext({ remainingMs: () => deadline - clock.now() });
}

/**
 * Captures what is written to stdout and stderr (Powertools Logger writes DEBUG/INFO lines to stdout, WARN/ERROR to
 * stderr; Metrics writes EMF documents to stdout), in write order.
 */
export function captureStdout(): { lines: () => string[]; json: () => Array<Record<string, unknown>>; restore: () => void } {
  const chunks: string[] = [];
  const capture = (chunk: string | Uint8Array): boolean => {
    chunks.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
    return true;
  };
  const out = vi.spyOn(process.stdout, 'write').mockImplementation(capture);
  const err = vi.spyOn(process.stderr, 'write').mockImplementation(capture);
  const lines = () => chunks.join('').split('\n').filter((l) => l.trim() !== '');
  return {
    lines,
    json: () => lines().flatMap((l) => {
      try {
        return [JSON.parse(l) as Record<string, unknown>];
      } catch {
        return [];
      }
    }),
    restore: () => {
      out.mockRestore();
      err.mockRestore();
    },
  };
}

/**
 * Nothing lost: every record of the batch was applied (sink), dead-lettered, or is at/after the reported failure
 * (Lambda redelivers from there). Sequence numbers are compared as BigInt.
 */
export function expectNothingLost(
  event: KinesisStreamEvent,
  response: KinesisStreamBatchResponse,
  handled: { readonly appliedSeqs: ReadonlySet<string>; readonly deadLetteredSeqs: ReadonlySet<string>; readonly filteredSeqs?: ReadonlySet<string> },
): void {
  expect(response.batchItemFailures.length).toBeLessThanOrEqual(1);
  const failure = response.batchItemFailures[0]?.itemIdentifier;
  for (const r of event.Records) {
    const seq = r.kinesis.sequenceNumber;
    const ok = handled.appliedSeqs.has(seq) || handled.deadLetteredSeqs.has(seq) || handled.filteredSeqs?.has(seq)
      || (failure !== undefined && BigInt(seq) >= BigInt(failure));
    expect(ok, `record ${seq} was neither applied, dead-lettered, filtered nor redelivered`).toBe(true);
  }
}
