import type { DrillReport } from './types';
import type { DeployResult } from '../cloudformation/lifecycle';

export interface DeployedNames {
  /** logical id -> physical name of every resource the deployment created */
  readonly names: Record<string, string>;
  /** Logical ids whose name the template sets (CloudFormation keeps it on every creation). */
  readonly explicit: ReadonlySet<string>;
}

export function deployedNames(d: DeployResult): DeployedNames {
  return {
    names: Object.fromEntries(d.created.map((r) => [r.logicalId, r.physicalId])),
    explicit: new Set(d.created.filter((r) => r.explicit).map((r) => r.logicalId)),
  };
}

/**
 * Compares the names of two creations of the stack: every resource created by both gets a new generated name unless
 * the template names it. `namesChanged` is true when no generated name was kept; `unchanged` lists every kept name.
 */
export function compareNames(before: DeployedNames, after: DeployedNames): Pick<DrillReport, 'names' | 'namesChanged' | 'unchanged'> {
  const unchanged: DrillReport['unchanged'] = [];
  for (const [id, name] of Object.entries(before.names)) {
    if (after.names[id] === name) unchanged.push({ logicalId: id, physicalName: name, explicit: before.explicit.has(id) && after.explicit.has(id) });
  }
  return { names: { before: before.names, after: after.names }, namesChanged: unchanged.every((u) => u.explicit), unchanged };
}
