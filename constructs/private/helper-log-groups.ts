import { Aspects, CfnResource, Stack, type IAspect } from 'aws-cdk-lib';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { IConstruct } from 'constructs';
import { acknowledge } from './nag';
import { Phoenix, StatefulKind } from '../phoenix';

/** Retention of the helper functions' log groups: they log only deployments (bucket emptying, notification set-up). */
export const HELPER_LOG_RETENTION = logs.RetentionDays.THREE_MONTHS;

const registered = new WeakSet<Stack>();

/** Retention and key of a log group the library creates. */
export interface LogGroupSettings {
  readonly retention: logs.RetentionDays;
  readonly encryptionKey?: kms.IKey;
}

/**
 * The settings of a log group the library creates at `scope`: its own (a construct's props), else the ones configured
 * on an enclosing scope (`Phoenix.configure`), else `defaultRetention` and CloudWatch Logs' service-managed encryption.
 */
export function logGroupSettings(scope: IConstruct, own: Partial<LogGroupSettings>, defaultRetention: logs.RetentionDays): LogGroupSettings {
  return {
    retention: own.retention ?? Phoenix.logRetentionOf(scope) ?? defaultRetention,
    encryptionKey: own.encryptionKey ?? Phoenix.logEncryptionKeyOf(scope),
  };
}

/**
 * Acknowledges the cdk-nag findings of a log group encrypted with CloudWatch Logs' service-managed keys (`what` says
 * what it logs); nothing when it has a key of its own.
 */
export function acknowledgeServiceEncryption(logGroup: logs.LogGroup, settings: LogGroupSettings, what: string): void {
  if (settings.encryptionKey) return;
  acknowledge(logGroup, `${what}: encrypted with the CloudWatch Logs service key (set logEncryptionKey, or configure one with Phoenix.configure, for a customer managed key).`,
    'NIST.800.53.R5-CloudWatchLogGroupEncrypted', 'HIPAA.Security-CloudWatchLogGroupEncrypted', 'PCI.DSS.321-CloudWatchLogGroupEncrypted');
}

/**
 * Gives every Lambda function of the stack without a log group of its own (CDK's helper functions: bucket
 * auto-delete, bucket notifications) a log group the stack creates, with a retention and the Phoenix removal policy
 * of logs, through `LoggingConfig.LogGroup`. Otherwise Lambda creates `/aws/lambda/<name>` on first run, outside the
 * stack: it never expires and survives `cdk destroy`. Registered once per stack by the library's constructs.
 */
export function ownHelperLogGroups(scope: IConstruct): void {
  const stack = Stack.of(scope);
  if (registered.has(stack)) return;
  registered.add(stack);
  Aspects.of(stack).add(new HelperLogGroups());
}

class HelperLogGroups implements IAspect {
  public visit(node: IConstruct): void {
    if (!(node instanceof CfnResource) || node.cfnResourceType !== 'AWS::Lambda::Function') return;
    if (node instanceof lambda.CfnFunction && hasLogGroup(node)) return;
    const scope = node.node.scope;
    const id = `${node.node.id}Logs`;
    // Idempotent: an app synthesized more than once invokes the aspect again on the same function.
    if (scope === undefined || scope.node.tryFindChild(id) !== undefined) return;
    const settings = logGroupSettings(node, {}, HELPER_LOG_RETENTION);
    const logGroup = new logs.LogGroup(scope, id, { ...settings, removalPolicy: Phoenix.removalPolicyFor(node, StatefulKind.LOGS) });
    node.addPropertyOverride('LoggingConfig.LogGroup', logGroup.logGroupName);
    acknowledgeServiceEncryption(logGroup, settings, 'A CDK helper function\'s log group (deployment events only, no pipeline data)');
  }
}

function hasLogGroup(fn: lambda.CfnFunction): boolean {
  const config = Stack.of(fn).resolve(fn.loggingConfig) as { logGroup?: unknown } | undefined;
  return config?.logGroup !== undefined;
}
