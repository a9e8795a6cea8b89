import { Stack, Validations } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

/**
 * Acknowledges policy-validation findings (for example cdk-nag packs registered with
 * `Validations.of(app).addPlugins(...)`) on `scope` and its children.
 *
 * Uses `Validations` from aws-cdk-lib, so the library has no runtime dependency on cdk-nag:
 * the acknowledgement is construct metadata that any validation plugin may read.
 * Each id is granular (e.g. `AwsSolutions-IAM5[Resource::*]`) and every reason names the cause.
 */
export function acknowledge(scope: IConstruct, reason: string, ...ids: string[]): void {
  Validations.of(scope).acknowledge(...ids.map((id) => ({ id, reason })));
}

/**
 * The granular id of a cdk-nag `<pack>-IAM5` finding for a wildcard resource, e.g.
 * `AwsSolutions-IAM5[Resource::<BucketABC123.Arn>/dlq/*]`: the resource ARN is resolved in the scope's stack and
 * flattened the way the rule reports it (`<LogicalId.Attr>` for Fn::GetAtt, `<LogicalId>` for Ref).
 */
export function wildcardResourceFinding(scope: IConstruct, resourceArn: string): string {
  return `AwsSolutions-IAM5[Resource::${flatten(Stack.of(scope).resolve(resourceArn))}]`;
}

function flatten(node: unknown): string {
  if (node === undefined) return '';
  if (typeof node === 'string') return node.replace(/\$\{/g, '<').replace(/\}/g, '>');
  if (typeof node === 'object' && node !== null) {
    const o = node as Record<string, any>;
    if (o['Fn::Join']) {
      const [delimiter, items] = o['Fn::Join'] as [string, unknown[]];
      return items.map(flatten).join(delimiter);
    }
    if (o['Fn::Sub']) return flatten(o['Fn::Sub']);
    if (o['Fn::GetAtt']) {
      const [resource, attribute] = o['Fn::GetAtt'] as [unknown, unknown];
      return `<${flatten(resource)}.${flatten(attribute)}>`;
    }
    if (o['Fn::ImportValue']) return flatten(o['Fn::ImportValue']);
    if (o.Ref) return `<${flatten(o.Ref)}>`;
  }
  return JSON.stringify(node);
}
