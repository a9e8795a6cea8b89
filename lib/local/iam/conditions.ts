/**
 * The Condition element: operators, IfExists, ForAnyValue/ForAllValues, as AWS's condition-operator reference
 * defines them. Multiple operators and keys are ANDed; multiple values of a key are ORed (NOR for negated operators);
 * a key absent from the request context makes a condition false, except for negated operators (true), `...IfExists`
 * (true) and `Null`.
 */

/** Request context: condition key (any case) -> value(s). */
export type ConditionContext = Readonly<Record<string, string | readonly string[]>>;

export interface ConditionClause {
  /** The operator as written (`StringEqualsIfExists`, `ForAnyValue:StringLike`). */
  readonly operator: string;
  readonly base: BaseOperator;
  readonly ifExists: boolean;
  readonly set?: 'ForAnyValue' | 'ForAllValues';
  readonly key: string;
  readonly values: readonly string[];
}

type Compare = (actual: string, expected: string) => boolean;
interface OperatorSpec { readonly compare: Compare; readonly negated: boolean }

/** `*` matches any run of characters, `?` one character; everything else literally. */
export function matchesWildcard(pattern: string, value: string, ignoreCase = false): boolean {
  if (pattern === '*') return true;
  const body = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${body}$`, ignoreCase ? 'si' : 's').test(value);
}

/** ArnLike: the six colon-separated parts are matched one by one (a wildcard does not cross a colon before the resource). */
function arnLike(actual: string, pattern: string): boolean {
  const a = actual.split(':');
  const p = pattern.split(':');
  if (a.length < 6 || p.length < 6) return matchesWildcard(pattern, actual);
  const head = (parts: string[]): string[] => [...parts.slice(0, 5), parts.slice(5).join(':')];
  const [ah, ph] = [head(a), head(p)];
  return ph.every((part, i) => matchesWildcard(part, ah[i]));
}

function numeric(op: (a: number, b: number) => boolean): Compare {
  return (a, b) => {
    const [x, y] = [Number(a), Number(b)];
    return !Number.isNaN(x) && !Number.isNaN(y) && op(x, y);
  };
}

function date(op: (a: number, b: number) => boolean): Compare {
  const ms = (v: string): number => (/^\d+$/.test(v) ? Number(v) * 1000 : Date.parse(v));
  return (a, b) => {
    const [x, y] = [ms(a), ms(b)];
    return !Number.isNaN(x) && !Number.isNaN(y) && op(x, y);
  };
}

const eq: Compare = (a, b) => a === b;
const OPERATORS = {
  StringEquals: { compare: eq, negated: false },
  StringNotEquals: { compare: eq, negated: true },
  StringEqualsIgnoreCase: { compare: (a, b) => a.toLowerCase() === b.toLowerCase(), negated: false },
  StringNotEqualsIgnoreCase: { compare: (a, b) => a.toLowerCase() === b.toLowerCase(), negated: true },
  StringLike: { compare: (a, b) => matchesWildcard(b, a), negated: false },
  StringNotLike: { compare: (a, b) => matchesWildcard(b, a), negated: true },
  NumericEquals: { compare: numeric((a, b) => a === b), negated: false },
  NumericNotEquals: { compare: numeric((a, b) => a === b), negated: true },
  NumericLessThan: { compare: numeric((a, b) => a < b), negated: false },
  NumericLessThanEquals: { compare: numeric((a, b) => a <= b), negated: false },
  NumericGreaterThan: { compare: numeric((a, b) => a > b), negated: false },
  NumericGreaterThanEquals: { compare: numeric((a, b) => a >= b), negated: false },
  DateEquals: { compare: date((a, b) => a === b), negated: false },
  DateNotEquals: { compare: date((a, b) => a === b), negated: true },
  DateLessThan: { compare: date((a, b) => a < b), negated: false },
  DateLessThanEquals: { compare: date((a, b) => a <= b), negated: false },
  DateGreaterThan: { compare: date((a, b) => a > b), negated: false },
  DateGreaterThanEquals: { compare: date((a, b) => a >= b), negated: false },
  Bool: { compare: (a, b) => a.toLowerCase() === b.toLowerCase(), negated: false },
  ArnEquals: { compare: eq, negated: false },
  ArnNotEquals: { compare: eq, negated: true },
  ArnLike: { compare: arnLike, negated: false },
  ArnNotLike: { compare: arnLike, negated: true },
  Null: { compare: eq, negated: false },
} satisfies Record<string, OperatorSpec>;

export type BaseOperator = keyof typeof OPERATORS;

function parseOperator(operator: string): Pick<ConditionClause, 'base' | 'ifExists' | 'set'> {
  let rest = operator;
  let set: ConditionClause['set'];
  const colon = rest.indexOf(':');
  if (colon >= 0) {
    const qualifier = rest.slice(0, colon);
    if (qualifier !== 'ForAnyValue' && qualifier !== 'ForAllValues') {
      throw new Error(`condition operator ${operator}: unknown set qualifier ${qualifier} (allowed: ForAnyValue, ForAllValues)`);
    }
    set = qualifier;
    rest = rest.slice(colon + 1);
  }
  const ifExists = rest.endsWith('IfExists') && rest !== 'IfExists';
  if (ifExists) rest = rest.slice(0, -'IfExists'.length);
  if (!Object.prototype.hasOwnProperty.call(OPERATORS, rest) || (ifExists && rest === 'Null')) {
    throw new Error(`unknown condition operator ${operator} (allowed: ${Object.keys(OPERATORS).join(', ')}, with IfExists or ForAnyValue:/ForAllValues:)`);
  }
  return { base: rest as BaseOperator, ifExists, set };
}

/** Parses a Condition element; throws naming the operator or key that is not understood. */
export function parseConditionBlock(block: unknown): ConditionClause[] {
  if (!block || typeof block !== 'object' || Array.isArray(block)) throw new Error(`Condition must be an object; got ${JSON.stringify(block)}`);
  const out: ConditionClause[] = [];
  for (const [operator, keys] of Object.entries(block as Record<string, unknown>)) {
    const parsed = parseOperator(operator);
    if (!keys || typeof keys !== 'object' || Array.isArray(keys)) throw new Error(`Condition ${operator} must map keys to values; got ${JSON.stringify(keys)}`);
    for (const [key, raw] of Object.entries(keys as Record<string, unknown>)) {
      const list = Array.isArray(raw) ? raw : [raw];
      if (list.length === 0 || list.some((v) => typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean')) {
        throw new Error(`Condition ${operator} ${key}: values must be strings, numbers or booleans; got ${JSON.stringify(raw)}`);
      }
      out.push({ operator, ...parsed, key, values: list.map(String) });
    }
  }
  return out;
}

function lookup(context: ConditionContext, key: string): readonly string[] | undefined {
  const wanted = key.toLowerCase();
  for (const [k, v] of Object.entries(context)) if (k.toLowerCase() === wanted) return typeof v === 'string' ? [v] : v;
  return undefined;
}

/** One context value against the policy's values: any match (OR), or for negated operators no match (NOR). */
function valueMatches(spec: OperatorSpec, actual: string, expected: readonly string[]): boolean {
  const hit = expected.some((e) => spec.compare(actual, e));
  return spec.negated ? !hit : hit;
}

function clauseHolds(c: ConditionClause, context: ConditionContext): boolean {
  const actual = lookup(context, c.key);
  const spec: OperatorSpec = OPERATORS[c.base];
  if (c.base === 'Null') return c.values.some((v) => v.toLowerCase() === String(actual === undefined));
  if (c.set === 'ForAllValues') return (actual ?? []).every((a) => valueMatches(spec, a, c.values));
  if (c.set === 'ForAnyValue') return (actual ?? []).some((a) => valueMatches(spec, a, c.values));
  if (actual === undefined) return c.ifExists || spec.negated;
  return actual.some((a) => valueMatches(spec, a, c.values));
}

/** True when every clause holds (AND over operators and keys). */
export function conditionsHold(clauses: readonly ConditionClause[], context: ConditionContext): boolean {
  return clauses.every((c) => clauseHolds(c, context));
}
