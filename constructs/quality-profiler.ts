import { gzipSync } from 'zlib';
import { Duration, Names, type RemovalPolicy, Token } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cw_actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kinesis from 'aws-cdk-lib/aws-kinesis';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { deploymentDimension, ENV, METRICS_NAMESPACE, METRIC_DIMENSIONS, PROFILER_ENV, PROFILES_PREFIX, QUALITY_DIMENSIONS, QUALITY_METRIC } from './contract';
import type { PipelineFunctionOptions } from './function-options';
import { AlarmTopic } from './monitoring/alarm-topic';
import type { CorrelatedMonitor } from './monitoring/correlated-monitor';
import { Phoenix, StatefulKind } from './phoenix';
import { handlerAssetCode, handlerAssetDir } from './private/asset';
import { expiringAfter, loggedBucket, useBucketPolicyForAccessLogs } from './private/buckets';
import { validationError } from './private/errors';
import { checkEnvironmentSize, pipelineFunction, resolveFunctionOptions } from './private/function';
import { acknowledge, wildcardResourceFinding } from './private/nag';
import { countAgainstResourceBudget } from './private/resource-budget';
import { checkEmails, checkName, checkRange, checkSeconds } from './private/validate';
import { QUALITY_DEFAULTS, QualityRule, QualityRuleKind, validateQualityRules } from './quality-rules';

const MAX_ALERT_EMAILS = 20;
/** CloudWatch allows 100 metrics per graph widget. */
const MAX_WIDGET_METRICS = 100;

const RULES_COMPRESS_ABOVE_BYTES = 1024;

/** What the profile history bucket is, for its access logs and acknowledgements. */
const HISTORY_BUCKET = {
  of: 'the profile history bucket',
  serverAccessLogsPrefix: 'profile-history/',
  residency: 'Profiles are derived data (recomputed by replaying the records) kept in the pipeline\'s region with lifecycle expiry',
};

/**
 * Options of a {@link QualityProfiler}: everything but the stream and the pipeline name (what a pipeline passes through).
 * Function settings: {@link PipelineFunctionOptions} (memory 512 MiB, timeout 1 minute by default; rule warnings and
 * failures are logged to the function's log group; `logLevel` is not supported).
 */
export interface QualityProfilerOptions extends PipelineFunctionOptions {
  /**
   * Data-quality rules evaluated on every window (see {@link QualityRule}); checked at synth with
   * `QualityRules.validate`. At least one.
   */
  readonly rules: QualityRule[];

  /**
   * Length of a profiling window (the event source mapping's tumbling window), in seconds. Allowed: 1-900.
   *
   * @default 300
   */
  readonly windowSeconds?: number;

  /**
   * Merged profiles of earlier windows the rules are evaluated against (relative volume and statistics, drift
   * baselines, anomaly history). Allowed: 1-100, and at least the `lastWindows` of every rule (drift rules default
   * to 5, anomaly rules to 10).
   *
   * @default 10
   */
  readonly historyWindows?: number;

  /**
   * JSON Schema of the records (as given to the ingest stage). When set, rules may only name columns declared in
   * its (nested) `properties`.
   *
   * @default - columns are not checked at synth
   */
  readonly schema?: { [key: string]: any };

  /**
   * Dot path of the event time in the records (epoch milliseconds or ISO-8601), for freshness rules. Envelopes v1
   * are profiled by their payload, so the path is relative to the payload.
   *
   * @default - no event time: freshness rules are not allowed
   */
  readonly eventTimeField?: string;

  /**
   * Topic notified by the warn and fail alarms. CloudWatch must be able to publish to it (with an encrypted topic,
   * the key policy must let `cloudwatch.amazonaws.com` use the key).
   *
   * @default - a topic encrypted with a created customer managed key (rotation on) that CloudWatch may use, TLS enforced
   */
  readonly alarmTopic?: sns.ITopic;

  /**
   * E-mail addresses subscribed to the alarm topic (each must confirm the subscription). At most 20.
   *
   * @default []
   */
  readonly alertEmails?: string[];

