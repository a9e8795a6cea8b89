import { createHash } from 'node:crypto';
import { AssemblyError, UnsupportedTemplateError } from './errors';
import { evaluateCondition, referencedIds, resolveValue, type ResolveContext, type Where } from './intrinsics';
import { isLocallyHandledCustomResource, typeSpec, type RunSpec } from './resource-types';
import { LOCAL_ACCOUNT, LOCAL_REGION, type CfnResource, type CfnTemplate } from './types';
import { consumerPhysicalId } from '../cloudformation/physical-names';

/** Endpoints the local names and URLs point at. */
export interface LocalEndpoints {
  /** SQS endpoint; queue URLs are `<sqs>/<account>/<name>`. */
  readonly sqs: string;
}

/** One resource of the template with its local identity. */
export interface StackResource {
  readonly logicalId: string;
  readonly type: string;
  readonly resource: CfnResource;
  /** `run`: created or run locally; `accept`: no local behaviour (see resource-types.ts). */
  readonly local: 'run' | 'accept';
  /** Why an accepted resource has no local behaviour. */
  readonly reason?: string;
}

/** A deterministic CloudFormation-like suffix: 12 characters of [A-Z0-9] from a hash of stack and logical id. */
function suffix(stackName: string, logicalId: string): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
  const digest = createHash('sha256').update(`${stackName}/${logicalId}`).digest();
  let out = '';
  for (let i = 0; i < 12; i++) out += alphabet[digest[i] % alphabet.length];
  return out;
}

