import { Duration, Lazy, RemovalPolicy, Stack, Token } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cw_actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import type { IMonitorablePipeline, IMonitorableStage } from './pipeline';
import { checkAlarmCoverage } from './private/alarm-coverage';
import { stageMetric } from './private/metrics';
import {
  attemptsDistributionQuery,
  CORRELATION_ID_PLACEHOLDER,
  deadLetterReasonsQuery,
  hopsQuery,
  journeyQuery,
  retryLoopsQuery,
  slowestBatchesQuery,
  slowestHopsQuery,
} from './private/queries';
import { SyntheticCanary, type SyntheticCanaryOptions } from './synthetic-canary';
import { METRIC } from '../contract';
import { Phoenix, StatefulKind } from '../phoenix';
import { AlarmTopic } from './alarm-topic';
import { constructLabel, validationError } from '../private/errors';
import { acknowledge } from '../private/nag';
import { countAgainstResourceBudget } from '../private/resource-budget';
import { checkEmails, checkMillis, checkName, checkPipeline, checkPositive, checkRange, checkSeconds, checkWholeMinutes } from '../private/validate';

/** CloudWatch evaluates at most one day of data for an alarm (period x evaluation periods). */
const MAX_ALARM_WINDOW_SECONDS = 86_400;
/** Child alarms a composite alarm rule may reference (PutCompositeAlarm). */
const MAX_COMPOSITE_CHILDREN = 100;
const MAX_ALERT_EMAILS = 20;

/**
 * Properties of a {@link CorrelatedMonitor}.
 */
export interface CorrelatedMonitorProps {
  /** The pipeline to monitor: its name and stages in flow order (e.g. `{ pipelineName, stages: [pipeline.ingest] }`). */
  readonly pipeline: IMonitorablePipeline;

  /**
   * Name of the dashboard. Unique per account (dashboards are global); 1-255 characters of `[A-Za-z0-9_-]`.
   *
   * @default - `Phoenix-<stackName>-<region>-<pipelineName>`: unique when copies of a pipeline (dev, test, blue and
   * green, per developer) are deployed as stacks of different names, or under one stack name in several regions
   */
  readonly dashboardName?: string;

  /**
   * Topic notified by the pipeline-health alarm (and by every alarm with `notifyEveryAlarm`).
   * CloudWatch must be able to publish to it: with an encrypted topic, the key policy must let
   * `cloudwatch.amazonaws.com` use `kms:Decrypt` and `kms:GenerateDataKey*`.
   *
   * @default - a topic encrypted with a created customer managed key (rotation on) that CloudWatch may use, TLS enforced
   */
  readonly alarmTopic?: sns.ITopic;

  /**
   * E-mail addresses subscribed to the alarm topic (each must confirm the subscription). At most 20.
   *
   * @default - no e-mail subscription
   */
  readonly alertEmails?: string[];

  /**
   * Notify the topic from every alarm, not only from the pipeline-health composite alarm.
   *
   * @default false - one notification per incident: the composite alarm's notification names its triggering alarms
   */
  readonly notifyEveryAlarm?: boolean;

  /**
   * End-to-end latency objective: the p99 of `EndToEndAgeMs` (now - event time) at the terminal stage must stay
   * below it. Also the default canary latency alarm threshold. Allowed: 1 second to 1 day.
   *
   * @default Duration.minutes(5)
   */
  readonly endToEndLatencySlo?: Duration;

  /**
   * Period of the sustained alarms (iterator age, error rate, throttles, end-to-end latency). Whole minutes, 1 to 60.
   *
   * @default Duration.minutes(5)
   */
  readonly alarmPeriod?: Duration;

  /**
   * Consecutive breaching periods before a sustained alarm fires. Allowed: 1-100, with
   * `alarmPeriod` x `evaluationPeriods` at most 1 day.
   *
   * @default 3
   */
  readonly evaluationPeriods?: number;

  /**
   * Iterator age (`AWS/Lambda` `IteratorAge`, Maximum) above which a stage is falling behind its stream.
   * Allowed: 1 second to 7 days.
   *
   * @default Duration.minutes(5)
   */
  readonly iteratorAgeAlarmThreshold?: Duration;

  /**
   * Percentage of failed invocations (`Errors` / `Invocations`) above which a stage's processor is failing.
   * The handler reports bad records as batch item failures, not errors: any error is a crash, a timeout or a
   * configuration failure. Allowed: more than 0, at most 100.
   *
   * @default 1
   */
  readonly errorRateAlarmThresholdPercent?: number;