  /**
   * Removal policy of the history bucket (and, when created, its access-log bucket). With `RemovalPolicy.DESTROY`
   * the buckets are emptied on deletion.
   *
   * @default - `Phoenix.removalPolicyFor(this, StatefulKind.PROFILE_HISTORY)`: DESTROY in every Phoenix mode
   * (profiles are derived data, recomputed by replaying the records)
   */
  readonly removalPolicy?: RemovalPolicy;

  /**
   * How long profiles and rule results stay in the history bucket (lifecycle expiry). Whole days, at least one,
   * and at least `historyWindows` windows.
   *
   * @default Duration.days(90)
   */
  readonly historyRetention?: Duration;

  /**
   * Customer managed KMS key encrypting the history bucket.
   *
   * @default - the AWS managed key `alias/aws/s3` (SSE-KMS)
   */
  readonly encryptionKey?: kms.IKey;

  /**
   * Bucket receiving the history bucket's server access logs.
   *
   * @default - a bucket is created (SSE-S3, the only encryption S3 log delivery supports)
   */
  readonly serverAccessLogsBucket?: s3.IBucket;

  /**
   * Records per invocation. Allowed: 1-10,000 (within Lambda's 6 MB invocation payload).
   *
   * @default 1000 - profiling is cheap per record; fewer, larger invocations carry the state less often
   */
  readonly batchSize?: number;

  /**
   * Where the profiler starts reading the stream.
   *
   * @default lambda.StartingPosition.LATEST - a new profiler does not profile the stream's whole retention
   */
  readonly startingPosition?: lambda.StartingPosition;

  /**
   * Retries of a failed batch (a final invocation that could not write to S3, for example) before it is skipped.
   * Allowed: 0-10,000; unbounded retries are not allowed (a stuck profiler would fall behind forever).
   *
   * @default 10
   */
  readonly retryAttempts?: number;

  /**
   * Records older than this are skipped. Allowed: 60 seconds to 604,800 seconds (7 days).
   *
   * @default Duration.hours(24)
   */
  readonly maxRecordAge?: Duration;

  /**
   * Read the stream through an enhanced fan-out consumer of its own (`AWS::Kinesis::StreamConsumer`): 2 MiB/s per
   * shard, pushed, instead of a share of the 5 GetRecords/s and 2 MiB/s per shard of the stream's standard consumers
   * (the raw archive's Firehose is one). At a shard's full write rate of 1 MiB/s, the profiler and Firehose as
   * standard consumers need the whole shared 2 MiB/s: measured on the local environment, the profiler fell behind
   * there and kept up on its own consumer (docs/scaling.md, "Reading a shard at its full write rate"). The cost:
   * enhanced fan-out is billed per consumer-shard hour and per GB delivered (Kinesis pricing). Set `false` to read as
   * a standard consumer (no enhanced fan-out charges; enough while writes stay well below a shard's 1 MiB/s).
   *
   * @default true
   */
  readonly enhancedFanOut?: boolean;
}

/**
 * Properties of a {@link QualityProfiler}.
 */
export interface QualityProfilerProps extends QualityProfilerOptions {
  /** The stream to profile (for example `IngestStage.stream`); the profiler is one more consumer of it. */
  readonly stream: kinesis.IStream;

  /** Pipeline name: the `Pipeline` dimension of the quality metrics. 1-64 characters of `[A-Za-z0-9_-]`. */
  readonly pipelineName: string;
}

/**
 * Streaming data-quality profiling of a Kinesis stream, as its own consumer.
 *
 * A function with a tumbling-window event source mapping builds a mergeable profile of each shard's records per
 * window in the window state (counts, nulls, types, moments, KLL quantiles, HyperLogLog distinct counts, frequent
 * items, declared pattern / allowed-value conditions, latest event time). On the final invocation of a window it
 * writes the shard's profile to the history bucket (`profiles/<window-start>/shards/<shardId>-<first sequence>.json`),
 * then merges the shard profiles of the previous window, evaluates the rules against the merged profiles of the
 * last `historyWindows` windows (`profiles/<window-start>/merged.json`, `results.json`) and publishes EMF metrics:
 * `QualityRuleStatus` (0 pass, 1 warn, 2 fail) and `QualityRuleObserved` per rule (`{ Pipeline, Rule }`),
 * `QualityColumnCompleteness` per rule column (`{ Pipeline, Column }`), `QualityRowsPerWindow`,
 * `QualityUnparseablePerWindow`, `QualityFailures`, `QualityWarnings`, `QualityRulesSkipped` (`{ Pipeline }`).
 * A warn alarm and a fail alarm notify the alarm topic.
 *
 * A window is evaluated one window late (when a later window closes), so that every shard's part is in; a part
 * arriving later re-merges the window and publishes it again. See docs/quality.md.
 *
 * @example
 * const profiler = new QualityProfiler(this, 'Quality', {
 *   stream: pipeline.ingest.stream,
 *   pipelineName: 'clickstream',
 *   rules: [
 *     { name: 'volume', kind: QualityRuleKind.VOLUME, lastWindows: 5, warn: { min: 0.7 }, fail: { min: 0.3 } },
 *     { name: 'userId', kind: QualityRuleKind.COMPLETENESS, column: 'userId', fail: { min: 0.99 } },
 *   ],
 *   alertEmails: ['data-team@example.com'],
 * });
 */
