import { Duration, Stack, Token } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type * as scheduler from 'aws-cdk-lib/aws-scheduler';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { deploymentDimension, DRIFT_METRIC, METRICS_NAMESPACE, METRIC_DIMENSIONS, MONITOR_ENV, STACK_NAME_DIMENSION } from '../contract';
import type { PipelineFunctionOptions } from '../function-options';
import { Phoenix } from '../phoenix';
import { routeAlarms } from './private/alarm-coverage';
import { driftReadStatements } from './private/drift-reads';
import { ScheduledFunction } from './private/scheduled-function';
import { validationError } from '../private/errors';
import { resolveFunctionOptions } from '../private/function';
import { acknowledge, wildcardResourceFinding } from '../private/nag';
import { countAgainstResourceBudget } from '../private/resource-budget';
import { checkName, checkWholeMinutes } from '../private/validate';

const MAX_STACKS = 50;
/** CloudFormation stack names: a letter, then letters, digits and hyphens, up to 128 characters. */
const STACK_NAME = /^[A-Za-z][A-Za-z0-9-]{0,127}$/;

/**
 * Read-only (configuration, never data) actions drift detection needs on the resource types a Phoenix pipeline
 * deploys: Kinesis streams, Lambda functions and event source mappings, SQS queues, S3 buckets, DynamoDB tables,
 * IAM roles and policies, log groups, log streams and query definitions, alarms and dashboards, SNS topics and
 * subscriptions, KMS keys, schedules, Firehose delivery streams (the raw archive).
 */
const PIPELINE_READ_ACTIONS: readonly string[] = [
  'kinesis:DescribeStream', 'kinesis:DescribeStreamSummary', 'kinesis:ListTagsForStream', 'kinesis:ListTagsForResource', 'kinesis:GetResourcePolicy',
  'lambda:GetFunction', 'lambda:GetFunctionConfiguration', 'lambda:GetFunctionConcurrency', 'lambda:GetFunctionEventInvokeConfig',
  'lambda:GetFunctionCodeSigningConfig', 'lambda:GetFunctionRecursionConfig', 'lambda:GetRuntimeManagementConfig',
  'lambda:GetEventSourceMapping', 'lambda:GetPolicy', 'lambda:ListTags',
  'sqs:GetQueueAttributes', 'sqs:ListQueueTags',
  's3:GetBucketPolicy', 's3:GetBucketVersioning', 's3:GetBucketLogging', 's3:GetBucketTagging', 's3:GetBucketOwnershipControls',
  's3:GetBucketPublicAccessBlock', 's3:GetBucketNotification', 's3:GetBucketAcl', 's3:GetBucketCORS', 's3:GetBucketWebsite',
  's3:GetBucketObjectLockConfiguration', 's3:GetEncryptionConfiguration', 's3:GetLifecycleConfiguration',
  's3:GetReplicationConfiguration', 's3:GetAccelerateConfiguration', 's3:GetAnalyticsConfiguration',
  's3:GetInventoryConfiguration', 's3:GetMetricsConfiguration', 's3:GetIntelligentTieringConfiguration',
  'dynamodb:DescribeTable', 'dynamodb:DescribeContinuousBackups', 'dynamodb:DescribeTimeToLive', 'dynamodb:ListTagsOfResource',
  'dynamodb:DescribeKinesisStreamingDestination', 'dynamodb:DescribeContributorInsights', 'dynamodb:GetResourcePolicy',
  'iam:GetRole', 'iam:GetRolePolicy', 'iam:ListRolePolicies', 'iam:ListAttachedRolePolicies', 'iam:ListRoleTags',
  'iam:GetPolicy', 'iam:GetPolicyVersion',
  'logs:DescribeLogGroups', 'logs:ListTagsForResource', 'logs:ListTagsLogGroup', 'logs:DescribeQueryDefinitions',
  'logs:DescribeMetricFilters', 'logs:DescribeSubscriptionFilters', 'logs:GetDataProtectionPolicy',
  'cloudwatch:DescribeAlarms', 'cloudwatch:ListTagsForResource', 'cloudwatch:GetDashboard',
  'sns:GetTopicAttributes', 'sns:ListSubscriptionsByTopic', 'sns:GetSubscriptionAttributes', 'sns:ListTagsForResource', 'sns:GetDataProtectionPolicy',
  'kms:DescribeKey', 'kms:GetKeyPolicy', 'kms:GetKeyRotationStatus', 'kms:ListResourceTags', 'kms:ListAliases',
  'scheduler:GetSchedule', 'scheduler:ListTagsForResource',
  'firehose:DescribeDeliveryStream', 'firehose:ListTagsForDeliveryStream', 'logs:DescribeLogStreams',
];

