import * as path from 'path';
import { gzipSync } from 'zlib';
import { Duration, RemovalPolicy, Token } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cw_actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kinesis from 'aws-cdk-lib/aws-kinesis';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as cxapi from 'aws-cdk-lib/cx-api';
import { Construct, type IConstruct } from 'constructs';
import { ENV, METRICS_NAMESPACE, METRIC_DIMENSIONS, PROFILER_ASSET_DIR, PROFILER_ENV, PROFILES_PREFIX, QUALITY_DIMENSIONS, QUALITY_METRIC } from './contract';
import type { CorrelatedMonitor } from './monitoring/correlated-monitor';
import { Phoenix, StatefulKind } from './phoenix';
import { handlerAssetCode } from './private/asset';
import { accessLogsBucket } from './private/buckets';
import { acknowledge, wildcardResourceFinding } from './private/nag';
import { checkName, checkRange, checkSeconds } from './private/validate';
import { QUALITY_DEFAULTS, QualityRule, QualityRuleKind, validateQualityRules } from './quality-rules';

const OWNER = 'QualityProfiler';
/** Lambda's limit on the total size of a function's environment variables (keys and values). */
const LAMBDA_ENV_LIMIT_BYTES = 4096;
/** Size assumed for a value only known at deploy time (the bucket name). */
const UNRESOLVED_VALUE_BYTES = 256;
const MAX_ALERT_EMAILS = 20;
/** CloudWatch allows 100 metrics per graph widget. */
const MAX_WIDGET_METRICS = 100;

const RULES_COMPRESS_ABOVE_BYTES = 1024;

/**
 * Options of a {@link QualityProfiler}: everything but the stream and the pipeline name (what a pipeline passes through).
 */
export interface QualityProfilerOptions {
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
   * Memory of the profiler function, in MiB. Allowed: 128-10,240.
   *
   * @default 512
   */
  readonly memorySize?: number;

  /**
   * Timeout of the profiler function. Allowed: 1 second to 15 minutes.
   *
   * @default Duration.minutes(1)
   */
  readonly timeout?: Duration;

  /**
   * Retention of the profiler's log group (rule warnings and failures are logged there).
   *
   * @default logs.RetentionDays.THREE_MONTHS
   */
  readonly logRetention?: logs.RetentionDays;

  /**
   * Customer managed KMS key encrypting the profiler's log group. Its key policy must allow the CloudWatch Logs
   * service principal (`logs.<region>.amazonaws.com`) to use it.
   *
   * @default - CloudWatch Logs' service-managed encryption
   */
  readonly logEncryptionKey?: kms.IKey;

  /**
   * Removal policy of the profiler's log group.
   *
   * @default - `Phoenix.removalPolicyFor(this, StatefulKind.LOGS)`: DESTROY in every Phoenix mode (the log holds
   * rule results, which the history bucket keeps too)
   */
  readonly logRemovalPolicy?: RemovalPolicy;
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
  /** The topic the alarms notify. */
  public readonly alarmTopic: sns.ITopic;
  /** Fires when at least one rule warned in a window (`QualityWarnings` >= 1). */
  public readonly warnAlarm: cloudwatch.Alarm;
  /** Fires when at least one rule failed in a window (`QualityFailures` >= 1). */
  public readonly failAlarm: cloudwatch.Alarm;
  /** Pipeline name (`Pipeline` dimension). */
  public readonly pipelineName: string;
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
    // Grant S3 log delivery through a bucket policy, never through ACLs (the buckets enforce bucket-owner object
    // ownership), whatever the app's feature flags say.
    this.node.setContext(cxapi.S3_SERVER_ACCESS_LOGS_USE_BUCKET_POLICY, true);
    checkName(OWNER, 'pipelineName', props.pipelineName);
    this.pipelineName = props.pipelineName;
    this.windowSeconds = props.windowSeconds ?? 300;
    this.historyWindows = props.historyWindows ?? 10;
    this.rules = [...(props.rules ?? [])];
    const batchSize = props.batchSize ?? 1000;
    const retryAttempts = props.retryAttempts ?? 10;
    const maxRecordAge = props.maxRecordAge ?? Duration.hours(24);
    const memorySize = props.memorySize ?? 512;
    const timeout = props.timeout ?? Duration.minutes(1);
    const historyRetention = props.historyRetention ?? Duration.days(90);
    const alertEmails = props.alertEmails ?? [];
    const removalPolicy = props.removalPolicy ?? Phoenix.removalPolicyFor(this, StatefulKind.PROFILE_HISTORY);