export class QualityProfiler extends Construct {
  /** The profiler function. */
  public readonly profilerFunction: lambda.IFunction;
  /** The profiler function's log group. */
  public readonly logGroup: logs.ILogGroup;
  /** The bucket holding shard profiles, merged profiles and rule results under `profiles/`. */
  public readonly historyBucket: s3.IBucket;
  /** The bucket receiving the history bucket's server access logs. */
  public readonly serverAccessLogsBucket: s3.IBucket;
  /** The tumbling-window event source mapping from the stream to the profiler. */
  public readonly eventSourceMapping: lambda.IEventSourceMapping;
  /** The enhanced fan-out consumer the profiler reads through (`enhancedFanOut`, named after the profiler's path), if any. */
  public readonly streamConsumer?: kinesis.IStreamConsumer;
  /** The topic the alarms notify. */
  public readonly alarmTopic: sns.ITopic;
  /** Fires when at least one rule warned in a window (`QualityWarnings` >= 1). */
  public readonly warnAlarm: cloudwatch.Alarm;
  /** Fires when at least one rule failed in a window (`QualityFailures` >= 1). */
  public readonly failAlarm: cloudwatch.Alarm;
  /** Pipeline name (`Pipeline` dimension). */
  public readonly pipelineName: string;
  /** Deployment id (`Deployment` dimension): `Phoenix.deploymentIdOf(this)`. */
  public readonly deploymentId: string;
  /** Window length in seconds. */
  public readonly windowSeconds: number;
  /** Earlier windows the rules see. */
  public readonly historyWindows: number;
  /** The rules. */
  public readonly rules: QualityRule[];
  /** Period of the metrics and alarms: the window rounded up to whole minutes (CloudWatch's standard resolution). */
  public readonly metricPeriod: Duration;

