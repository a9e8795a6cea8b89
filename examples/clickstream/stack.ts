import { Duration, Stack, type StackProps } from 'aws-cdk-lib';
import * as sns from 'aws-cdk-lib/aws-sns';
import type { Construct } from 'constructs';
import { clickQuality } from './quality';
import { clickEventKeyFields, clickEventSchema } from './schema';
import { AlarmTopic, CorrelatedMonitor, DataPipeline, DriftDetector, IngestSink, Phoenix, PhoenixMode, StatefulKind } from '../../constructs';

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
    const phoenixMode = props.phoenixMode ?? PhoenixMode.PRODUCTION;
    // The whole stack follows the pipeline's mode (the alarm topic below included).
    Phoenix.configure(this, { mode: phoenixMode });

    // On-call notifications. CloudWatch alarms can only publish to an encrypted topic whose key lets
    // cloudwatch.amazonaws.com use it, hence a customer managed key (the AWS managed alias/aws/sns key would not do).
    const topicRemovalPolicy = Phoenix.removalPolicyFor(this, StatefulKind.KEY);
    this.alarmTopic = AlarmTopic.create(this, {
      keyDescription: 'Encrypts the clickstream alarm topic',
      displayName: 'Clickstream pipeline alarms',
      removalPolicy: topicRemovalPolicy,
    });

    this.pipeline = new DataPipeline(this, 'Clickstream', {
      pipelineName: 'clickstream',
      phoenixMode,
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

    // Dashboard, per-stage alarms, saved Logs Insights queries and a synthetic canary every 5 minutes; one
    // notification per incident (the pipeline-health composite alarm) on the same topic.
    this.monitor = new CorrelatedMonitor(this, 'Monitor', {
      pipeline: this.pipeline,
      alarmTopic: this.alarmTopic,
      endToEndLatencySlo: Duration.minutes(1),
      canary: { interval: Duration.minutes(5) },
    });
    this.pipeline.profiler!.addToMonitor(this.monitor);

    // Hourly CloudFormation drift detection of this stack (a console edit to the pipeline is an incident).
    this.drift = new DriftDetector(this, 'Drift', { pipelineName: 'clickstream' });
    this.monitor.addAlarm(this.drift.driftAlarm);
    this.monitor.addAlarm(this.drift.detectionAlarm);
  }
}
