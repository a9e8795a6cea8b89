import { type Duration, type RemovalPolicy, Token } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct, IConstruct } from 'constructs';
import { validationError } from './errors';
import { acknowledgeServiceEncryption, logGroupSettings, ownHelperLogGroups } from './helper-log-groups';
import { acknowledge } from './nag';
import { checkRange, checkSeconds } from './validate';
import { LogLevel, type PipelineFunctionOptions } from '../function-options';
import { type FunctionNetwork, Phoenix, StatefulKind } from '../phoenix';

/** Lambda's limit on the total size of a function's environment variables (keys and values). */
const LAMBDA_ENV_LIMIT_BYTES = 4096;
/** Size assumed for a value only known at deploy time (queue URL, bucket or table name, stream ARN). */
const UNRESOLVED_VALUE_BYTES = 256;

/** What {@link pipelineFunction} creates. */
export interface PipelineFunction {
  readonly fn: lambda.Function;
  readonly role: iam.Role;
  readonly logGroup: logs.LogGroup;
}

/** A construct's function settings resolved against its own defaults. */
export interface FunctionDefaults {
  readonly memorySize: number;
  readonly timeout: Duration;
  readonly logRetention?: logs.RetentionDays;
  /** Allowed timeout in seconds. @default [1, 900] */
  readonly timeoutSeconds?: readonly [number, number];
}

/** Options of {@link pipelineFunction}: the resolved settings, the code and the finding reasons. */
export interface PipelineFunctionProps {
  /** The construct the function belongs to (errors and descriptions name it). */
  readonly owner: IConstruct;
  readonly code: lambda.Code;
  /** @default 'index.handler' */
  readonly handler?: string;
  readonly description: string;
  readonly roleDescription: string;
  readonly memorySize: number;
  readonly timeout: Duration;
  /** @default - `Phoenix.logRetentionOf(owner)`, else logs.RetentionDays.THREE_MONTHS */
  readonly logRetention?: logs.RetentionDays;
  /** @default - `Phoenix.logEncryptionKeyOf(owner)`, else service-managed encryption */
  readonly logEncryptionKey?: kms.IKey;
  readonly logRemovalPolicy: RemovalPolicy;
  /** @default - `Phoenix.functionNetworkOf(owner)` */
  readonly network?: FunctionNetwork;
  readonly environment?: Record<string, string>;
  /** Ids of the log group and role. @default `<id>Logs`, `<id>Role` */
  readonly logGroupId?: string;
  readonly roleId?: string;
  readonly reservedConcurrentExecutions?: number;
  readonly deadLetterQueue?: sqs.IQueue;
  readonly retryAttempts?: number;
  readonly maxEventAge?: Duration;
  /** Why the function needs no VPC (LambdaInsideVPC). */
  readonly noVpcReason: string;
  /** Why it needs no reserved concurrency (LambdaConcurrency); not acknowledged when undefined. */
  readonly noReservedConcurrencyReason?: string;
  /** Why it needs no asynchronous-invocation DLQ; not acknowledged when undefined. */
  readonly noDlqReason?: string;
  /** Extra ids acknowledged with `noDlqReason` (e.g. Serverless-LambdaAsyncFailureDestination). */
  readonly noDlqExtraFindings?: string[];
  /** Name of the pre-bundled handler in the runtime acknowledgement ('ingest' -> "the pre-bundled ingest handler"); false: the code is the team's own. */
  readonly bundle: string | false;
}

/**
 * Checks and resolves the function settings a construct's props carry (see {@link PipelineFunctionOptions}) against
 * the construct's defaults.
 */
