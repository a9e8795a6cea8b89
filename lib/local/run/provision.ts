import { ListShardsCommand, type Shard } from '@aws-sdk/client-kinesis';
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { createLocalClients, type LocalClients } from '../clients';
import { StackOperationError, type CloudFormationModel, type DeployResult } from '../cloudformation/lifecycle';
import { startEmulators, type LimitsHostConfig, type LimitsRegistration, type RunningEmulators } from '../emulators';
import { SQS_DEFAULT_MAX_MESSAGE_BYTES } from '../gates/limits';
import type { ShardShape } from '../gates/limits-shards';
import { iamGateConfig, inProcessAuthorizer, type AccessDenial, type InProcessAuthorizer } from '../iam';
import type { PrincipalRegistry } from '../iam/principals';
import type { Lifecycle } from '../lifecycle';
import type { ProvisionedStack } from '../provision';
import type { LocalStack } from '../template/stack';

export interface LocalServices {
  readonly emulators: RunningEmulators;
  readonly clients: LocalClients;
  /** IAM enforcement (undefined with `iam: false`): the principals' access keys and the in-process authorizer. */
  authz?: InProcessAuthorizer;
  /** Every call IAM denied, by the emulator host or in process (the run report's accessDenied). */
  readonly accessDenied: AccessDenial[];
}

export interface ServiceOptions {
  readonly portBase?: number;
  readonly onUnexpectedExit?: (message: string) => void;
  readonly guard?: <T>(p: Promise<T>) => Promise<T>;
  /** Authorize every call against the template's policies (default true). */
  readonly iam?: boolean;
  /** Service limits and the latency model in front of the emulators (undefined: neither). */
  readonly limits?: LimitsHostConfig;
}

/**
 * Starts the emulators (with the IAM gate unless `iam: false`) and the SDK clients on them (both stopped with
 * `life`), and binds the stack's queue URLs.
 */
export async function startServices(stack: LocalStack, runDir: string, life: Lifecycle, o: ServiceOptions = {}): Promise<LocalServices> {
  const guard = o.guard ?? ((p) => p);
  const accessDenied: AccessDenial[] = [];
  const onAccessDenied = (d: AccessDenial): void => { accessDenied.push(d); };
  // The IAM configuration names queues by ARN (their names only): a placeholder endpoint until the emulators listen.
  stack.bindEndpoints({ sqs: 'http://127.0.0.1:0' });
  const iam = o.iam === false ? undefined : iamGateConfig(stack);
  const emulators = await guard(startEmulators({
    runDir, region: stack.region, portBase: o.portBase, onUnexpectedExit: o.onUnexpectedExit, iam, onAccessDenied, limits: o.limits,
  }));
  life.add('emulators', () => emulators.stop());
  const untrack = life.track(emulators.pid);
  life.add('emulator pid', () => untrack());
  stack.bindEndpoints({ sqs: emulators.endpoints.fauxqs });
  const clients = createLocalClients(emulators.endpoints, stack.region);
  life.add('clients', () => clients.destroy());
  const authz = iam ? inProcessAuthorizer(iam, onAccessDenied) : undefined;
  return { emulators, clients, accessDenied, ...(authz ? { authz } : {}) };
}

/**
 * After a redeploy gave the stack new physical names (the drill's rebuild): the emulator host and the in-process
 * authorizer enforce the new deployment's policies and know its principals. No-op with IAM off.
 */
export async function rebindIam(services: LocalServices, stack: LocalStack): Promise<void> {
  if (!services.authz) return;
  const iam = iamGateConfig(stack);
  await services.emulators.updateIam(iam);
  services.authz = inProcessAuthorizer(iam, (d) => { services.accessDenied.push(d); });
}

/** The access key of each function's role (IAM on), else undefined: the functions sign as the operator. */
export function functionKeys(services: LocalServices): ((functionName: string) => string) | undefined {
  const registry = services.authz?.registry;
  return registry ? (name) => registry.keyOfFunction(name) : undefined;
}

/**
 * Clients signed as the stack's principals (a function's role, a service's role, CloudWatch for an alarm), one set
 * per access key, destroyed with `life`; with IAM off, the operator's clients.
 */
export class PrincipalClients {
  private readonly byKey = new Map<string, LocalClients>();

  constructor(private readonly services: LocalServices, private readonly region: string, private readonly life: Lifecycle) {}

  ofFunction(functionName: string): LocalClients {
    return this.of((r) => r.keyOfFunction(functionName));
  }