  /**
   * Throttled invocations per period (`AWS/Lambda` `Throttles`, Sum) at or above which the alarm counts a breaching
   * period. Allowed: 1 to 1,000,000.
   *
   * @default 1
   */
  readonly throttlesAlarmThreshold?: number;

  /**
   * Dead letters waiting (`AWS/SQS` `ApproximateNumberOfMessagesVisible`, Maximum over 1 minute) at or above which
   * the dead-letter alarm fires. Allowed: 1 to 1,000,000,000.
   *
   * @default 1 - any dead letter
   */
  readonly dlqDepthAlarmThreshold?: number;

  /**
   * Age of the oldest dead letter (`AWS/SQS` `ApproximateAgeOfOldestMessage`) at or above which the alarm fires:
   * dead letters nobody replayed or discarded. Whole seconds, 1 minute to 14 days.
   *
   * @default Duration.days(1)
   */
  readonly dlqOldestMessageAgeAlarmThreshold?: Duration;

  /**
   * The retry-loops query lists records whose attempts, summed over their deliveries, exceed this. Allowed: 1-1,000.
   *
   * @default 3
   */
  readonly retryLoopAttempts?: number;

  /**
   * Create a {@link SyntheticCanary} (child `Canary`) whose missing and latency alarms join the pipeline health.
   * The terminal stage must run the library's handler (or `createIngestHandler`), which recognizes canaries.
   *
   * @default true
   */
  readonly enableCanary?: boolean;

  /**
   * Options of the created canary. Only with `enableCanary` true.
   *
   * @default - the SyntheticCanary defaults, with `latencyAlarmThreshold` = `endToEndLatencySlo`
   */
  readonly canary?: SyntheticCanaryOptions;

  /**
   * Removal policy of the created alarm topic and its key. A deleted key is first scheduled for deletion (7-30 days).
   *
   * @default - `Phoenix.removalPolicyFor(scope, StatefulKind.KEY)`: RemovalPolicy.DESTROY in both Phoenix modes
   * (the key only protects notifications in flight)
   */
  readonly topicKeyRemovalPolicy?: RemovalPolicy;
}

/**
 * Data-quality metrics added to a monitor by a profiler (extension point, see {@link CorrelatedMonitor.addQualityMetrics}).
 */
export interface QualityMetricsProps {
  /** Title of the dashboard widget. */
  readonly title: string;

  /** Metrics shown on the widget (for example one status metric per quality rule). At least one, at most 100. */
  readonly metrics: cloudwatch.IMetric[];

  /**
   * Metric counting failed quality rules (or failed records); an alarm joins the pipeline health when it reaches
   * `failureThreshold`.
   *
   * @default - no alarm
   */
  readonly failureMetric?: cloudwatch.IMetric;

  /**
   * Value of `failureMetric` at or above which the quality alarm fires. Only with `failureMetric`. Allowed: more than 0.
   *
   * @default 1
   */
  readonly failureThreshold?: number;

  /**
   * Treatment of periods without `failureMetric` data.
   *
   * @default cloudwatch.TreatMissingData.NOT_BREACHING
   */
  readonly treatMissingData?: cloudwatch.TreatMissingData;
}

/** The alarms the monitor creates for every stage. */
export enum StageAlarmKind {
  /** `AWS/Lambda` `IteratorAge` above `iteratorAgeAlarmThreshold`. */
  ITERATOR_AGE = 'iteratorAge',
  /** Errors / invocations above `errorRateAlarmThresholdPercent`. */
  ERROR_RATE = 'errorRate',
  /** `AWS/Lambda` `Throttles` at or above `throttlesAlarmThreshold`. */
  THROTTLES = 'throttles',
  /** Dead letters waiting: `AWS/SQS` `ApproximateNumberOfMessagesVisible` at or above `dlqDepthAlarmThreshold`. */
  DLQ_DEPTH = 'dlqDepth',
  /** Oldest dead letter: `AWS/SQS` `ApproximateAgeOfOldestMessage` at or above `dlqOldestMessageAgeAlarmThreshold`. */
  DLQ_OLDEST_AGE = 'dlqOldestAge',
}

/** Thresholds and names of a monitor, resolved against their defaults. */
interface MonitorSettings {
  readonly slo: Duration;
  readonly period: Duration;
  readonly evaluationPeriods: number;
  readonly iteratorAgeThreshold: Duration;
  readonly errorRate: number;
  readonly throttles: number;
  readonly dlqDepth: number;
  readonly dlqAge: Duration;
  readonly retryLoopAttempts: number;
  readonly dashboardName: string;
}

