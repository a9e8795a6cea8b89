import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as targets from 'aws-cdk-lib/aws-scheduler-targets';
import { Construct } from 'constructs';
import { handlerAssetCode } from '../../private/asset';
import { acknowledge, wildcardResourceFinding } from '../../private/nag';

/** Options shared by the scheduled monitoring functions (canary, drift detector). */
export interface ScheduledFunctionProps {
  /** Construct name used in error messages. */
  readonly owner: string;
  /** Directory of the pre-bundled handler (`<dir>/index.js`). */
  readonly assetDir: string;
  readonly description: string;
  readonly environment: Record<string, string>;
  readonly interval: Duration;
  readonly timeout: Duration;
  readonly memorySize: number;
  readonly logRetention: logs.RetentionDays;
  readonly logEncryptionKey?: kms.IKey;
  readonly logRemovalPolicy: RemovalPolicy;
  /** What a failed run means, for the acknowledgement of the asynchronous-DLQ finding. */
  readonly failureSignal: string;
}

/**
 * A traced Lambda function (Node.js 22, arm64, pre-bundled asset) with its own log group and role, invoked by an
 * EventBridge Scheduler rate schedule. Runs are not retried: the next scheduled run is the retry, and a failed run
 * shows up in the alarms of the construct that owns it.
 */
export class ScheduledFunction extends Construct {
  public readonly fn: lambda.Function;
  public readonly role: iam.Role;
  public readonly logGroup: logs.LogGroup;
  public readonly schedule: scheduler.Schedule;

  constructor(scope: Construct, id: string, props: ScheduledFunctionProps) {
    super(scope, id);
    this.logGroup = new logs.LogGroup(this, 'Logs', {
      retention: props.logRetention,
      encryptionKey: props.logEncryptionKey,
      removalPolicy: props.logRemovalPolicy,
    });
    // No AWSLambdaBasicExecutionRole: logs are granted on this function's log group only.
    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `${props.owner} function of ${this.node.path}`,
    });
    this.logGroup.grantWrite(this.role);
    this.fn = new lambda.Function(this, 'Function', {
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      code: handlerAssetCode(props.owner, props.assetDir),
      handler: 'index.handler',
      memorySize: props.memorySize,
      timeout: props.timeout,
      tracing: lambda.Tracing.ACTIVE,
      role: this.role,
      logGroup: this.logGroup,
      description: props.description,
      environment: props.environment,
      // A late run is worthless: the next scheduled run replaces a failed one.
      retryAttempts: 0,
      maxEventAge: Duration.minutes(1),
    });
    // The schedule's own role (the target would otherwise create one shared by the whole stack).
    const schedulerRole = new iam.Role(this, 'ScheduleRole', {
      assumedBy: new iam.ServicePrincipal('scheduler.amazonaws.com', {
        conditions: { StringEquals: { 'aws:SourceAccount': Stack.of(this).account } },
      }),
      description: `EventBridge Scheduler invoking ${this.node.path}`,
    });
    this.schedule = new scheduler.Schedule(this, 'Schedule', {
      schedule: scheduler.ScheduleExpression.rate(props.interval),
      target: new targets.LambdaInvoke(this.fn, { role: schedulerRole, retryAttempts: 0, maxEventAge: Duration.minutes(1) }),
      description: props.description,
    });
    acknowledge(schedulerRole,
      'The role is created for this schedule only; the scheduler target attaches its grant (lambda:InvokeFunction on the function) as an AWS::IAM::Policy of this role.',
      'NIST.800.53.R5-IAMNoInlinePolicy', 'HIPAA.Security-IAMNoInlinePolicy', 'PCI.DSS.321-IAMNoInlinePolicy');
    acknowledge(schedulerRole,
      'The scheduler target grants lambda:InvokeFunction on the function and its versions and aliases (<function ARN>:*); it invokes only this function.',
      wildcardResourceFinding(this, `${this.fn.functionArn}:*`));

    if (!props.logEncryptionKey) {
      acknowledge(this.logGroup,
        'CloudWatch Logs encrypts log data at rest with service-managed keys by default; pass logEncryptionKey to use a customer managed key.',
        'NIST.800.53.R5-CloudWatchLogGroupEncrypted', 'HIPAA.Security-CloudWatchLogGroupEncrypted', 'PCI.DSS.321-CloudWatchLogGroupEncrypted');
    }
    acknowledge(this.role,
      'The role is created for this function only; CDK attaches its per-resource least-privilege grants as an AWS::IAM::Policy of this role, which no other principal could reuse as a managed policy.',
      'NIST.800.53.R5-IAMNoInlinePolicy', 'HIPAA.Security-IAMNoInlinePolicy', 'PCI.DSS.321-IAMNoInlinePolicy');
    acknowledge(this.role,
      'AWS X-Ray (tracing ACTIVE) has no resource-level permissions: xray:PutTraceSegments and xray:PutTelemetryRecords require Resource "*".',
      'AwsSolutions-IAM5[Resource::*]');
    acknowledge(this.fn,
      'The function is invoked by an EventBridge Scheduler schedule and reaches only AWS service endpoints; it needs no VPC resources.',
      'NIST.800.53.R5-LambdaInsideVPC', 'HIPAA.Security-LambdaInsideVPC', 'PCI.DSS.321-LambdaInsideVPC');
    acknowledge(this.fn,
      'At most one run per schedule interval; reserved concurrency would take capacity from the account (and fails to deploy in accounts at the minimum unreserved concurrency) without bounding anything.',
      'NIST.800.53.R5-LambdaConcurrency', 'HIPAA.Security-LambdaConcurrency');
    acknowledge(this.fn,
      `Runs are not retried and have nothing to redrive: the next scheduled run replaces a failed one, and ${props.failureSignal}`,
      'NIST.800.53.R5-LambdaDLQ', 'HIPAA.Security-LambdaDLQ', 'Serverless-LambdaDLQ', 'Serverless-LambdaAsyncFailureDestination');
    acknowledge(this.fn,
      'The pre-bundled handler is built for Node.js 22 (esbuild target node22); the runtime follows the bundle target.',
      'AwsSolutions-L1', 'Serverless-LambdaLatestVersion');
  }
}
