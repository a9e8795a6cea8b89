/**
 * An in-memory model of one account's resources across stacks and regions, with CloudFormation's create, update and
 * delete semantics: generated names new on every creation, explicit names that must not exist yet (S3, IAM and
 * dashboard names account-wide, others per region), DeletionPolicy on delete and removal, UpdateReplacePolicy on
 * replacement, retained resources orphaned (in the account, in no stack), a non-empty bucket failing its delete
 * unless CDK's Custom::S3AutoDeleteObjects emptied it first. Pure: no emulator is touched; callers apply the result.
 */
import { creationOrder, dependenciesOf } from './order';
import { NAME_RULES, physicalId as cfnPhysicalId, randomUuid, type Rng } from './physical-names';
import { policiesOf, replacementCauses, type DeletionPolicy, type UpdateReplacePolicy } from './policies';
import { PhoenixError } from '../../core/errors';
import { resolveValue, type ResolveContext, type Where } from '../template/intrinsics';
import type { CfnResource, CfnTemplate } from '../template/types';

/** One resource of the account. `stackId` undefined: in no stack (retained after its stack, or made outside CloudFormation). */
export interface AccountResource {
  readonly type: string;
  readonly physicalId: string;
  readonly region: string;
  readonly logicalId: string;
  stackId: string | undefined;
  readonly explicit: boolean;
  /** Properties with intrinsics resolved (Fn::GetAtt modelled as `<physicalId>.<attribute>`). */
  readonly properties: Readonly<Record<string, unknown>>;
  readonly deletion: DeletionPolicy;
  readonly replace: UpdateReplacePolicy;
  /** Buckets: number of objects (versions included). */
  objects: number;
}

export type StackStatus = 'CREATE_COMPLETE' | 'UPDATE_COMPLETE' | 'ROLLBACK_COMPLETE' | 'UPDATE_ROLLBACK_COMPLETE' | 'DELETE_FAILED';

export interface ResourceOutcome {
  readonly logicalId: string;
  readonly type: string;
  readonly physicalId: string;
}

export interface FailedResource extends ResourceOutcome {
  /** CloudFormation's status reason. */
  readonly reason: string;
}

export interface DeployResult {
  readonly stackId: string;
  readonly status: StackStatus;
  readonly created: readonly (ResourceOutcome & { readonly explicit: boolean })[];
  readonly replaced: readonly { readonly old: ResourceOutcome; readonly new: ResourceOutcome }[];
  /** Existing resources in no stack taken into this one (`importExisting`), not created. */
  readonly imported: readonly ResourceOutcome[];
  /** Old resources removed from the stack (template removal or replacement): deleted, orphaned, or failed to delete. */
  readonly deleted: readonly ResourceOutcome[];
  readonly orphaned: readonly ResourceOutcome[];
  readonly failed: readonly FailedResource[];
}

export interface DestroyResult {
  readonly stackId: string | undefined;
  readonly status: 'DELETE_COMPLETE' | 'DELETE_FAILED';
  readonly deleted: readonly ResourceOutcome[];
  readonly orphaned: readonly ResourceOutcome[];
  /** Resources whose delete failed, and resources kept because something depending on them failed. */
  readonly failed: readonly FailedResource[];
}

interface Outcomes {
  deleted: ResourceOutcome[];
  orphaned: ResourceOutcome[];
  failed: FailedResource[];
}

/** A stack operation CloudFormation failed and rolled back; `reason` is CloudFormation's resource status reason. */
export class StackOperationError extends PhoenixError {
  constructor(
    readonly stackId: string,
    readonly status: StackStatus,
    readonly logicalId: string | undefined,
    readonly reason: string,
    readonly rolledBack: { readonly deleted: readonly ResourceOutcome[]; readonly orphaned: readonly ResourceOutcome[] },
  ) {
    super('CFN_STACK_OPERATION_FAILED', `${stackId}: ${status}${logicalId ? ` (resource ${logicalId})` : ''}: ${reason}`);
  }
}

export interface StackView {
  readonly id: string;
  readonly status: StackStatus;
  readonly resources: ReadonlyMap<string, AccountResource>;
}

interface StackState {
  readonly name: string;
  readonly id: string;
  readonly region: string;
  status: StackStatus;
  template: CfnTemplate;
  readonly resources: Map<string, AccountResource>;
}

/** The CDK tag its auto-delete handler checks before emptying a bucket (aws-s3 auto-delete-objects-handler). */
const AUTO_DELETE_TAG = 'aws-cdk:auto-delete-objects';

export interface CloudFormationModelOptions {
  readonly accountId: string;
  /** Random numbers for name suffixes and stack ids. */
  readonly rng: Rng;
}

export class CloudFormationModel {
  private readonly all: AccountResource[] = [];
  private readonly stacks = new Map<string, StackState>();