  constructor(scope: Construct, id: string, props: QualityProfilerProps) {
    super(scope, id);
    countAgainstResourceBudget(this);
    useBucketPolicyForAccessLogs(this);
    checkName(this, 'pipelineName', props.pipelineName);
    this.pipelineName = props.pipelineName;
    this.deploymentId = Phoenix.deploymentIdOf(this);
    this.windowSeconds = props.windowSeconds ?? 300;
    this.historyWindows = props.historyWindows ?? 10;
    this.rules = [...(props.rules ?? [])];
    const batchSize = props.batchSize ?? 1000;
    const retryAttempts = props.retryAttempts ?? 10;
    const maxRecordAge = props.maxRecordAge ?? Duration.hours(24);
    const historyRetention = props.historyRetention ?? Duration.days(90);
    const alertEmails = props.alertEmails ?? [];
    const removalPolicy = props.removalPolicy ?? Phoenix.removalPolicyFor(this, StatefulKind.PROFILE_HISTORY);
    checkRange(this, 'windowSeconds', this.windowSeconds, 1, 900);
    checkRange(this, 'historyWindows', this.historyWindows, 1, 100);
    checkRange(this, 'batchSize', batchSize, 1, 10_000);
    checkRange(this, 'retryAttempts', retryAttempts, 0, 10_000);
    checkSeconds(this, 'maxRecordAge', maxRecordAge, 60, 604_800);
    const fnOptions = resolveFunctionOptions(this, props, { memorySize: 512, timeout: Duration.minutes(1) });
    if (props.logLevel !== undefined) {
      throw validationError(this, `logLevel is not supported: the profiler logs only rule warnings and failures (given '${props.logLevel}')`);
    }
    this.checkRetention(historyRetention);
    checkEmails(this, 'alertEmails', alertEmails, MAX_ALERT_EMAILS);
    if (props.eventTimeField !== undefined && !/^[^.\s]+(\.[^.\s]+)*$/.test(props.eventTimeField)) {
      throw validationError(this, `eventTimeField must be a dot path such as 'eventTime' or 'meta.ts' (given '${props.eventTimeField}')`);
    }
    this.checkRules(props);
    this.metricPeriod = Duration.seconds(Math.max(60, Math.ceil(this.windowSeconds / 60) * 60));

    const history = loggedBucket(this, 'History', props, { ...HISTORY_BUCKET, lifecycleRules: expiringAfter(historyRetention), removalPolicy });
    this.historyBucket = history.bucket;
    this.serverAccessLogsBucket = history.serverAccessLogsBucket;

    const { fn, role, logGroup } = this.createFunction(props, fnOptions, history.bucket);
    this.profilerFunction = fn;
    this.logGroup = logGroup;
    this.streamConsumer = props.enhancedFanOut ?? true
      ? new kinesis.StreamConsumer(this, 'StreamConsumer', { stream: props.stream, streamConsumerName: Names.uniqueResourceName(this, { maxLength: 128, separator: '-' }) })
      : undefined;
    this.eventSourceMapping = this.createMapping(props, fn, { batchSize, retryAttempts, maxRecordAge });
    this.alarmTopic = props.alarmTopic ?? this.createTopic();
    this.subscribe(alertEmails);
    const action = new cw_actions.SnsAction(this.alarmTopic);
    this.failAlarm = this.createAlarm('FailAlarm', this.metricFailures(), 'failed', 'fail');
    this.warnAlarm = this.createAlarm('WarnAlarm', this.metricWarnings(), 'is outside its warn bounds', 'warn');
    this.failAlarm.addAlarmAction(action);
    this.warnAlarm.addAlarmAction(action);
    acknowledge(role,
      `The profiler writes and reads objects keyed by window start and shard under ${PROFILES_PREFIX} of its history bucket: the keys are generated, so the grant is scoped to that prefix.`,
      wildcardResourceFinding(this, history.bucket.arnForObjects(`${PROFILES_PREFIX}*`)));
  }

  /**
   * A quality metric of this pipeline (namespace `PhoenixPipelines`).
   *
   * @param metricName e.g. `QualityRowsPerWindow`
   * @param dimensions dimensions besides `Pipeline` (e.g. `{ Rule: 'volume' }`)
   * @default - statistic Maximum, period {@link metricPeriod}
   */
  public metric(metricName: string, dimensions: { [name: string]: string } = {}, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return new cloudwatch.Metric({
      namespace: METRICS_NAMESPACE,
      metricName,
      dimensionsMap: { ...deploymentDimension(this.deploymentId), [METRIC_DIMENSIONS.pipeline]: this.pipelineName, ...dimensions },
      statistic: cloudwatch.Stats.MAXIMUM,
      period: this.metricPeriod,
      ...props,
    });
  }

  /**
   * Status of one rule per window: 0 pass, 1 warn, 2 fail (`QualityRuleStatus`, dimensions `{ Pipeline, Rule }`).
   * Skipped rules publish nothing.
   *
   * @param ruleName name of one of the rules
   * @default - statistic Maximum, period {@link metricPeriod}
   */
  public metricRuleStatus(ruleName: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric(QUALITY_METRIC.ruleStatus, { [QUALITY_DIMENSIONS.rule]: this.ruleName(ruleName) }, props);
  }

  /**
   * The value a rule compared with its bounds (`QualityRuleObserved`, dimensions `{ Pipeline, Rule }`).
   *
   * @param ruleName name of one of the rules
   * @default - statistic Maximum, period {@link metricPeriod}
   */
  public metricRuleObserved(ruleName: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric(QUALITY_METRIC.ruleObserved, { [QUALITY_DIMENSIONS.rule]: this.ruleName(ruleName) }, props);
  }

