import { GetRecordsCommand, type GetRecordsCommandInput, type GetShardIteratorCommand } from '@aws-sdk/client-kinesis';
import type { EsmStats, InvokeResult, PollerOptions } from './types';
import { CONSUMER_HEADER, SUBSCRIPTION_HEADER } from '../gates/traffic';

export function emptyStats(): EsmStats {
  return {
    batches: 0,
    invocations: 0,
    recordsDelivered: 0,
    functionErrors: 0,
    partialFailures: 0,
    bisections: 0,
    retries: 0,
    discardedToOnFailure: 0,
    discardedWithoutDestination: 0,
    expiredByAge: 0,
    iteratorAgeMs: 0,
  };
}

/** Wake-up signal: `wait` resolves on the next `notify`, after `timeoutMs`, or when `signal` aborts. */
export class Notifier {
  private waiters: Array<() => void> = [];

  notify(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  wait(timeoutMs: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        this.waiters = this.waiters.filter((w) => w !== done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, timeoutMs));
      signal?.addEventListener('abort', done, { once: true });
      this.waiters.push(done);
    });
  }
}

/** Exponential backoff: base * 2^attempt, capped. Deterministic (no jitter: one local consumer, no contention). */
export function backoffMs(attempt: number, baseMs: number, capMs: number): number {
  return Math.min(capMs, baseMs * 2 ** Math.min(attempt, 20));
}

/** The function's response as an object, if it is one (the runner may hand back parsed JSON or the raw JSON text). */
export function responseObject(payload: unknown): Record<string, unknown> | undefined {
  let value = payload;
  if (typeof value === 'string') {
    try {
      value = JSON.parse(value);
    } catch {
      return undefined;
    }
  }
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

export type BatchItemFailures =
  | { kind: 'success' }
  | { kind: 'partial'; itemIdentifiers: string[] }
  | { kind: 'malformed'; reason: string };

/**
 * Interprets a `{ batchItemFailures: [{ itemIdentifier }] }` response (ReportBatchItemFailures) the way Lambda does:
 * no response, no list or an empty list = success; an identifier that is empty, not a string, missing, or not one of
 * the batch's records = the whole batch failed.
 */
export function parseBatchItemFailures(payload: unknown, validIdentifiers: ReadonlySet<string>): BatchItemFailures {
  const response = responseObject(payload);
  if (!response) return { kind: 'success' };
  const list = response.batchItemFailures;
  if (list === undefined || list === null) return { kind: 'success' };
  if (!Array.isArray(list)) return { kind: 'malformed', reason: 'batchItemFailures is not a list' };
  if (list.length === 0) return { kind: 'success' };
  const ids: string[] = [];
  for (const item of list) {
    const id = typeof item === 'object' && item !== null ? (item as Record<string, unknown>).itemIdentifier : undefined;
    if (typeof id !== 'string' || id === '') return { kind: 'malformed', reason: `invalid itemIdentifier ${JSON.stringify(id)}` };
    if (!validIdentifiers.has(id)) return { kind: 'malformed', reason: `itemIdentifier ${id} is not in the batch` };
    ids.push(id);
  }
  return { kind: 'partial', itemIdentifiers: ids };
}

/** JSON bytes of `{"Records":[]}` around an event's records. */
const EVENT_ENVELOPE_BYTES = 14;

/**
 * Splits records, in order, into the fewest consecutive groups whose `{"Records":[...]}` event stays within
 * `limitBytes` (Lambda's 6 MB invocation payload); a record larger than the limit alone is a group of its own.
 */
export function groupsWithinPayload<T>(records: readonly T[], limitBytes: number): T[][] {
  const groups: T[][] = [];
  let current: T[] = [];
  let bytes = EVENT_ENVELOPE_BYTES;
  for (const r of records) {
    const size = Buffer.byteLength(JSON.stringify(r)) + 1;
    if (current.length > 0 && bytes + size > limitBytes) {
      groups.push(current);
      current = [];
      bytes = EVENT_ENVELOPE_BYTES;
    }
    current.push(r);
    bytes += size;
  }
  if (current.length > 0) groups.push(current);
  return groups;
}

/** Lambda's `X-Amz-Function-Error` / on-failure `responseContext` for an invocation outcome. */
export function responseContext(result: InvokeResult | undefined): { statusCode: number; executedVersion: string; functionError?: string } {
  if (!result) return { statusCode: 0, executedVersion: '$LATEST' };
  if (result.ok) return { statusCode: 200, executedVersion: '$LATEST' };
  if (result.errorType === 'throttled') return { statusCode: 429, executedVersion: '$LATEST' };
  return { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' };
}

export function errorName(err: unknown): string {
  return typeof err === 'object' && err !== null && 'name' in err ? String((err as { name: unknown }).name) : '';
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** The clock, log and retry backoff every poller takes from its options, with their defaults. */
export function pollerDefaults(opts: PollerOptions): { now: () => number; log: (line: string) => void; retryBaseMs: number; retryCapMs: number } {
  return {
    now: opts.now ?? Date.now,
    log: opts.log ?? (() => undefined),
    retryBaseMs: opts.retryBackoffMs ?? 100,
    retryCapMs: opts.retryBackoffCapMs ?? 2_000,
  };
}

/** A GetRecords command that names its consumer to the emulator host (the run report's traffic per consumer). */
export function consumerGetRecords(input: GetRecordsCommandInput, consumer: string, subscription?: string): GetRecordsCommand {
  return withHeaders(new GetRecordsCommand(input), { [CONSUMER_HEADER]: consumer, ...(subscription ? { [SUBSCRIPTION_HEADER]: subscription } : {}) });
}

/**
 * A Kinesis command sent as part of an enhanced fan-out subscription through `consumerArn`: the emulator host
 * authorizes and limits it as `SubscribeToShard` on the consumer (lib/local/iam/requests.ts, lib/local/gates/limits.ts).
 */
export function subscribed<C extends KinesisReadCommand>(command: C, consumerArn: string, consumer: string): C {
  return withHeaders(command, { [SUBSCRIPTION_HEADER]: consumerArn, [CONSUMER_HEADER]: consumer });
}

type KinesisReadCommand = GetRecordsCommand | GetShardIteratorCommand;

function withHeaders<C extends KinesisReadCommand>(command: C, headers: Readonly<Record<string, string>>): C {
  (command as GetRecordsCommand).middlewareStack.add((next) => async (args) => {
    const request = args.request as { headers?: Record<string, string> };
    if (request.headers) Object.assign(request.headers, headers);
    return next(args);
  }, { step: 'build', name: 'phoenixConsumerHeaders' });
  return command;
}
