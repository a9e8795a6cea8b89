/**
 * The synthetic canary Lambda function (bundled into assets/lib/handlers/canary/index.js), invoked by an
 * EventBridge Scheduler schedule: puts one canary envelope (lib/core/canary.ts) into the pipeline's entry stream,
 * logs its correlation id and emits `CanariesSent` (EMF, namespace `PhoenixPipelines`, dimensions
 * `{ Pipeline, Stage }` with Stage = the entry stage). The terminal stage recognizes the canary, emits
 * `CanariesReceived` and `CanaryLatencyMs`, and keeps it out of its sink.
 *
 * Configuration (set by the SyntheticCanary construct): PHX_PIPELINE, PHX_CANARY_STREAM_ARN, PHX_CANARY_ENTRY_STAGE,
 * PHX_CANARY_KEY_URI (the key every canary is signed with, canary-key.ts).
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { PutRecordCommand, type KinesisClient } from '@aws-sdk/client-kinesis';
import type { Context } from 'aws-lambda';
import { loadCanaryKey } from './canary-key';
import { CANARY_METRIC, deploymentDimension, ENV, METRIC_DIMENSIONS, METRICS_NAMESPACE, MONITOR_ENV } from '../../constructs/contract';
import { kinesisClient } from '../aws/clients';
import { buildCanaryEnvelope } from '../core/canary';
import { ConfigError } from '../core/errors';
import { describeError } from '../core/failure';
import { isResourceName, RESOURCE_NAME_ALLOWED } from '../core/names';

/** What one run did (also the function's return value, visible in the invocation record). */
/** One scheduled run (the Lambda handler once configured). */
export type CanaryRun = (event?: unknown, context?: Context) => Promise<CanaryResult>;

export interface CanaryResult {
  readonly correlationId: string;
  readonly recordId: string;
  readonly sentAt: string;
  readonly shardId?: string;
  readonly sequenceNumber?: string;
}

/** Where a canary goes: the subset of PutRecord the canary needs (an injected port, so tests run without AWS). */
export interface CanaryStreamPort {
  put(data: Uint8Array, partitionKey: string): Promise<{ shardId?: string; sequenceNumber?: string }>;
}

export interface CanaryDeps {
  readonly pipeline: string;
  readonly entryStage: string;
  readonly stream: CanaryStreamPort;
  readonly logger: Logger;
  /** Powertools Metrics in METRICS_NAMESPACE with default dimensions exactly { Pipeline, Stage }. */
  readonly metrics: Metrics;
  /** Reads the deployment's canary key (canary-key.ts loadCanaryKey): every run, so a recreated key is taken at once. */
  readonly key: () => Promise<Uint8Array>;
  readonly now?: () => number;
}

const STREAM_ARN = /^arn:aws[a-z-]*:kinesis:[a-z0-9-]+:\d{12}:stream\/[A-Za-z0-9_.-]{1,128}$/;

/** The canary's configuration from the environment (PHX_PIPELINE, PHX_CANARY_STREAM_ARN, PHX_CANARY_ENTRY_STAGE). */
export function loadCanaryConfig(
  env: Readonly<Record<string, string | undefined>>,
): { pipeline: string; deployment?: string; entryStage: string; streamArn: string; keyUri: string } {
  const pipeline = env[ENV.pipeline];
  if (pipeline === undefined || !isResourceName(pipeline)) {
    throw new ConfigError(ENV.pipeline, pipeline, RESOURCE_NAME_ALLOWED);
  }
  const entryStage = env[MONITOR_ENV.canaryEntryStage] ?? 'ingest';
  if (!isResourceName(entryStage)) {
    throw new ConfigError(MONITOR_ENV.canaryEntryStage, entryStage, RESOURCE_NAME_ALLOWED);
  }
  const streamArn = env[MONITOR_ENV.canaryStreamArn];
  if (streamArn === undefined || !STREAM_ARN.test(streamArn)) {
    throw new ConfigError(MONITOR_ENV.canaryStreamArn, streamArn, 'a Kinesis stream ARN (arn:aws:kinesis:<region>:<account>:stream/<name>)');
  }
  const keyUri = env[ENV.canaryKeyUri];
  if (keyUri === undefined || !/^s3:\/\/[^/]+\/.+$/.test(keyUri)) {
    throw new ConfigError(ENV.canaryKeyUri, keyUri, 'the S3 object URI of the canary key (s3://<bucket>/<key>), set by SyntheticCanary');
  }
  return { pipeline, deployment: env[ENV.deployment] || undefined, entryStage, streamArn, keyUri };
}

