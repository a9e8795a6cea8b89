/**
 * AWS policy evaluation for one account (AWS's "Policy evaluation logic" documentation, same-account case):
 * an explicit Deny in any applicable policy wins; otherwise an Allow in an identity-based policy or a resource-based
 * policy that names the principal grants. A resource-based Allow naming only the account (`arn:aws:iam::<acct>:root`)
 * delegates to IAM: it grants nothing by itself. KMS keys are the exception: the key policy must allow, directly or by
 * such a delegation plus an identity-policy Allow. Service principals have no identity policies: only resource-based
 * policies can grant them anything.
 * Own evaluator rather than pbac: pbac matches no Principal/NotPrincipal and has no notion of resource or key policies.
 */
import { conditionsHold, matchesWildcard, type ConditionContext } from './conditions';
import type { Policy, PrincipalSet, Statement } from './policy';
import type { CallPrincipal } from '../gates/types';

export interface EvalRequest {
  readonly principal: CallPrincipal;
  /** `<prefix>:<Operation>`. */
  readonly action: string;
  readonly resource: string;
  /** Request-specific condition keys (`s3:prefix`, `kms:ViaService`); the global ones are added from the principal. */
  readonly context?: ConditionContext;
}

/** The policies that apply to one request. */
export interface ApplicablePolicies {
  /** The role's identity-based policies (none for a service principal). */
  readonly identity: readonly Policy[];
  /** Resource-based policies of the resource (bucket, queue, topic, function permissions, role trust policy). */
  readonly resource: readonly Policy[];
  /** For a KMS key: its key policy, `null` when the key is unknown. Undefined for every other resource. */
  readonly keyPolicy?: Policy | null;
}

export type PolicyType = 'identity-based' | 'resource-based';

export type Decision =
  | { readonly allowed: true }
  | { readonly allowed: false; readonly explicit: boolean; readonly policyType: PolicyType; readonly source?: string; readonly statement?: string };

type PrincipalMatch = 'direct' | 'account' | false;

/** The role name of a role ARN (`arn:aws:iam::<acct>:role/<path/>name`). */
export function roleName(roleArn: string): string {
  return roleArn.slice(roleArn.lastIndexOf('/') + 1);
}

/** The account id of an ARN (5th field), or '' when it has none. */
export function accountOf(arn: string): string {
  return arn.split(':')[4] ?? '';
}

/** The assumed-role session ARN AWS reports for a role principal. */
export function sessionArn(principal: CallPrincipal): string {
  if (principal.kind !== 'role') return principal.arn;
  return `arn:aws:sts::${accountOf(principal.arn)}:assumed-role/${roleName(principal.arn)}/${principal.session ?? roleName(principal.arn)}`;
}

function principalMatch(set: PrincipalSet, p: CallPrincipal): PrincipalMatch {
  if (set.any) return 'direct';
  if (p.kind === 'service') return set.service.includes(p.arn) ? 'direct' : false;
  if (set.aws.includes(p.arn) || set.aws.includes(sessionArn(p))) return 'direct';
  const account = accountOf(p.arn);
  return set.aws.some((a) => a === account || a === `arn:aws:iam::${account}:root`) ? 'account' : false;
}

function actionMatches(s: Statement, action: string): boolean {
  const hit = (list: readonly string[]): boolean => list.some((a) => matchesWildcard(a, action, true));
  return s.actions ? hit(s.actions) : !hit(s.notActions!);
}

function resourceMatches(s: Statement, resource: string): boolean {
  if (s.resources) return s.resources.some((r) => matchesWildcard(r, resource));
  if (s.notResources) return !s.notResources.some((r) => matchesWildcard(r, resource));
  return true; // a resource policy without Resource covers the resource it is attached to
}

