import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { deploymentDimension, METRICS_NAMESPACE, METRIC_DIMENSIONS } from '../../contract';
import type { IMonitorableStage } from '../pipeline';

/**
 * A metric of the contract emitted by `stage` (namespace `PhoenixPipelines`, dimensions exactly `{ Deployment, Pipeline, Stage }`,
 * without `Deployment` for a stage that has no deployment id).
 * Defaults: statistic Sum, period 5 minutes.
 */
export function stageMetric(stage: IMonitorableStage, metricName: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
  return new cloudwatch.Metric({
    namespace: METRICS_NAMESPACE,
    metricName,
    dimensionsMap: {
      ...deploymentDimension(stage.deploymentId), [METRIC_DIMENSIONS.pipeline]: stage.pipelineName, [METRIC_DIMENSIONS.stage]: stage.stageName,
    },
    statistic: cloudwatch.Stats.SUM,
    period: Duration.minutes(5),
    ...props,
  });
}
