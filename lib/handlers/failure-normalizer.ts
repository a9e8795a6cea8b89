/**
 * The failure normalizer Lambda function: one DLQ format for every failure.
 *
 * Triggered by S3 ObjectCreated under `aws/lambda/` of the dead letters' overflow bucket (where the ingest stage's
 * event source mapping writes the batches it gave up on), and optionally by an SQS queue of metadata-only on-failure
 * records. Each on-failure record becomes one DLQ message v1 per Kinesis record (reason class `esm-exhausted`, the
 * condition as message, the original data as payload), sent to the DLQ like the ingest handler's own dead letters
 * (payloads too large for a message go to the overflow bucket). Records that are not in the on-failure record are
 * read back from the stream while it retains them; those it no longer has become one `expired: ...` message with
 * payload null, so the loss is visible in `phoenix dlq stats`.
 *
 * Configuration (set by the FailureNormalizer construct): PHX_DLQ_URL, PHX_DLQ_OVERFLOW_BUCKET,
 * PHX_DLQ_MAX_MESSAGE_BYTES, PHX_STAGE, PHX_ON_FAILURE_PREFIX (the one mapping's `aws/lambda/<ESM UUID>/`), and, to give the messages record ids, PHX_PIPELINE / PHX_ID_NAMESPACE and
 * PHX_KEY_FIELDS (ids are left null when PHX_KEY_FIELDS is not set).
 *
 * At-least-once: a retried invocation may send a message twice; replaying both is harmless (idempotent sinks).
 */