/** How a statement applies to the request: false, or how its principal matched (identity statements: 'direct'). */
function applies(s: Statement, req: EvalRequest, context: ConditionContext): PrincipalMatch {
  if (!actionMatches(s, req.action) || !resourceMatches(s, req.resource)) return false;
  let match: PrincipalMatch = 'direct';
  if (s.principal) match = principalMatch(s.principal, req.principal);
  else if (s.notPrincipal) match = principalMatch(s.notPrincipal, req.principal) ? false : 'direct';
  return match && conditionsHold(s.conditions, context) ? match : false;
}

/** Global condition keys of the request: who calls, over TLS (local calls stand for the SDK's HTTPS calls). */
export function requestContext(req: EvalRequest): ConditionContext {
  const p = req.principal;
  const global: Record<string, string> = { 'aws:SecureTransport': 'true' };
  if (p.kind === 'role') {
    Object.assign(global, { 'aws:PrincipalArn': p.arn, 'aws:PrincipalAccount': accountOf(p.arn), 'aws:PrincipalType': 'AssumedRole' });
    if (req.action.toLowerCase().startsWith('kms:')) global['kms:CallerAccount'] = accountOf(p.arn);
  } else {
    global['aws:PrincipalServiceName'] = p.arn;
  }
  if (p.sourceArn !== undefined) global['aws:SourceArn'] = p.sourceArn;
  if (p.sourceAccount !== undefined) global['aws:SourceAccount'] = p.sourceAccount;
  return { ...global, ...req.context };
}

interface Matched { readonly policy: Policy; readonly statement: Statement; readonly type: PolicyType; readonly match: PrincipalMatch }

function matchedStatements(req: EvalRequest, policies: ApplicablePolicies): Matched[] {
  const context = requestContext(req);
  const out: Matched[] = [];
  const scan = (list: readonly Policy[], type: PolicyType): void => {
    for (const policy of list) {
      for (const statement of policy.statements) {
        const match = applies(statement, req, context);
        if (match) out.push({ policy, statement, type, match });
      }
    }
  };
  if (req.principal.kind === 'role') scan(policies.identity, 'identity-based');
  scan(policies.resource, 'resource-based');
  if (policies.keyPolicy) scan([policies.keyPolicy], 'resource-based');
  return out;
}

/** Decides one request. */
export function evaluate(req: EvalRequest, policies: ApplicablePolicies): Decision {
  const matched = matchedStatements(req, policies);
  const deny = matched.find((m) => m.statement.effect === 'Deny');
  if (deny) return { allowed: false, explicit: true, policyType: deny.type, source: deny.policy.source, statement: deny.statement.id };
  const allows = matched.filter((m) => m.statement.effect === 'Allow');
  const identityAllow = allows.some((m) => m.type === 'identity-based');
  const fromPolicy = (p: Policy | null | undefined): Matched[] => allows.filter((m) => m.policy === p);
  if (policies.keyPolicy !== undefined) {
    const key = fromPolicy(policies.keyPolicy);
    if (key.some((m) => m.match === 'direct')) return { allowed: true };
    if (key.some((m) => m.match === 'account')) return identityAllow ? { allowed: true } : { allowed: false, explicit: false, policyType: 'identity-based' };
    return { allowed: false, explicit: false, policyType: 'resource-based' };
  }
  if (identityAllow || allows.some((m) => m.type === 'resource-based' && m.match === 'direct')) return { allowed: true };
  return { allowed: false, explicit: false, policyType: req.principal.kind === 'service' ? 'resource-based' : 'identity-based' };
}

/** AWS's AccessDenied message: `User: <arn> is not authorized to perform: <action> on resource: <arn> because ...`. */
export function deniedMessage(
  req: EvalRequest, d: Extract<Decision, { allowed: false }>, opts: { actionAs?: string; quoteResource?: boolean } = {},
): string {
  const action = opts.actionAs ?? req.action;
  const resource = opts.quoteResource ? `"${req.resource}"` : req.resource;
  const why = d.explicit ? `with an explicit deny in a ${d.policyType} policy` : `because no ${d.policyType} policy allows the ${action} action`;
  return `User: ${sessionArn(req.principal)} is not authorized to perform: ${action} on resource: ${resource} ${why}`;
}
