/**
 * The in-cloud replay Lambda function (bundled to assets/lib/handlers/replay/index.js), and the raw archive's Firehose
 * record framer, which shares the bundle.
 *
 * `handler` takes the same filter as `phoenix replay` as its event:
 *   { "from": "dlq" | "archive", "id": [...], "correlationId": [...], "reason": [...], "since": "...", "until": "...",
 *     "limit": 100, "dryRun": true, "rate": 200, "targetStream": "...", "prefix": "raw/" }
 * replays at most `rate` records/s (default PHX_REPLAY_RATE), stops starting new work 10 s before the function's
 * timeout (the result says `interrupted`: invoke again to continue; nothing is lost), logs the summary and returns it.
 * An archive replay with `"continueUntilDone": true` invokes the function again at its cursor itself (a chain).
 * Invalid input throws one line (the invocation fails with it; nothing is read or deleted).
 *
 * Configuration (set by the ReplayFunction construct): PHX_REPLAY_QUEUE_URL, PHX_REPLAY_ARCHIVE_BUCKET,
 * PHX_REPLAY_ARCHIVE_PREFIX, PHX_REPLAY_RATE, PHX_REPLAY_TARGET_STREAM and PHX_PIPELINE (archived records go onto the
 * pipeline's current ingest stream; records of another pipeline are skipped and counted).
 */
import { Logger } from '@aws-lambda-powertools/logger';
import type { KinesisClient } from '@aws-sdk/client-kinesis';
import { InvokeCommand } from '@aws-sdk/client-lambda';
import type { S3Client } from '@aws-sdk/client-s3';
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { Context } from 'aws-lambda';
import { ENV } from '../../constructs/contract';
import { kinesisClient, lambdaClient, s3Client, sqsClient } from '../aws/clients';
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
  /**
   * Archive: when this invocation stops before its timeout, invoke the function again (asynchronously) with this event
   * at its cursor, until the archive is done or `maxChainLinks` invocations ran.
   */
  readonly continueUntilDone?: boolean;
  /** Invocations of a chained replay so far, this one included (set by the chain: 1 = the operator's). */
  readonly chainLink?: number;
  /** Most invocations of a chained replay. Default 1,000 (about 250 hours at 15 minutes each). */
  readonly maxChainLinks?: number;
}

/** What a chained archive replay did after this invocation. */
export interface ReplayChain {
  readonly link: number;
  /**
   * `continued`: the next link was invoked at `cursor`; `done`: the replay asked for is complete (the archive, or its
   * `limit`); `stopped`: maxChainLinks reached, or a record failed (no safe cursor).
   */
  readonly status: 'continued' | 'done' | 'stopped';
  readonly cursor?: ArchiveCursor;
}

export interface ReplayDeps {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly clients: { sqs: SQSClient; s3: S3Client; kinesis: KinesisClient };
  readonly logger: Logger;
  /** Invokes the function again, asynchronously, with `event` (a chained archive replay's next link). */
  readonly invokeNext?: (event: ReplayEvent, context?: Context) => Promise<void>;
}

const DEFAULT_MAX_CHAIN_LINKS = 1_000;

/** Time kept free before the function's timeout. */
const SAFETY_MS = 10_000;

export function createReplayHandler(deps: ReplayDeps): (event: ReplayEvent, context?: Context) => Promise<ReplaySummary & { chain?: ReplayChain }> {
  return async (event, context) => {
    const e = event ?? {};
    const from = e.from ?? 'dlq';
    if (from !== 'dlq' && from !== 'archive') throw new InputError(`from must be "dlq" or "archive"; got ${JSON.stringify(from)}`);
    const filter = parseFilter(e);
    checkChain(e, from, deps);
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
      const chain = e.continueUntilDone && from === 'archive' ? await continueChain(deps, e, summary, context) : undefined;
      return chain ? { ...summary, chain } : summary;
    } finally {
      clearTimeout(timer);
    }
  };
}

/** The chain settings of an event, checked before any work: one line naming what was wrong. */
function checkChain(e: ReplayEvent, from: 'dlq' | 'archive', deps: ReplayDeps): void {
  if (!e.continueUntilDone) return;
  if (from !== 'archive') throw new InputError('continueUntilDone applies to archive replays only (a DLQ replay continues when invoked again)');
  if (!deps.invokeNext) throw new InputError('continueUntilDone needs the function to invoke itself, which this handler cannot');
  for (const [name, v] of [['maxChainLinks', e.maxChainLinks], ['chainLink', e.chainLink]] as const) {
    if (v !== undefined && !(Number.isInteger(v) && v >= 1)) throw new InputError(`${name} must be a positive integer; got ${JSON.stringify(v)}`);
  }
}

/**
 * A chained archive replay: invokes the next link at the cursor when this one stopped for time, with what is left of
 * `limit` (which counts matched records); else says why the chain ends.
 */
async function continueChain(deps: ReplayDeps, e: ReplayEvent, summary: ReplaySummary, context?: Context): Promise<ReplayChain> {
  const link = e.chainLink ?? 1;
  const max = e.maxChainLinks ?? DEFAULT_MAX_CHAIN_LINKS;
  if (!summary.interrupted) return { link, status: 'done' };
  if (!summary.cursor || link >= max) {
    const why = summary.cursor ? 'maxChainLinks reached' : 'a record failed (no safe cursor): invoke again with the last logged cursor';
    deps.logger.error(`replay chain stopped: ${why}`, { link, cursor: summary.cursor });
    return { link, status: 'stopped', cursor: summary.cursor };
  }
  const limit = e.limit === undefined ? {} : { limit: Number(e.limit) - summary.matched };
  await deps.invokeNext!({ ...e, ...limit, resume: summary.cursor, chainLink: link + 1 }, context);
  deps.logger.info('replay continues', { link: link + 1, cursor: summary.cursor });
  return { link, status: 'continued', cursor: summary.cursor };
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

let replayInstance: ReturnType<typeof createReplayHandler> | undefined;

/** Lambda entry point of the replay function. */
export async function handler(event: ReplayEvent, context: Context): Promise<ReplaySummary & { chain?: ReplayChain }> {
  replayInstance ??= createReplayHandler({
    env: process.env,
    clients: {
      sqs: sqsClient(),
      s3: s3Client(),
      kinesis: kinesisClient(),
    },
    logger: new Logger({ serviceName: process.env.POWERTOOLS_SERVICE_NAME || 'phoenix-replay' }),
    invokeNext: async (next, ctx) => {
      if (!ctx) throw new InputError('continueUntilDone needs the Lambda context (the function\'s own ARN)');
      await lambdaClient().send(new InvokeCommand({ FunctionName: ctx.invokedFunctionArn, InvocationType: 'Event', Payload: JSON.stringify(next) }));
    },
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