export function resolveFunctionOptions(owner: IConstruct, props: PipelineFunctionOptions, defaults: FunctionDefaults) {
  const memorySize = props.memorySize ?? defaults.memorySize;
  const timeout = props.timeout ?? defaults.timeout;
  const [minSeconds, maxSeconds] = defaults.timeoutSeconds ?? [1, 900];
  checkRange(owner, 'memorySize', memorySize, 128, 10_240, 'MiB');
  checkSeconds(owner, 'timeout', timeout, minSeconds, maxSeconds);
  checkLogLevel(owner, props.logLevel);
  const ownLogSettings = { retention: props.logRetention, encryptionKey: props.logEncryptionKey };
  const logSettings = logGroupSettings(owner, ownLogSettings, defaults.logRetention ?? logs.RetentionDays.THREE_MONTHS);
  return {
    memorySize,
    timeout,
    logRetention: logSettings.retention,
    logEncryptionKey: logSettings.encryptionKey,
    logRemovalPolicy: props.logRemovalPolicy ?? Phoenix.removalPolicyFor(owner, StatefulKind.LOGS),
    logLevel: props.logLevel,
    network: functionNetwork(owner, props),
  };
}

/** The construct's own network when it sets a `vpc`, else the one configured on an enclosing scope. */
function functionNetwork(owner: IConstruct, props: FunctionNetwork): FunctionNetwork {
  if (props.vpc !== undefined) return { vpc: props.vpc, vpcSubnets: props.vpcSubnets, securityGroups: props.securityGroups };
  if (props.vpcSubnets !== undefined || props.securityGroups !== undefined) {
    throw validationError(owner, `${props.vpcSubnets !== undefined ? 'vpcSubnets' : 'securityGroups'} needs vpc (given no vpc)`);
  }
  return Phoenix.functionNetworkOf(owner);
}

/** `POWERTOOLS_LOG_LEVEL` when a level is set, else nothing. */
export function logLevelEnvironment(logLevel: LogLevel | undefined): Record<string, string> {
  return logLevel === undefined ? {} : { POWERTOOLS_LOG_LEVEL: logLevel };
}

function checkLogLevel(owner: IConstruct, logLevel: string | undefined): void {
  const levels: string[] = Object.values(LogLevel);
  if (logLevel !== undefined && !Token.isUnresolved(logLevel) && !levels.includes(logLevel)) {
    throw validationError(owner, `logLevel must be one of ${levels.join(', ')} (given '${logLevel}')`);
  }
}

/**
 * A function of the library: Node.js 22 on arm64, X-Ray tracing, its own log group, and its own role without the
 * AWSLambdaBasicExecutionRole managed policy (logs are granted on its log group only). The policy-validation
 * findings inherent to such a function are acknowledged with the reasons given.
 */
export function pipelineFunction(scope: Construct, id: string, p: PipelineFunctionProps): PipelineFunction {
  ownHelperLogGroups(scope);
  const logSettings = logGroupSettings(p.owner, { retention: p.logRetention, encryptionKey: p.logEncryptionKey }, logs.RetentionDays.THREE_MONTHS);
  const logGroup = new logs.LogGroup(scope, p.logGroupId ?? `${id}Logs`, { ...logSettings, removalPolicy: p.logRemovalPolicy });
  const role = new iam.Role(scope, p.roleId ?? `${id}Role`, {
    assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
    description: p.roleDescription,
  });
  logGroup.grantWrite(role);
  const network = p.network ?? Phoenix.functionNetworkOf(p.owner);
  // Lambda creates the function's network interfaces with its role; none of these actions has resource-level scoping.
  if (network.vpc) role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: VPC_ACCESS_ACTIONS, resources: ['*'] }));
  const fn = new lambda.Function(scope, id, {
    ...network,
    runtime: lambda.Runtime.NODEJS_22_X,
    architecture: lambda.Architecture.ARM_64,
    code: p.code,
    handler: p.handler ?? 'index.handler',
    memorySize: p.memorySize,
    timeout: p.timeout,
    tracing: lambda.Tracing.ACTIVE,
    role,
    logGroup,
    description: p.description,
    environment: p.environment,
    reservedConcurrentExecutions: p.reservedConcurrentExecutions,
    deadLetterQueue: p.deadLetterQueue,
    retryAttempts: p.retryAttempts,
    maxEventAge: p.maxEventAge,
  });
  acknowledgeServiceEncryption(logGroup, logSettings, 'The function\'s log group');
  acknowledgeFunctionFindings({ fn, role, logGroup }, p, network);
  return { fn, role, logGroup };
}

