/**
 * The in-cloud replay Lambda function (bundled to assets/lib/handlers/replay/index.js), and the raw archive's Firehose
 * record framer, which shares the bundle.
 *
 * `handler` takes the same filter as `phoenix replay` as its event:
 *   { "from": "dlq" | "archive", "id": [...], "correlationId": [...], "reason": [...], "since": "...", "until": "...",
 *     "limit": 100, "dryRun": true, "rate": 200, "targetStream": "...", "prefix": "raw/" }
 * replays at most `rate` records/s (default PHX_REPLAY_RATE), stops starting new work 10 s before the function's
 * timeout (the result says `interrupted`: invoke again to continue; nothing is lost), logs the summary and returns it.
 * Invalid input throws one line (the invocation fails with it; nothing is read or deleted).
 *
 * Configuration (set by the ReplayFunction construct): PHX_REPLAY_QUEUE_URL, PHX_REPLAY_ARCHIVE_BUCKET,
 * PHX_REPLAY_ARCHIVE_PREFIX, PHX_REPLAY_RATE, PHX_REPLAY_TARGET_STREAM and PHX_PIPELINE (archived records go onto the
 * pipeline's current ingest stream; records of another pipeline are skipped and counted).
 */
import { Logger } from '@aws-lambda-powertools/logger';
import type { KinesisClient } from '@aws-sdk/client-kinesis';
import type { S3Client } from '@aws-sdk/client-s3';
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { Context } from 'aws-lambda';
import { ENV } from '../../constructs/contract';
import { kinesisClient, s3Client, sqsClient } from '../aws/clients';
import { ARCHIVE_PREFIX, frameFirehoseRecords, type FirehoseKinesisEvent, type FirehoseTransformationResult } from '../replay/archive';
import { runReplay, type ArchiveCursor, type ReplaySource, type ReplaySummary } from '../replay/engine';
import { InputError, parseFilter, type RawFilter } from '../replay/filter';

export const REPLAY_ENV = {
  queueUrl: 'PHX_REPLAY_QUEUE_URL',
  archiveBucket: 'PHX_REPLAY_ARCHIVE_BUCKET',
  archivePrefix: 'PHX_REPLAY_ARCHIVE_PREFIX',
  rate: 'PHX_REPLAY_RATE',
  targetStream: 'PHX_REPLAY_TARGET_STREAM',
} as const;

/** The event of the replay function. */
export interface ReplayEvent extends RawFilter {
  readonly from?: 'dlq' | 'archive';
  readonly dryRun?: boolean;
  readonly rate?: number;
  readonly targetStream?: string;
  readonly prefix?: string;
  /** Archive: continue at the `cursor` a previous invocation returned (it stops before the function's timeout). */
  readonly resume?: ArchiveCursor;
}

export interface ReplayDeps {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly clients: { sqs: SQSClient; s3: S3Client; kinesis: KinesisClient };
  readonly logger: Logger;
}

/** Time kept free before the function's timeout. */
const SAFETY_MS = 10_000;

export function createReplayHandler(deps: ReplayDeps): (event: ReplayEvent, context?: Context) => Promise<ReplaySummary> {
  return async (event, context) => {
    const e = event ?? {};
    const from = e.from ?? 'dlq';
    if (from !== 'dlq' && from !== 'archive') throw new InputError(`from must be "dlq" or "archive"; got ${JSON.stringify(from)}`);
    const filter = parseFilter(e);
    const rate = e.rate ?? (deps.env[REPLAY_ENV.rate] ? Number(deps.env[REPLAY_ENV.rate]) : undefined);
    if (rate !== undefined && !(typeof rate === 'number' && rate > 0 && rate <= 1_000_000)) throw new InputError(`rate must be a positive number of records per second; got ${JSON.stringify(rate)}`);
    let source: ReplaySource;
    if (from === 'dlq') {
      const queueUrl = deps.env[REPLAY_ENV.queueUrl];
      if (!queueUrl) throw new InputError(`this replay function has no DLQ (${REPLAY_ENV.queueUrl} is not set)`);
      source = { kind: 'dlq', queueUrl };
    } else {
      const bucket = deps.env[REPLAY_ENV.archiveBucket];
      if (!bucket) throw new InputError(`this replay function has no archive (${REPLAY_ENV.archiveBucket} is not set)`);
      source = { kind: 'archive', bucket, prefix: e.prefix ?? deps.env[REPLAY_ENV.archivePrefix] ?? ARCHIVE_PREFIX };
    }
    const ac = new AbortController();
    const remaining = context?.getRemainingTimeInMillis() ?? 900_000;
    const timer = setTimeout(() => ac.abort(), Math.max(1_000, remaining - SAFETY_MS));
    deps.logger.info('replay started', { from, filter: e, rate, dryRun: e.dryRun ?? false });
    try {
      const summary = await runReplay({
        source,
        filter,
        ...archiveTarget(from, e, deps.env),
        dryRun: e.dryRun ?? false,
        resume: from === 'archive' ? e.resume : undefined,
        ratePerSecond: rate,
        // The function's own timeout bounds a round: hide messages for the rest of the invocation plus a margin.
        visibilityTimeoutSec: Math.min(43_200, Math.ceil(remaining / 1000) + 60),
        clients: deps.clients,
        signal: ac.signal,
      });
      deps.logger.info('replay finished', { summary });
      return summary;
    } finally {
      clearTimeout(timer);
    }
  };
}

/**
 * Where archived records go: the event's `targetStream`, else the pipeline's current ingest stream (PHX_REPLAY_TARGET_STREAM,
 * with PHX_PIPELINE: records of another pipeline are skipped), never the stream recorded in the archive.
 */
function archiveTarget(
  from: 'dlq' | 'archive', e: ReplayEvent, env: ReplayDeps['env'],
): { targetStream?: string; pipeline?: { name: string; stream: string } } {
  if (from !== 'archive' || e.targetStream) return { targetStream: e.targetStream };
  const stream = env[REPLAY_ENV.targetStream];
  const name = env[ENV.pipeline];
  if (stream && name) return { pipeline: { name, stream } };
  return { targetStream: stream };
}

let replayInstance: ((event: ReplayEvent, context?: Context) => Promise<ReplaySummary>) | undefined;

/** Lambda entry point of the replay function. */
export async function handler(event: ReplayEvent, context: Context): Promise<ReplaySummary> {
  replayInstance ??= createReplayHandler({
    env: process.env,
    clients: {
      sqs: sqsClient(),
      s3: s3Client(),
      kinesis: kinesisClient(),
    },
    logger: new Logger({ serviceName: process.env.POWERTOOLS_SERVICE_NAME || 'phoenix-replay' }),
  });
  return replayInstance(event, context);
}

/**
 * Lambda entry point of the raw archive's Firehose processor: frames each Kinesis record as one archive record v1
 * line (lib/replay/archive.ts). Pure and fast: no AWS SDK call.
 */
export async function archiveFramer(event: FirehoseKinesisEvent): Promise<FirehoseTransformationResult> {
  return frameFirehoseRecords(event, process.env[ENV.pipeline] || undefined);
}
