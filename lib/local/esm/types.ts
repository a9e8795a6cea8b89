/**
 * Contract of the local event source mappings (ESM): Kinesis and SQS pollers that invoke a function the way
 * AWS Lambda's event source mappings do. The local environment (lib/local) parses each
 * `AWS::Lambda::EventSourceMapping` of the synthesized template with `parseKinesisMapping` / `parseSqsMapping`
 * and runs one poller per mapping against the emulators.
 *
 * Module layout (import from `lib/local/esm`, i.e. `./esm/index`):
 * - `parseKinesisMapping(resolvedProps, ctx: MappingParseContext): KinesisMappingConfig`
 * - `parseSqsMapping(resolvedProps, ctx: MappingParseContext): SqsMappingConfig`
 * - `new KinesisEventSourcePoller(config, invoker, clients, opts?: PollerOptions)`
 * - `new SqsEventSourcePoller(config, invoker, clients, opts?: PollerOptions)`
 */
import type { KinesisClient } from '@aws-sdk/client-kinesis';
import type { S3Client } from '@aws-sdk/client-s3';
import type { SQSClient } from '@aws-sdk/client-sqs';

/** Outcome of one function invocation, as reported by the local function runner. */
export type InvokeResult =
  | { ok: true; payload: unknown; durationMs: number }
  | {
    ok: false;
    /**
     * - `timeout`: the function exceeded its timeout;
     * - `crash`: the runtime process died (uncaught exception outside the handler, OOM, exit);
     * - `error`: the handler threw / rejected (Lambda "Unhandled" function error);
     * - `throttled`: the invocation was not started (concurrency limit); retried without consuming retry attempts.
     */
    errorType: 'timeout' | 'crash' | 'error' | 'throttled';
    message: string;
    durationMs: number;
  };

/** Invokes one function (the local environment's function runner implements it). */
export interface FunctionInvoker {
  readonly functionName: string;
  readonly functionArn: string;
  invoke(event: unknown): Promise<InvokeResult>;
}

/** Where a Kinesis mapping sends a batch it gives up on (DestinationConfig.OnFailure). */
export type OnFailureDestination =
  | { kind: 'sqs'; queueUrl: string; queueArn: string }
  | { kind: 's3'; bucket: string; bucketArn: string }
  | { kind: 'sns'; topicArn: string };

export interface KinesisMappingConfig {
  /** The mapping's UUID (used in S3 on-failure object keys). */
  readonly uuid: string;
  readonly streamName: string;
  readonly streamArn: string;
  /** The enhanced fan-out consumer the mapping reads through (its EventSourceArn), if any. */
  readonly consumerArn?: string;
  /** 1-10,000 (default 100). */
  readonly batchSize: number;
  /** 0-300 (default 0). */
  readonly maximumBatchingWindowInSeconds: number;
  /** 1-10 concurrent batches per shard (default 1). */
  readonly parallelizationFactor: number;
  readonly bisectBatchOnFunctionError: boolean;
  /** -1 = infinite (default), up to 10,000. */
  readonly maximumRetryAttempts: number;
  /** -1 = infinite (default), else 60-604,800. */
  readonly maximumRecordAgeInSeconds: number;
  readonly startingPosition: 'TRIM_HORIZON' | 'LATEST' | 'AT_TIMESTAMP';
  /** Epoch SECONDS (as in CloudFormation), only with AT_TIMESTAMP. */
  readonly startingPositionTimestamp?: number;
  /** FunctionResponseTypes contains `ReportBatchItemFailures`. */
  readonly reportBatchItemFailures: boolean;
  /** 0 = no tumbling window (default), up to 900. */
  readonly tumblingWindowInSeconds: number;
  readonly onFailure?: OnFailureDestination;
  readonly enabled: boolean;
  readonly region: string;
  readonly accountId: string;
}

export interface SqsMappingConfig {
  readonly uuid: string;
  readonly queueUrl: string;
  readonly queueArn: string;
  /** 1-10,000 (default 10; above 10 needs a batching window >= 1 s; FIFO queues max 10). */
  readonly batchSize: number;
  /** 0-300 (default 0). */
  readonly maximumBatchingWindowInSeconds: number;
  readonly reportBatchItemFailures: boolean;
  /** ScalingConfig.MaximumConcurrency: 2-1000; absent = not limited by the mapping. */
  readonly maximumConcurrency?: number;
  readonly enabled: boolean;
  readonly region: string;
}

