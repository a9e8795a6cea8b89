import * as path from 'path';
import { Duration, type RemovalPolicy } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { Phoenix, StatefulKind } from '../phoenix';
import { handlerAssetCode } from '../private/asset';
import { acknowledge } from '../private/nag';

/** Relative location (from the package root) of the pre-bundled replay-tooling handlers. */
export const REPLAY_ASSET_DIR = {
  replay: 'assets/lib/handlers/replay',
  failureNormalizer: 'assets/lib/handlers/failure-normalizer',
} as const;

export interface ToolFunctionOptions {
  readonly owner: string;
  readonly asset: string;
  readonly handler: string;
  readonly description: string;
  readonly timeout: Duration;
  readonly memorySize: number;
  readonly environment: Record<string, string>;
  readonly logRetention?: logs.RetentionDays;
  readonly logEncryptionKey?: kms.IKey;
  /** Removal policy of the log group; default `Phoenix.removalPolicyFor(scope, StatefulKind.LOGS)`. */
  readonly logRemovalPolicy?: RemovalPolicy;
  readonly reservedConcurrentExecutions?: number;
  /** Why the function needs no asynchronous-invocation DLQ (when it has none). */
  readonly noDlqReason?: string;
  readonly deadLetterQueue?: sqs.IQueue;
}

/**
 * A function of the replay tooling: its own role (no managed policy; logs granted on its own log group), its own
 * log group (removal policy from the Phoenix mode unless given), X-Ray tracing, arm64 Node.js 22, and the
 * acknowledgements of the findings inherent to such a function.
 */
export function toolFunction(scope: Construct, id: string, o: ToolFunctionOptions): { fn: lambda.Function; role: iam.Role; logGroup: logs.LogGroup } {
  const logGroup = new logs.LogGroup(scope, `${id}Logs`, {
    retention: o.logRetention ?? logs.RetentionDays.THREE_MONTHS,
    encryptionKey: o.logEncryptionKey,
    removalPolicy: o.logRemovalPolicy ?? Phoenix.removalPolicyFor(scope, StatefulKind.LOGS),
  });
  const role = new iam.Role(scope, `${id}Role`, {
    assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
    description: `${o.description} (${scope.node.path})`,
  });
  logGroup.grantWrite(role);
  const fn = new lambda.Function(scope, id, {
    runtime: lambda.Runtime.NODEJS_22_X,
    architecture: lambda.Architecture.ARM_64,
    code: handlerAssetCode(o.owner, path.join(__dirname, '..', '..', o.asset)),
    handler: o.handler,
    memorySize: o.memorySize,
    timeout: o.timeout,
    tracing: lambda.Tracing.ACTIVE,
    role,
    logGroup,
    environment: o.environment,
    description: o.description,
    reservedConcurrentExecutions: o.reservedConcurrentExecutions,
    deadLetterQueue: o.deadLetterQueue,
  });
  if (!o.logEncryptionKey) {
    acknowledge(logGroup,
      'CloudWatch Logs encrypts log data at rest with service-managed keys by default; pass logEncryptionKey to use a customer managed key.',
      'NIST.800.53.R5-CloudWatchLogGroupEncrypted', 'HIPAA.Security-CloudWatchLogGroupEncrypted', 'PCI.DSS.321-CloudWatchLogGroupEncrypted');
  }
  acknowledge(role,
    'The role is created for this function only; CDK attaches its per-resource least-privilege grants as an AWS::IAM::Policy of this role, which no other principal could reuse as a managed policy.',
    'NIST.800.53.R5-IAMNoInlinePolicy', 'HIPAA.Security-IAMNoInlinePolicy', 'PCI.DSS.321-IAMNoInlinePolicy');
  acknowledge(role,
    'AWS X-Ray (tracing ACTIVE) has no resource-level permissions: xray:PutTraceSegments and xray:PutTelemetryRecords require Resource "*".',
    'AwsSolutions-IAM5[Resource::*]');
  acknowledge(fn,
    'The function reaches only AWS service endpoints (Kinesis, SQS, S3); it needs no VPC resources.',
    'NIST.800.53.R5-LambdaInsideVPC', 'HIPAA.Security-LambdaInsideVPC', 'PCI.DSS.321-LambdaInsideVPC');
  acknowledge(fn,
    'The pre-bundled handler is built for Node.js 22 (esbuild target node22); the runtime follows the bundle target.',
    'AwsSolutions-L1', 'Serverless-LambdaLatestVersion');
  if (o.reservedConcurrentExecutions === undefined) {
    acknowledge(fn,
      'Concurrency is bounded by the invoking service (Firehose processor or S3 notifications); reserved concurrency would only add throttling and lost invocations.',
      'NIST.800.53.R5-LambdaConcurrency', 'HIPAA.Security-LambdaConcurrency');
  }
  if (o.noDlqReason) {
    acknowledge(fn, o.noDlqReason, 'NIST.800.53.R5-LambdaDLQ', 'HIPAA.Security-LambdaDLQ', 'Serverless-LambdaDLQ');
  }
  return { fn, role, logGroup };
}
