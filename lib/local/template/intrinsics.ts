import { UnsupportedTemplateError } from './errors';
import type { CfnTemplate } from './types';

/** Where a value comes from, for error messages. */
export interface Where {
  readonly logicalId: string;
  readonly type: string;
  readonly property?: string;
}

/** What the resolver needs from the local stack: physical ids and attributes of resources, parameters, conditions. */
export interface ResolveContext {
  readonly stackName: string;
  readonly stackId: string;
  readonly region: string;
  readonly accountId: string;
  readonly template: CfnTemplate;
  /** Ref of a resource (its physical id as CloudFormation returns it); throws UnsupportedTemplateError when unknown. */
  ref(logicalId: string, where: Where): unknown;
  /** Fn::GetAtt; throws UnsupportedTemplateError naming the attribute when it has no local value. */
  getAtt(logicalId: string, attribute: string, where: Where): unknown;
}

/** Ref: AWS::NoValue removes the property (or list item) it is the value of. */
const NO_VALUE = Symbol('AWS::NoValue');

const PSEUDO = ['AWS::Region', 'AWS::AccountId', 'AWS::Partition', 'AWS::URLSuffix', 'AWS::StackName', 'AWS::StackId', 'AWS::NotificationARNs', 'AWS::NoValue'];

function fail(where: Where, detail: string): never {
  throw new UnsupportedTemplateError(where.logicalId, where.type, where.property, detail);
}

function pseudo(name: string, ctx: ResolveContext): unknown {
  switch (name) {
    case 'AWS::Region': return ctx.region;
    case 'AWS::AccountId': return ctx.accountId;
    case 'AWS::Partition': return 'aws';
    case 'AWS::URLSuffix': return 'amazonaws.com';
    case 'AWS::StackName': return ctx.stackName;
    case 'AWS::StackId': return ctx.stackId;
    case 'AWS::NotificationARNs': return [];
    case 'AWS::NoValue': return NO_VALUE;
    default: return undefined;
  }
}

function refValue(name: string, ctx: ResolveContext, where: Where): unknown {
  if (PSEUDO.includes(name)) return pseudo(name, ctx);
  if (name.startsWith('AWS::')) fail(where, `pseudo parameter ${name} has no local value`);
  const param = ctx.template.Parameters?.[name];
  if (param) {
    if (param.Default === undefined) fail(where, `parameter ${name} has no Default (the local environment passes no parameter values)`);
    // SSM-typed parameters (the CDK's BootstrapVersion) resolve to their default path: nothing local reads them.
    return param.Default;
  }
  return ctx.ref(name, where);
}

function asString(v: unknown, fn: string, where: Where): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return fail(where, `${fn} needs a string; got ${JSON.stringify(v)}`);
}

function asList(v: unknown, fn: string, where: Where): unknown[] {
  if (Array.isArray(v)) return v;
  return fail(where, `${fn} needs a list; got ${JSON.stringify(v)}`);
}

/** Evaluates a named condition of the template (Fn::Equals, Fn::And, Fn::Or, Fn::Not, Condition). */
export function evaluateCondition(name: string, ctx: ResolveContext, where: Where, seen: Set<string> = new Set()): boolean {
  const def = ctx.template.Conditions?.[name];
  if (def === undefined) fail(where, `condition ${name} is not defined in the template`);
  if (seen.has(name)) fail(where, `condition ${name} refers to itself`);
  const next = new Set(seen).add(name);
  const value = resolveConditionExpr(def, ctx, where, next);
  return value;
}