/** Alarms of one stage. */
interface StageAlarms {
  readonly iteratorAge: cloudwatch.Alarm;
  readonly errorRate: cloudwatch.Alarm;
  readonly throttles: cloudwatch.Alarm;
  readonly dlqDepth: cloudwatch.Alarm;
  readonly dlqOldestAge: cloudwatch.Alarm;
}

/**
 * Correlated monitoring of a Phoenix pipeline, everything keyed by the metrics contract (namespace
 * `PhoenixPipelines`, dimensions `{ Pipeline, Stage }`) and by correlation ids:
 *
 * - a dashboard: per stage, records in / written / dead-lettered / duplicates, processing latency p50/p90/p99,
 *   end-to-end age against the SLO, Lambda iterator age, errors and throttles, retries and the attempts
 *   distribution, DLQ depth and oldest age, dead-letter reasons; canary traffic and latency; data quality
 *   (extension point);
 * - alarms with configurable thresholds, per stage (iterator age, error rate, throttles, DLQ not empty, DLQ oldest
 *   age), on the terminal stage's end-to-end p99 against the SLO, on the canary (missing, slow), and a composite
 *   pipeline-health alarm over all of them that notifies an SNS topic (created encrypted by default, optional e-mail
 *   subscriptions);
 * - saved CloudWatch Logs Insights queries across every stage's log group: one record's journey and per-hop times
 *   by correlation id, retry loops, top dead-letter reasons, slowest hops and batches;
 * - a synthetic canary (see {@link SyntheticCanary}).
 *
 * Every processor function is expected to run with X-Ray active tracing (the ingest stage does, as do the canary
 * and drift detector functions).
 *
 * @example
 * const monitor = new CorrelatedMonitor(this, 'Monitor', {
 *   pipeline: { pipelineName: 'clickstream', stages: [pipeline.ingest] },
 *   alertEmails: ['oncall@example.com'],
 *   endToEndLatencySlo: Duration.seconds(30),
 * });
 * monitor.addAlarm(new DriftDetector(this, 'Drift', { pipelineName: 'clickstream' }).driftAlarm);
 */
export class CorrelatedMonitor extends Construct {
  /** The dashboard. */
  public readonly dashboard: cloudwatch.Dashboard;
  /** The topic notified by the pipeline-health alarm. */
  public readonly alarmTopic: sns.ITopic;
  /** The composite pipeline-health alarm: in ALARM when any alarm of the monitor is. */
  public readonly healthAlarm: cloudwatch.CompositeAlarm;
  /** The synthetic canary, when enabled. */
  public readonly canary?: SyntheticCanary;
  /** Alarm on the terminal stage's end-to-end p99 against the SLO. */
  public readonly endToEndLatencyAlarm: cloudwatch.Alarm;
  /** Names of the saved Logs Insights queries (`phoenix/<stackName>-<region>/<pipeline>/<query>`). */
  public readonly queryNames: string[] = [];
  /** Pipeline name. */
  public readonly pipelineName: string;

  private readonly alarms: cloudwatch.IAlarm[] = [];
  private readonly stageAlarms = new Map<string, StageAlarms>();
  private readonly action: cloudwatch.IAlarmAction;
  private readonly notifyEveryAlarm: boolean;
  private qualitySectionAdded = false;

