/**
 * The IAM view of a local stack: every role's identity policies, every resource-based policy (bucket, queue, topic,
 * function permissions, role trust), every key policy, and which resource is encrypted with which key. Collected from
 * the template with intrinsics resolved by the template loader; kept as plain JSON ({@link IamTemplateData}) so the
 * emulator host can rebuild it, and parsed into an {@link IamModel} that refuses anything it cannot evaluate.
 */
import { AWS_MANAGED_POLICIES, awsManagedKeyArn, awsManagedKeyPolicy } from './managed';
import { parsePolicy, type Policy, type PolicyKind } from './policy';
import { PhoenixError } from '../../core/errors';
import type { LocalStack, StackResource } from '../template/stack';

/** A template part the IAM evaluation cannot take into account; the message is one line naming it. */
export class IamTemplateError extends PhoenixError {
  constructor(r: Pick<StackResource, 'logicalId' | 'type'>, detail: string) {
    super('IAM_TEMPLATE', `resource ${r.logicalId} (${r.type}): ${detail}`);
  }
}

export interface PolicyData { readonly source: string; readonly document: unknown }

/** Plain-JSON IAM facts of a stack. */
export interface IamTemplateData {
  readonly account: string;
  readonly region: string;
  readonly roles: ReadonlyArray<{ readonly logicalId: string; readonly arn: string; readonly policies: readonly PolicyData[] }>;
  /** Resource ARN (a bucket's ARN covers its objects) -> its resource-based policies. */
  readonly resourcePolicies: ReadonlyArray<{ readonly resourceArn: string } & PolicyData>;
  readonly keys: ReadonlyArray<{ readonly keyArn: string } & PolicyData>;
  /** Stream, queue, topic or bucket ARN -> ARN of the KMS key it is encrypted with. */
  readonly encryption: ReadonlyArray<{ readonly resourceArn: string; readonly keyArn: string }>;
}

/** Parsed, indexed IAM facts. */
export interface IamModel {
  readonly account: string;
  readonly region: string;
  readonly roles: ReadonlyMap<string, { readonly logicalId: string; readonly policies: readonly Policy[] }>;
  readonly resourcePolicies: ReadonlyMap<string, readonly Policy[]>;
  readonly keyPolicies: ReadonlyMap<string, Policy>;
  readonly encryption: ReadonlyMap<string, string>;
}

