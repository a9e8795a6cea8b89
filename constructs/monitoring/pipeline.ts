import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as kinesis from 'aws-cdk-lib/aws-kinesis';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type { IDlqWithReplay } from '../dlq-with-replay';

/**
 * A stage the monitoring constructs can observe: what an {@link IngestStage} exposes.
 * The processor must emit the metrics contract (namespace `PhoenixPipelines`, dimensions `{ Deployment, Pipeline, Stage }`),
 * as the library's ingest handler and any handler built with `createIngestHandler` do.
 */
export interface IMonitorableStage {
  /** Pipeline name (`Pipeline` metric dimension). */
  readonly pipelineName: string;
  /** Stage name (`Stage` metric dimension, hop name in envelopes). */
  readonly stageName: string;
  /**
   * Deployment id (`Deployment` metric dimension) the processor emits (an IngestStage: `Phoenix.deploymentIdOf`).
   *
   * @default - the processor emits no `Deployment` dimension
   */
  readonly deploymentId?: string;
  /** The stream the stage consumes. */
  readonly stream: kinesis.IStream;
  /** The processor function (its `AWS/Lambda` metrics: Errors, Throttles, Invocations, IteratorAge). */
  readonly processor: lambda.IFunction;
  /** The processor's log group (queried by the Logs Insights query definitions). */
  readonly logGroup: logs.ILogGroup;
  /** The stage's dead letters (`AWS/SQS` depth and oldest age of its queue). */
  readonly deadLetters: IDlqWithReplay;
}

/**
 * A pipeline the monitoring constructs can observe: its name and its stages in flow order. The first stage is
 * where the synthetic canary enters; the last (terminal) stage is where end-to-end age, canary receipt and
 * canary latency are measured.
 */
export interface IMonitorablePipeline {
  /** Pipeline name (`Pipeline` metric dimension). */
  readonly pipelineName: string;
  /** Stages in flow order, at least one. */
  readonly stages: IMonitorableStage[];
  /**
   * Alarms on the pipeline's failure paths outside its stages (a {@link DataPipeline}: its FailureNormalizer's and
   * RawArchive's). A {@link CorrelatedMonitor} adds them to its pipeline-health composite alarm.
   *
   * @default - none
   */
  readonly failureAlarms?: cloudwatch.IAlarm[];
}