  constructor(scope: Construct, id: string, props: CorrelatedMonitorProps) {
    super(scope, id);
    countAgainstResourceBudget(this);
    checkPipeline(this, props.pipeline);
    const pipeline = props.pipeline;
    this.pipelineName = pipeline.pipelineName;
    const stages = pipeline.stages;
    const terminal = stages[stages.length - 1];

    const o = this.resolveSettings(props);
    const { slo, period, evaluationPeriods, iteratorAgeThreshold, dashboardName } = o;
    this.notifyEveryAlarm = props.notifyEveryAlarm ?? false;

    // ----- notifications -----
    this.alarmTopic = props.alarmTopic ?? this.createTopic(props.topicKeyRemovalPolicy ?? Phoenix.removalPolicyFor(this, StatefulKind.KEY));
    (props.alertEmails ?? []).forEach((email, i) => {
      const subscription = new sns.Subscription(this, `AlertEmail${i}`, {
        topic: this.alarmTopic,
        protocol: sns.SubscriptionProtocol.EMAIL,
        endpoint: email,
      });
      acknowledge(subscription,
        'An alert e-mail that SNS cannot deliver after its delivery retries has no later use in a queue: the pipeline-health alarm stays in ALARM and on the dashboard until resolved.',
        'Serverless-SNSRedrivePolicy');
    });
    this.action = new cw_actions.SnsAction(this.alarmTopic);

    // ----- canary -----
    if (props.enableCanary ?? true) {
      this.canary = new SyntheticCanary(this, 'Canary', {
        ...props.canary,
        latencyAlarmThreshold: props.canary?.latencyAlarmThreshold ?? slo,
        pipeline,
      });
    }

    // ----- alarms -----
    for (const stage of stages) {
      this.stageAlarms.set(stage.stageName, this.createStageAlarms(stage, o));
    }
    this.endToEndLatencyAlarm = stageMetric(terminal, METRIC.endToEndAgeMs, { statistic: cloudwatch.Stats.p(99), period })
      .createAlarm(this, 'EndToEndLatencyAlarm', {
        alarmDescription: `p99 end-to-end age of pipeline '${this.pipelineName}' at its terminal stage '${terminal.stageName}' is above the ${slo.toHumanString()} objective `
          + `for ${evaluationPeriods} x ${period.toHumanString()}. Find the slow hop with the slowest-hops and record-hops queries.`,
        threshold: slo.toMilliseconds(),
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
    this.register(this.endToEndLatencyAlarm);
    if (this.canary) {
      this.register(this.canary.missingAlarm);
      this.register(this.canary.latencyAlarm);
    }
    // The failure paths outside the stages (normalizer, archive) join the composite as they are (their own actions kept).
    (pipeline.failureAlarms ?? []).forEach((a) => this.addAlarm(a));
    checkAlarmCoverage(this);

    const alarms = this.alarms;
    this.healthAlarm = new cloudwatch.CompositeAlarm(this, 'PipelineHealth', {
      // From the stack and region, not the construct path: a copy under another stack name gets its own alarm.
      compositeAlarmName: `Phoenix-${deploymentName(this)}-${this.pipelineName}-PipelineHealth`,
      alarmDescription: `Pipeline '${this.pipelineName}' is unhealthy: at least one of its alarms is in ALARM (the notification lists them). Dashboard: ${dashboardName}.`,
      // Rendered at synthesis, so that alarms added later with addAlarm / addQualityMetrics are included.
      alarmRule: { renderAlarmRule: () => Lazy.string({ produce: () => cloudwatch.AlarmRule.anyOf(...alarms).renderAlarmRule() }) },
    });
    // Alarms can be added until synthesis: check CloudWatch's limit on the composite's children then.
    this.node.addValidation({
      validate: () => (alarms.length > MAX_COMPOSITE_CHILDREN
        ? [`${constructLabel(this)}: pipeline-health alarm can have at most ${MAX_COMPOSITE_CHILDREN} child alarms, CloudWatch's limit for a composite alarm rule (given ${alarms.length}): split the pipeline into several monitors`]
        : []),
    });
    this.healthAlarm.addAlarmAction(this.action);
    this.healthAlarm.addOkAction(this.action);

    // ----- queries -----
    const logGroups = [...(this.canary ? [this.canary.logGroup] : []), ...stages.map((s) => s.logGroup)];
    this.addQuery('RecordJourney', 'record-journey', journeyQuery(), logGroups);
    this.addQuery('RecordHops', 'record-hops', hopsQuery(), logGroups);
    this.addQuery('RetryLoops', 'retry-loops', retryLoopsQuery(o.retryLoopAttempts), stages.map((s) => s.logGroup));
    this.addQuery('DeadLetterReasons', 'dead-letter-reasons', deadLetterReasonsQuery(), stages.map((s) => s.logGroup));
    this.addQuery('SlowestHops', 'slowest-hops', slowestHopsQuery(), stages.map((s) => s.logGroup));
    this.addQuery('SlowestBatches', 'slowest-batches', slowestBatchesQuery(), stages.map((s) => s.logGroup));

    // ----- dashboard -----
    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      dashboardName,
      defaultInterval: Duration.hours(3),
    });
    this.dashboard.addWidgets(
      new cloudwatch.TextWidget({ markdown: this.overview(stages, slo), width: 12, height: 6 }),
      new cloudwatch.AlarmStatusWidget({ title: 'Alarms', alarms: [this.healthAlarm, ...alarms], width: 12, height: 6 }),
    );
    stages.forEach((stage, i) => this.addStageWidgets(stage, i, stages.length, stage === terminal ? slo : undefined, iteratorAgeThreshold));
    if (this.canary) this.addCanaryWidgets(this.canary, slo);
  }

