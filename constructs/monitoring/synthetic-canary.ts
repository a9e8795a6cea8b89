import { Annotations, Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as scheduler from 'aws-cdk-lib/aws-scheduler';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import type { IMonitorablePipeline, IMonitorableStage } from './pipeline';
import { CANARY_METRIC, ENV, METRIC, MONITOR_ENV } from '../contract';
import type { PipelineFunctionOptions } from '../function-options';
import { canaryAlarmOwners, routeAlarms } from './private/alarm-coverage';
import { stageMetric } from './private/metrics';
import { ScheduledFunction } from './private/scheduled-function';
import { validationError } from '../private/errors';
import { resolveFunctionOptions } from '../private/function';
import { countAgainstResourceBudget } from '../private/resource-budget';
import { checkMillis, checkPipeline, checkWholeMinutes } from '../private/validate';

/** CloudWatch evaluates at most one day of data for an alarm (period x evaluation periods). */
const MAX_ALARM_WINDOW_MINUTES = 24 * 60;

/**
 * Options of a {@link SyntheticCanary}: everything but the pipeline (what {@link CorrelatedMonitor} passes through).
 * Function settings: {@link PipelineFunctionOptions} (memory 256 MiB, timeout 30 seconds, log retention one month by
 * default; canary logs hold no business data).
 */
export interface SyntheticCanaryOptions extends PipelineFunctionOptions {
  /**
   * Time between two canaries. Whole minutes, from 1 minute (EventBridge Scheduler's finest rate) to 12 hours
   * (the missing-canary window must hold two intervals within CloudWatch's one-day alarm window).
   *
   * @default Duration.minutes(5)
   */
  readonly interval?: Duration;

  /**
   * The missing-canary alarm fires when the terminal stage received no canary during this window
   * (`CanariesReceived` Sum < 1; no data counts as breaching). Whole minutes, at least twice `interval` (so that one
   * canary arriving late, or one failed run, does not fire it) and at most 1 day.
   *
   * @default - three times `interval` (15 minutes with the default interval)
   */
  readonly missingAlarmWindow?: Duration;

  /**
   * The canary latency alarm fires when the slowest canary of a `missingAlarmWindow` took longer than this from
   * the canary function to the terminal stage (`CanaryLatencyMs` Maximum). Allowed: 1 second to 1 day.
   *
   * @default Duration.minutes(5)
   */
  readonly latencyAlarmThreshold?: Duration;
}

/**
 * Properties of a {@link SyntheticCanary}.
 */
export interface SyntheticCanaryProps extends SyntheticCanaryOptions {
  /** The pipeline to probe: canaries enter its first stage's stream and are measured by its last stage. */
  readonly pipeline: IMonitorablePipeline;

  /**
   * Topic notified by the missing-canary and latency alarms.
   *
   * @default - no action: the alarms must join a composite alarm with one (a CorrelatedMonitor's pipeline health
   * does so for the canary it creates); else a synth warning (`cdk-phoenix-pipelines:canaryWithoutAlarmTopic`) says so
   */
  readonly alarmTopic?: sns.ITopic;
}

/**
 * A synthetic canary: an EventBridge Scheduler schedule invokes a traced function that puts one canary envelope
 * (source `phoenix-canary`, payload `{ canary: true, sentAt, pipeline }`, correlation id
 * `canary-<pipeline>-<epoch ms>`) into the pipeline's entry stream. The terminal stage recognizes it, emits
 * `CanariesReceived` and `CanaryLatencyMs`, and keeps it out of its sink.
 *
 * Two alarms: no canary received within `missingAlarmWindow` (missing data is breaching: a pipeline that stopped
 * emitting metrics is down), and canary latency above `latencyAlarmThreshold`.
 *
 * @example
 * const canary = new SyntheticCanary(this, 'Canary', {
 *   pipeline: { pipelineName: 'clickstream', stages: [pipeline.ingest] },
 *   interval: Duration.minutes(1),
 * });
 */
export class SyntheticCanary extends Construct {
  /** Key of the canary key's object in the terminal stage's dead-letter overflow bucket. */
  public static readonly KEY_OBJECT = 'control/canary-key';

  /** The canary function. */
  public readonly canaryFunction: lambda.IFunction;
  /** The canary function's log group (its `canary sent` lines carry each canary's correlation id). */
  public readonly logGroup: logs.ILogGroup;
  /** The schedule invoking the function. */
  public readonly schedule: scheduler.ISchedule;
  /** Fires when no canary reached the terminal stage within `missingAlarmWindow`. */
  public readonly missingAlarm: cloudwatch.Alarm;
  /** Fires when a canary took longer than `latencyAlarmThreshold`. */
  public readonly latencyAlarm: cloudwatch.Alarm;
  /** Time between two canaries. */
  public readonly interval: Duration;
  /** Window of the missing-canary alarm. */
  public readonly missingAlarmWindow: Duration;
  private readonly entry: IMonitorableStage;
  private readonly terminal: IMonitorableStage;

  constructor(scope: Construct, id: string, props: SyntheticCanaryProps) {
    super(scope, id);
    countAgainstResourceBudget(this);
    checkPipeline(this, props.pipeline);
    this.entry = props.pipeline.stages[0];
    this.terminal = props.pipeline.stages[props.pipeline.stages.length - 1];

    this.interval = props.interval ?? Duration.minutes(5);
    checkWholeMinutes(this, 'interval', this.interval, 1, MAX_ALARM_WINDOW_MINUTES / 2);
    this.missingAlarmWindow = props.missingAlarmWindow
      ?? (this.interval.isUnresolved() ? Duration.minutes(15) : Duration.minutes(this.interval.toMinutes() * 3));
    checkWholeMinutes(this, 'missingAlarmWindow', this.missingAlarmWindow, 1, MAX_ALARM_WINDOW_MINUTES);
    if (!this.interval.isUnresolved() && !this.missingAlarmWindow.isUnresolved()
      && this.missingAlarmWindow.toMinutes() < 2 * this.interval.toMinutes()) {
      throw validationError(this, `missingAlarmWindow must be at least twice interval, or a canary still on its way (or one failed run) fires the alarm (given missingAlarmWindow ${this.missingAlarmWindow.toHumanString()}, interval ${this.interval.toHumanString()})`);
    }
    const latencyThreshold = props.latencyAlarmThreshold ?? Duration.minutes(5);
    checkMillis(this, 'latencyAlarmThreshold', latencyThreshold, 1_000, 86_400_000);

    const fnOptions = resolveFunctionOptions(this, props, {
      memorySize: 256, timeout: Duration.seconds(30), logRetention: logs.RetentionDays.ONE_MONTH,
    });

    const pipelineName = props.pipeline.pipelineName;
    const fn = new ScheduledFunction(this, 'Sender', {
      owner: this,
      ownerName: 'SyntheticCanary',
      handler: 'canary',
      description: `Phoenix synthetic canary of pipeline '${pipelineName}' (stage '${this.entry.stageName}')`,
      pipelineName,
      deploymentId: this.entry.deploymentId,
      environment: {
        [MONITOR_ENV.canaryStreamArn]: this.entry.stream.streamArn,
        [MONITOR_ENV.canaryEntryStage]: this.entry.stageName,
      },
      interval: this.interval,
      ...fnOptions,
      failureSignal: 'a canary that was not sent is not received: the missing-canary alarm fires.',
    });
    ({ fn: this.canaryFunction, logGroup: this.logGroup } = fn.function);
    this.schedule = fn.schedule;
    this.entry.stream.grantWrite(this.canaryFunction);
    this.shareCanaryKey(props.pipeline);

    const window = this.missingAlarmWindow;
    this.missingAlarm = this.metricCanariesReceived({ period: window }).createAlarm(this, 'MissingAlarm', {
      alarmDescription: `No synthetic canary of pipeline '${pipelineName}' reached stage '${this.terminal.stageName}' within ${window.toHumanString()} `
        + `(one is sent every ${this.interval.toHumanString()}): the pipeline is stopped, stuck or not emitting metrics. `
        + 'Follow the last canary with the record-journey query (correlation id canary-<pipeline>-<epoch ms> from the canary function\'s log).',
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.BREACHING,
    });
    this.latencyAlarm = this.metricCanaryLatency({ statistic: cloudwatch.Stats.MAXIMUM, period: window }).createAlarm(this, 'LatencyAlarm', {
      alarmDescription: `A synthetic canary of pipeline '${pipelineName}' took more than ${latencyThreshold.toHumanString()} to reach stage '${this.terminal.stageName}'.`,
      threshold: latencyThreshold.toMilliseconds(),
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    canaryAlarmOwners.add(this);
    routeAlarms(this, [this.missingAlarm, this.latencyAlarm], props.alarmTopic);
  }

  /**
   * The canary key (lib/handlers/canary-key.ts): one S3 object in the terminal stage's overflow bucket, which the canary
   * function and every stage's processor may read and create (GetObject, PutObject on that object only). Stages
   * recognize a canary only when its MAC verifies under this key, so producers cannot forge one.
   */
  private shareCanaryKey(pipeline: IMonitorablePipeline): void {
    const bucket = this.terminal.deadLetters.overflowBucket;
    const uri = `s3://${bucket.bucketName}/${SyntheticCanary.KEY_OBJECT}`;
    const readers = [this.canaryFunction, ...pipeline.stages.map((s) => s.processor)];
    for (const fn of readers) {
      if (!(fn instanceof lambda.Function)) {
        // An imported processor's environment and role are not this app's to change: say what its owner must set.
        Annotations.of(this).addWarningV2('phoenix:canary-key-imported-processor',
          `the imported processor ${fn.node.path} cannot be given the canary key: set ${ENV.canaryKeyUri} in its environment to s3://<bucket>/${SyntheticCanary.KEY_OBJECT} `
          + `of ${bucket.node.path} and allow it s3:GetObject and s3:PutObject on that object, else it treats canaries as ordinary records`);
        continue;
      }
      fn.addEnvironment(ENV.canaryKeyUri, uri);
      iam.Grant.addToPrincipal({ grantee: fn, actions: ['s3:GetObject', 's3:PutObject'], resourceArns: [bucket.arnForObjects(SyntheticCanary.KEY_OBJECT)] });
      bucket.encryptionKey?.grantEncryptDecrypt(fn);
    }
  }

  /**
   * Canaries the canary function put into the entry stream (`CanariesSent`, dimension Stage = the entry stage).
   *
   * @default - statistic Sum, period 5 minutes
   */
  public metricCanariesSent(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return stageMetric(this.entry, CANARY_METRIC.canariesSent, props);
  }

  /**
   * Canaries recognized by the terminal stage (`CanariesReceived`).
   *
   * @default - statistic Sum, period 5 minutes
   */
  public metricCanariesReceived(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return stageMetric(this.terminal, METRIC.canariesReceived, props);
  }

  /**
   * Time from the canary function to the terminal stage, in milliseconds (`CanaryLatencyMs`).
   *
   * @default - statistic p99, period 5 minutes
   */
  public metricCanaryLatency(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return stageMetric(this.terminal, METRIC.canaryLatencyMs, { statistic: cloudwatch.Stats.p(99), ...props });
  }
}