  constructor(private readonly opts: CloudFormationModelOptions) {}

  /** Every resource of the account, in a stack or not. */
  resources(): readonly AccountResource[] {
    return this.all;
  }

  /** The resource of `type` named `physicalId` (any region for account-wide names, else in `region`). */
  find(type: string, physicalId: string, region: string): AccountResource | undefined {
    const global = NAME_RULES[type]?.scope === 'global';
    return this.all.find((r) => r.type === type && r.physicalId === physicalId && (global || r.region === region));
  }

  stack(stackName: string, region: string): StackView | undefined {
    return this.stacks.get(stackKey(stackName, region));
  }

  /** A resource made outside CloudFormation (e.g. `/aws/lambda/<fn>` log groups Lambda creates on first invoke). */
  addExternal(type: string, physicalId: string, region: string): AccountResource {
    const r: AccountResource = {
      type, physicalId, region, logicalId: '', stackId: undefined, explicit: true, properties: {}, deletion: 'Retain', replace: 'Retain', objects: 0,
    };
    this.all.push(r);
    return r;
  }

  /** Adds `count` objects to a bucket (what the pipeline wrote); `count` negative removes. */
  putObjects(bucket: string, count: number): void {
    const b = this.all.find((r) => r.type === 'AWS::S3::Bucket' && r.physicalId === bucket);
    if (!b) throw new PhoenixError('CFN_NO_SUCH_BUCKET', `bucket ${bucket} is not in the account model`);
    b.objects = Math.max(0, b.objects + count);
  }

  /** CreateStack, or UpdateStack when the stack exists; throws {@link StackOperationError} after rolling back. */
  /**
   * CreateStack/UpdateStack. `importExisting`: the change set's ImportExistingResources (`cdk deploy
   * --import-existing-resources`): a resource whose template name is a literal string, with DeletionPolicy Retain or
   * RetainExceptOnCreate, that exists in no stack is imported instead of failing as already existing.
   */
  deploy(input: {
    readonly stackName: string; readonly region: string; readonly template: CfnTemplate; readonly importExisting?: boolean;
  }): DeployResult {
    const existing = this.stacks.get(stackKey(input.stackName, input.region));
    if (existing && (existing.status === 'ROLLBACK_COMPLETE' || existing.status === 'DELETE_FAILED')) {
      const reason = `Stack:${existing.id} is in ${existing.status} state and can not be updated.`;
      throw new StackOperationError(existing.id, existing.status, undefined, reason, { deleted: [], orphaned: [] });
    }
    const stack = existing ?? this.newStack(input.stackName, input.region, input.template);
    const plan = new DeployPlan(this, stack, input.template, this.opts, input.importExisting ?? false);
    try {
      plan.run();
    } catch (e) {
      if (!(e instanceof ResourceFailure)) throw e;
      const rolledBack = this.rollBack(plan.created);
      if (!existing) this.stacks.set(stackKey(stack.name, stack.region), stack);
      stack.status = existing ? 'UPDATE_ROLLBACK_COMPLETE' : 'ROLLBACK_COMPLETE';
      throw new StackOperationError(stack.id, stack.status, e.logicalId, e.reason, rolledBack);
    }
    return this.commit(stack, plan, existing !== undefined);
  }

  /** DeleteStack: dependents first; a stack that does not exist is a no-op (as in AWS). */
  destroy(stackName: string, region: string): DestroyResult {
    const stack = this.stacks.get(stackKey(stackName, region));
    if (!stack) return { stackId: undefined, status: 'DELETE_COMPLETE', deleted: [], orphaned: [], failed: [] };
    const out: Outcomes = { deleted: [], orphaned: [], failed: [] };
    const present = new Set(stack.resources.keys());
    const order = [...present].reverse();
    const blocked = new Set<string>();
    for (const id of order) {
      const r = stack.resources.get(id)!;
      const failedDependent = [...blocked].find((d) => dependenciesOf(stack.template, d, present).includes(id));
      if (failedDependent) {
        blocked.add(id);
        out.failed.push({ ...outcome(r), reason: `not deleted: ${failedDependent}, which depends on it, failed to delete` });
        continue;
      }
      const reason = this.remove(r, r.deletion, out);
      if (reason === undefined) stack.resources.delete(id);
      else blocked.add(id);
    }
    stack.status = out.failed.length > 0 ? 'DELETE_FAILED' : stack.status;
    if (out.failed.length === 0) this.stacks.delete(stackKey(stackName, region));
    return { stackId: stack.id, status: out.failed.length > 0 ? 'DELETE_FAILED' : 'DELETE_COMPLETE', ...out };
  }

