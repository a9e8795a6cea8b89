import { ArnFormat, type Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';

/*
 * Drift detection reads each resource's live configuration with the detector's permissions. The reads are scoped to
 * the checked stacks' resources by name where the service's API takes a resource ARN: CloudFormation generates
 * `<stackName>-<logicalId>-<suffix>` and, for the shortest name limits (64), keeps at least the first 24 characters
 * of the stack name (docs/monitoring.md, "Drift detector permissions").
 */

/** Characters of the stack name CloudFormation keeps in a generated physical name, at the least. */
const KEPT_STACK_NAME_CHARS = 24;

/** Actions with no resource-level permissions, or on resources whose ids are service-assigned (KMS key ids). */
const ACCOUNT_WIDE: ReadonlySet<string> = new Set([
  'kms:ListAliases', 'logs:DescribeLogGroups', 'logs:DescribeQueryDefinitions', 'cloudwatch:DescribeAlarms',
]);

/** The name pattern of a stack's generated physical names: `<stack>-*`, or the kept prefix and `*` for a long name. */
export function generatedNamePattern(stackName: string): string {
  return stackName.length <= KEPT_STACK_NAME_CHARS ? `${stackName}-*` : `${stackName.slice(0, KEPT_STACK_NAME_CHARS)}*`;
}

/** ARN patterns of the resources `action` reads, for stacks whose generated names match `names`; `['*']` when unscoped. */
function resourcesOf(stack: Stack, action: string, names: readonly string[]): string[] {
  if (ACCOUNT_WIDE.has(action)) return ['*'];
  const [service] = action.split(':');
  const arn = (svc: string, resource: string, resourceName?: string, sep = ArnFormat.SLASH_RESOURCE_NAME): string =>
    stack.formatArn({ service: svc, resource, resourceName, arnFormat: sep });
  const each = (f: (n: string) => string[]): string[] => names.flatMap(f);
  switch (service) {
    case 'kinesis': return each((n) => [arn('kinesis', 'stream', n)]);
    case 'lambda': return each((n) => [arn('lambda', 'function', n, ArnFormat.COLON_RESOURCE_NAME)])
      .concat(arn('lambda', 'event-source-mapping', '*', ArnFormat.COLON_RESOURCE_NAME));
    case 'sqs': return each((n) => [arn('sqs', n, undefined, ArnFormat.NO_RESOURCE_NAME)]);
    case 's3': return each((n) => [`arn:${stack.partition}:s3:::${n.toLowerCase()}`]);
    case 'dynamodb': return each((n) => [arn('dynamodb', 'table', n)]);
    case 'iam': return each((n) => [
      stack.formatArn({ service: 'iam', region: '', resource: 'role', resourceName: n }),
      stack.formatArn({ service: 'iam', region: '', resource: 'policy', resourceName: n }),
    ]).concat(`arn:${stack.partition}:iam::aws:policy/*`);
    case 'logs': return each((n) => [arn('logs', 'log-group', n, ArnFormat.COLON_RESOURCE_NAME), arn('logs', 'log-group', `/aws/lambda/${n}`, ArnFormat.COLON_RESOURCE_NAME)]);
    case 'sns': return each((n) => [arn('sns', n, undefined, ArnFormat.NO_RESOURCE_NAME)]);
    case 'kms': return [arn('kms', 'key', '*')];
    case 'scheduler': return each((n) => [arn('scheduler', 'schedule', `*/${n}`)]);
    case 'firehose': return each((n) => [arn('firehose', 'deliverystream', n)]);
    default: return ['*'];
  }
}

/** Statements granting `actions` on the resources of `stackNames` (one statement per distinct resource list). */
export function driftReadStatements(stack: Stack, stackNames: readonly string[], actions: readonly string[]): iam.PolicyStatement[] {
  const names = stackNames.map(generatedNamePattern);
  const groups = new Map<string, { resources: string[]; actions: string[] }>();
  for (const action of actions) {
    const resources = resourcesOf(stack, action, names);
    const key = JSON.stringify(stack.resolve(resources));
    const group = groups.get(key) ?? { resources, actions: [] };
    group.actions.push(action);
    groups.set(key, group);
  }
  return [...groups.values()].map((g, i) => new iam.PolicyStatement({ sid: `ReadLiveConfiguration${i}`, actions: g.actions, resources: g.resources }));
}
