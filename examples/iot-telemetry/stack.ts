import { Stack, type StackProps } from 'aws-cdk-lib';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type { Construct } from 'constructs';
import { telemetryQuality } from './quality';
import { telemetryKeyFields, telemetrySchema } from './schema';
import { type CorrelatedMonitor, DataPipeline, type DriftDetector, IngestSink, type PhoenixMode } from '../../constructs';
import { monitorPipeline, phoenixStack } from '../shared';

/** Properties of an {@link IotTelemetryStack}. */
export interface IotTelemetryStackProps extends StackProps {
  /**
   * What `cdk destroy` leaves behind (see docs/runbook.md, Phoenix teardown).
   *
   * @default PhoenixMode.PRODUCTION - the raw archive and the readings table are retained
   */
  readonly phoenixMode?: PhoenixMode;
}

/**
 * The IoT telemetry pipeline: site gateways put the readings of their devices (temperature, humidity, battery, ...)
 * on a Kinesis stream, partition key = deviceId. The ingest stage validates each reading against the telemetry
 * schema, derives its id from (deviceId, seq) and writes it idempotently to a DynamoDB table, so a gateway's re-sends
 * (at-least-once delivery) keep one item per reading. Bad readings land in the dead letters with their payload, every
 * reading is kept in the raw archive. A quality profiler checks the fleet every 5 minutes (completeness, ranges,
 * allowed sites and firmware, freshness, volume, drift and anomalies of the readings), a correlated monitor with a
 * synthetic canary watches the pipeline, and a drift detector watches the stack itself.
 */
export class IotTelemetryStack extends Stack {
  /** The pipeline. */
  public readonly pipeline: DataPipeline;
  /** Topic notified by the pipeline's alarms and the data-quality warn and fail alarms. */
  public readonly alarmTopic: sns.Topic;
  /** The correlated monitor (its synthetic canary: `monitor.canary`). */
  public readonly monitor: CorrelatedMonitor;
  /** CloudFormation drift detection of this stack (not data drift: that is the profiler's drift rules). */
  public readonly stackDrift: DriftDetector;

  constructor(scope: Construct, id: string, props: IotTelemetryStackProps = {}) {
    super(scope, id, { description: 'Phoenix IoT telemetry pipeline with quality rules and drift alerts (cdk-phoenix-pipelines example)', ...props });
    // The pipeline, the alarm topic and its key follow the stack's Phoenix mode.
    this.alarmTopic = phoenixStack(this, props.phoenixMode, 'IoT telemetry');

    this.pipeline = new DataPipeline(this, 'Telemetry', {
      pipelineName: 'iot-telemetry',
      alarmTopic: this.alarmTopic,
      ingest: {
        schema: telemetrySchema,
        keyFields: telemetryKeyFields,
        // the reading's own time: a replayed reading never overwrites a newer version of itself
        eventTimeField: 'ts',
        // a device's readings share a partition key (deviceId) and stay in order; 10 devices of a batch at once
        recordConcurrency: 10,
      },
      sink: IngestSink.dynamoDb(),
      // every reading archived (Firehose to S3) and replayable in the cloud from the DLQ or the archive
      archive: true,
      replayFunction: true,
      // the fleet's data-quality rules on the raw stream (schema: the telemetry schema; alarms: the pipeline's topic)
      quality: telemetryQuality,
    });

    // Dashboard, alarms, saved queries, a synthetic canary; the pipeline-health composite alarm (one notification per
    // incident) covers the profiler's fail levels too. Hourly drift detection: a console edit to the pipeline is an incident.
    ({ monitor: this.monitor, drift: this.stackDrift } = monitorPipeline(this, this.pipeline, this.alarmTopic, 'StackDrift'));
  }
}