  /** Orphans or deletes a resource that leaves its stack; returns the failure reason, if the delete failed. */
  private remove(r: AccountResource, policy: DeletionPolicy | UpdateReplacePolicy, out: Outcomes): string | undefined {
    if (policy === 'Retain' || policy === 'RetainExceptOnCreate') {
      r.stackId = undefined;
      out.orphaned.push(outcome(r));
      return undefined;
    }
    const reason = this.deletePhysical(r);
    if (reason === undefined) out.deleted.push(outcome(r));
    else out.failed.push({ ...outcome(r), reason });
    return reason;
  }

  /** Deletes the physical resource as its service would; a bucket with objects fails with S3's BucketNotEmpty. */
  private deletePhysical(r: AccountResource): string | undefined {
    if (r.type === 'AWS::S3::Bucket' && r.objects > 0) {
      return 'The bucket you tried to delete is not empty (Service: Amazon S3; Status Code: 409; Error Code: BucketNotEmpty)';
    }
    if (r.type === 'Custom::S3AutoDeleteObjects') this.autoDeleteObjects(r);
    this.all.splice(this.all.indexOf(r), 1);
    return undefined;
  }

  /** CDK's auto-delete handler on Delete: empties the bucket if it still exists and carries the auto-delete tag. */
  private autoDeleteObjects(r: AccountResource): void {
    const bucket = this.all.find((b) => b.type === 'AWS::S3::Bucket' && b.physicalId === r.properties.BucketName);
    const tags = (bucket?.properties.Tags ?? []) as { Key?: string; Value?: string }[];
    if (bucket && tags.some((t) => t.Key === AUTO_DELETE_TAG && t.Value === 'true')) bucket.objects = 0;
  }

  /** Undoes the creates of a failed operation: Retain resources stay (orphaned), every other one is deleted. */
  private rollBack(created: readonly AccountResource[]): { deleted: ResourceOutcome[]; orphaned: ResourceOutcome[] } {
    const out: Outcomes = { deleted: [], orphaned: [], failed: [] };
    for (const r of [...created].reverse()) this.remove(r, r.deletion === 'Retain' ? 'Retain' : 'Delete', out);
    return { deleted: out.deleted, orphaned: out.orphaned };
  }

  private commit(stack: StackState, plan: DeployPlan, update: boolean): DeployResult {
    const out: Outcomes = { deleted: [], orphaned: [], failed: [] };
    for (const { target, values } of plan.updated) Object.assign(target, values);
    for (const r of plan.imported) r.stackId = stack.id;
    // Cleanup phase: removed resources (DeletionPolicy), then replaced ones (UpdateReplacePolicy), dependents first.
    for (const r of [...plan.removed].reverse()) this.leaveStack(r, r.deletion, out);
    for (const { old } of [...plan.replaced].reverse()) this.leaveStack(old, old.replace, out);
    stack.resources.clear();
    for (const [id, r] of plan.next) stack.resources.set(id, r);
    stack.template = plan.template;
    stack.status = update ? 'UPDATE_COMPLETE' : 'CREATE_COMPLETE';
    this.stacks.set(stackKey(stack.name, stack.region), stack);
    return {
      stackId: stack.id,
      status: stack.status,
      created: plan.created.map((r) => ({ ...outcome(r), explicit: r.explicit })),
      replaced: plan.replaced.map((p) => ({ old: outcome(p.old), new: outcome(p.new) })),
      imported: plan.imported.map(outcome),
      ...out,
    };
  }

  /** A resource leaving its stack during an update's cleanup: a failed delete leaves it in the account, in no stack. */
  private leaveStack(r: AccountResource, policy: DeletionPolicy | UpdateReplacePolicy, out: Outcomes): void {
    const failed = this.remove(r, policy === 'RetainExceptOnCreate' ? 'Retain' : policy, out);
    if (failed !== undefined) r.stackId = undefined;
  }

  private newStack(name: string, region: string, template: CfnTemplate): StackState {
    const id = `arn:aws:cloudformation:${region}:${this.opts.accountId}:stack/${name}/${randomUuid(this.opts.rng)}`;
    return { name, id, region, status: 'CREATE_COMPLETE', template, resources: new Map() };
  }

  /** @internal Adds a created resource to the account (DeployPlan). */
  register(r: AccountResource): void {
    this.all.push(r);
  }
}

/** A resource create that failed: the operation stops and rolls back. */
class ResourceFailure extends Error {
  constructor(readonly logicalId: string, readonly reason: string) {
    super(reason);
  }
}

/** One create or update operation: walks the template in dependency order, deciding create / keep / replace. */
class DeployPlan implements ResolveContext {
  readonly created: AccountResource[] = [];
  readonly replaced: { old: AccountResource; new: AccountResource }[] = [];
  readonly removed: AccountResource[] = [];
  readonly imported: AccountResource[] = [];
  /** In-place updates, applied when the operation succeeds. */
  readonly updated: { target: AccountResource; values: Pick<AccountResource, 'properties' | 'deletion' | 'replace'> }[] = [];
  readonly next = new Map<string, AccountResource>();
  readonly stackName: string;
  readonly stackId: string;
  readonly region: string;
  readonly accountId: string;