    checkRange(OWNER, 'windowSeconds', this.windowSeconds, 1, 900);
    checkRange(OWNER, 'historyWindows', this.historyWindows, 1, 100);
    checkRange(OWNER, 'batchSize', batchSize, 1, 10_000);
    checkRange(OWNER, 'retryAttempts', retryAttempts, 0, 10_000);
    checkSeconds(OWNER, 'maxRecordAge', maxRecordAge, 60, 604_800);
    checkRange(OWNER, 'memorySize', memorySize, 128, 10_240, 'MiB');
    checkSeconds(OWNER, 'timeout', timeout, 1, 900);
    checkRetention(historyRetention, this.windowSeconds, this.historyWindows);
    checkEmails(alertEmails);
    if (props.eventTimeField !== undefined && !/^[^.\s]+(\.[^.\s]+)*$/.test(props.eventTimeField)) {
      throw new Error(`${OWNER} eventTimeField must be a dot path such as 'eventTime' or 'meta.ts' (given '${props.eventTimeField}')`);
    }
    this.checkRules(props);
    this.metricPeriod = Duration.seconds(Math.max(60, Math.ceil(this.windowSeconds / 60) * 60));

    // ----- history bucket -----
    const autoDeleteObjects = Phoenix.autoDeleteObjects(removalPolicy);
    const lifecycleRules: s3.LifecycleRule[] = [{ expiration: historyRetention, noncurrentVersionExpiration: Duration.days(1) }];
    if (props.serverAccessLogsBucket) {
      this.serverAccessLogsBucket = props.serverAccessLogsBucket;
    } else {
      this.serverAccessLogsBucket = accessLogsBucket(this, 'AccessLogs', {
        of: 'the profile history bucket',
        lifecycleRules,
        removalPolicy,
        autoDeleteObjects,
        acknowledgeReplication,
      });
    }
    const bucket = new s3.Bucket(this, 'History', {
      encryption: props.encryptionKey ? s3.BucketEncryption.KMS : s3.BucketEncryption.KMS_MANAGED,
      encryptionKey: props.encryptionKey,
      bucketKeyEnabled: props.encryptionKey ? true : undefined,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      enforceSSL: true,
      versioned: true,
      lifecycleRules,
      serverAccessLogsBucket: this.serverAccessLogsBucket,
      serverAccessLogsPrefix: 'profile-history/',
      removalPolicy,
      autoDeleteObjects,
    });
    this.historyBucket = bucket;
    acknowledgeReplication(bucket);

