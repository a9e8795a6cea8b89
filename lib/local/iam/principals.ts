/**
 * Who calls, as AWS knows it: by the access key id a request is signed with. Every principal of a local run gets its
 * own key (`PHXL` + a registry index): each function (its role, session = the function's name), each role a service
 * assumes (Firehose delivery roles, scheduler roles: session = the role's name), CloudWatch on behalf of each
 * alarm, S3 on behalf of each notified bucket and EventBridge on behalf of each rule (`aws:SourceArn` = the alarm,
 * bucket or rule, `aws:SourceAccount`). The local environment's own clients (provisioning,
 * producer, verification) sign with the operator key, an administrator role of the account.
 */
import type { IamTemplateData } from './policies';
import type { CallPrincipal } from '../gates/types';
import type { LocalStack } from '../template/stack';

/** The key the local environment's own clients use (lib/local/clients.ts LOCAL_CREDENTIALS). */
export const OPERATOR_ACCESS_KEY_ID = 'LOCALACCESSKEY';

/** The operator's role: an administrator (AdministratorAccess) of the local account. */
export function operatorRoleArn(account: string): string {
  return `arn:aws:iam::${account}:role/phoenix-local-operator`;
}

export interface PrincipalEntry {
  readonly accessKeyId: string;
  readonly principal: CallPrincipal;
  /** What the key stands for (`function <name>`, `role <name>`, `alarm <name>`, `operator`). */
  readonly label: string;
}

/** The principals of a stack with their access key ids, in a stable order (functions, roles, alarms). */
export function principalsOf(stack: LocalStack): PrincipalEntry[] {
  const where = (logicalId: string, type: string) => ({ logicalId, type });
  const sorted = [...stack.resources.values()].sort((a, b) => a.logicalId.localeCompare(b.logicalId));
  const out: Array<Omit<PrincipalEntry, 'accessKeyId'>> = [];
  for (const r of sorted.filter((x) => x.type === 'AWS::Lambda::Function' && x.local === 'run')) {
    const name = String(stack.ref(r.logicalId, where(r.logicalId, r.type)));
    const role = String(stack.resolvedProperties(r.logicalId).Role);
    out.push({ label: `function ${name}`, principal: { kind: 'role', arn: role, session: name } });
  }
  for (const r of sorted.filter((x) => x.type === 'AWS::IAM::Role')) {
    const arn = String(stack.getAtt(r.logicalId, 'Arn', where(r.logicalId, r.type)));
    out.push({ label: `role ${arn.slice(arn.lastIndexOf('/') + 1)}`, principal: { kind: 'role', arn } });
  }
  for (const r of sorted.filter((x) => x.type === 'AWS::CloudWatch::Alarm' || x.type === 'AWS::CloudWatch::CompositeAlarm')) {
    const sourceArn = String(stack.getAtt(r.logicalId, 'Arn', where(r.logicalId, r.type)));
    const principal: CallPrincipal = { kind: 'service', arn: 'cloudwatch.amazonaws.com', sourceArn, sourceAccount: stack.accountId };
    out.push({ label: `alarm ${sourceArn.slice(sourceArn.lastIndexOf(':') + 1)}`, principal });
  }
  // S3 sends a bucket's notifications to SQS and SNS as itself, on behalf of the bucket (queue/topic and key policies decide).
  for (const r of sorted.filter((x) => x.type === 'Custom::S3BucketNotifications')) {
    const sourceArn = `arn:aws:s3:::${String(stack.resolvedProperties(r.logicalId).BucketName)}`;
    const principal: CallPrincipal = { kind: 'service', arn: 's3.amazonaws.com', sourceArn, sourceAccount: stack.accountId };
    out.push({ label: `s3 notifications ${sourceArn.slice('arn:aws:s3:::'.length)}`, principal });
  }
  // EventBridge delivers a rule's targets (SQS queues) as itself, on behalf of the rule (queue and key policies decide).
  for (const r of sorted.filter((x) => x.type === 'AWS::Events::Rule')) {
    const sourceArn = String(stack.getAtt(r.logicalId, 'Arn', where(r.logicalId, r.type)));
    const principal: CallPrincipal = { kind: 'service', arn: 'events.amazonaws.com', sourceArn, sourceAccount: stack.accountId };
    out.push({ label: `events rule ${sourceArn.slice(sourceArn.lastIndexOf('/') + 1)}`, principal });
  }
  const operator: PrincipalEntry = { accessKeyId: OPERATOR_ACCESS_KEY_ID, label: 'operator', principal: { kind: 'role', arn: operatorRoleArn(stack.accountId), session: 'phoenix-local' } };
  return [operator, ...out.map((e, i) => ({ ...e, accessKeyId: `PHXL${String(i + 1).padStart(16, '0')}` }))];
}

/** The operator's identity policy, added to the template's roles. */
export function withOperatorRole(data: IamTemplateData): IamTemplateData {
  const operator = {
    logicalId: '(local operator)',
    arn: operatorRoleArn(data.account),
    policies: [{ source: 'AWS managed policy AdministratorAccess', document: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] } }],
  };
  return { ...data, roles: [...data.roles, operator] };
}

/** Lookups over the registry. */
export class PrincipalRegistry {
  private readonly byKey: ReadonlyMap<string, PrincipalEntry>;

  constructor(readonly entries: readonly PrincipalEntry[]) {
    this.byKey = new Map(entries.map((e) => [e.accessKeyId, e]));
  }

  principalOf(accessKeyId: string): CallPrincipal | undefined {
    return this.byKey.get(accessKeyId)?.principal;
  }

  private find(test: (p: CallPrincipal) => boolean, what: string): string {
    const hit = this.entries.find((e) => test(e.principal));
    if (!hit) throw new Error(`no local access key for ${what}`);
    return hit.accessKeyId;
  }

  /** The key of a function (its role, session = the function's name). */
  keyOfFunction(functionName: string): string {
    return this.find((p) => p.kind === 'role' && p.session === functionName, `function ${functionName}`);
  }

  /** The key of a role a service assumes (Firehose delivery role, scheduler role). */
  keyOfRole(roleArn: string): string {
    return this.find((p) => p.kind === 'role' && p.arn === roleArn && p.session === undefined, `role ${roleArn}`);
  }

  /** The key CloudWatch uses on behalf of an alarm. */
  keyOfAlarm(alarmArn: string): string {
    return this.keyOfService('cloudwatch.amazonaws.com', alarmArn);
  }

  /** The key a service principal uses on behalf of a resource (`aws:SourceArn`): CloudWatch for an alarm, S3 for a bucket, EventBridge for a rule. */
  keyOfService(service: string, sourceArn: string): string {
    return this.find((p) => p.kind === 'service' && p.arn === service && p.sourceArn === sourceArn, `${service} for ${sourceArn}`);
  }
}
