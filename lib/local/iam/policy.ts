/**
 * IAM policy documents parsed into statements the evaluator can match. A document that is not a valid policy
 * (unknown element, missing Effect/Action, unknown condition operator) is refused with an error naming its source
 * and statement: a policy the evaluator cannot read is never treated as allowing anything.
 */
import { parseConditionBlock, type ConditionClause } from './conditions';
import { PhoenixError } from '../../core/errors';

/** A policy the evaluator cannot parse; the message names the policy's source and the statement. */
export class IamPolicyError extends PhoenixError {
  constructor(message: string) {
    super('IAM_POLICY', message);
  }
}

/** Identity policies grant to their role; resource policies (bucket, queue, topic, key, function, trust) name principals. */
export type PolicyKind = 'identity' | 'resource';

/** The Principal or NotPrincipal element: `*`, AWS ARNs or account ids, service principals. */
export interface PrincipalSet {
  readonly any: boolean;
  readonly aws: readonly string[];
  readonly service: readonly string[];
}

export interface Statement {
  /** `Sid`, else `#<index>` (for messages). */
  readonly id: string;
  readonly effect: 'Allow' | 'Deny';
  readonly actions?: readonly string[];
  readonly notActions?: readonly string[];
  /** Absent in a resource policy without Resource: the statement applies to the resource the policy is attached to. */
  readonly resources?: readonly string[];
  readonly notResources?: readonly string[];
  readonly principal?: PrincipalSet;
  readonly notPrincipal?: PrincipalSet;
  readonly conditions: readonly ConditionClause[];
}

export interface Policy {
  /** Where the policy comes from, e.g. `AWS::SNS::TopicPolicy AlarmTopicPolicy309DB5F8`. */
  readonly source: string;
  readonly kind: PolicyKind;
  readonly statements: readonly Statement[];
}

const STATEMENT_KEYS = new Set(['Sid', 'Effect', 'Action', 'NotAction', 'Resource', 'NotResource', 'Principal', 'NotPrincipal', 'Condition']);

function stringList(value: unknown, what: string, fail: (m: string) => never): string[] {
  const list = Array.isArray(value) ? value : [value];
  if (list.length === 0 || list.some((v) => typeof v !== 'string')) fail(`${what} must be a string or a non-empty list of strings; got ${JSON.stringify(value)}`);
  return list as string[];
}

function parsePrincipal(value: unknown, fail: (m: string) => never): PrincipalSet {
  if (value === '*') return { any: true, aws: [], service: [] };
  if (!value || typeof value !== 'object' || Array.isArray(value)) fail(`Principal must be "*" or an object; got ${JSON.stringify(value)}`);
  const out = { any: false, aws: [] as string[], service: [] as string[] };
  for (const [type, v] of Object.entries(value as Record<string, unknown>)) {
    const list = stringList(v, `Principal.${type}`, fail);
    if (type === 'AWS') {
      if (list.includes('*')) out.any = true;
      out.aws.push(...list.filter((p) => p !== '*'));
    } else if (type === 'Service') {
      out.service.push(...list);
    } else {
      fail(`Principal type ${type} is not supported (allowed: AWS, Service, or "*")`);
    }
  }
  return out;
}

function exactlyOne(s: Record<string, unknown>, a: string, b: string, fail: (m: string) => never, required: boolean): void {
  if (s[a] !== undefined && s[b] !== undefined) fail(`has both ${a} and ${b}`);
  if (required && s[a] === undefined && s[b] === undefined) fail(`needs ${a} or ${b}`);
}

function parseStatement(raw: unknown, index: number, source: string, kind: PolicyKind): Statement {
  const s = (raw && typeof raw === 'object' && !Array.isArray(raw) ? raw : {}) as Record<string, unknown>;
  const id = typeof s.Sid === 'string' && s.Sid ? s.Sid : `#${index}`;
  const fail = (m: string): never => { throw new IamPolicyError(`policy ${source}, statement ${id}: ${m}`); };
  if (raw !== s) fail(`a statement must be an object; got ${JSON.stringify(raw)}`);
  for (const k of Object.keys(s)) if (!STATEMENT_KEYS.has(k)) fail(`unknown element ${k} (allowed: ${[...STATEMENT_KEYS].join(', ')})`);
  if (s.Effect !== 'Allow' && s.Effect !== 'Deny') fail(`Effect must be "Allow" or "Deny"; got ${JSON.stringify(s.Effect)}`);
  exactlyOne(s, 'Action', 'NotAction', fail, true);
  exactlyOne(s, 'Resource', 'NotResource', fail, kind === 'identity');
  exactlyOne(s, 'Principal', 'NotPrincipal', fail, kind === 'resource');
  if (kind === 'identity' && (s.Principal !== undefined || s.NotPrincipal !== undefined)) fail('an identity policy cannot name a Principal');
  const list = (k: string): string[] | undefined => (s[k] === undefined ? undefined : stringList(s[k], k, fail));
  let conditions: ConditionClause[] = [];
  try {
    conditions = s.Condition === undefined ? [] : parseConditionBlock(s.Condition);
  } catch (e) {
    fail((e as Error).message);
  }
  return {
    id,
    effect: s.Effect as 'Allow' | 'Deny',
    actions: list('Action'),
    notActions: list('NotAction'),
    resources: list('Resource'),
    notResources: list('NotResource'),
    principal: s.Principal === undefined ? undefined : parsePrincipal(s.Principal, fail),
    notPrincipal: s.NotPrincipal === undefined ? undefined : parsePrincipal(s.NotPrincipal, fail),
    conditions,
  };
}

/** Parses a policy document (`{ Version?, Id?, Statement }`); throws {@link IamPolicyError} naming `source`. */
export function parsePolicy(document: unknown, source: string, kind: PolicyKind): Policy {
  const doc = document as Record<string, unknown> | undefined;
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) throw new IamPolicyError(`policy ${source}: not a policy document (${JSON.stringify(document)})`);
  for (const k of Object.keys(doc)) {
    if (!['Version', 'Id', 'Statement'].includes(k)) throw new IamPolicyError(`policy ${source}: unknown element ${k} (allowed: Version, Id, Statement)`);
  }
  if (doc.Version !== undefined && doc.Version !== '2012-10-17' && doc.Version !== '2008-10-17') {
    throw new IamPolicyError(`policy ${source}: Version ${JSON.stringify(doc.Version)} is not 2012-10-17 or 2008-10-17`);
  }
  if (doc.Statement === undefined) throw new IamPolicyError(`policy ${source}: no Statement`);
  const raw = Array.isArray(doc.Statement) ? doc.Statement : [doc.Statement];
  return { source, kind, statements: raw.map((s, i) => parseStatement(s, i, source, kind)) };
}
