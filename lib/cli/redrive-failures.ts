/**
 * `phoenix dlq redrive-failures`: the S3 events the FailureNormalizer function could not process (its `FailedEvents`
 * queue, after Lambda's retries) are normalized again here, in-process, with the function's own core
 * (createFailureNormalizer) and configuration (the `FailureNormalizerConfig` output), then deleted one by one after
 * success. In-process rather than re-invoking the function: it works the same against AWS and a kept local
 * environment (which has no Lambda endpoint), and a failure is shown to the operator instead of going back to the
 * queue unseen.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import type { S3Event } from 'aws-lambda';
import { ENV } from '../../constructs/contract';
import { describeError } from '../core';
import { UsageError } from './errors';
import type { Clients } from './targets';
import { createFailureNormalizer, normalizerConfig, type NormalizeResult } from '../handlers/failure-normalizer';
import { s3OverflowStore } from '../handlers/ports/s3-overflow';
import { SqsDlq } from '../handlers/ports/sqs-dlq';
import { DlqReader, type DlqEntry } from '../replay/dlq-reader';

/** What became of one failed event. */
export interface RedriveItem {
  readonly messageId: string;
  /** `redriven` (normalized, deleted), `pending` (dry run), `failed` (left on the queue), `not-an-s3-event` (left). */
  readonly outcome: 'redriven' | 'pending' | 'failed' | 'not-an-s3-event';
  /** The S3 objects the event names (`s3://bucket/key`). */
  readonly objects: string[];
  /** DLQ messages sent (redriven only). */
  readonly messages?: number;
  readonly error?: string;
}

export interface RedriveReport {
  readonly queueUrl: string;
  readonly dryRun: boolean;
  readonly read: number;
  readonly redriven: number;
  readonly failed: number;
  readonly skipped: number;
  /** DLQ messages sent by the redriven events. */
  readonly dlqMessages: number;
  readonly interrupted: boolean;
  readonly items: RedriveItem[];
}

/** The normalizer's configuration from the `FailureNormalizerConfig` output; a UsageError names what is wrong. */
export function redriveConfig(json: string | undefined, from: string): Record<string, string> {
  if (json === undefined) throw new UsageError(`${from} has no FailureNormalizerConfig output: deploy the pipeline with this version (DataPipeline adds it)`);
  let env: unknown;
  try {
    env = JSON.parse(json);
  } catch (e) {
    throw new UsageError(`${from}: FailureNormalizerConfig is not JSON (${(e as Error).message})`);
  }
  if (typeof env !== 'object' || env === null || Array.isArray(env) || Object.values(env).some((v) => typeof v !== 'string')) {
    throw new UsageError(`${from}: FailureNormalizerConfig must be a JSON object of strings (PHX_* variables)`);
  }
  const vars = env as Record<string, string>;
  if (!vars[ENV.dlqUrl]) throw new UsageError(`${from}: FailureNormalizerConfig lacks ${ENV.dlqUrl}`);
  try {
    normalizerConfig(vars);
  } catch (e) {
    throw new UsageError(`${from}: FailureNormalizerConfig: ${describeError(e)}`, { cause: e });
  }
  return vars;
}

/**
 * The S3 event of a failed-events message: the body itself (a function dead-letter queue receives the event as it
 * was) or its `requestPayload` (an asynchronous-invocation failure record); undefined for anything else.
 */
export function s3EventOf(body: string): S3Event | undefined {
  let x: unknown;
  try {
    x = JSON.parse(body);
  } catch {
    return undefined;
  }
  const candidate = (x as { requestPayload?: unknown } | null)?.requestPayload ?? x;
  const records = (candidate as { Records?: unknown } | null)?.Records;
  if (!Array.isArray(records) || records.length === 0) return undefined;
  const isS3 = records.every((r) => typeof r?.s3?.bucket?.name === 'string' && typeof r?.s3?.object?.key === 'string');
  return isS3 ? (candidate as S3Event) : undefined;
}

function objectsOf(event: S3Event): string[] {
  return event.Records.map((r) => `s3://${r.s3.bucket.name}/${decodeURIComponent(r.s3.object.key.replace(/\+/g, ' '))}`);
}

export interface RedriveDeps {
  readonly clients: Clients;
  readonly queueUrl: string;
  /** The normalizer's PHX_* configuration (redriveConfig). */
  readonly config: Record<string, string>;
  readonly visibilityTimeoutSec: number;
  readonly dryRun: boolean;
  readonly signal?: AbortSignal;
}