/** What Lambda needs to attach a function to a VPC (the actions of the AWSLambdaVPCAccessExecutionRole managed policy but its logs ones). */
const VPC_ACCESS_ACTIONS = [
  'ec2:CreateNetworkInterface', 'ec2:DescribeNetworkInterfaces', 'ec2:DescribeSubnets', 'ec2:DeleteNetworkInterface',
  'ec2:AssignPrivateIpAddresses', 'ec2:UnassignPrivateIpAddresses',
];

function acknowledgeFunctionFindings({ fn, role }: PipelineFunction, p: PipelineFunctionProps, network: FunctionNetwork): void {
  acknowledge(role,
    'The role is created for this function only; CDK attaches its per-resource least-privilege grants as an AWS::IAM::Policy of this role, which no other principal could reuse as a managed policy.',
    'NIST.800.53.R5-IAMNoInlinePolicy', 'HIPAA.Security-IAMNoInlinePolicy', 'PCI.DSS.321-IAMNoInlinePolicy');
  acknowledge(role,
    `AWS X-Ray (tracing ACTIVE) has no resource-level permissions: xray:PutTraceSegments and xray:PutTelemetryRecords require Resource "*"${network.vpc ? '; nor have the EC2 network-interface actions Lambda needs to attach the function to its VPC' : ''}.`,
    'AwsSolutions-IAM5[Resource::*]');
  if (!network.vpc) acknowledge(fn, p.noVpcReason, 'NIST.800.53.R5-LambdaInsideVPC', 'HIPAA.Security-LambdaInsideVPC', 'PCI.DSS.321-LambdaInsideVPC');
  if (p.noReservedConcurrencyReason) {
    acknowledge(fn, p.noReservedConcurrencyReason, 'NIST.800.53.R5-LambdaConcurrency', 'HIPAA.Security-LambdaConcurrency');
  }
  if (p.noDlqReason) {
    acknowledge(fn, p.noDlqReason, 'NIST.800.53.R5-LambdaDLQ', 'HIPAA.Security-LambdaDLQ', 'Serverless-LambdaDLQ', ...(p.noDlqExtraFindings ?? []));
  }
  if (p.bundle !== false) {
    acknowledge(fn,
      `The pre-bundled ${p.bundle ? `${p.bundle} ` : ''}handler is built for Node.js 22 (esbuild target node22); the runtime follows the bundle target.`,
      'AwsSolutions-L1', 'Serverless-LambdaLatestVersion');
  }
}

/**
 * Lambda rejects a function whose environment (keys and values) exceeds 4 KB: fail at synth instead of deploy.
 * `advice` says what takes the room and how to shrink it.
 */
export function checkEnvironmentSize(owner: IConstruct, env: Record<string, string>, advice: string): void {
  let total = 0;
  for (const [k, v] of Object.entries(env)) {
    total += Buffer.byteLength(k) + (Token.isUnresolved(v) ? UNRESOLVED_VALUE_BYTES : Buffer.byteLength(v));
  }
  if (total > LAMBDA_ENV_LIMIT_BYTES) {
    throw validationError(owner, `environment variables take ${total} bytes (at most ${LAMBDA_ENV_LIMIT_BYTES} bytes allowed by Lambda, counting ${UNRESOLVED_VALUE_BYTES} bytes for each deploy-time value); ${advice}`);
  }
}

/** Finding reasons shared by the replay tooling's functions (replay, archive framer, failure normalizer). */
export const REPLAY_TOOL_REASONS = {
  noVpc: 'The function reaches only AWS service endpoints (Kinesis, SQS, S3); it needs no VPC resources.',
  noReservedConcurrency: 'Concurrency is bounded by the invoking service (Firehose processor or S3 notifications); reserved concurrency would only add throttling and lost invocations.',
} as const;