/**
 * Properties of a {@link DriftDetector}. Function settings: {@link PipelineFunctionOptions} (memory 256 MiB; timeout
 * 10 minutes by default, 1 to 15 minutes allowed: how long the function waits for the detections to finish, a
 * detection not finished by then counts as a failure; drifted resources and property paths are logged).
 */
export interface DriftDetectorProps extends PipelineFunctionOptions {
  /**
   * Pipeline name: the `Pipeline` dimension of the drift metrics. 1-64 characters of `[A-Za-z0-9_-]`.
   */
  readonly pipelineName: string;

  /**
   * Names of the CloudFormation stacks to check (in this detector's account and region). At most 50.
   *
   * @default - the stack that contains the detector
   */
  readonly stackNames?: string[];

  /**
   * Time between two drift checks. Whole minutes, from 15 minutes (drift detection reads every resource of a stack;
   * CloudFormation throttles frequent detections) to 12 hours (the detector-silent alarm spans two intervals within
   * CloudWatch's one-day alarm window).
   *
   * @default Duration.hours(1)
   */
  readonly interval?: Duration;

  /**
   * Read-only IAM actions granted so that CloudFormation can read the live configuration of the stacks' resources
   * (drift detection runs with the caller's permissions), on the names CloudFormation generates for the checked stacks
   * (`<stack>-*`) where the service takes a resource ARN, on the account's keys for KMS, and on `*` for actions without
   * resource-level permissions or of other services. A resource the detector cannot read makes the detection fail
   * (`DriftDetectionFailures`), it is never reported as in sync.
   *
   * @default - the configuration reads of the resource types a Phoenix pipeline deploys (Kinesis, Lambda, SQS, S3,
   * DynamoDB, IAM, CloudWatch Logs, CloudWatch, SNS, KMS, EventBridge Scheduler, Firehose), listed in `DriftDetector.PIPELINE_READ_ACTIONS`;
   * never data reads such as s3:GetObject or kinesis:GetRecords
   */
  readonly readActions?: string[];

  /**
   * Topic notified when an alarm of the detector goes into ALARM.
   *
   * @default - no alarm action (add the alarms to a {@link CorrelatedMonitor} with `addAlarm`)
   */
  readonly alarmTopic?: sns.ITopic;
}

/**
 * Scheduled CloudFormation drift detection: an EventBridge Scheduler schedule invokes a traced function that runs
 * DetectStackDrift on every configured stack, polls the detection status (bounded by the function timeout), logs the
 * drifted resources with their property differences, and publishes `StackDrifted` and `DriftedResources` per stack
 * (dimensions `{ Pipeline, StackName }`) and `StacksDrifted` and `DriftDetectionFailures` per run (dimensions
 * `{ Pipeline }`) in the `PhoenixPipelines` namespace.
 *
 * Alarms: any stack drifted; and detection failed, timed out, or did not report for two intervals.
 *
 * @example
 * const drift = new DriftDetector(this, 'Drift', { pipelineName: 'clickstream' });
 * monitor.addAlarm(drift.driftAlarm);
 * monitor.addAlarm(drift.detectionAlarm);
 */
export class DriftDetector extends Construct {
  /** The configuration reads granted by default (see `readActions`). */
  public static readonly PIPELINE_READ_ACTIONS: string[] = [...PIPELINE_READ_ACTIONS];