import { Logger } from '@aws-lambda-powertools/logger';
import type { KinesisClient } from '@aws-sdk/client-kinesis';
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { Context, S3Event, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { ENV } from '../../constructs/contract';
import { kinesisClient, s3Client, sqsClient } from '../aws/clients';
import {
  DEFAULT_DLQ_MAX_MESSAGE_BYTES, describeError, idNamespaceFor, parseKeyFields, type DlqMessage,
} from '../core';
import { ConfigError } from '../core/errors';
import { dlqMessagesFor, expiredMessage, OnFailureFormatError, parseOnFailure, type IdRules, type OnFailure } from '../replay/on-failure';
import { readBatchBack } from '../replay/readback';
import { s3OverflowStore } from './ports/s3-overflow';
import { SqsDlq } from './ports/sqs-dlq';
import type { DlqPort } from './ports/types';
import { sendDlqMessage } from './processor/dead-letter-step';

export interface NormalizerConfig {
  readonly stage: string;
  readonly maxMessageBytes: number;
  readonly rules?: IdRules;
  /** Only objects under this key prefix are normalized (its own event source mapping's captures); others are left alone. */
  readonly onFailurePrefix?: string;
}

export interface NormalizerDeps {
  readonly config: NormalizerConfig;
  readonly s3: S3Client;
  readonly kinesis: KinesisClient;
  readonly dlq: DlqPort;
  readonly logger: Logger;
}

export interface NormalizeResult {
  /** DLQ messages sent (records, plus one per expired range). */
  messages: number;
  /** Records read back from the stream (metadata-only records). */
  readBack: number;
  /** Expired ranges (records no longer in the stream). */
  expired: number;
  /** Objects or messages that were not on-failure records (logged, left alone). */
  ignored: number;
}

/** Reads the configuration from the environment; throws one line naming the variable. */
export function normalizerConfig(env: Readonly<Record<string, string | undefined>>): NormalizerConfig {
  const maxRaw = env[ENV.dlqMaxMessageBytes];
  const max = maxRaw === undefined || maxRaw === '' ? DEFAULT_DLQ_MAX_MESSAGE_BYTES : Number(maxRaw);
  if (!Number.isInteger(max) || max < 1024) throw new ConfigError(ENV.dlqMaxMessageBytes, maxRaw, 'an integer >= 1024');
  let rules: IdRules | undefined;
  if (env[ENV.keyFields] !== undefined) {
    const pipeline = env[ENV.pipeline];
    const namespace = env[ENV.idNamespace] || (pipeline ? idNamespaceFor(pipeline) : undefined);
    if (!namespace) {
      throw new ConfigError(ENV.idNamespace, env[ENV.idNamespace], `a UUID, or ${ENV.pipeline} set to derive it, when ${ENV.keyFields} is set (neither is)`);
    }
    const maxRecord = Number(env[ENV.maxRecordBytes] || 1_048_576);
    const maxRecordBytes = Number.isInteger(maxRecord) && maxRecord > 0 ? maxRecord : 1_048_576;
    rules = { namespace, keyFields: parseKeyFields(env[ENV.keyFields]), maxRecordBytes };
  }
  return { stage: env[ENV.stage] || 'ingest', maxMessageBytes: max, rules, onFailurePrefix: env[ENV.onFailurePrefix] || undefined };
}

export function createFailureNormalizer(deps: NormalizerDeps): {
  normalize(text: string, where: string, deadlineMs?: number): Promise<NormalizeResult>;
  handle(event: S3Event | SQSEvent, context?: Context): Promise<SQSBatchResponse | NormalizeResult>;
} {
  const { config, logger } = deps;

  async function normalize(text: string, where: string, deadlineMs?: number): Promise<NormalizeResult> {
    const result: NormalizeResult = { messages: 0, readBack: 0, expired: 0, ignored: 0 };
    let f: OnFailure;
    try {
      f = parseOnFailure(text);
    } catch (e) {
      if (e instanceof OnFailureFormatError) {
        logger.warn('not an event source mapping on-failure record; left alone', { where, problem: e.message });
        result.ignored++;
        return result;
      }
      throw e;
    }
    let records = f.records;
    const out: DlqMessage[] = [];
    if (records === undefined) {
      if (f.payloadProblem) logger.warn('on-failure payload unreadable; reading the batch back from the stream', { where, problem: f.payloadProblem });
      const back = await readBatchBack(deps.kinesis, f.batchInfo!, { deadlineMs });
      records = back.records;
      result.readBack += back.records.length;
      if (back.missing) {
        out.push(expiredMessage(f, config.stage, `${back.missing.reason}${back.missing.count !== undefined ? ` (${back.missing.count} record(s))` : ''}`));
        result.expired++;
      }
    }
    out.unshift(...dlqMessagesFor(f, records, config.stage, config.rules));
    for (const m of out) {
      await sendDlqMessage(deps.dlq, m, config.maxMessageBytes);
      result.messages++;
    }
    logger.info('on-failure record normalized', { where, condition: f.condition, ...result });
    return result;
  }

  async function handle(event: S3Event | SQSEvent, context?: Context): Promise<SQSBatchResponse | NormalizeResult> {
    const deadlineMs = context ? Date.now() + context.getRemainingTimeInMillis() - 5_000 : undefined;
    const recs = (event as { Records?: unknown[] }).Records ?? [];
    if (recs.length > 0 && (recs[0] as { eventSource?: string }).eventSource === 'aws:sqs') {
      const failures: SQSBatchResponse['batchItemFailures'] = [];
      for (const r of (event as SQSEvent).Records) {
        try {
          await normalize(r.body, `sqs message ${r.messageId}`, deadlineMs);
        } catch (e) {
          logger.error('on-failure message not normalized; it is retried', { messageId: r.messageId, error: describeError(e) });
          failures.push({ itemIdentifier: r.messageId });
        }
      }
      return { batchItemFailures: failures };
    }
    const total: NormalizeResult = { messages: 0, readBack: 0, expired: 0, ignored: 0 };
    for (const r of (event as S3Event).Records ?? []) {
      const bucket = r.s3.bucket.name;
      // S3 event keys are URL-encoded, spaces as '+'.
      const key = decodeURIComponent(r.s3.object.key.replace(/\+/g, ' '));
      if (config.onFailurePrefix !== undefined && !key.startsWith(config.onFailurePrefix)) {
        // Another pipeline's capture (shared dead letters): its own normalizer gives it its ids.
        logger.warn('on-failure object of another event source mapping; left alone', { where: `s3://${bucket}/${key}`, prefix: config.onFailurePrefix });
        total.ignored++;
        continue;
      }
      const res = await deps.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      const text = await res.Body!.transformToString('utf8');
      const one = await normalize(text, `s3://${bucket}/${key}`, deadlineMs);
      total.messages += one.messages;
      total.readBack += one.readBack;
      total.expired += one.expired;
      total.ignored += one.ignored;
    }
    // A throw makes Lambda retry the asynchronous invocation (then its dead-letter queue): messages already sent
    // may be sent again, which replay tolerates.
    return total;
  }

  return { normalize, handle };
}

let instance: ReturnType<typeof createFailureNormalizer> | undefined;

/** The Lambda entry point (bundled to assets/lib/handlers/failure-normalizer/index.js). */
export async function handler(event: S3Event | SQSEvent, context: Context): Promise<SQSBatchResponse | NormalizeResult> {
  if (!instance) {
    const config = normalizerConfig(process.env);
    const queueUrl = process.env[ENV.dlqUrl];
    if (!queueUrl) throw new ConfigError(ENV.dlqUrl, queueUrl, 'the SQS queue URL of the DLQ');
    const bucket = process.env[ENV.dlqOverflowBucket];
    const s3 = s3Client();
    instance = createFailureNormalizer({
      config,
      s3,
      kinesis: kinesisClient(),
      dlq: new SqsDlq(sqsClient(), queueUrl, bucket ? { bucket, store: s3OverflowStore(bucket, s3) } : undefined),
      logger: new Logger({ serviceName: process.env.POWERTOOLS_SERVICE_NAME || 'phoenix-failure-normalizer' }),
    });
  }
  return instance.handle(event, context);
}
