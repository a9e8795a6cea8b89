/** Which resources of a template exist (conditions) and the order CloudFormation creates them in (dependencies first). */
import { TemplateValidationError } from './policies';
import { evaluateCondition, referencedIds, type ResolveContext } from '../template/intrinsics';
import type { CfnTemplate } from '../template/types';

/** Logical ids a resource depends on: references in its properties plus DependsOn, limited to existing resources. */
export function dependenciesOf(template: CfnTemplate, logicalId: string, present: ReadonlySet<string>): string[] {
  const r = template.Resources![logicalId];
  const ids = referencedIds(r.Properties ?? {}, template);
  const dependsOn = r.DependsOn === undefined ? [] : Array.isArray(r.DependsOn) ? r.DependsOn : [r.DependsOn];
  for (const d of dependsOn) ids.add(d);
  return [...ids].filter((id) => id !== logicalId && present.has(id));
}

/** The resources whose Condition holds, in an order where every resource comes after what it depends on. */
export function creationOrder(template: CfnTemplate, ctx: ResolveContext): string[] {
  const all = Object.entries(template.Resources ?? {});
  const present = new Set(all
    .filter(([id, r]) => r.Condition === undefined || evaluateCondition(r.Condition, ctx, { logicalId: id, type: r.Type }))
    .map(([id]) => id));
  const deps = new Map([...present].map((id) => [id, dependenciesOf(template, id, present)]));
  const done = new Set<string>();
  const order: string[] = [];
  while (order.length < present.size) {
    const ready = [...present].filter((id) => !done.has(id) && deps.get(id)!.every((d) => done.has(d)));
    if (ready.length === 0) {
      const stuck = [...present].filter((id) => !done.has(id));
      throw new TemplateValidationError(`Circular dependency between resources: [${stuck.join(', ')}]`);
    }
    for (const id of ready) { done.add(id); order.push(id); }
  }
  return order;
}