const list = (v: unknown): unknown[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

class Collector {
  readonly roles = new Map<string, { logicalId: string; arn: string; policies: PolicyData[] }>();
  readonly resourcePolicies: Array<{ resourceArn: string } & PolicyData> = [];
  readonly keys = new Map<string, { keyArn: string } & PolicyData>();
  readonly encryption: Array<{ resourceArn: string; keyArn: string }> = [];
  private readonly roleByName = new Map<string, string>();
  private readonly managedByArn = new Map<string, PolicyData>();

  constructor(private readonly stack: LocalStack) {}

  private where(r: StackResource, property?: string) {
    return { logicalId: r.logicalId, type: r.type, property };
  }

  private attr(r: StackResource, name: string): string {
    return String(this.stack.getAtt(r.logicalId, name, this.where(r)));
  }

  collect(): IamTemplateData {
    const all = [...this.stack.resources.values()];
    const of = (type: string): StackResource[] => all.filter((r) => r.type === type);
    for (const r of of('AWS::KMS::Key')) this.addKey(r);
    for (const r of of('AWS::IAM::ManagedPolicy')) this.addManagedPolicy(r);
    for (const r of of('AWS::IAM::Role')) this.addRole(r);
    for (const r of [...of('AWS::IAM::Policy'), ...of('AWS::IAM::ManagedPolicy')]) this.attachPolicy(r);
    for (const r of all) this.addResourcePolicy(r);
    for (const r of all) this.addEncryption(r);
    const { accountId: account, region } = this.stack;
    const roles = [...this.roles.values()];
    return { account, region, roles, resourcePolicies: this.resourcePolicies, keys: [...this.keys.values()], encryption: this.encryption };
  }

  private addKey(r: StackResource): void {
    const props = this.stack.resolvedProperties(r.logicalId);
    const keyArn = this.attr(r, 'Arn');
    // A key created without KeyPolicy gets AWS's default key policy: the account root may do everything.
    const document = props.KeyPolicy ?? { Statement: [{ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${this.stack.accountId}:root` }, Action: 'kms:*', Resource: '*' }] };
    this.keys.set(keyArn, { keyArn, source: `AWS::KMS::Key ${r.logicalId}`, document });
  }

  private addManagedPolicy(r: StackResource): void {
    const props = this.stack.resolvedProperties(r.logicalId);
    this.managedByArn.set(String(this.stack.ref(r.logicalId, this.where(r))), { source: `AWS::IAM::ManagedPolicy ${r.logicalId}`, document: props.PolicyDocument });
  }

  private managedPolicy(r: StackResource, arn: string): PolicyData {
    const local = this.managedByArn.get(arn);
    if (local) return local;
    const name = /^arn:aws[\w-]*:iam::aws:policy\/(.+)$/.exec(arn)?.[1];
    const document = name === undefined ? undefined : AWS_MANAGED_POLICIES[name];
    if (document === undefined) {
      throw new IamTemplateError(r, `managed policy ${arn} is not known locally (AWS managed policies known: ${Object.keys(AWS_MANAGED_POLICIES).join(', ')})`);
    }
    return { source: `AWS managed policy ${name}`, document };
  }

  private addRole(r: StackResource): void {
    const props = this.stack.resolvedProperties(r.logicalId);
    const arn = this.attr(r, 'Arn');
    this.roleByName.set(String(this.stack.ref(r.logicalId, this.where(r))), arn);
    if (props.PermissionsBoundary !== undefined) throw new IamTemplateError(r, 'PermissionsBoundary is not evaluated locally');
    const policies: PolicyData[] = list(props.Policies).map((p) => {
      const { PolicyName, PolicyDocument } = p as { PolicyName?: unknown; PolicyDocument?: unknown };
      return { source: `AWS::IAM::Role ${r.logicalId} inline policy ${String(PolicyName)}`, document: PolicyDocument };
    });
    // Managed policies attached to the role itself; template ones listing the role in Roles are attached in attachPolicy.
    for (const m of list(props.ManagedPolicyArns)) if (!this.isTemplateManaged(String(m))) policies.push(this.managedPolicy(r, String(m)));
    this.roles.set(arn, { logicalId: r.logicalId, arn, policies });
    if (props.AssumeRolePolicyDocument !== undefined) {
      this.resourcePolicies.push({ resourceArn: arn, source: `AWS::IAM::Role ${r.logicalId} trust policy`, document: props.AssumeRolePolicyDocument });
    }
  }

  private isTemplateManaged(arn: string): boolean {
    return this.managedByArn.has(arn);
  }

  /** AWS::IAM::Policy / ManagedPolicy listing roles in `Roles`, and template managed policies in a role's ManagedPolicyArns. */
  private attachPolicy(r: StackResource): void {
    const props = this.stack.resolvedProperties(r.logicalId);
    if (list(props.Users).length || list(props.Groups).length) throw new IamTemplateError(r, 'policies of IAM users or groups are not evaluated locally (only roles)');
    const data: PolicyData = { source: `${r.type} ${r.logicalId}`, document: props.PolicyDocument };
    const roleArns = list(props.Roles).map((name) => {
      const arn = this.roleByName.get(String(name));
      if (!arn) throw new IamTemplateError(r, `role ${String(name)} is not a role of this stack`);
      return arn;
    });
    if (r.type === 'AWS::IAM::ManagedPolicy') {
      const policyArn = String(this.stack.ref(r.logicalId, this.where(r)));
      for (const role of this.stack.resources.values()) {
        if (role.type !== 'AWS::IAM::Role') continue;
        const arns = list(this.stack.resolvedProperties(role.logicalId).ManagedPolicyArns).map(String);
        if (arns.includes(policyArn)) roleArns.push(this.attr(role, 'Arn'));
      }
    }
    for (const arn of new Set(roleArns)) this.roles.get(arn)!.policies.push(data);
  }

  private addResourcePolicy(r: StackResource): void {
    const add = (resourceArn: string, document: unknown): void => {
      this.resourcePolicies.push({ resourceArn, source: `${r.type} ${r.logicalId}`, document });
    };
    if (!['AWS::S3::BucketPolicy', 'AWS::SQS::QueuePolicy', 'AWS::SNS::TopicPolicy', 'AWS::Lambda::Permission'].includes(r.type)) return;
    const props = this.stack.resolvedProperties(r.logicalId);
    switch (r.type) {
      case 'AWS::S3::BucketPolicy': add(`arn:aws:s3:::${String(props.Bucket)}`, props.PolicyDocument); break;
      case 'AWS::SQS::QueuePolicy':
        for (const url of list(props.Queues)) add(queueArnOfUrl(String(url), this.stack.region, this.stack.accountId), props.PolicyDocument);
        break;
      case 'AWS::SNS::TopicPolicy': for (const topic of list(props.Topics)) add(String(topic), props.PolicyDocument); break;
      default: add(this.functionArn(r, String(props.FunctionName)), this.permissionDocument(r, props));
    }
  }

  private functionArn(r: StackResource, nameOrArn: string): string {
    if (nameOrArn.startsWith('arn:')) return nameOrArn;
    const fn = [...this.stack.resources.values()].find((f) => f.type === 'AWS::Lambda::Function' && this.stack.ref(f.logicalId, this.where(r)) === nameOrArn);
    if (!fn) throw new IamTemplateError(r, `FunctionName ${nameOrArn} is not a function of this stack`);
    return this.attr(fn, 'Arn');
  }

  /** An AWS::Lambda::Permission as the statement Lambda adds to the function's resource-based policy. */
  private permissionDocument(r: StackResource, props: Record<string, unknown>): unknown {
    for (const unsupported of ['PrincipalOrgID', 'FunctionUrlAuthType', 'EventSourceToken']) {
      if (props[unsupported] !== undefined) throw new IamTemplateError(r, `${unsupported} is not evaluated locally`);
    }
    const principal = String(props.Principal);
    const Principal = principal === '*' ? '*' : /^[a-z0-9.-]+\.amazonaws\.com$/.test(principal) ? { Service: principal } : { AWS: principal };
    const Condition: Record<string, Record<string, unknown>> = {};
    if (props.SourceArn !== undefined) Condition.ArnLike = { 'aws:SourceArn': props.SourceArn };
    if (props.SourceAccount !== undefined) Condition.StringEquals = { 'aws:SourceAccount': props.SourceAccount };
    const statement = { Sid: r.logicalId, Effect: 'Allow', Principal, Action: props.Action, ...(Object.keys(Condition).length ? { Condition } : {}) };
    return { Version: '2012-10-17', Statement: [statement] };
  }

  private addEncryption(r: StackResource): void {
    const props = (): Record<string, unknown> => this.stack.resolvedProperties(r.logicalId);
    let keyRef: unknown;
    let service: string;
    switch (r.type) {
      case 'AWS::Kinesis::Stream': {
        const enc = props().StreamEncryption as { EncryptionType?: string; KeyId?: unknown } | undefined;
        if (enc?.EncryptionType !== 'KMS') return;
        [keyRef, service] = [enc.KeyId, 'kinesis'];
        break;
      }
      case 'AWS::SQS::Queue': [keyRef, service] = [props().KmsMasterKeyId, 'sqs']; break;
      case 'AWS::SNS::Topic': [keyRef, service] = [props().KmsMasterKeyId, 'sns']; break;
      case 'AWS::S3::Bucket': {
        type Rule = { ServerSideEncryptionByDefault?: { SSEAlgorithm?: string; KMSMasterKeyID?: unknown } };
        const encryption = props().BucketEncryption as { ServerSideEncryptionConfiguration?: unknown } | undefined;
        const rules = list(encryption?.ServerSideEncryptionConfiguration);
        const byDefault = (rules[0] as Rule | undefined)?.ServerSideEncryptionByDefault;
        if (!byDefault?.SSEAlgorithm?.startsWith('aws:kms')) return;
        [keyRef, service] = [byDefault.KMSMasterKeyID ?? 'alias/aws/s3', 's3'];
        break;
      }
      default: return;
    }
    if (keyRef === undefined) return;
    const resourceArn = r.type === 'AWS::SNS::Topic' ? String(this.stack.ref(r.logicalId, this.where(r))) : this.attr(r, 'Arn');
    this.encryption.push({ resourceArn, keyArn: this.keyArn(r, String(keyRef), service) });
  }

  /** A key reference (key id, key ARN, alias name or alias ARN) -> key ARN; AWS managed aliases get their managed key. */
  private keyArn(r: StackResource, ref: string, service: string): string {
    const { region, accountId } = this.stack;
    const alias = /^(?:arn:aws[\w-]*:kms:[^:]*:[^:]*:)?(alias\/.+)$/.exec(ref)?.[1];
    if (alias?.startsWith('alias/aws/')) {
      const managed = alias.slice('alias/aws/'.length);
      const keyArn = awsManagedKeyArn(managed, region, accountId);
      if (!keyArn) throw new IamTemplateError(r, `AWS managed key ${alias} is not known locally`);
      if (!this.keys.has(keyArn)) this.keys.set(keyArn, { keyArn, source: `AWS managed key ${alias}`, document: awsManagedKeyPolicy(managed, region, accountId) });
      return keyArn;
    }
    if (alias) return this.keyArn(r, this.aliasTarget(r, alias), service);
    const keyArn = ref.startsWith('arn:') ? ref : `arn:aws:kms:${region}:${accountId}:key/${ref}`;
    if (!this.keys.has(keyArn)) throw new IamTemplateError(r, `KMS key ${ref} is not a key of this stack (its key policy cannot be evaluated)`);
    return keyArn;
  }

  private aliasTarget(r: StackResource, alias: string): string {
    for (const a of this.stack.resources.values()) {
      if (a.type !== 'AWS::KMS::Alias') continue;
      const props = this.stack.resolvedProperties(a.logicalId);
      if (props.AliasName === alias) return String(props.TargetKeyId);
    }
    throw new IamTemplateError(r, `KMS alias ${alias} is not an alias of this stack`);
  }
}

/** Queue URL `<endpoint>/<account>/<name>` -> queue ARN. */
export function queueArnOfUrl(url: string, region: string, account: string): string {
  const name = url.replace(/\/+$/, '').split('/').pop() ?? '';
  return `arn:aws:sqs:${region}:${account}:${name}`;
}

/** Collects the IAM facts of a stack (queue URLs need the stack's endpoints bound). */
export function collectIam(stack: LocalStack): IamTemplateData {
  return new Collector(stack).collect();
}

/** Parses the collected facts; throws IamPolicyError naming the policy and statement it cannot read. */
export function buildIamModel(data: IamTemplateData): IamModel {
  const parse = (p: PolicyData, kind: PolicyKind): Policy => parsePolicy(p.document, p.source, kind);
  const resourcePolicies = new Map<string, Policy[]>();
  for (const p of data.resourcePolicies) resourcePolicies.set(p.resourceArn, [...(resourcePolicies.get(p.resourceArn) ?? []), parse(p, 'resource')]);
  return {
    account: data.account,
    region: data.region,
    roles: new Map(data.roles.map((r) => [r.arn, { logicalId: r.logicalId, policies: r.policies.map((p) => parse(p, 'identity')) }])),
    resourcePolicies,
    keyPolicies: new Map(data.keys.map((k) => [k.keyArn, parse(k, 'resource')])),
    encryption: new Map(data.encryption.map((e) => [e.resourceArn, e.keyArn])),
  };
}
