import { Duration } from 'aws-cdk-lib';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type { Construct } from 'constructs';
import { AlarmTopic, ControlTower, CorrelatedMonitor, type DataPipeline, DriftDetector, Phoenix, PhoenixMode, StatefulKind } from '../constructs';

/**
 * The on-call topic of an example pipeline (`name`, e.g. 'orders'): encrypted with a customer managed key, CloudWatch
 * alarms of this account allowed to publish (AlarmTopic); the topic and its key follow the Phoenix mode.
 */
export function alarmTopic(scope: Construct, name: string): sns.Topic {
  return AlarmTopic.create(scope, {
    keyDescription: `Encrypts the ${name} alarm topic`,
    displayName: `${name.charAt(0).toUpperCase()}${name.slice(1)} pipeline alarms`,
    removalPolicy: Phoenix.removalPolicyFor(scope, StatefulKind.KEY),
  });
}

/**
 * Puts a whole example stack in `mode` (its pipeline inherits it; so do the alarm topic and its key), keeps every log
 * group of the library a year, encrypted with the stack's `ControlTower.logKey` (Control Tower's CT.CLOUDWATCH.PR.2 and .3),
 * gives every bucket Object Lock without a default retention (CT.S3.PR.9), and returns the stack's on-call topic
 * (see {@link alarmTopic}).
 */
export function phoenixStack(stack: Construct, mode: PhoenixMode | undefined, name: string): sns.Topic {
  Phoenix.configure(stack, { mode: mode ?? PhoenixMode.PRODUCTION });
  Phoenix.configure(stack, { logRetention: logs.RetentionDays.ONE_YEAR, logEncryptionKey: ControlTower.logKey(stack, 'LogKey'), objectLock: true });
  return alarmTopic(stack, name);
}

/** What {@link monitorPipeline} creates. */
export interface PipelineMonitoring {
  readonly monitor: CorrelatedMonitor;
  readonly drift: DriftDetector;
}

/**
 * The examples' monitoring of a pipeline with a quality profiler: dashboard, per-stage alarms, saved queries and a
 * synthetic canary every 5 minutes, the profiler's alarms in the pipeline-health composite, and hourly CloudFormation
 * drift detection of the stack (construct id `driftId`). Every alarm notifies `topic` itself, besides the composite
 * (AWS Control Tower's CT.CLOUDWATCH.PR.1 wants an action on every alarm): one incident may notify more than once.
 */
export function monitorPipeline(scope: Construct, pipeline: DataPipeline, topic: sns.ITopic, driftId: string): PipelineMonitoring {
  const monitor = new CorrelatedMonitor(scope, 'Monitor', {
    pipeline,
    alarmTopic: topic,
    notifyEveryAlarm: true,
    endToEndLatencySlo: Duration.minutes(1),
    canary: { interval: Duration.minutes(5) },
  });
  pipeline.profiler!.addToMonitor(monitor);
  const drift = new DriftDetector(scope, driftId, { pipelineName: pipeline.pipelineName, alarmTopic: topic });
  monitor.addAlarm(drift.driftAlarm);
  monitor.addAlarm(drift.detectionAlarm);
  return { monitor, drift };
}