    // ----- function -----
    this.logGroup = new logs.LogGroup(this, 'ProfilerLogs', {
      retention: props.logRetention ?? logs.RetentionDays.THREE_MONTHS,
      encryptionKey: props.logEncryptionKey,
      removalPolicy: props.logRemovalPolicy ?? Phoenix.removalPolicyFor(this, StatefulKind.LOGS),
    });
    // A role without the AWSLambdaBasicExecutionRole managed policy: logs are granted on the profiler's log group only.
    const role = new iam.Role(this, 'ProfilerRole', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `Quality profiler of ${this.node.path}`,
    });
    this.logGroup.grantWrite(role);

    const environment: Record<string, string> = {
      [ENV.pipeline]: this.pipelineName,
      [PROFILER_ENV.bucket]: bucket.bucketName,
      [PROFILER_ENV.rules]: encodeRules(this.rules),
      [PROFILER_ENV.windowSeconds]: String(this.windowSeconds),
      [PROFILER_ENV.historyWindows]: String(this.historyWindows),
      [PROFILER_ENV.eventTimeField]: props.eventTimeField ?? '',
      POWERTOOLS_SERVICE_NAME: this.pipelineName,
    };
    checkEnvironmentSize(environment);
    const fn = new lambda.Function(this, 'Profiler', {
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      code: handlerAssetCode(OWNER, path.join(__dirname, '..', PROFILER_ASSET_DIR)),
      handler: 'index.handler',
      memorySize,
      timeout,
      tracing: lambda.Tracing.ACTIVE,
      role,
      logGroup: this.logGroup,
      environment,
      description: `Phoenix quality profiler of pipeline '${this.pipelineName}'`,
    });
    this.profilerFunction = fn;

    // Objects under profiles/ only: GetObject and PutObject (no delete), ListBucket for the window folders.
    iam.Grant.addToPrincipal({ grantee: fn, actions: ['s3:GetObject', 's3:PutObject'], resourceArns: [bucket.arnForObjects(`${PROFILES_PREFIX}*`)] });
    iam.Grant.addToPrincipal({ grantee: fn, actions: ['s3:ListBucket'], resourceArns: [bucket.bucketArn] });
    props.encryptionKey?.grantEncryptDecrypt(fn);

    props.stream.grantRead(fn);
    const mapping = new lambda.EventSourceMapping(this, 'StreamMapping', {
      target: fn,
      eventSourceArn: props.stream.streamArn,
      startingPosition: props.startingPosition ?? lambda.StartingPosition.LATEST,
      batchSize,
      tumblingWindow: Duration.seconds(this.windowSeconds),
      bisectBatchOnError: true,
      retryAttempts,
      maxRecordAge,
      parallelizationFactor: 1,
      reportBatchItemFailures: true,
    });
    this.eventSourceMapping = mapping;
    acknowledge(mapping,
      'The profiler only reads the stream, which keeps the records: a batch the mapping gives up on after its bounded retries leaves a gap in one window\'s profile (visible as fewer rows), there is no record to dead-letter.',
      'Serverless-LambdaEventSourceMappingDestination');

    // ----- alarms -----
    this.alarmTopic = props.alarmTopic ?? this.createTopic();
    alertEmails.forEach((email, i) => {
      const subscription = new sns.Subscription(this, `AlertEmail${i}`, { topic: this.alarmTopic, protocol: sns.SubscriptionProtocol.EMAIL, endpoint: email });
      acknowledge(subscription,
        'An alert e-mail that SNS cannot deliver after its delivery retries has no later use in a queue: the quality alarm stays in ALARM and the results stay in the history bucket.',
        'Serverless-SNSRedrivePolicy');
    });
    const action = new cw_actions.SnsAction(this.alarmTopic);
    this.failAlarm = this.metricFailures().createAlarm(this, 'FailAlarm', {
      alarmDescription: `A data-quality rule of pipeline '${this.pipelineName}' failed. Rule results: s3://<history bucket>/${PROFILES_PREFIX}<window>/results.json `
        + `(phoenix profile show), 'quality rule fail' lines in ${this.logGroup.node.path}.`,
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    this.warnAlarm = this.metricWarnings().createAlarm(this, 'WarnAlarm', {
      alarmDescription: `A data-quality rule of pipeline '${this.pipelineName}' is outside its warn bounds. Rule results: s3://<history bucket>/${PROFILES_PREFIX}<window>/results.json `
        + `(phoenix profile show), 'quality rule warn' lines in ${this.logGroup.node.path}.`,
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    this.failAlarm.addAlarmAction(action);
    this.warnAlarm.addAlarmAction(action);

    this.acknowledgeDesignFindings(role, fn, bucket, props);
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
      dimensionsMap: { [METRIC_DIMENSIONS.pipeline]: this.pipelineName, ...dimensions },
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
      throw new Error(`${OWNER} metricColumnCompleteness column must be named by a rule (given '${column}'; rule columns: ${[...new Set(this.rules.map((r) => r.column).filter(Boolean))].join(', ') || 'none'})`);
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
      throw new Error(`${OWNER} has no rule '${name}' (rules: ${this.rules.map((r) => r.name).join(', ')})`);
    }
    return name;
  }

  private checkRules(props: QualityProfilerProps): void {
    if (this.rules.length === 0) {
      throw new Error(`${OWNER} rules must list at least one rule (given none; e.g. { name: 'volume', kind: QualityRuleKind.VOLUME })`);
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
      throw new Error(`${OWNER} rules are invalid:\n  - ${errors.join('\n  - ')}`);
    }
  }

  private createTopic(): sns.ITopic {
    // The topic and its key hold notifications in flight only.
    const removalPolicy = Phoenix.removalPolicyFor(this, StatefulKind.KEY);
    const key = new kms.Key(this, 'AlarmTopicKey', {
      description: `Encrypts the quality alarm topic of pipeline ${this.pipelineName}`,
      enableKeyRotation: true,
      removalPolicy,
    });
    // CloudWatch publishes alarm notifications to the encrypted topic: it must be able to use the key.
    key.grant(new iam.ServicePrincipal('cloudwatch.amazonaws.com'), 'kms:Decrypt', 'kms:GenerateDataKey*');
    const topic = new sns.Topic(this, 'AlarmTopic', {
      displayName: `Phoenix pipeline ${this.pipelineName} data quality`,
      masterKey: key,
      enforceSSL: true,
    });
    topic.applyRemovalPolicy(removalPolicy);
    return topic;
  }

  /** Acknowledges the policy-validation findings inherent to the design, each with its cause. */
  private acknowledgeDesignFindings(role: iam.Role, fn: lambda.Function, bucket: s3.IBucket, props: QualityProfilerProps): void {
    if (!props.logEncryptionKey) {
      acknowledge(this.logGroup,
        'CloudWatch Logs encrypts log data at rest with service-managed keys by default; pass logEncryptionKey to use a customer managed key.',
        'NIST.800.53.R5-CloudWatchLogGroupEncrypted', 'HIPAA.Security-CloudWatchLogGroupEncrypted', 'PCI.DSS.321-CloudWatchLogGroupEncrypted');
    }
    acknowledge(role,
      'The role is created for this function only; CDK attaches its per-resource least-privilege grants as an AWS::IAM::Policy of this role, which no other principal could reuse as a managed policy.',
      'NIST.800.53.R5-IAMNoInlinePolicy', 'HIPAA.Security-IAMNoInlinePolicy', 'PCI.DSS.321-IAMNoInlinePolicy');
    acknowledge(role,
      'AWS X-Ray (tracing ACTIVE) has no resource-level permissions: xray:PutTraceSegments and xray:PutTelemetryRecords require Resource "*".',
      'AwsSolutions-IAM5[Resource::*]');
    acknowledge(role,
      `The profiler writes and reads objects keyed by window start and shard under ${PROFILES_PREFIX} of its history bucket: the keys are generated, so the grant is scoped to that prefix.`,
      wildcardResourceFinding(this, bucket.arnForObjects(`${PROFILES_PREFIX}*`)));
    acknowledge(fn,
      'The function is a Kinesis stream consumer reaching only AWS service endpoints (Kinesis, S3); it needs no VPC resources.',
      'NIST.800.53.R5-LambdaInsideVPC', 'HIPAA.Security-LambdaInsideVPC', 'PCI.DSS.321-LambdaInsideVPC');
    acknowledge(fn,
      'Concurrency is bounded by the event source mapping (one batch per shard at a time); reserved concurrency would only add throttling.',
      'NIST.800.53.R5-LambdaConcurrency', 'HIPAA.Security-LambdaConcurrency');
    acknowledge(fn,
      'The function is invoked synchronously by the Kinesis event source mapping; records are only read (the stream keeps them), and a batch the mapping gives up on after its bounded retries only leaves a gap in one window\'s profile: there is nothing to dead-letter.',
      'NIST.800.53.R5-LambdaDLQ', 'HIPAA.Security-LambdaDLQ', 'Serverless-LambdaDLQ');
    acknowledge(fn,
      'The pre-bundled profiler handler is built for Node.js 22 (esbuild target node22); the runtime follows the bundle target.',
      'AwsSolutions-L1', 'Serverless-LambdaLatestVersion');
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

function checkRetention(retention: Duration, windowSeconds: number, historyWindows: number): void {
  if (retention.isUnresolved()) return;
  const days = retention.toDays({ integral: false });
  if (!Number.isInteger(days) || days < 1) {
    throw new Error(`${OWNER} historyRetention must be a whole number of days, at least 1 (given ${retention.toHumanString()})`);
  }
  if (retention.toSeconds() < windowSeconds * (historyWindows + 1)) {
    throw new Error(`${OWNER} historyRetention must cover historyWindows + 1 windows (given ${retention.toHumanString()}, ${historyWindows + 1} windows of ${windowSeconds} s)`);
  }
}

function checkEmails(emails: string[]): void {
  if (emails.length > MAX_ALERT_EMAILS) {
    throw new Error(`${OWNER} alertEmails must list at most ${MAX_ALERT_EMAILS} addresses (given ${emails.length})`);
  }
  for (const e of emails) {
    if (!Token.isUnresolved(e) && !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(e)) {
      throw new Error(`${OWNER} alertEmails entries must be e-mail addresses (given '${e}')`);
    }
  }
}

/** Lambda rejects a function whose environment (keys and values) exceeds 4 KB: fail at synth instead of deploy. */
function checkEnvironmentSize(env: Record<string, string>): void {
  let total = 0;
  for (const [k, v] of Object.entries(env)) {
    total += Buffer.byteLength(k) + (Token.isUnresolved(v) ? UNRESOLVED_VALUE_BYTES : Buffer.byteLength(v));
  }
  if (total > LAMBDA_ENV_LIMIT_BYTES) {
    throw new Error(`${OWNER} environment variables take ${total} bytes (at most ${LAMBDA_ENV_LIMIT_BYTES} bytes allowed by Lambda); `
      + `${PROFILER_ENV.rules} alone is ${Buffer.byteLength(env[PROFILER_ENV.rules])} bytes after compression: use fewer rules or shorter allowed-value lists`);
  }
}

function acknowledgeReplication(bucket: IConstruct): void {
  acknowledge(bucket,
    'Profiles are derived data (recomputed by replaying the records) kept in the pipeline\'s region with lifecycle expiry; cross-region replication is a disaster-recovery decision of the account, not of this construct.',
    'NIST.800.53.R5-S3BucketReplicationEnabled', 'HIPAA.Security-S3BucketReplicationEnabled', 'PCI.DSS.321-S3BucketReplicationEnabled');
}