function resolveConditionExpr(expr: unknown, ctx: ResolveContext, where: Where, seen: Set<string>): boolean {
  if (typeof expr === 'boolean') return expr;
  if (expr && typeof expr === 'object' && !Array.isArray(expr)) {
    const keys = Object.keys(expr);
    if (keys.length === 1) {
      const [k] = keys;
      const arg = (expr as Record<string, unknown>)[k];
      switch (k) {
        case 'Condition': return evaluateCondition(asString(arg, k, where), ctx, where, seen);
        case 'Fn::Equals': {
          const [a, b] = asList(arg, k, where).map((x) => resolveValue(x, ctx, where));
          return JSON.stringify(a) === JSON.stringify(b);
        }
        case 'Fn::And': return asList(arg, k, where).every((c) => resolveConditionExpr(c, ctx, where, seen));
        case 'Fn::Or': return asList(arg, k, where).some((c) => resolveConditionExpr(c, ctx, where, seen));
        case 'Fn::Not': return !resolveConditionExpr(asList(arg, k, where)[0], ctx, where, seen);
        default: break;
      }
    }
  }
  return fail(where, `unsupported condition expression ${JSON.stringify(expr)}`);
}

function sub(template: string, vars: Record<string, unknown>, ctx: ResolveContext, where: Where): string {
  return template.replace(/\$\{([^}]*)\}/g, (_m, expr: string) => {
    if (expr.startsWith('!')) return `\${${expr.slice(1)}}`;
    const name = expr.trim();
    if (Object.prototype.hasOwnProperty.call(vars, name)) return asString(resolveValue(vars[name], ctx, where), 'Fn::Sub', where);
    const dot = name.indexOf('.');
    if (dot > 0 && !name.startsWith('AWS::')) {
      return asString(ctx.getAtt(name.slice(0, dot), name.slice(dot + 1), where), 'Fn::Sub', where);
    }
    return asString(refValue(name, ctx, where), 'Fn::Sub', where);
  });
}

function intrinsic(fn: string, arg: unknown, ctx: ResolveContext, where: Where): unknown {
  switch (fn) {
    case 'Ref': return refValue(asString(arg, fn, where), ctx, where);
    case 'Fn::GetAtt': {
      let logicalId: string;
      let attribute: string;
      if (typeof arg === 'string') {
        const dot = arg.indexOf('.');
        if (dot < 0) fail(where, `Fn::GetAtt ${arg} needs LogicalId.Attribute`);
        logicalId = arg.slice(0, dot);
        attribute = arg.slice(dot + 1);
      } else {
        const list = asList(arg, fn, where);
        logicalId = asString(list[0], fn, where);
        attribute = asString(resolveValue(list[1], ctx, where), fn, where);
      }
      return ctx.getAtt(logicalId, attribute, where);
    }
    case 'Fn::Join': {
      const [delim, list] = asList(arg, fn, where);
      const items = asList(resolveValue(list, ctx, where), fn, where);
      return items.map((i) => asString(i, fn, where)).join(asString(delim, fn, where));
    }
    case 'Fn::Sub': {
      if (typeof arg === 'string') return sub(arg, {}, ctx, where);
      const [text, vars] = asList(arg, fn, where);
      return sub(asString(text, fn, where), (vars ?? {}) as Record<string, unknown>, ctx, where);
    }
    case 'Fn::Select': {
      const [index, list] = asList(arg, fn, where);
      const i = Number(resolveValue(index, ctx, where));
      const items = asList(resolveValue(list, ctx, where), fn, where);
      if (!Number.isInteger(i) || i < 0 || i >= items.length) fail(where, `Fn::Select index ${i} is out of range (${items.length} items)`);
      return items[i];
    }
    case 'Fn::Split': {
      const [delim, text] = asList(arg, fn, where);
      return asString(resolveValue(text, ctx, where), fn, where).split(asString(delim, fn, where));
    }
    case 'Fn::Base64': return Buffer.from(asString(resolveValue(arg, ctx, where), fn, where), 'utf8').toString('base64');
    case 'Fn::GetAZs': return ['a', 'b', 'c'].map((z) => `${ctx.region}${z}`);
    case 'Fn::FindInMap': {
      const [map, k1, k2] = asList(arg, fn, where).map((x) => asString(resolveValue(x, ctx, where), fn, where));
      const value = ctx.template.Mappings?.[map]?.[k1]?.[k2];
      if (value === undefined) fail(where, `Fn::FindInMap ${map}.${k1}.${k2} is not in the template's Mappings`);
      return value;
    }
    case 'Fn::If': {
      const [cond, a, b] = asList(arg, fn, where);
      return resolveValue(evaluateCondition(asString(cond, fn, where), ctx, where) ? a : b, ctx, where);
    }
    case 'Fn::ToJsonString': return JSON.stringify(resolveValue(arg, ctx, where));
    case 'Fn::Length': return asList(resolveValue(arg, ctx, where), fn, where).length;
    case 'Fn::ImportValue':
      return fail(where, 'Fn::ImportValue (a cross-stack reference) cannot be resolved: run the exporting stack\'s resources in the same local app or pass values as environment variables');
    default:
      return fail(where, `intrinsic function ${fn} is not supported locally`);
  }
}