  /** The detector function. */
  public readonly detectorFunction: lambda.IFunction;
  /** The detector function's role (grant it more reads for resource types outside the default list). */
  public readonly role: iam.IRole;
  /** The detector function's log group. */
  public readonly logGroup: logs.ILogGroup;
  /** The schedule invoking the function. */
  public readonly schedule: scheduler.ISchedule;
  /** Fires when a checked stack drifted (`StacksDrifted` >= 1). */
  public readonly driftAlarm: cloudwatch.Alarm;
  /** Fires when a detection failed or timed out, or when the detector did not report for two intervals. */
  public readonly detectionAlarm: cloudwatch.Alarm;
  /** Names of the checked stacks. */
  public readonly stackNames: string[];
  /** Pipeline name (`Pipeline` dimension). */
  public readonly pipelineName: string;
  /** Deployment id (`Deployment` dimension): `Phoenix.deploymentIdOf(this)`. */
  public readonly deploymentId: string;
  /** Time between two checks. */
  public readonly interval: Duration;

  constructor(scope: Construct, id: string, props: DriftDetectorProps) {
    super(scope, id);
    countAgainstResourceBudget(this);
    checkName(this, 'pipelineName', props.pipelineName);
    this.pipelineName = props.pipelineName;
    this.deploymentId = Phoenix.deploymentIdOf(this);
    this.stackNames = props.stackNames ?? [Stack.of(this).stackName];
    this.checkStackNames(this.stackNames);
    this.interval = props.interval ?? Duration.hours(1);
    checkWholeMinutes(this, 'interval', this.interval, 15, 12 * 60);
    const fnOptions = resolveFunctionOptions(this, props, { memorySize: 256, timeout: Duration.minutes(10), timeoutSeconds: [60, 900] });
    const readActions = props.readActions ?? DriftDetector.PIPELINE_READ_ACTIONS;
    if (readActions.length === 0 || readActions.some((a) => typeof a !== 'string' || !/^[a-z0-9-]+:[A-Za-z0-9*]+$/.test(a))) {
      throw validationError(this, `readActions must be IAM actions such as 'kinesis:DescribeStream', at least one (given ${JSON.stringify(readActions)})`);
    }

    const fn = new ScheduledFunction(this, 'Detector', {
      owner: this,
      ownerName: 'DriftDetector',
      handler: 'driftDetector',
      description: `Phoenix drift detector of pipeline '${this.pipelineName}'`,
      pipelineName: this.pipelineName,
      deploymentId: this.deploymentId,
      environment: { [MONITOR_ENV.driftStacks]: Stack.of(this).toJsonString(this.stackNames) },
      interval: this.interval,
      ...fnOptions,
      failureSignal: 'a run that does not report leaves DriftDetectionFailures without data, which the detection alarm treats as breaching.',
    });
    ({ fn: this.detectorFunction, role: this.role, logGroup: this.logGroup } = fn.function);
    this.schedule = fn.schedule;

    const stack = Stack.of(this);
    const stackArns = this.stackNames.map((name) => stack.formatArn({ service: 'cloudformation', resource: 'stack', resourceName: `${name}/*` }));
    fn.function.role.addToPrincipalPolicy(new iam.PolicyStatement({
      sid: 'DetectDrift',
      actions: ['cloudformation:DetectStackDrift', 'cloudformation:DetectStackResourceDrift', 'cloudformation:DescribeStackResourceDrifts'],
      resources: stackArns,
    }));
    fn.function.role.addToPrincipalPolicy(new iam.PolicyStatement({
      sid: 'DetectionStatus',
      // DescribeStackDriftDetectionStatus has no resource-level permissions.
      actions: ['cloudformation:DescribeStackDriftDetectionStatus'],
      resources: ['*'],
    }));
    const reads = driftReadStatements(stack, this.stackNames, readActions);
    reads.forEach((r) => fn.function.role.addToPrincipalPolicy(r));
    acknowledge(fn.function.role,
      'Drift detection reads the live configuration (never data) of every resource of the checked stacks with the caller\'s permissions: '
      + 'the reads are scoped to the names CloudFormation generates for those stacks (`<stack>-*`), KMS keys of the account (service-assigned ids), '
      + 'and "*" for list actions without resource-level permissions, X-Ray writes and cloudformation:DescribeStackDriftDetectionStatus.',
      'AwsSolutions-IAM5[Resource::*]',
      ...reads.flatMap((r) => r.resources).filter((arn) => arn !== '*').map((arn) => wildcardResourceFinding(this, arn)));
    acknowledge(fn.function.role,
      'A stack ARN ends in the stack id, a UUID assigned at creation: the grant names the stack and wildcards its id.',
      ...stackArns.map((arn) => wildcardResourceFinding(this, arn)));

    this.driftAlarm = this.metricStacksDrifted({ period: this.interval }).createAlarm(this, 'DriftAlarm', {
      alarmDescription: `A CloudFormation stack of pipeline '${this.pipelineName}' drifted from its template (checked: ${Token.isUnresolved(this.stackNames) ? 'see the detector' : this.stackNames.join(', ')}). `
        + `The detector's log (${this.logGroup.node.path}) lists the drifted resources and property paths ('stack drifted').`,
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    const silentWindow = this.interval.isUnresolved() ? Duration.hours(2) : Duration.minutes(this.interval.toMinutes() * 2);
    this.detectionAlarm = this.metricDetectionFailures({ period: silentWindow }).createAlarm(this, 'DetectionAlarm', {
      alarmDescription: `Drift detection of pipeline '${this.pipelineName}' failed, timed out, or reported nothing for ${silentWindow.toHumanString()} `
        + `(it runs every ${this.interval.toHumanString()}). A failed detection usually means a missing read permission: see 'drift detection failed' in the detector's log.`,
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.BREACHING,
    });
    routeAlarms(this, [this.driftAlarm, this.detectionAlarm], props.alarmTopic);
  }

  /**
   * Number of checked stacks found DRIFTED by a run (`StacksDrifted`, dimensions `{ Pipeline }`).
   *
   * @default - statistic Maximum, period 1 hour
   */
  public metricStacksDrifted(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.runMetric(DRIFT_METRIC.stacksDrifted, props);
  }

  /**
   * Number of stacks whose detection failed or timed out in a run (`DriftDetectionFailures`, dimensions `{ Pipeline }`).
   *
   * @default - statistic Maximum, period 1 hour
   */
  public metricDetectionFailures(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.runMetric(DRIFT_METRIC.driftDetectionFailures, props);
  }

  /**
   * Number of drifted resources of one stack (`DriftedResources`, dimensions `{ Pipeline, StackName }`).
   *
   * @default - statistic Maximum, period 1 hour
   */
  public metricDriftedResources(stackName: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return new cloudwatch.Metric({
      namespace: METRICS_NAMESPACE,
      metricName: DRIFT_METRIC.driftedResources,
      dimensionsMap: {
        ...deploymentDimension(this.deploymentId), [METRIC_DIMENSIONS.pipeline]: this.pipelineName, [STACK_NAME_DIMENSION]: stackName,
      },
      statistic: cloudwatch.Stats.MAXIMUM,
      period: Duration.hours(1),
      ...props,
    });
  }

  private runMetric(metricName: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return new cloudwatch.Metric({
      namespace: METRICS_NAMESPACE,
      metricName,
      dimensionsMap: { ...deploymentDimension(this.deploymentId), [METRIC_DIMENSIONS.pipeline]: this.pipelineName },
      statistic: cloudwatch.Stats.MAXIMUM,
      period: Duration.hours(1),
      ...props,
    });
  }

  private checkStackNames(names: string[]): void {
    if (Token.isUnresolved(names)) return;
    if (names.length === 0 || names.length > MAX_STACKS) {
      throw validationError(this, `stackNames must list between 1 and ${MAX_STACKS} stacks (given ${names.length})`);
    }
    const seen = new Set<string>();
    for (const name of names) {
      if (Token.isUnresolved(name)) continue;
      if (!STACK_NAME.test(name)) {
        throw validationError(this, `stackNames entries must be CloudFormation stack names: a letter, then letters, digits and hyphens, up to 128 characters (given '${name}')`);
      }
      if (seen.has(name)) {
        throw validationError(this, `stackNames must not repeat a stack (given '${name}' twice)`);
      }
      seen.add(name);
    }
  }
}