  /**
   * Completeness (non-null values / rows) of a column named by a rule (`QualityColumnCompleteness`,
   * dimensions `{ Pipeline, Column }`).
   *
   * @param column a column named by one of the rules
   * @default - statistic Minimum, period {@link metricPeriod}
   */
  public metricColumnCompleteness(column: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    if (!Token.isUnresolved(column) && !this.rules.some((r) => r.column === column)) {
      throw validationError(this, `metricColumnCompleteness column must be named by a rule (given '${column}'; rule columns: ${[...new Set(this.rules.map((r) => r.column).filter(Boolean))].join(', ') || 'none'})`);
    }
    return this.metric(QUALITY_METRIC.columnCompleteness, { [QUALITY_DIMENSIONS.column]: column }, { statistic: cloudwatch.Stats.MINIMUM, ...props });
  }

  /**
   * Rows of a window, all shards merged (`QualityRowsPerWindow`).
   *
   * @default - statistic Maximum, period {@link metricPeriod}
   */
  public metricRowsPerWindow(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric(QUALITY_METRIC.rowsPerWindow, {}, props);
  }

  /**
   * Records of a window that were not JSON objects (`QualityUnparseablePerWindow`).
   *
   * @default - statistic Maximum, period {@link metricPeriod}
   */
  public metricUnparseablePerWindow(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric(QUALITY_METRIC.unparseablePerWindow, {}, props);
  }

  /**
   * Rules that failed in a window (`QualityFailures`).
   *
   * @default - statistic Maximum, period {@link metricPeriod}
   */
  public metricFailures(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric(QUALITY_METRIC.failures, {}, props);
  }

  /**
   * Rules that warned in a window (`QualityWarnings`).
   *
   * @default - statistic Maximum, period {@link metricPeriod}
   */
  public metricWarnings(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric(QUALITY_METRIC.warnings, {}, props);
  }

  /**
   * Rules that could not be evaluated in a window: too little history, too few rows (`QualityRulesSkipped`).
   *
   * @default - statistic Maximum, period {@link metricPeriod}
   */
  public metricRulesSkipped(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric(QUALITY_METRIC.skipped, {}, props);
  }

  /**
   * Age of the last record the profiler read, in milliseconds (`AWS/Lambda` `IteratorAge` of the profiler function).
   *
   * @default - statistic Maximum, period 5 minutes
   */
  public metricIteratorAge(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.profilerFunction.metric('IteratorAge', { statistic: cloudwatch.Stats.MAXIMUM, period: Duration.minutes(5), ...props });
  }

  /**
   * Adds the quality metrics to a monitor's "Data quality" section (one status line per rule, at most 100) with an
   * alarm on `QualityFailures` that joins the pipeline health.
   *
   * @returns the monitor's quality alarm
   */
  public addToMonitor(monitor: CorrelatedMonitor): cloudwatch.IAlarm {
    return monitor.addQualityMetrics(`Quality${this.node.id}`, {
      title: `Data quality rules (0 pass, 1 warn, 2 fail) - ${this.pipelineName}`,
      metrics: this.rules.slice(0, MAX_WIDGET_METRICS).map((r) => this.metricRuleStatus(r.name)),
      failureMetric: this.metricFailures(),
    })!;
  }

  /**
   * Grants reading the profile history (for `phoenix profile show s3://...`): `s3:GetObject*`, `s3:GetBucket*`,
   * `s3:List*` on the history bucket, and `kms:Decrypt` on a customer key.
   */
  public grantReadHistory(grantee: iam.IGrantable): iam.Grant {
    return this.historyBucket.grantRead(grantee, `${PROFILES_PREFIX}*`);
  }

  private ruleName(name: string): string {
    if (!Token.isUnresolved(name) && !this.rules.some((r) => r.name === name)) {
      throw validationError(this, `has no rule '${name}' (rules: ${this.rules.map((r) => r.name).join(', ')})`);
    }
    return name;
  }