/** Context for parsing a template's `AWS::Lambda::EventSourceMapping` properties. */
export interface MappingParseContext {
  /** The mapping's UUID (AWS generates one per mapping; locally any stable unique id). */
  readonly uuid: string;
  readonly region: string;
  readonly accountId: string;
  /** Logical id of the mapping in the template; used in error messages only. */
  readonly logicalId?: string;
  /**
   * Local queue URL of an SQS queue ARN (event source of an SQS mapping, or an on-failure destination).
   * Throw if the queue is unknown.
   */
  readonly queueUrlForArn: (queueArn: string) => string;
  /** ARNs of the stream consumers of the stack (a mapping on a consumer ARN must name one of them). */
  readonly consumerArns?: readonly string[];
}

/** Minimal SNS publishing port (structurally satisfied by a wrapper around SNSClient's PublishCommand). */
export interface SnsPublisher {
  publish(input: { TopicArn: string; Message: string }): Promise<unknown>;
}

export interface EsmClients {
  readonly kinesis: KinesisClient;
  /** Must be usable with the emulator's queue URLs (e.g. `useQueueUrlAsEndpoint: false`). */
  readonly sqs: SQSClient;
  /** Path-style client (endpoint `http://127.0.0.1:PORT`). */
  readonly s3: S3Client;
  /** Required only when a mapping has an SNS on-failure destination. */
  readonly sns?: SnsPublisher;
}

export interface EsmStats {
  /** Batches formed from the source (a retried or bisected batch is not counted again). */
  batches: number;
  /** Function invocations attempted (including failed and throttled ones). */
  invocations: number;
  /** Records in successful-or-partially-successful invocations' events (counts redeliveries). */
  recordsDelivered: number;
  /** Invocations that ended in a function error (error, timeout, crash). */
  functionErrors: number;
  /** Invocations whose response reported batch item failures. */
  partialFailures: number;
  /** Times a failed batch was split in two. */
  bisections: number;
  /** Re-invocations of a batch (or its remainder) after a failure that consumed a retry attempt. */
  retries: number;
  /** Records sent to the on-failure destination (Kinesis), counted per record. */
  discardedToOnFailure: number;
  /** Records given up on (retries or age exhausted) with no on-failure destination configured: dropped, as AWS does. */
  discardedWithoutDestination: number;
  /** Records skipped because they were older than MaximumRecordAgeInSeconds. */
  expiredByAge: number;
  /** Latest iterator age (Kinesis: MillisBehindLatest / age of the last record read; SQS: age of the oldest message received). */
  iteratorAgeMs: number;
}

export interface EventSourcePoller {
  readonly stats: EsmStats;
  /** Starts polling (no-op if the mapping is disabled or the poller already runs). */
  start(): void;
  /** Stops polling, waits for in-flight invocations to settle. Safe to call twice. */
  stop(): Promise<void>;
  /**
   * Resolves true when every record currently in the source was processed or sent on-failure
   * (Kinesis: every shard's checkpoint reached the stream's current end and nothing is in flight;
   * SQS: queue empty (visible, in flight and delayed) and no invocation in flight); false on timeout.
   */
  drain(opts: { timeoutMs: number }): Promise<boolean>;
}

export interface PollerOptions {
  /** Delay between polls when the source returned nothing (default 200 ms Kinesis, SQS uses long polling). */
  readonly pollIntervalMs?: number;
  /** One-line diagnostics. */
  readonly log?: (line: string) => void;
  /** Clock (epoch ms); defaults to Date.now. Used for record age, windows and on-failure timestamps. */
  readonly now?: () => number;
  /** SQS: concurrent long-poll loops when the mapping sets no MaximumConcurrency (default 5, like AWS's initial pollers). */
  readonly sqsPollers?: number;
  /** Backoff before retrying a failed/throttled invocation (default 100 ms base, doubled up to `retryBackoffCapMs`). */
  readonly retryBackoffMs?: number;
  readonly retryBackoffCapMs?: number;
  /** `invokeIdentityArn` of Kinesis records (the function's execution role; default `arn:aws:iam::<account>:role/<function>-role`). */
  readonly invokeIdentityArn?: string;
  /**
   * Lambda's checks of the execution role when the mapping is created (IAM enforcement on): each call is decided as
   * the role's; undefined = no checks (IAM off).
   */
  readonly authorize?: (call: MappingAccessCall) => MappingAccessVerdict;
}

/** A call Lambda makes with the function's role to set up a mapping (the principal is added by `authorize`). */
export interface MappingAccessCall {
  readonly action: string;
  readonly resource: string;
}

export type MappingAccessVerdict = { readonly allowed: true } | { readonly allowed: false; readonly message: string };
