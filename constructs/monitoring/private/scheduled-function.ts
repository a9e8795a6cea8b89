import { Duration, type RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as logs from 'aws-cdk-lib/aws-logs';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as targets from 'aws-cdk-lib/aws-scheduler-targets';
import { Construct, type IConstruct } from 'constructs';
import { ENV, type HANDLER_ASSET_DIR } from '../../contract';
import type { LogLevel } from '../../function-options';
import { type FunctionNetwork, Phoenix } from '../../phoenix';
import { handlerAssetCode, handlerAssetDir } from '../../private/asset';
import { logLevelEnvironment, type PipelineFunction, pipelineFunction } from '../../private/function';
import { acknowledge, wildcardResourceFinding } from '../../private/nag';

/** Options shared by the scheduled monitoring functions (canary, drift detector). */
export interface ScheduledFunctionProps {
  /** The monitoring construct the function belongs to (errors name it). */
  readonly owner: IConstruct;
  /** Class name of the owner, for the role description. */
  readonly ownerName: string;
  /** The pre-bundled handler. */
  readonly handler: keyof typeof HANDLER_ASSET_DIR;
  readonly description: string;
  /** The monitored pipeline: the function's `PHOENIX_PIPELINE` and Powertools service name. */
  readonly pipelineName: string;
  /**
   * Deployment id of the function's metrics (`Deployment` dimension).
   *
   * @default - Phoenix.deploymentIdOf(owner)
   */
  readonly deploymentId?: string;
  /** Variables of this function besides the pipeline name and log level. */
  readonly environment: Record<string, string>;
  readonly logLevel?: LogLevel;
  readonly interval: Duration;
  readonly timeout: Duration;
  readonly memorySize: number;
  readonly logRetention: logs.RetentionDays;
  readonly logEncryptionKey?: kms.IKey;
  readonly logRemovalPolicy: RemovalPolicy;
  readonly network: FunctionNetwork;
  /** What a failed run means, for the acknowledgement of the asynchronous-DLQ finding. */
  readonly failureSignal: string;
}

/**
 * A traced Lambda function (Node.js 22, arm64, pre-bundled asset) with its own log group and role, invoked by an
 * EventBridge Scheduler rate schedule. Runs are not retried: the next scheduled run is the retry, and a failed run
 * shows up in the alarms of the construct that owns it.
 */
export class ScheduledFunction extends Construct {
  /** The function with its role and log group. */
  public readonly function: PipelineFunction;
  public readonly schedule: scheduler.Schedule;

  constructor(scope: Construct, id: string, props: ScheduledFunctionProps) {
    super(scope, id);
    this.function = pipelineFunction(this, 'Function', {
      owner: props.owner,
      code: handlerAssetCode(props.owner, handlerAssetDir(props.handler)),
      description: props.description,
      roleDescription: `${props.ownerName} function of ${this.node.path}`,
      environment: {
        [ENV.pipeline]: props.pipelineName,
        [ENV.deployment]: props.deploymentId ?? Phoenix.deploymentIdOf(props.owner),
        ...props.environment,
        POWERTOOLS_SERVICE_NAME: props.pipelineName,
        ...logLevelEnvironment(props.logLevel),
      },
      memorySize: props.memorySize,
      timeout: props.timeout,
      logRetention: props.logRetention,
      logEncryptionKey: props.logEncryptionKey,
      logRemovalPolicy: props.logRemovalPolicy,
      network: props.network,
      logGroupId: 'Logs',
      roleId: 'Role',
      // A late run is worthless: the next scheduled run replaces a failed one.
      retryAttempts: 0,
      maxEventAge: Duration.minutes(1),
      noVpcReason: 'The function is invoked by an EventBridge Scheduler schedule and reaches only AWS service endpoints; it needs no VPC resources.',
      noReservedConcurrencyReason: 'At most one run per schedule interval; reserved concurrency would take capacity from the account (and fails to deploy in accounts at the minimum unreserved concurrency) without bounding anything.',
      noDlqReason: `Runs are not retried and have nothing to redrive: the next scheduled run replaces a failed one, and ${props.failureSignal}`,
      noDlqExtraFindings: ['Serverless-LambdaAsyncFailureDestination'],
      bundle: '',
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
      target: new targets.LambdaInvoke(this.function.fn, { role: schedulerRole, retryAttempts: 0, maxEventAge: Duration.minutes(1) }),
      description: props.description,
    });
    acknowledge(schedulerRole,
      'The role is created for this schedule only; the scheduler target attaches its grant (lambda:InvokeFunction on the function) as an AWS::IAM::Policy of this role.',
      'NIST.800.53.R5-IAMNoInlinePolicy', 'HIPAA.Security-IAMNoInlinePolicy', 'PCI.DSS.321-IAMNoInlinePolicy');
    acknowledge(schedulerRole,
      'The scheduler target grants lambda:InvokeFunction on the function and its versions and aliases (<function ARN>:*); it invokes only this function.',
      wildcardResourceFinding(this, `${this.function.fn.functionArn}:*`));
  }
}