  constructor(
    private readonly model: CloudFormationModel,
    private readonly stack: StackState,
    readonly template: CfnTemplate,
    private readonly opts: CloudFormationModelOptions,
    private readonly importExisting = false,
  ) {
    this.stackName = stack.name;
    this.stackId = stack.id;
    this.region = stack.region;
    this.accountId = opts.accountId;
  }

  ref(logicalId: string, where: Where): unknown {
    const r = this.next.get(logicalId);
    if (!r) throw new PhoenixError('CFN_UNRESOLVED_REF', `resource ${where.logicalId}: Ref ${logicalId} is not a resource created before it`);
    return r.physicalId;
  }

  getAtt(logicalId: string, attribute: string, where: Where): unknown {
    return `${String(this.ref(logicalId, where))}.${attribute}`;
  }

  run(): void {
    const order = creationOrder(this.template, this);
    for (const id of order) policiesOf(id, this.template.Resources![id]);
    for (const id of order) this.step(id, this.template.Resources![id]);
    for (const [id, r] of this.stack.resources) if (!this.next.has(id)) this.removed.push(r);
  }

  private step(logicalId: string, res: CfnResource): void {
    const where = { logicalId, type: res.Type };
    const properties = (resolveValue(res.Properties ?? {}, this, where) ?? {}) as Record<string, unknown>;
    const old = this.stack.resources.get(logicalId);
    if (old && old.type !== res.Type) {
      throw new ResourceFailure(logicalId, `Update of resource type is not permitted. The new template modifies resource type of the following resources: [${logicalId}]`);
    }
    const causes = old ? replacementCauses(res.Type, old.properties, properties) : [];
    if (old && causes.length === 0) {
      this.updated.push({ target: old, values: { properties, ...policiesOf(logicalId, res) } });
      this.next.set(logicalId, old);
      return;
    }
    const created = this.create(logicalId, res, properties, old);
    if (old) this.replaced.push({ old, new: created });
  }

  private create(logicalId: string, res: CfnResource, properties: Record<string, unknown>, old: AccountResource | undefined): AccountResource {
    const { id, explicit } = cfnPhysicalId(res.Type, this.stackName, logicalId, properties, this.opts.rng);
    if (explicit && old?.explicit && old.physicalId === id) {
      throw new ResourceFailure(logicalId, `CloudFormation cannot update a stack when a custom-named resource requires replacing. Rename ${id} and update the stack again.`);
    }
    const imported = explicit && this.importExisting ? this.importable(res, id) : undefined;
    if (imported) {
      this.imported.push(imported);
      this.updated.push({ target: imported, values: { properties, ...policiesOf(logicalId, res) } });
      this.next.set(logicalId, imported);
      return imported;
    }
    if (explicit) this.checkFree(logicalId, res.Type, id);
    const placed = { type: res.Type, physicalId: id, region: this.region, logicalId, stackId: this.stackId };
    const r: AccountResource = { ...placed, explicit, properties, objects: 0, ...policiesOf(logicalId, res) };
    this.model.register(r);
    this.created.push(r);
    this.next.set(logicalId, r);
    return r;
  }

  /** The resource auto-import takes (import-resources-automatically.html): literal name, Retain*, in no stack. */
  private importable(res: CfnResource, name: string): AccountResource | undefined {
    const existing = this.model.find(res.Type, name, this.region);
    const literal = typeof res.Properties?.[NAME_RULES[res.Type]?.nameProperty ?? ''] === 'string';
    const retained = res.DeletionPolicy === 'Retain' || res.DeletionPolicy === 'RetainExceptOnCreate';
    return existing && existing.stackId === undefined && literal && retained ? existing : undefined;
  }

  /** An explicit name must not exist yet; CloudFormation's message names the stack that has it. */
  private checkFree(logicalId: string, type: string, name: string): void {
    const existing = this.model.find(type, name, this.region);
    if (!existing) return;
    if (NAME_RULES[type]?.handler === 'registry') {
      throw new ResourceFailure(logicalId, `Resource of type '${type}' with identifier '${name}' already exists.`);
    }
    throw new ResourceFailure(logicalId, existing.stackId ? `${name} already exists in stack ${existing.stackId}` : `${name} already exists`);
  }
}

function stackKey(name: string, region: string): string {
  return `${region}/${name}`;
}

function outcome(r: AccountResource): ResourceOutcome {
  return { logicalId: r.logicalId, type: r.type, physicalId: r.physicalId };
}