  private checkRules(props: QualityProfilerProps): void {
    if (this.rules.length === 0) {
      throw validationError(this, 'rules must list at least one rule (given none; e.g. { name: \'volume\', kind: QualityRuleKind.VOLUME })');
    }
    const known = props.schema !== undefined ? schemaColumns(props.schema) : undefined;
    const errors = validateQualityRules(this.rules, known, this.windowSeconds);
    for (const rule of this.rules) {
      const needed = historyNeeded(rule);
      if (needed > this.historyWindows) {
        errors.push(`rule ${JSON.stringify(rule.name)}: needs ${needed} earlier windows, more than historyWindows ${this.historyWindows} (lower lastWindows or raise historyWindows)`);
      }
      if (rule.kind === QualityRuleKind.FRESHNESS && props.eventTimeField === undefined) {
        errors.push(`rule ${JSON.stringify(rule.name)}: freshness rules need the profiler's eventTimeField (given none)`);
      }
    }
    if (errors.length > 0) {
      throw validationError(this, `rules are invalid:\n  - ${errors.join('\n  - ')}`);
    }
  }

  private createTopic(): sns.ITopic {
    return AlarmTopic.create(this, {
      keyDescription: `Encrypts the quality alarm topic of pipeline ${this.pipelineName}`,
      displayName: `Phoenix pipeline ${this.pipelineName} data quality`,
      removalPolicy: Phoenix.removalPolicyFor(this, StatefulKind.KEY),
    });
  }

  private createFunction(props: QualityProfilerProps, fnOptions: ReturnType<typeof resolveFunctionOptions>, bucket: s3.IBucket) {
    const environment: Record<string, string> = {
      [ENV.pipeline]: this.pipelineName,
      [ENV.deployment]: this.deploymentId,
      [PROFILER_ENV.bucket]: bucket.bucketName,
      [PROFILER_ENV.rules]: encodeRules(this.rules),
      [PROFILER_ENV.windowSeconds]: String(this.windowSeconds),
      [PROFILER_ENV.historyWindows]: String(this.historyWindows),
      [PROFILER_ENV.eventTimeField]: props.eventTimeField ?? '',
      POWERTOOLS_SERVICE_NAME: this.pipelineName,
    };
    checkEnvironmentSize(this, environment,
      `${PROFILER_ENV.rules} alone is ${Buffer.byteLength(environment[PROFILER_ENV.rules])} bytes after compression: use fewer rules or shorter allowed-value lists`);
    const created = pipelineFunction(this, 'Profiler', {
      owner: this,
      code: handlerAssetCode(this, handlerAssetDir('profiler')),
      description: `Phoenix quality profiler of pipeline '${this.pipelineName}'`,
      roleDescription: `Quality profiler of ${this.node.path}`,
      ...fnOptions,
      environment,
      noVpcReason: 'The function is a Kinesis stream consumer reaching only AWS service endpoints (Kinesis, S3); it needs no VPC resources.',
      noReservedConcurrencyReason: 'Concurrency is bounded by the event source mapping (one batch per shard at a time); reserved concurrency would only add throttling.',
      noDlqReason: 'The function is invoked synchronously by the Kinesis event source mapping; records are only read (the stream keeps them), and a batch the mapping gives up on after its bounded retries only leaves a gap in one window\'s profile: there is nothing to dead-letter.',
      bundle: 'profiler',
    });
    // Objects under profiles/ only: GetObject and PutObject (no delete), ListBucket for the window folders.
    iam.Grant.addToPrincipal({ grantee: created.fn, actions: ['s3:GetObject', 's3:PutObject'], resourceArns: [bucket.arnForObjects(`${PROFILES_PREFIX}*`)] });
    iam.Grant.addToPrincipal({ grantee: created.fn, actions: ['s3:ListBucket'], resourceArns: [bucket.bucketArn] });
    props.encryptionKey?.grantEncryptDecrypt(created.fn);
    return created;
  }