/** Reads the failed-events queue once; normalizes each S3 event and deletes its message after success. */
export async function redriveFailures(deps: RedriveDeps): Promise<RedriveReport> {
  const normalize = deps.dryRun ? undefined : normalizerOf(deps.clients, deps.config);
  const reader = new DlqReader(deps.clients.sqs, deps.queueUrl, { visibilityTimeoutSec: deps.visibilityTimeoutSec, signal: deps.signal });
  const items: RedriveItem[] = [];
  let dlqMessages = 0;
  try {
    for await (const batch of reader.read()) {
      for (const entry of batch) {
        if (deps.signal?.aborted) break;
        const item = await redriveOne(entry, normalize, reader);
        dlqMessages += item.messages ?? 0;
        items.push(item);
      }
    }
  } catch (e) {
    if (!deps.signal?.aborted) throw e;
  } finally {
    await reader.releaseAll();
  }
  const count = (o: RedriveItem['outcome']): number => items.filter((i) => i.outcome === o).length;
  return {
    queueUrl: deps.queueUrl,
    dryRun: deps.dryRun,
    read: items.length,
    redriven: count('redriven'),
    failed: count('failed'),
    skipped: count('not-an-s3-event'),
    dlqMessages,
    interrupted: deps.signal?.aborted ?? false,
    items,
  };
}

async function redriveOne(
  entry: DlqEntry, normalize: ((e: S3Event) => Promise<NormalizeResult>) | undefined, reader: DlqReader,
): Promise<RedriveItem> {
  const event = s3EventOf(entry.body);
  if (!event) return { messageId: entry.messageId, outcome: 'not-an-s3-event', objects: [], error: 'the message is not an S3 event notification; left on the queue' };
  const objects = objectsOf(event);
  if (!normalize) return { messageId: entry.messageId, outcome: 'pending', objects };
  let result: NormalizeResult;
  try {
    result = await normalize(event);
  } catch (e) {
    return { messageId: entry.messageId, outcome: 'failed', objects, error: describeError(e) };
  }
  const notDeleted = await reader.delete([entry.messageId]);
  if (notDeleted.length > 0) {
    return { messageId: entry.messageId, outcome: 'failed', objects, messages: result.messages, error: 'normalized, but the message could not be deleted (it will be redriven again; replay tolerates the duplicates)' };
  }
  return { messageId: entry.messageId, outcome: 'redriven', objects, messages: result.messages };
}

/** The function's core on the operator's clients, sending to the DLQ (and overflow bucket) of its configuration. */
function normalizerOf(clients: Clients, vars: Record<string, string>): (e: S3Event) => Promise<NormalizeResult> {
  const bucket = vars[ENV.dlqOverflowBucket];
  const n = createFailureNormalizer({
    config: normalizerConfig(vars),
    s3: clients.s3,
    kinesis: clients.kinesis,
    dlq: new SqsDlq(clients.sqs, vars[ENV.dlqUrl], bucket ? { bucket, store: s3OverflowStore(bucket, clients.s3) } : undefined),
    // The report says what happened; the handler's JSON log lines would mix with --json on stdout.
    logger: new Logger({ serviceName: 'phoenix-redrive-failures', logLevel: 'SILENT' }),
  });
  return async (event) => (await n.handle(event)) as NormalizeResult;
}

/** The report for humans: one line per event that was not redriven, then the totals. */
export function formatRedrive(r: RedriveReport): string {
  const lines = r.items.filter((i) => i.outcome !== 'redriven').map((i) => `${i.outcome.padEnd(15)} ${i.messageId} ${i.objects.join(' ') || '-'}${i.error ? `: ${i.error}` : ''}`);
  const verb = r.dryRun ? 'would redrive' : 'redriven';
  lines.push(`${r.read} failed event(s) read from ${r.queueUrl}: ${r.dryRun ? r.items.filter((i) => i.outcome === 'pending').length : r.redriven} ${verb}`
    + `${r.dryRun ? '' : ` (${r.dlqMessages} DLQ message(s) sent)`}, ${r.failed} failed, ${r.skipped} not S3 events${r.interrupted ? ' (interrupted)' : ''}`);
  return `${lines.join('\n')}\n`;
}