/** Metrics in the contract namespace with exactly the { Deployment, Pipeline, Stage } dimension set (Powertools' `service` removed). */
export function canaryMetrics(pipeline: string, entryStage: string, deployment?: string): Metrics {
  const metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName: `phoenix-${pipeline}-canary` });
  metrics.clearDefaultDimensions();
  metrics.setDefaultDimensions({ ...deploymentDimension(deployment), [METRIC_DIMENSIONS.pipeline]: pipeline, [METRIC_DIMENSIONS.stage]: entryStage });
  return metrics;
}

/** Creates the canary run: one canary per call. A failed put is logged, counted as CanariesSent 0 and rethrown. */
export function createCanary(deps: CanaryDeps): CanaryRun {
  const now = deps.now ?? Date.now;
  const { logger, metrics } = deps;
  return async function run(_event?: unknown, context?: Context): Promise<CanaryResult> {
    if (context) logger.addContext(context);
    const env = buildCanaryEnvelope(deps.pipeline, now(), await deps.key());
    const ids = { correlationId: env.correlationId, recordId: env.id, sentAt: env.payload.sentAt };
    try {
      // Partition key = correlation id: canaries spread over the shards, so every shard's consumer is exercised over time.
      const out = await deps.stream.put(Buffer.from(JSON.stringify(env), 'utf8'), env.correlationId);
      metrics.addMetric(CANARY_METRIC.canariesSent, MetricUnit.Count, 1);
      logger.info('canary sent', { ...ids, entryStage: deps.entryStage, shardId: out.shardId, sequenceNumber: out.sequenceNumber });
      return { ...ids, shardId: out.shardId, sequenceNumber: out.sequenceNumber };
    } catch (err) {
      metrics.addMetric(CANARY_METRIC.canariesSent, MetricUnit.Count, 0);
      logger.error('canary put failed', { ...ids, entryStage: deps.entryStage, error: describeError(err) });
      throw err;
    } finally {
      metrics.publishStoredMetrics();
    }
  };
}

/** The Kinesis adapter of {@link CanaryStreamPort}. */
export function kinesisCanaryStream(client: KinesisClient, streamArn: string): CanaryStreamPort {
  return {
    async put(data, partitionKey) {
      const out = await client.send(new PutRecordCommand({ StreamARN: streamArn, PartitionKey: partitionKey, Data: data }));
      return { shardId: out.ShardId, sequenceNumber: out.SequenceNumber };
    },
  };
}

/** The run configured from `env` (the construct's environment variables). */
export function createCanaryHandler(env: Readonly<Record<string, string | undefined>> = process.env): CanaryRun {
  const cfg = loadCanaryConfig(env);
  return createCanary({
    pipeline: cfg.pipeline,
    entryStage: cfg.entryStage,
    stream: kinesisCanaryStream(kinesisClient(), cfg.streamArn),
    logger: new Logger({
      serviceName: env.POWERTOOLS_SERVICE_NAME || `phoenix-${cfg.pipeline}`,
      persistentKeys: { pipeline: cfg.pipeline, stage: 'canary' },
    }),
    metrics: canaryMetrics(cfg.pipeline, cfg.entryStage, cfg.deployment),
    key: () => loadCanaryKey(cfg.keyUri),
  });
}

let instance: ReturnType<typeof createCanaryHandler> | undefined;

/** The Lambda handler: configured once per container, on the first invocation. */
export const handler = async (event: unknown, context: Context): Promise<CanaryResult> => {
  instance ??= createCanaryHandler();
  return instance(event, context);
};