  /** The tumbling-window mapping: one window state per shard, the final invocation of a window writes its profile. */
  private createMapping(props: QualityProfilerProps, fn: lambda.IFunction,
    o: { batchSize: number; retryAttempts: number; maxRecordAge: Duration }): lambda.IEventSourceMapping {
    props.stream.grantRead(fn);
    this.streamConsumer?.grantRead(fn);
    const mapping = new lambda.EventSourceMapping(this, 'StreamMapping', {
      target: fn,
      eventSourceArn: this.streamConsumer?.streamConsumerArn ?? props.stream.streamArn,
      startingPosition: props.startingPosition ?? lambda.StartingPosition.LATEST,
      batchSize: o.batchSize,
      tumblingWindow: Duration.seconds(this.windowSeconds),
      bisectBatchOnError: true,
      retryAttempts: o.retryAttempts,
      maxRecordAge: o.maxRecordAge,
      parallelizationFactor: 1,
      reportBatchItemFailures: true,
    });
    acknowledge(mapping,
      'The profiler only reads the stream, which keeps the records: a batch the mapping gives up on after its bounded retries leaves a gap in one window\'s profile (visible as fewer rows), there is no record to dead-letter.',
      'Serverless-LambdaEventSourceMappingDestination');
    return mapping;
  }

  private subscribe(alertEmails: string[]): void {
    alertEmails.forEach((email, i) => {
      const subscription = new sns.Subscription(this, `AlertEmail${i}`, { topic: this.alarmTopic, protocol: sns.SubscriptionProtocol.EMAIL, endpoint: email });
      acknowledge(subscription,
        'An alert e-mail that SNS cannot deliver after its delivery retries has no later use in a queue: the quality alarm stays in ALARM and the results stay in the history bucket.',
        'Serverless-SNSRedrivePolicy');
    });
  }

  /** An alarm on one of the per-window rule counts (`failed` / `is outside its warn bounds`). */
  private createAlarm(id: string, metric: cloudwatch.Metric, what: string, level: string): cloudwatch.Alarm {
    return metric.createAlarm(this, id, {
      alarmDescription: `A data-quality rule of pipeline '${this.pipelineName}' ${what}. Rule results: s3://<history bucket>/${PROFILES_PREFIX}<window>/results.json `
        + `(phoenix profile show), 'quality rule ${level}' lines in ${this.logGroup.node.path}.`,
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
  }

  private checkRetention(retention: Duration): void {
    if (retention.isUnresolved()) return;
    const days = retention.toDays({ integral: false });
    if (!Number.isInteger(days) || days < 1) {
      throw validationError(this, `historyRetention must be a whole number of days, at least 1 (given ${retention.toHumanString()})`);
    }
    if (retention.toSeconds() < this.windowSeconds * (this.historyWindows + 1)) {
      throw validationError(this, `historyRetention must cover historyWindows + 1 windows (given ${retention.toHumanString()}, ${this.historyWindows + 1} windows of ${this.windowSeconds} s)`);
    }
  }
}

/** PHX_QUALITY_RULES: JSON, gzip + base64 (`gz:` prefix) above 1 KB so that rule sets fit Lambda's 4 KB environment. */
function encodeRules(rules: readonly QualityRule[]): string {
  const json = JSON.stringify(rules);
  if (Buffer.byteLength(json) <= RULES_COMPRESS_ABOVE_BYTES) return json;
  return 'gz:' + gzipSync(Buffer.from(json, 'utf8'), { level: 9 }).toString('base64');
}

/** Earlier windows a rule reads at most (relative rules, drift baselines, anomaly history). */
function historyNeeded(rule: QualityRule): number {
  switch (rule.kind) {
    case QualityRuleKind.DRIFT:
      return rule.lastWindows ?? QUALITY_DEFAULTS.driftBaselineWindows;
    case QualityRuleKind.ANOMALY:
      return rule.lastWindows ?? QUALITY_DEFAULTS.anomalyWindows;
    default:
      return rule.lastWindows ?? 0;
  }
}

/** Columns declared by a JSON Schema: `properties` keys, nested objects as dot paths (`user`, `user.country`). */
function schemaColumns(schema: { [key: string]: any }): string[] {
  const out: string[] = [];
  const walk = (s: any, prefix: string, depth: number) => {
    if (!s || typeof s !== 'object' || depth > 8) return;
    const props = s.properties;
    if (props && typeof props === 'object') {
      for (const [k, v] of Object.entries(props)) {
        out.push(prefix + k);
        walk(v, `${prefix}${k}.`, depth + 1);
      }
    }
    for (const combo of ['allOf', 'anyOf', 'oneOf']) {
      if (Array.isArray(s[combo])) for (const sub of s[combo]) walk(sub, prefix, depth + 1);
    }
  };
  walk(schema, '', 0);
  return out;
}
