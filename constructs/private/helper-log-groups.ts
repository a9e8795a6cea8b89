import { Aspects, CfnResource, Stack, type IAspect } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { IConstruct } from 'constructs';
import { acknowledge } from './nag';
import { Phoenix, StatefulKind } from '../phoenix';

/** Retention of the helper functions' log groups: they log only deployments (bucket emptying, notification set-up). */
export const HELPER_LOG_RETENTION = logs.RetentionDays.THREE_MONTHS;

const registered = new WeakSet<Stack>();

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
    const logGroup = new logs.LogGroup(scope, id, {
      retention: HELPER_LOG_RETENTION,
      removalPolicy: Phoenix.removalPolicyFor(node, StatefulKind.LOGS),
    });
    node.addPropertyOverride('LoggingConfig.LogGroup', logGroup.logGroupName);
    acknowledge(logGroup, 'A CDK helper function\'s log group (deployment events only, no pipeline data): encrypted with the CloudWatch Logs service key.',
      'NIST.800.53.R5-CloudWatchLogGroupEncrypted', 'HIPAA.Security-CloudWatchLogGroupEncrypted', 'PCI.DSS.321-CloudWatchLogGroupEncrypted');
  }
}

function hasLogGroup(fn: lambda.CfnFunction): boolean {
  const config = Stack.of(fn).resolve(fn.loggingConfig) as { logGroup?: unknown } | undefined;
  return config?.logGroup !== undefined;
}
