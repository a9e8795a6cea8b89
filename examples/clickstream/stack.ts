import { Stack, type StackProps } from 'aws-cdk-lib';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type { Construct } from 'constructs';
import { clickQuality } from './quality';
import { clickEventKeyFields, clickEventSchema } from './schema';
import { type CorrelatedMonitor, DataPipeline, type DriftDetector, IngestSink, type PhoenixMode } from '../../constructs';
import { monitorPipeline, phoenixStack } from '../shared';

/** Properties of a {@link ClickstreamStack}. */
export interface ClickstreamStackProps extends StackProps {
  /**
   * What `cdk destroy` leaves behind (see docs/runbook.md, Phoenix teardown).
   *
   * @default PhoenixMode.PRODUCTION - the raw archive and the clicks table are retained
   */
  readonly phoenixMode?: PhoenixMode;
}

/**
 * The clickstream pipeline, everything the library offers in one stack: web and app SDKs put click events on a
 * Kinesis stream; the ingest stage validates them against the click schema, derives ids from (userId, sessionId, seq)
 * and writes them idempotently to a DynamoDB table. Invalid and failed events land in the dead letters with their
 * payload (failed batches too, through the failure normalizer), ready for replay by the in-cloud replay function;
 * every click is kept in the raw archive the table can be rebuilt from. A quality profiler checks the stream every
 * 5 minutes, a correlated monitor (dashboard, alarms, saved queries, synthetic canary) watches the pipeline, and a
 * drift detector watches this stack.
 */
export class ClickstreamStack extends Stack {
  /** The pipeline. */
  public readonly pipeline: DataPipeline;
  /** Topic notified by the pipeline's alarms (subscribe the on-call channel to it). */
  public readonly alarmTopic: sns.Topic;
  /** The correlated monitor (its synthetic canary: `monitor.canary`). */
  public readonly monitor: CorrelatedMonitor;
  /** The drift detector of this stack. */
  public readonly drift: DriftDetector;

  constructor(scope: Construct, id: string, props: ClickstreamStackProps = {}) {
    super(scope, id, {
      description: 'Phoenix clickstream pipeline (cdk-phoenix-pipelines example)',
      ...props,
    });
    // The pipeline, the alarm topic and its key follow the stack's Phoenix mode.
    this.alarmTopic = phoenixStack(this, props.phoenixMode, 'clickstream');

    this.pipeline = new DataPipeline(this, 'Clickstream', {
      pipelineName: 'clickstream',
      alarmTopic: this.alarmTopic,
      ingest: {
        schema: clickEventSchema,
        keyFields: clickEventKeyFields,
        // the click's own time: the sink keeps the newest version of a click, replays never overwrite newer data
        eventTimeField: 'ts',
        // a session's clicks share a partition key (sessionId): 10 keys in flight keeps per-session order
        recordConcurrency: 10,
      },
      sink: IngestSink.dynamoDb(),
      // the defaults, spelled out: every click archived (Firehose to S3), replay from the DLQ or the archive in-cloud
      archive: true,
      replayFunction: true,
      // data-quality rules on the raw stream (schema: the click schema; alarms: the pipeline's topic)
      quality: clickQuality,
    });

    // Dashboard, alarms, saved queries, a synthetic canary and the profiler's alarms on the same topic (one notification
    // per incident); hourly drift detection of this stack (a console edit to the pipeline is an incident).
    ({ monitor: this.monitor, drift: this.drift } = monitorPipeline(this, this.pipeline, this.alarmTopic, 'Drift'));
  }
}