  /**
   * Adds widgets at the end of the dashboard (in a new row).
   */
  public addWidgets(...widgets: cloudwatch.IWidget[]): void {
    this.dashboard.addWidgets(...widgets);
  }

  /**
   * Adds an alarm (for example a {@link DriftDetector}'s) to the pipeline-health composite alarm and to the alarm
   * status widget. With `notifyEveryAlarm`, add an action to the alarm yourself: `IAlarm` takes none.
   */
  public addAlarm(alarm: cloudwatch.IAlarm): void {
    this.alarms.push(alarm);
  }

  /**
   * Extension point for data-quality profiling: adds a "Data quality" section with a widget of `props.metrics`
   * and, with `props.failureMetric`, an alarm (joining the pipeline health) when it reaches `props.failureThreshold`.
   *
   * @param id construct id of the alarm, unique within the monitor
   * @returns the quality alarm, or undefined without `failureMetric`
   */
  public addQualityMetrics(id: string, props: QualityMetricsProps): cloudwatch.IAlarm | undefined {
    if (props.metrics.length === 0 || props.metrics.length > 100) {
      throw validationError(this, `addQualityMetrics metrics must list 1-100 metrics (given ${props.metrics.length})`);
    }
    if (props.failureThreshold !== undefined && !props.failureMetric) {
      throw validationError(this, `addQualityMetrics failureThreshold requires failureMetric (given failureThreshold ${props.failureThreshold} and no failureMetric)`);
    }
    const threshold = props.failureThreshold ?? 1;
    checkPositive(this, 'addQualityMetrics failureThreshold', threshold, Number.MAX_SAFE_INTEGER);
    if (!this.qualitySectionAdded) {
      this.dashboard.addWidgets(new cloudwatch.TextWidget({ markdown: '## Data quality', width: 24, height: 1 }));
      this.qualitySectionAdded = true;
    }
    this.dashboard.addWidgets(new cloudwatch.GraphWidget({ title: props.title, left: props.metrics, width: 24, height: 6 }));
    if (!props.failureMetric) return undefined;
    const alarm = new cloudwatch.Alarm(this, id, {
      metric: props.failureMetric,
      alarmDescription: `Data quality of pipeline '${this.pipelineName}': ${props.title} reached ${threshold}.`,
      threshold,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: props.treatMissingData ?? cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    this.register(alarm);
    return alarm;
  }

  /**
   * One of the alarms the monitor created for a stage.
   *
   * @param stageName name of a monitored stage
   * @param kind which alarm
   */
  public stageAlarm(stageName: string, kind: StageAlarmKind): cloudwatch.IAlarm {
    const alarms = this.stageAlarms.get(stageName);
    if (!alarms) {
      throw validationError(this, `has no stage '${stageName}' (stages: ${[...this.stageAlarms.keys()].join(', ')})`);
    }
    const alarm = (alarms as unknown as Record<string, cloudwatch.IAlarm | undefined>)[kind];
    if (!alarm) {
      throw validationError(this, `stage alarm kind must be one of ${Object.values(StageAlarmKind).join(', ')} (given '${kind}')`);
    }
    return alarm;
  }

  /** Resolves the thresholds against their defaults and checks every prop (tokens are skipped). */
  private resolveSettings(props: CorrelatedMonitorProps): MonitorSettings {
    const o: MonitorSettings = {
      slo: props.endToEndLatencySlo ?? Duration.minutes(5),
      period: props.alarmPeriod ?? Duration.minutes(5),
      evaluationPeriods: props.evaluationPeriods ?? 3,
      iteratorAgeThreshold: props.iteratorAgeAlarmThreshold ?? Duration.minutes(5),
      errorRate: props.errorRateAlarmThresholdPercent ?? 1,
      throttles: props.throttlesAlarmThreshold ?? 1,
      dlqDepth: props.dlqDepthAlarmThreshold ?? 1,
      dlqAge: props.dlqOldestMessageAgeAlarmThreshold ?? Duration.days(1),
      retryLoopAttempts: props.retryLoopAttempts ?? 3,
      dashboardName: props.dashboardName ?? `Phoenix-${deploymentName(this)}-${this.pipelineName}`,
    };
    checkMillis(this, 'endToEndLatencySlo', o.slo, 1_000, 86_400_000);
    checkWholeMinutes(this, 'alarmPeriod', o.period, 1, 60);
    checkRange(this, 'evaluationPeriods', o.evaluationPeriods, 1, 100);
    const window = o.period.isUnresolved() || Token.isUnresolved(o.evaluationPeriods) ? 0 : o.period.toSeconds() * o.evaluationPeriods;
    if (window > MAX_ALARM_WINDOW_SECONDS) {
      throw validationError(this, `alarmPeriod x evaluationPeriods must be at most 1 day, CloudWatch's longest alarm evaluation (given ${o.period.toHumanString()} x ${o.evaluationPeriods})`);
    }
    checkMillis(this, 'iteratorAgeAlarmThreshold', o.iteratorAgeThreshold, 1_000, 7 * 86_400_000);
    checkPositive(this, 'errorRateAlarmThresholdPercent', o.errorRate, 100, '%');
    checkRange(this, 'throttlesAlarmThreshold', o.throttles, 1, 1_000_000);
    checkRange(this, 'dlqDepthAlarmThreshold', o.dlqDepth, 1, 1_000_000_000);
    checkSeconds(this, 'dlqOldestMessageAgeAlarmThreshold', o.dlqAge, 60, 1_209_600);
    checkRange(this, 'retryLoopAttempts', o.retryLoopAttempts, 1, 1_000);
    checkName(this, 'dashboardName', o.dashboardName, 255);
    checkEmails(this, 'alertEmails', props.alertEmails ?? [], MAX_ALERT_EMAILS);
    if (props.canary && props.enableCanary === false) {
      throw validationError(this, 'canary options require enableCanary (given canary options and enableCanary false)');
    }
    if (props.topicKeyRemovalPolicy !== undefined && props.alarmTopic) {
      throw validationError(this, 'topicKeyRemovalPolicy applies to the created topic\'s key and cannot be combined with alarmTopic (given both)');
    }
    return o;
  }

  private register(alarm: cloudwatch.Alarm): void {
    this.alarms.push(alarm);
    if (this.notifyEveryAlarm) {
      alarm.addAlarmAction(this.action);
    } else {
      acknowledge(alarm,
        'Notifications go through the pipeline-health composite alarm, which lists its triggering alarms: one notification per incident instead of one per alarm (set notifyEveryAlarm to notify from every alarm).',
        'NIST.800.53.R5-CloudWatchAlarmAction', 'HIPAA.Security-CloudWatchAlarmAction');
    }
  }

  private createTopic(keyRemovalPolicy: RemovalPolicy): sns.ITopic {
    return AlarmTopic.create(this, {
      keyDescription: `Encrypts the alarm topic of pipeline ${this.pipelineName}`,
      displayName: `Phoenix pipeline ${this.pipelineName} alarms`,
      removalPolicy: keyRemovalPolicy,
    });
  }

  private addQuery(id: string, name: string, queryString: string, logGroups: logs.ILogGroup[]): void {
    const queryName = `phoenix/${deploymentName(this)}/${this.pipelineName}/${name}`;
    new logs.CfnQueryDefinition(this, id, {
      name: queryName,
      queryString,
      logGroupNames: logGroups.map((g) => g.logGroupName),
    });
    this.queryNames.push(queryName);
  }

  private createStageAlarms(stage: IMonitorableStage, o: MonitorSettings): StageAlarms {
    const scope = new Construct(this, `Stage-${stage.stageName}`);
    const where = `stage '${stage.stageName}' of pipeline '${this.pipelineName}'`;
    const sustained = `for ${o.evaluationPeriods} x ${o.period.toHumanString()}`;
    const fn = stage.processor;
    const iteratorAge = fn.metric('IteratorAge', { statistic: cloudwatch.Stats.MAXIMUM, period: o.period }).createAlarm(scope, 'IteratorAgeAlarm', {
      alarmDescription: `The processor of ${where} is falling behind its stream: iterator age above ${o.iteratorAgeThreshold.toHumanString()} ${sustained}. `
        + 'Check errors, throttles and the slowest-batches query; records older than the mapping\'s maxRecordAge go to the dead letters.',
      threshold: o.iteratorAgeThreshold.toMilliseconds(),
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: o.evaluationPeriods,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    const errorRate = new cloudwatch.MathExpression({
      expression: 'IF(invocations > 0, 100 * errors / invocations, 0)',
      usingMetrics: {
        errors: fn.metricErrors({ statistic: cloudwatch.Stats.SUM, period: o.period }),
        invocations: fn.metricInvocations({ statistic: cloudwatch.Stats.SUM, period: o.period }),
      },
      label: 'Error rate (%)',
      period: o.period,
    }).createAlarm(scope, 'ErrorRateAlarm', {
      alarmDescription: `More than ${o.errorRate}% of the invocations of the processor of ${where} failed ${sustained} (crash, timeout or configuration error: bad records are batch item failures, not errors). `
        + 'Look for ERROR lines in the stage log group.',
      threshold: o.errorRate,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: o.evaluationPeriods,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    const throttles = fn.metricThrottles({ statistic: cloudwatch.Stats.SUM, period: o.period }).createAlarm(scope, 'ThrottlesAlarm', {
      alarmDescription: `The processor of ${where} was throttled (${o.throttles} or more per ${o.period.toHumanString()}) ${sustained}: account or reserved concurrency is exhausted.`,
      threshold: o.throttles,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: o.evaluationPeriods,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    const queue = stage.deadLetters.queue;
    const dlqDepth = queue.metricApproximateNumberOfMessagesVisible({ statistic: cloudwatch.Stats.MAXIMUM, period: Duration.minutes(1) })
      .createAlarm(scope, 'DlqDepthAlarm', {
        alarmDescription: `Dead letters of ${where} are waiting (${o.dlqDepth} or more). Group them with the dead-letter-reasons query, fix the cause, then replay them.`,
        threshold: o.dlqDepth,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
    const dlqOldestAge = queue.metricApproximateAgeOfOldestMessage({ statistic: cloudwatch.Stats.MAXIMUM, period: Duration.minutes(1) })
      .createAlarm(scope, 'DlqOldestMessageAlarm', {
        alarmDescription: `The oldest dead letter of ${where} is older than ${o.dlqAge.toHumanString()}: replay or discard the dead letters before they expire.`,
        threshold: o.dlqAge.toSeconds(),
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
    const alarms = { iteratorAge, errorRate, throttles, dlqDepth, dlqOldestAge };
    Object.values(alarms).forEach((a) => this.register(a));
    return alarms;
  }

  private overview(stages: IMonitorableStage[], slo: Duration): string {
    const flow = stages.map((s) => `\`${s.stageName}\``).join(' → ');
    const queries = this.queryNames.map((q) => `\`${q}\``).join(', ');
    return [
      `# Pipeline \`${this.pipelineName}\``,
      `Stages: ${flow}. End-to-end objective: p99 below ${slo.toHumanString()} at \`${stages[stages.length - 1].stageName}\`.`,
      '',
      `Saved Logs Insights queries: ${queries}.`,
      `To follow one record, open \`${this.queryNames[0]}\` and replace \`${CORRELATION_ID_PLACEHOLDER}\` with its correlation id `
        + '(from a dead letter, a producer, or a canary: `canary-<pipeline>-<epoch ms>`). Per-record lines of applied records are logged at DEBUG '
        + '(set POWERTOOLS_LOG_LEVEL=DEBUG on a stage to trace every record); dead letters and failures are always logged, and the canary function logs every canary it sends.',
    ].join('\n');
  }

  private addStageWidgets(stage: IMonitorableStage, index: number, count: number, slo: Duration | undefined, iteratorAgeThreshold: Duration): void {
    const m = (name: string, statistic: string, label: string) => stageMetric(stage, name, { statistic, label, period: Duration.minutes(1) });
    const sum = cloudwatch.Stats.SUM;
    const fn = stage.processor;
    const queue = stage.deadLetters.queue;
    const lambdaMetric = (name: string, statistic: string, label: string) => fn.metric(name, { statistic, label, period: Duration.minutes(1) });
    this.dashboard.addWidgets(new cloudwatch.TextWidget({
      markdown: `## Stage \`${stage.stageName}\` (${index + 1} of ${count})${slo ? ' - terminal stage' : ''}`,
      width: 24,
      height: 1,
    }));
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Records',
        left: [
          m(METRIC.recordsIn, sum, 'In'),
          m(METRIC.recordsWritten, sum, 'Written'),
          m(METRIC.recordsDeadLettered, sum, 'Dead-lettered'),
          m(METRIC.duplicatesSuppressed, sum, 'Duplicates suppressed'),
          m(METRIC.staleSuppressed, sum, 'Stale suppressed'),
        ],
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: 'Processing latency (ms, per record)',
        left: [
          m(METRIC.processingLatencyMs, cloudwatch.Stats.p(50), 'p50'),
          m(METRIC.processingLatencyMs, cloudwatch.Stats.p(90), 'p90'),
          m(METRIC.processingLatencyMs, cloudwatch.Stats.p(99), 'p99'),
        ],
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: 'End-to-end age (ms, now - event time)',
        left: [
          m(METRIC.endToEndAgeMs, cloudwatch.Stats.p(50), 'p50'),
          m(METRIC.endToEndAgeMs, cloudwatch.Stats.p(99), 'p99'),
          m(METRIC.endToEndAgeMs, cloudwatch.Stats.MAXIMUM, 'max'),
        ],
        leftAnnotations: slo ? [{ value: slo.toMilliseconds(), label: `SLO p99 ${slo.toHumanString()}`, color: cloudwatch.Color.RED }] : undefined,
        width: 8,
      }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Processor invocations',
        left: [
          lambdaMetric('Invocations', sum, 'Invocations'),
          lambdaMetric('Errors', sum, 'Errors'),
          lambdaMetric('Throttles', sum, 'Throttles'),
        ],
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: 'Iterator age (ms)',
        left: [lambdaMetric('IteratorAge', cloudwatch.Stats.MAXIMUM, 'max')],
        leftAnnotations: [{ value: iteratorAgeThreshold.toMilliseconds(), label: 'alarm', color: cloudwatch.Color.RED }],
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: 'Retries',
        left: [
          m(METRIC.recordsRetried, sum, 'Retry attempts'),
          m(METRIC.batchItemFailures, sum, 'Batches stopped (redelivered)'),
        ],
        right: [new cloudwatch.MathExpression({
          expression: 'IF(recordsIn > 0, 1 + retried / recordsIn, 0)',
          usingMetrics: { retried: m(METRIC.recordsRetried, sum, 'retried'), recordsIn: m(METRIC.recordsIn, sum, 'in') },
          label: 'Mean attempts per record',
          period: Duration.minutes(1),
        })],
        width: 8,
      }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.LogQueryWidget({
        title: 'Attempts per record delivery (retried, dead-lettered and DEBUG-logged records)',
        logGroupNames: [stage.logGroup.logGroupName],
        queryString: attemptsDistributionQuery(),
        view: cloudwatch.LogQueryVisualizationType.BAR,
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: 'Dead letters',
        left: [queue.metricApproximateNumberOfMessagesVisible({ statistic: cloudwatch.Stats.MAXIMUM, label: 'Waiting', period: Duration.minutes(1) })],
        right: [queue.metricApproximateAgeOfOldestMessage({ statistic: cloudwatch.Stats.MAXIMUM, label: 'Oldest (s)', period: Duration.minutes(1) })],
        width: 8,
      }),
      new cloudwatch.LogQueryWidget({
        title: 'Dead-letter reasons',
        logGroupNames: [stage.logGroup.logGroupName],
        queryString: deadLetterReasonsQuery(),
        view: cloudwatch.LogQueryVisualizationType.TABLE,
        width: 8,
      }),
    );
  }

  private addCanaryWidgets(canary: SyntheticCanary, slo: Duration): void {
    this.dashboard.addWidgets(new cloudwatch.TextWidget({
      markdown: `## Synthetic canary (every ${canary.interval.toHumanString()})`,
      width: 24,
      height: 1,
    }));
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Canaries',
        left: [
          canary.metricCanariesSent({ label: 'Sent', period: Duration.minutes(5) }),
          canary.metricCanariesReceived({ label: 'Received', period: Duration.minutes(5) }),
        ],
        width: 12,
      }),
      new cloudwatch.GraphWidget({
        title: 'Canary latency (ms, sent to terminal stage)',
        left: [
          canary.metricCanaryLatency({ statistic: cloudwatch.Stats.p(50), label: 'p50', period: Duration.minutes(5) }),
          canary.metricCanaryLatency({ statistic: cloudwatch.Stats.MAXIMUM, label: 'max', period: Duration.minutes(5) }),
        ],
        leftAnnotations: [{ value: slo.toMilliseconds(), label: `SLO ${slo.toHumanString()}`, color: cloudwatch.Color.RED }],
        width: 12,
      }),
    );
  }
}

/**
 * `<stackName>-<region>` of the scope's stack, the part of the monitor's names that differs between copies: a stack
 * name is unique per account and region (at most 128 characters, so the dashboard name stays under 255).
 */
function deploymentName(scope: Construct): string {
  const stack = Stack.of(scope);
  return `${stack.stackName}-${stack.region}`;
}