/**
 * Resolves every intrinsic in `value` (Ref, Fn::GetAtt, Fn::Join, Fn::Sub, Fn::Select, Fn::Split, Fn::If, Fn::Base64,
 * Fn::FindInMap, Fn::GetAZs, Fn::ToJsonString, Fn::Length, pseudo parameters) to local values.
 * `Ref: AWS::NoValue` removes the enclosing property or list item.
 */
export function resolveValue(value: unknown, ctx: ResolveContext, where: Where): unknown {
  const out = resolveInner(value, ctx, where);
  return out === NO_VALUE ? undefined : out;
}

function resolveInner(value: unknown, ctx: ResolveContext, where: Where): unknown {
  if (Array.isArray(value)) {
    return value.map((v) => resolveInner(v, ctx, where)).filter((v) => v !== NO_VALUE);
  }
  if (value && typeof value === 'object') {
    const keys = Object.keys(value);
    if (keys.length === 1 && (keys[0] === 'Ref' || keys[0].startsWith('Fn::'))) {
      const out = intrinsic(keys[0], (value as Record<string, unknown>)[keys[0]], ctx, where);
      return out === NO_VALUE ? NO_VALUE : resolveInner(out, ctx, where);
    }
    const result: Record<string, unknown> = {};
    for (const k of keys) {
      const v = resolveInner((value as Record<string, unknown>)[k], ctx, where);
      if (v !== NO_VALUE) result[k] = v;
    }
    return result;
  }
  return value;
}

/** Logical ids a value refers to (Ref, Fn::GetAtt, Fn::Sub variables), ignoring pseudo parameters and parameters. */
export function referencedIds(value: unknown, template: CfnTemplate, out: Set<string> = new Set()): Set<string> {
  const add = (id: string): void => {
    if (!id.startsWith('AWS::') && !template.Parameters?.[id]) out.add(id);
  };
  if (Array.isArray(value)) {
    for (const v of value) referencedIds(v, template, out);
  } else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      if (k === 'Ref' && typeof v === 'string') {add(v);} else if (k === 'Fn::GetAtt') {
        if (typeof v === 'string') add(v.split('.')[0]);
        else if (Array.isArray(v) && typeof v[0] === 'string') add(v[0]);
      } else if (k === 'Fn::Sub') {
        const text = typeof v === 'string' ? v : Array.isArray(v) && typeof v[0] === 'string' ? v[0] : '';
        const vars = Array.isArray(v) && v[1] && typeof v[1] === 'object' ? (v[1] as Record<string, unknown>) : {};
        for (const m of text.matchAll(/\$\{([^}!][^}]*)\}/g)) {
          const name = m[1].trim();
          if (!Object.prototype.hasOwnProperty.call(vars, name)) add(name.split('.')[0]);
        }
        referencedIds(vars, template, out);
      } else {
        referencedIds(v, template, out);
      }
    }
  }
  return out;
}
