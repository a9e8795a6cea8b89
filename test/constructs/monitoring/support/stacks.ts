/**
 * Stacks for the monitoring tests: a DataPipeline (its ingest stage is the monitored stage), optionally a second
 * IngestStage reading the first stage's sink stream (a two-stage pipeline), with a fixed env.
 */
import { type App, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import type { Construct } from 'constructs';
import { DataPipeline, IngestSink, IngestStage } from '../../../../constructs';
import type { IMonitorablePipeline } from '../../../../constructs/monitoring';
import { checkedApp } from '../../../../examples/checked-app';
import { bundleMonitorHandlers } from '../../../support/bundle';
import { TEST_ENV } from '../../../support/stacks';

bundleMonitorHandlers();

export const PIPELINE = 'orders';

/** A one-stage pipeline (`ingest`) in `scope`. */
export function onePipeline(scope: Construct, alarmTopic?: sns.ITopic): { data: DataPipeline; pipeline: IMonitorablePipeline } {
  const data = new DataPipeline(scope, 'Orders', { pipelineName: PIPELINE, alarmTopic });
  return { data, pipeline: { pipelineName: PIPELINE, stages: [data.ingest] } };
}

/** A two-stage pipeline: `ingest` writes to a Kinesis stream that `enrich` consumes. */
export function twoStagePipeline(scope: Construct, alarmTopic?: sns.ITopic): IMonitorablePipeline {
  const enrich = new IngestStage(scope, 'Enrich', {
    pipelineName: PIPELINE,
    stageName: 'enrich',
    sink: IngestSink.none(),
    deadLetterProps: alarmTopic ? { alarmTopic } : undefined,
  });
  const ingest = new IngestStage(scope, 'Ingest', {
    pipelineName: PIPELINE,
    sink: IngestSink.kinesis(enrich.stream),
    deadLetterProps: alarmTopic ? { alarmTopic } : undefined,
  });
  return { pipelineName: PIPELINE, stages: [ingest, enrich] };
}

/** A stack with a fixed env in a fresh app, optionally checked by the five cdk-nag packs. */
export function monitorStack(opts: { nag?: boolean; outdir?: string } = {}): { app: App; stack: Stack } {
  const app = checkedApp({ appProps: opts.outdir ? { outdir: opts.outdir } : undefined, nag: opts.nag ?? false });
  return { app, stack: new Stack(app, 'Monitoring', { env: TEST_ENV }) };
}

/** An alarm topic CloudWatch can publish to (customer managed key usable by cloudwatch.amazonaws.com). */
export function encryptedTopic(scope: Construct): sns.Topic {
  const key = new kms.Key(scope, 'TopicKey', { enableKeyRotation: true, removalPolicy: RemovalPolicy.DESTROY });
  key.grant(new iam.ServicePrincipal('cloudwatch.amazonaws.com'), 'kms:Decrypt', 'kms:GenerateDataKey*');
  return new sns.Topic(scope, 'Topic', { masterKey: key, enforceSSL: true });
}

/** The dimensions of the test pipeline's custom metrics in the Monitoring stack: deployment, pipeline and `stage` if given. */
export function pipelineDimensions(stage?: string): Array<{ Name: string; Value: string }> {
  const dimensions = [{ Name: 'Deployment', Value: 'Monitoring-eu-west-1' }, { Name: 'Pipeline', Value: PIPELINE }];
  return stage ? [...dimensions, { Name: 'Stage', Value: stage }] : dimensions;
}

/** Namespace, name and dimensions of one of the test pipeline's custom metrics, as an alarm on it carries them. */
export function pipelineMetric(metricName: string, stage?: string): Record<string, unknown> {
  return { Namespace: 'PhoenixPipelines', MetricName: metricName, Dimensions: pipelineDimensions(stage) };
}