/** A deterministic UUID (v4 layout) from a hash: ids of event source mappings and keys. */
export function localUuid(...parts: string[]): string {
  const h = createHash('sha256').update(parts.join('/')).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/**
 * A physical name the way CloudFormation generates one: `<stack>-<logicalId>-<SUFFIX>`, stack and logical id
 * shortened to fit `max`; lower-cased for buckets; `.fifo` kept at the end of FIFO queues and topics.
 */
export function generatedName(stackName: string, logicalId: string, max: number, opts: { lower?: boolean; fifo?: boolean } = {}): string {
  const end = opts.fifo ? '.fifo' : '';
  const sfx = suffix(stackName, logicalId);
  const room = max - sfx.length - 2 - end.length;
  let stack = stackName.replace(/[^A-Za-z0-9-]/g, '');
  let logical = logicalId;
  if (stack.length + logical.length > room) {
    const half = Math.floor(room / 2);
    if (stack.length > half && logical.length > room - half) {
      stack = stack.slice(0, half);
      logical = logical.slice(0, room - half);
    } else if (stack.length > half) {
      stack = stack.slice(0, room - logical.length);
    } else {
      logical = logical.slice(0, room - stack.length);
    }
  }
  const name = `${stack}-${logical}-${sfx}${end}`;
  return opts.lower ? name.toLowerCase() : name;
}

interface Physical {
  readonly ref: unknown;
  readonly attrs: Record<string, unknown>;
}

/** A deployment of the stack (CloudFormationModel.deploy): its stack id and every resource's physical id. */
export interface StackDeployment {
  readonly stackId: string;
  /** logical id -> physical id (names, or UUIDs of mappings and keys) */
  readonly physicalIds: ReadonlyMap<string, string>;
}

/**
 * The local view of one stack: validation against the supported resource table, dependency order, and the
 * resolution of intrinsics to local names, URLs and ARNs (region us-east-1, account 000000000000).
 * Names are those of the last {@link deployed} deployment; before one (template analysis), deterministic ones.
 */
export class LocalStack implements ResolveContext {
  readonly region = LOCAL_REGION;
  readonly accountId = LOCAL_ACCOUNT;
  readonly resources: ReadonlyMap<string, StackResource>;
  private deployment: StackDeployment;
  private readonly physical = new Map<string, Physical>();
  private readonly computing = new Set<string>();
  private endpoints: LocalEndpoints | undefined;

  constructor(readonly stackName: string, readonly template: CfnTemplate) {
    const stackId = `arn:aws:cloudformation:${this.region}:${this.accountId}:stack/${stackName}/${localUuid('stack', stackName)}`;
    this.deployment = { stackId, physicalIds: new Map() };
    if (template.Transform !== undefined) {
      throw new AssemblyError(`stack ${stackName}: template transforms (${JSON.stringify(template.Transform)}) are not supported locally`);
    }
    const resources = new Map<string, StackResource>();
    const serviceTokens = this.customResourceProviders(template);
    for (const [logicalId, resource] of Object.entries(template.Resources ?? {})) {
      if (resource.Condition !== undefined && !evaluateCondition(resource.Condition, this, { logicalId, type: resource.Type })) continue;
      const spec = typeSpec(resource.Type);
      if (resource.Type === 'AWS::Lambda::Function' && serviceTokens.has(logicalId)) {
        resources.set(logicalId, {
          logicalId,
          type: resource.Type,
          resource,
          local: 'accept',
          reason: `provider of ${serviceTokens.get(logicalId)}: runs only during deployment`,
        });
        continue;
      }
      if (!spec) {
        const detail = resource.Type.startsWith('Custom::') || resource.Type === 'AWS::CloudFormation::CustomResource'
          ? 'custom resources run only during deployment and this one is not known to be safe to skip; it is not supported locally'
          : 'this resource type is not supported by the local environment (see docs/local-environment.md for the supported types)';
        throw new UnsupportedTemplateError(logicalId, resource.Type, undefined, detail);
      }
      if (spec.local === 'run') this.checkProperties(logicalId, resource, spec);
      resources.set(logicalId, { logicalId, type: resource.Type, resource, local: spec.local, reason: spec.local === 'accept' ? spec.reason : undefined });
    }
    this.resources = resources;
  }

  /**
   * Functions that are only the ServiceToken (provider) of custom resources the local environment handles itself
   * (logical id -> custom type). A function that anything with local behaviour refers to otherwise is not only a provider.
   */
  private customResourceProviders(template: CfnTemplate): Map<string, string> {
    const providers = new Map<string, string>();
    const usedElsewhere = new Set<string>();
    for (const [, r] of Object.entries(template.Resources ?? {})) {
      const { ServiceToken: token, ...rest } = r.Properties ?? {};
      if (isLocallyHandledCustomResource(r.Type)) {
        for (const id of referencedIds(token, template)) providers.set(id, r.Type);
        if (typeSpec(r.Type)?.local === 'run') for (const id of referencedIds(rest, template)) usedElsewhere.add(id);
        continue;
      }
      if (typeSpec(r.Type)?.local !== 'run') continue;
      for (const id of referencedIds(r.Properties, template)) usedElsewhere.add(id);
    }
    for (const id of usedElsewhere) providers.delete(id);
    return providers;
  }

  private checkProperties(logicalId: string, resource: CfnResource, spec: RunSpec): void {
    for (const prop of Object.keys(resource.Properties ?? {})) {
      if (!Object.prototype.hasOwnProperty.call(spec.properties, prop)) {
        throw new UnsupportedTemplateError(logicalId, resource.Type, prop,
          'this property is not supported by the local environment (it may change behaviour the local run cannot reproduce)');
      }
    }
  }

  get stackId(): string {
    return this.deployment.stackId;
  }

  /** Resolves names, ARNs and URLs to the physical ids of `d` from now on (every CloudFormation create draws new ones). */
  deployed(d: StackDeployment): void {
    this.deployment = d;
    this.physical.clear();
  }

  /** The physical id of a resource in the last deployment, else `fallback()` (no deployment yet). */
  private deployedId(logicalId: string, fallback: () => string): string {
    return this.deployment.physicalIds.get(logicalId) ?? fallback();
  }

  /** Sets the endpoints local URLs point at; required before resolving queue URLs. */
  bindEndpoints(endpoints: LocalEndpoints): void {
    this.endpoints = endpoints;
    this.physical.clear();
  }

  /** Resources in an order where every resource comes after the resources it refers to (Ref, GetAtt, Sub, DependsOn). */
  creationOrder(): StackResource[] {
    const deps = new Map<string, Set<string>>();
    for (const r of this.resources.values()) {
      const ids = referencedIds(r.resource.Properties, this.template);
      const dependsOn = r.resource.DependsOn === undefined ? [] : Array.isArray(r.resource.DependsOn) ? r.resource.DependsOn : [r.resource.DependsOn];
      for (const d of dependsOn) ids.add(d);
      for (const id of ids) {
        if (!this.template.Resources?.[id]) {
          throw new UnsupportedTemplateError(r.logicalId, r.type, undefined, `refers to ${id}, which is not a resource or parameter of the template`);
        }
      }
      deps.set(r.logicalId, new Set([...ids].filter((id) => this.resources.has(id))));
    }
    const order: StackResource[] = [];
    const done = new Set<string>();
    const ids = [...this.resources.keys()].sort();
    while (done.size < ids.length) {
      const ready = ids.filter((id) => !done.has(id) && [...deps.get(id)!].every((d) => done.has(d)));
      if (ready.length === 0) {
        const stuck = ids.filter((id) => !done.has(id));
        throw new AssemblyError(`stack ${this.stackName}: circular dependency between ${stuck.slice(0, 5).join(', ')}`);
      }
      for (const id of ready) {
        done.add(id);
        order.push(this.resources.get(id)!);
      }
    }
    return order;
  }

  /** Resolves intrinsics in a value taken from `logicalId`'s `property`. */
  resolve(value: unknown, where: Where): unknown {
    return resolveValue(value, this, where);
  }

  /** A resource's properties with intrinsics resolved (AWS::NoValue removed). */
  resolvedProperties(logicalId: string): Record<string, unknown> {
    const r = this.get(logicalId);
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(r.resource.Properties ?? {})) {
      const resolved = this.resolve(v, { logicalId, type: r.type, property: k });
      if (resolved !== undefined) out[k] = resolved;
    }
    return out;
  }

  get(logicalId: string): StackResource {
    const r = this.resources.get(logicalId);
    if (!r) throw new AssemblyError(`stack ${this.stackName} has no resource ${logicalId}`);
    return r;
  }

  ref(logicalId: string, where: Where): unknown {
    return this.physicalOf(logicalId, where).ref;
  }

  getAtt(logicalId: string, attribute: string, where: Where): unknown {
    const p = this.physicalOf(logicalId, where);
    if (!Object.prototype.hasOwnProperty.call(p.attrs, attribute)) {
      const type = this.template.Resources?.[logicalId]?.Type ?? 'unknown';
      throw new UnsupportedTemplateError(where.logicalId, where.type, where.property,
        `Fn::GetAtt ${logicalId}.${attribute} (${type}) has no local value`);
    }
    return p.attrs[attribute];
  }

  private physicalOf(logicalId: string, where: Where): Physical {
    const known = this.physical.get(logicalId);
    if (known) return known;
    const resource = this.template.Resources?.[logicalId];
    if (!resource) throw new UnsupportedTemplateError(where.logicalId, where.type, where.property, `refers to ${logicalId}, which is not in the template`);
    if (!this.resources.has(logicalId)) {
      throw new UnsupportedTemplateError(where.logicalId, where.type, where.property, `refers to ${logicalId}, whose Condition is false`);
    }
    if (this.computing.has(logicalId)) {
      throw new UnsupportedTemplateError(where.logicalId, where.type, where.property, `circular reference through ${logicalId}`);
    }
    this.computing.add(logicalId);
    try {
      const p = this.computePhysical(logicalId, resource);
      this.physical.set(logicalId, p);
      return p;
    } finally {
      this.computing.delete(logicalId);
    }
  }

  /** A name property's value, else the deployment's physical id, else a deterministic generated one. */
  private nameOf(
    logicalId: string, resource: CfnResource, prop: string | undefined, max: number, opts: { lower?: boolean; fifo?: boolean } = {},
  ): string {
    const given = prop ? resource.Properties?.[prop] : undefined;
    if (given !== undefined) {
      const v = this.resolve(given, { logicalId, type: resource.Type, property: prop });
      if (v !== undefined) return String(v);
    }
    return this.deployedId(logicalId, () => generatedName(this.stackName, logicalId, max, opts));
  }

  private isTrue(resource: CfnResource, prop: string, logicalId: string): boolean {
    const v = resource.Properties?.[prop];
    if (v === undefined) return false;
    const r = this.resolve(v, { logicalId, type: resource.Type, property: prop });
    return r === true || r === 'true';
  }

  /**
   * A stream consumer's ARN as Kinesis gives it: `<stream ARN>/consumer/<name>:<creation epoch seconds>`; the
   * deployment's physical id is `<name>:<epoch>` (lib/local/cloudformation/physical-names.ts).
   */
  private consumerPhysical(logicalId: string, resource: CfnResource): Physical {
    const where = (property: string): Where => ({ logicalId, type: resource.Type, property });
    const streamArn = this.resolve(resource.Properties?.StreamARN, where('StreamARN'));
    const name = this.resolve(resource.Properties?.ConsumerName, where('ConsumerName'));
    if (typeof streamArn !== 'string' || !/^arn:aws:kinesis:[^:]+:\d{12}:stream\/[^/]+$/.test(streamArn)) {
      throw new UnsupportedTemplateError(logicalId, resource.Type, 'StreamARN', `must be a Kinesis stream ARN (got ${JSON.stringify(streamArn)})`);
    }
    if (typeof name !== 'string' || !/^[a-zA-Z0-9_.-]{1,128}$/.test(name)) {
      throw new UnsupportedTemplateError(logicalId, resource.Type, 'ConsumerName', `must be 1-128 characters of [a-zA-Z0-9_.-] (got ${JSON.stringify(name)})`);
    }
    const id = this.deployedId(logicalId, () => consumerPhysicalId(name, Date.now()));
    const consumerArn = `${streamArn}/consumer/${id}`;
    const epoch = Number(id.slice(id.lastIndexOf(':') + 1));
    return {
      ref: consumerArn,
      attrs: { ConsumerARN: consumerArn, ConsumerName: name, StreamARN: streamArn, ConsumerStatus: 'ACTIVE', ConsumerCreationTimestamp: new Date(epoch * 1000).toISOString() },
    };
  }

  private computePhysical(logicalId: string, resource: CfnResource): Physical {
    const { region: R, accountId: A } = this;
    const arn = (service: string, resourcePart: string, opts: { noRegion?: boolean; noAccount?: boolean } = {}): string =>
      `arn:aws:${service}:${opts.noRegion ? '' : R}:${opts.noAccount ? '' : A}:${resourcePart}`;
    const generic = (): Physical => ({ ref: this.deployedId(logicalId, () => generatedName(this.stackName, logicalId, 64)), attrs: {} });
    const uuid = (kind: string): string => this.deployedId(logicalId, () => localUuid(kind, this.stackName, logicalId));
    switch (resource.Type) {
      case 'AWS::Kinesis::Stream': {
        const name = this.nameOf(logicalId, resource, 'Name', 128);
        return { ref: name, attrs: { Arn: arn('kinesis', `stream/${name}`) } };
      }
      case 'AWS::Kinesis::StreamConsumer':
        return this.consumerPhysical(logicalId, resource);
      case 'AWS::SQS::Queue': {
        const name = this.nameOf(logicalId, resource, 'QueueName', 80, { fifo: this.isTrue(resource, 'FifoQueue', logicalId) });
        if (!this.endpoints) throw new Error('LocalStack: queue URLs need bindEndpoints() first');
        const url = `${this.endpoints.sqs}/${A}/${name}`;
        return { ref: url, attrs: { Arn: arn('sqs', name), QueueName: name, QueueUrl: url } };
      }
      case 'AWS::DynamoDB::Table': {
        const name = this.nameOf(logicalId, resource, 'TableName', 255);
        const tableArn = arn('dynamodb', `table/${name}`);
        const attrs: Record<string, unknown> = { Arn: tableArn };
        if (resource.Properties?.StreamSpecification !== undefined) attrs.StreamArn = `${tableArn}/stream/1970-01-01T00:00:00.000`;
        return { ref: name, attrs };
      }
      case 'AWS::S3::Bucket': {
        const name = this.nameOf(logicalId, resource, 'BucketName', 63, { lower: true });
        return {
          ref: name,
          attrs: {
            Arn: `arn:aws:s3:::${name}`,
            DomainName: `${name}.s3.amazonaws.com`,
            RegionalDomainName: `${name}.s3.${R}.amazonaws.com`,
            DualStackDomainName: `${name}.s3.dualstack.${R}.amazonaws.com`,
            WebsiteURL: `http://${name}.s3-website-${R}.amazonaws.com`,
          },
        };
      }
      case 'AWS::Lambda::Function': {
        const name = this.nameOf(logicalId, resource, 'FunctionName', 64);
        return { ref: name, attrs: { Arn: arn('lambda', `function:${name}`) } };
      }
      case 'AWS::Lambda::EventSourceMapping': {
        const id = uuid('esm');
        return { ref: id, attrs: { Id: id, EventSourceMappingArn: arn('lambda', `event-source-mapping:${id}`) } };
      }
      case 'AWS::Scheduler::Schedule': {
        const name = this.nameOf(logicalId, resource, 'Name', 64);
        return { ref: name, attrs: { Arn: arn('scheduler', `schedule/default/${name}`) } };
      }
      case 'AWS::Events::Rule': {
        const name = this.nameOf(logicalId, resource, 'Name', 64);
        return { ref: name, attrs: { Arn: arn('events', `rule/${name}`) } };
      }
      case 'AWS::KinesisFirehose::DeliveryStream': {
        const name = this.nameOf(logicalId, resource, 'DeliveryStreamName', 64);
        return { ref: name, attrs: { Arn: arn('firehose', `deliverystream/${name}`) } };
      }
      case 'AWS::SNS::Topic': {
        const name = this.nameOf(logicalId, resource, 'TopicName', 256, { fifo: this.isTrue(resource, 'FifoTopic', logicalId) });
        const topicArn = arn('sns', name);
        return { ref: topicArn, attrs: { TopicArn: topicArn, TopicName: name } };
      }
      case 'AWS::SNS::Subscription': {
        const subArn = arn('sns', `subscription:${localUuid('sub', this.stackId, logicalId)}`);
        return { ref: subArn, attrs: { Arn: subArn } };
      }
      case 'AWS::IAM::Role': {
        const name = this.nameOf(logicalId, resource, 'RoleName', 64);
        return { ref: name, attrs: { Arn: arn('iam', `role/${name}`, { noRegion: true }), RoleId: `AROA${suffix(this.stackId, logicalId)}` } };
      }
      case 'AWS::IAM::ManagedPolicy': {
        const name = this.nameOf(logicalId, resource, 'ManagedPolicyName', 128);
        const policyArn = arn('iam', `policy/${name}`, { noRegion: true });
        return { ref: policyArn, attrs: { PolicyArn: policyArn } };
      }
      case 'AWS::KMS::Key': {
        const id = uuid('kms');
        return { ref: id, attrs: { Arn: arn('kms', `key/${id}`), KeyId: id } };
      }
      case 'AWS::KMS::Alias': {
        const name = this.nameOf(logicalId, resource, 'AliasName', 256);
        return { ref: name, attrs: {} };
      }
      case 'AWS::Logs::LogGroup': {
        const name = this.nameOf(logicalId, resource, 'LogGroupName', 512);
        return { ref: name, attrs: { Arn: arn('logs', `log-group:${name}:*`) } };
      }
      case 'AWS::CloudWatch::Alarm':
      case 'AWS::CloudWatch::CompositeAlarm': {
        const name = this.nameOf(logicalId, resource, 'AlarmName', 255);
        return { ref: name, attrs: { Arn: arn('cloudwatch', `alarm:${name}`) } };
      }
      case 'AWS::CloudWatch::Dashboard':
        return { ref: this.nameOf(logicalId, resource, 'DashboardName', 255), attrs: {} };
      default:
        return generic();
    }
  }
}