  ofRole(roleArn: string): LocalClients {
    return this.of((r) => r.keyOfRole(roleArn));
  }

  ofAlarm(alarmArn: string): LocalClients {
    return this.of((r) => r.keyOfAlarm(alarmArn));
  }

  /** S3 delivering a bucket's notifications to SQS and SNS. */
  ofBucketNotifications(bucketName: string): LocalClients {
    return this.of((r) => r.keyOfService('s3.amazonaws.com', `arn:aws:s3:::${bucketName}`));
  }

  /** EventBridge delivering a rule's SQS targets. */
  ofRule(ruleArn: string): LocalClients {
    return this.of((r) => r.keyOfService('events.amazonaws.com', ruleArn));
  }

  private of(keyOf: (registry: PrincipalRegistry) => string): LocalClients {
    const { authz, clients, emulators } = this.services;
    if (!authz) return clients;
    const key = keyOf(authz.registry);
    const found = this.byKey.get(key);
    if (found) return found;
    const created = createLocalClients(emulators.endpoints, this.region, key);
    this.byKey.set(key, created);
    this.life.add(`clients ${key}`, () => created.destroy());
    return created;
  }
}

/** The URL of the stack's queue with this ARN (event source mappings and destinations name queues by ARN). */
export function queueUrlLookup(provisioned: ProvisionedStack, fail: (message: string) => Error): (arn: string) => string {
  return (arn) => {
    const q = provisioned.queues.find((x) => x.arn === arn);
    if (!q) throw fail(`queue ${arn} is not a queue of this stack`);
    return q.url;
  };
}

/**
 * CloudFormation's create (or update) of the stack in the account model, before anything is created on the emulators:
 * from then on the stack resolves to the deployment's physical ids (new generated names on every creation). A failed
 * operation (e.g. an explicit name that exists) becomes `fail(CloudFormation's message)`.
 */
export function deployStack(
  model: CloudFormationModel, stack: LocalStack, fail: (message: string, cause: unknown) => Error, importExisting = false,
): DeployResult {
  let result: DeployResult;
  try {
    result = model.deploy({ stackName: stack.stackName, region: stack.region, template: stack.template, importExisting });
  } catch (e) {
    if (!(e instanceof StackOperationError)) throw e;
    throw fail(`stack ${stack.stackName}: ${e.status}${e.logicalId ? ` (resource ${e.logicalId})` : ''}: ${e.reason}`, e);
  }
  stack.deployed({ stackId: result.stackId, physicalIds: physicalIds(model, stack) });
  return result;
}

/** logical id -> physical id of every resource the model has in the stack. */
export function physicalIds(model: CloudFormationModel, stack: LocalStack): Map<string, string> {
  const view = model.stack(stack.stackName, stack.region);
  return new Map([...view?.resources ?? []].map(([id, r]) => [id, r.physicalId]));
}

/** Tells the emulators' limit gate every stream's shards and every queue's MaximumMessageSize (after provisioning). */
export async function registerLimits(services: LocalServices, provisioned: ProvisionedStack): Promise<LimitsRegistration> {
  const { kinesis, sqs } = services.clients;
  const streams = await Promise.all(provisioned.streams.map(async (s) => ({ arn: s.arn, shards: await listShards(kinesis, s.name) })));
  const queues = await Promise.all(provisioned.queues.map(async (q) => {
    const attrs = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: q.url, AttributeNames: ['MaximumMessageSize'] }));
    return { arn: q.arn, maximumMessageSize: Number(attrs.Attributes?.MaximumMessageSize ?? SQS_DEFAULT_MAX_MESSAGE_BYTES) };
  }));
  const registration = { streams, queues };
  await services.emulators.registerLimits(registration);
  return registration;
}

async function listShards(kinesis: LocalClients['kinesis'], streamName: string): Promise<ShardShape[]> {
  const shards: Shard[] = [];
  let token: string | undefined;
  do {
    const res = await kinesis.send(new ListShardsCommand(token ? { NextToken: token } : { StreamName: streamName }));
    shards.push(...(res.Shards ?? []));
    token = res.NextToken;
  } while (token);
  return shards.map((s) => ({
    ShardId: s.ShardId!,
    HashKeyRange: { StartingHashKey: s.HashKeyRange!.StartingHashKey!, EndingHashKey: s.HashKeyRange!.EndingHashKey! },
    SequenceNumberRange: s.SequenceNumberRange,
  }));
}
