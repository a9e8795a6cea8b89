import { percentile, type MetricSeries, type MetricsStore } from './metrics';
import type { LocalStack } from './template/stack';

/**
 * CloudWatch alarms of the template evaluated locally over the run's metrics (lib/local/metrics.ts).
 *
 * What is faithful to CloudWatch: the alarm definition (MetricName/Namespace/Dimensions matched exactly, Statistic or
 * ExtendedStatistic pNN, Period, EvaluationPeriods, DatapointsToAlarm, Threshold, ComparisonOperator,
 * TreatMissingData; metric-math `Metrics` arrays with arithmetic, comparisons, AND/OR/NOT, IF, ABS and FILL), the
 * composite rule language (ALARM/OK/INSUFFICIENT_DATA of an alarm ARN or name, AND, OR, NOT, TRUE, FALSE,
 * parentheses), the states, and actions on every state change.
 *
 * The local rules (docs/local-environment.md, "Alarms"):
 * - The alarm is created when the evaluator starts: periods are aligned to that instant, and periods before it are
 *   not part of any evaluation range (CloudWatch would see them as missing data).
 * - `timeScale` compresses time: each period lasts Period / timeScale, and a threshold on a duration-valued metric
 *   (milliseconds or seconds: AWS/Lambda IteratorAge and Duration, AWS/SQS ApproximateAgeOfOldestMessage,
 *   AWS/Kinesis GetRecords.IteratorAgeMilliseconds, EMF metrics with a time unit) is divided by `timeScale`. Count
 *   thresholds and metric-math thresholds are not scaled. timeScale 1 is CloudWatch's timing.
 * - The evaluation range is the last EvaluationPeriods complete periods. Only the final evaluation at the end of the
 *   run also counts the last, partial period, when it has data (a run rarely ends on a period boundary; a partial
 *   period during the run could still receive data, e.g. the canary a Sum < 1 alarm waits for). Before the first
 *   period completes, the alarm stays INSUFFICIENT_DATA.
 * - Missing datapoints: `breaching` and `notBreaching` count them as breaching / not breaching; `missing` and `ignore`
 *   leave them out, and when none is left the alarm goes to INSUFFICIENT_DATA (`missing`) or keeps its state
 *   (`ignore`). The alarm is in ALARM when at least DatapointsToAlarm of the evaluated datapoints breach, else OK;
 *   with `missing` / `ignore` and fewer datapoints present than DatapointsToAlarm, all of them breaching is ALARM
 *   (`missing`) or keeps the state (`ignore`), as CloudWatch's missing-data table describes.
 * - An alarm on a metric the local environment cannot produce (the `unavailable` callback says why), or with a
 *   setting it cannot evaluate, is INSUFFICIENT_DATA with a reason naming the metric or setting: never silently OK.
 */

export type AlarmStateValue = 'OK' | 'ALARM' | 'INSUFFICIENT_DATA';
export type TreatMissingData = 'breaching' | 'notBreaching' | 'ignore' | 'missing';

const COMPARISONS = {
  GreaterThanThreshold: (v: number, t: number) => v > t,
  GreaterThanOrEqualToThreshold: (v: number, t: number) => v >= t,
  LessThanThreshold: (v: number, t: number) => v < t,
  LessThanOrEqualToThreshold: (v: number, t: number) => v <= t,
} as const;
export type ComparisonOperator = keyof typeof COMPARISONS;
const COMPARISON_SYMBOL: Record<ComparisonOperator, string> = {
  GreaterThanThreshold: '>', GreaterThanOrEqualToThreshold: '>=', LessThanThreshold: '<', LessThanOrEqualToThreshold: '<=',
};

/** One metric of an alarm: what is matched in the metrics store and how a period is reduced to one value. */
export interface MetricRef {
  readonly namespace: string;
  readonly name: string;
  readonly dimensions: Readonly<Record<string, string>>;
  /** SampleCount, Average, Sum, Minimum, Maximum or pNN(.N). */
  readonly stat: string;
  readonly periodSeconds: number;
}

export interface AlarmActions {
  readonly alarm: readonly string[];
  readonly ok: readonly string[];
  readonly insufficientData: readonly string[];
}

export interface MetricAlarmDef {
  readonly kind: 'metric';
  readonly logicalId: string;
  readonly name: string;
  readonly arn: string;
  /** A single metric, or the metric-math expression returned by the alarm. */
  readonly metric?: MetricRef;
  readonly math?: {
    readonly expression: string;
    readonly metrics: Readonly<Record<string, MetricRef>>;
    readonly expressions: Readonly<Record<string, string>>;
  };
  readonly periodSeconds: number;
  readonly evaluationPeriods: number;
  readonly datapointsToAlarm: number;
  readonly threshold: number;
  readonly comparison: ComparisonOperator;
  readonly treatMissingData: TreatMissingData;
  readonly actions: AlarmActions;
  readonly actionsEnabled: boolean;
  /** Why the alarm cannot be evaluated locally (it stays INSUFFICIENT_DATA with this reason). */
  readonly unsupported?: string;
}

export interface CompositeAlarmDef {
  readonly kind: 'composite';
  readonly logicalId: string;
  readonly name: string;
  readonly arn: string;
  readonly rule: string;
  readonly actions: AlarmActions;
  readonly actionsEnabled: boolean;
  readonly unsupported?: string;
}

export type AlarmDef = MetricAlarmDef | CompositeAlarmDef;

/** A local state change, with the local time it happened. */
export interface AlarmTransition {
  at: string;
  /** Milliseconds since the evaluator started. */
  sinceStartMs: number;
  from: AlarmStateValue;
  to: AlarmStateValue;
  reason: string;
}

/** An action of a state change: a notification for `target` (an SNS topic ARN for alarm notifications). */
export interface AlarmNotification {
  target: string;
  alarm: string;
  /** CloudWatch publishes on the alarm's behalf: the `aws:SourceArn` of the publish. */
  alarmArn: string;
  subject: string;
  message: Record<string, unknown>;
}

export interface AlarmReport {
  logicalId: string;
  name: string;
  type: 'metric' | 'composite';
  state: AlarmStateValue;
  reason: string;
  /** e.g. `AWS/Lambda IteratorAge Maximum {FunctionName=...}` or the metric-math expression; the rule of a composite. */
  watches: string;
  periodSeconds?: number;
  /** The period as evaluated locally (Period / timeScale). */
  localPeriodSeconds?: number;
  comparison?: string;
  threshold?: number;
  /** The threshold as evaluated locally (divided by timeScale for a duration-valued metric). */
  localThreshold?: number;
  evaluationPeriods?: number;
  datapointsToAlarm?: number;
  treatMissingData?: TreatMissingData;
  /** Datapoints of the last evaluation, oldest first (null = missing). */
  lastDatapoints?: Array<number | null>;
  transitions: AlarmTransition[];
  /** Notifications of the alarm's actions (state changes x actions). */
  notifications: number;
}

export interface AlarmEvaluatorOptions {
  /** Evaluator start = the alarms' creation (epoch ms). */
  readonly startMs: number;
  /** Time compression (>= 1; 1 = CloudWatch timing). */
  readonly timeScale: number;
  /** Why a metric cannot be produced locally, or undefined when it can. */
  readonly unavailable?: (metric: MetricRef, series: MetricSeries | undefined) => string | undefined;
}

// ---------------------------------------------------------------------------------------------------------------
// Template parsing

const STATS = /^(SampleCount|Average|Sum|Minimum|Maximum|p\d{1,2}(\.\d+)?|p100)$/;

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : typeof v === 'number' ? String(v) : undefined;
}

function dims(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  for (const d of (Array.isArray(v) ? v : []) as Array<{ Name?: unknown; Value?: unknown }>) {
    const name = str(d.Name);
    if (name !== undefined) out[name] = str(d.Value) ?? JSON.stringify(d.Value);
  }
  return out;
}

function actionsOf(p: Record<string, unknown>): AlarmActions {
  const list = (v: unknown): string[] => (Array.isArray(v) ? v.map((x) => String(x)) : []);
  return { alarm: list(p.AlarmActions), ok: list(p.OKActions), insufficientData: list(p.InsufficientDataActions) };
}

/** Parses one AWS::CloudWatch::Alarm's resolved properties; anything not evaluable locally goes to `unsupported`. */
export function parseMetricAlarm(logicalId: string, name: string, arn: string, p: Record<string, unknown>): MetricAlarmDef {
  const problems: string[] = [];
  const comparison = String(p.ComparisonOperator ?? '');
  if (!(comparison in COMPARISONS)) problems.push(`ComparisonOperator ${comparison || '(none)'} (anomaly-detection bands are not evaluated locally; allowed: ${Object.keys(COMPARISONS).join(', ')})`);
  const treat = String(p.TreatMissingData ?? 'missing');
  if (!['breaching', 'notBreaching', 'ignore', 'missing'].includes(treat)) problems.push(`TreatMissingData ${treat} (allowed: breaching, notBreaching, ignore, missing)`);
  if (p.ThresholdMetricId !== undefined) problems.push('ThresholdMetricId (anomaly detection) is not evaluated locally');
  if (p.EvaluateLowSampleCountPercentile !== undefined) problems.push('EvaluateLowSampleCountPercentile is not evaluated locally');
  const threshold = Number(p.Threshold);
  if (p.Threshold === undefined || !Number.isFinite(threshold)) problems.push(`Threshold ${JSON.stringify(p.Threshold)} is not a number`);
  const evaluationPeriods = Number(p.EvaluationPeriods ?? 1);
  const datapointsToAlarm = Number(p.DatapointsToAlarm ?? evaluationPeriods);
  if (!Number.isInteger(evaluationPeriods) || evaluationPeriods < 1) problems.push(`EvaluationPeriods ${p.EvaluationPeriods} must be a positive integer`);
  if (!Number.isInteger(datapointsToAlarm) || datapointsToAlarm < 1 || datapointsToAlarm > evaluationPeriods) problems.push(`DatapointsToAlarm ${p.DatapointsToAlarm} must be 1..EvaluationPeriods`);

  let metric: MetricRef | undefined;
  let math: MetricAlarmDef['math'];
  let periodSeconds = Number(p.Period ?? 0);
  if (Array.isArray(p.Metrics)) {
    const metrics: Record<string, MetricRef> = {};
    const expressions: Record<string, string> = {};
    let returned: string | undefined;
    for (const m of p.Metrics as Array<Record<string, any>>) {
      const id = String(m.Id);
      if (m.ReturnData !== false) {
        if (returned !== undefined) problems.push('Metrics returns more than one series (exactly one must have ReturnData true)');
        returned = id;
      }
      if (m.Expression !== undefined) {
        expressions[id] = String(m.Expression);
      } else if (m.MetricStat) {
        const ms = m.MetricStat;
        const stat = String(ms.Stat);
        if (!STATS.test(stat)) problems.push(`Metrics ${id} Stat ${stat} (allowed locally: SampleCount, Average, Sum, Minimum, Maximum, pNN)`);
        const metricProps = ms.Metric ?? {};
        metrics[id] = {
          namespace: String(metricProps.Namespace),
          name: String(metricProps.MetricName),
          dimensions: dims(metricProps.Dimensions),
          stat,
          periodSeconds: Number(ms.Period),
        };
        periodSeconds = Number(ms.Period);
      } else {
        problems.push(`Metrics ${id} has neither Expression nor MetricStat`);
      }
    }
    if (returned === undefined) problems.push('Metrics returns no series');
    else if (expressions[returned] === undefined) metric = metrics[returned];
    else math = { expression: expressions[returned], metrics, expressions };
    if (math) {
      try { parseExpression(math.expression); } catch (e) { problems.push(`metric math ${JSON.stringify(math.expression)}: ${(e as Error).message}`); }
      const periods = new Set(Object.values(metrics).map((m) => m.periodSeconds));
      if (periods.size > 1) problems.push(`metric math over different periods (${[...periods].join(', ')} s) is not evaluated locally`);
    }
  } else {
    const stat = str(p.ExtendedStatistic) ?? str(p.Statistic) ?? '';
    if (!STATS.test(stat)) problems.push(`statistic ${stat || '(none)'} (allowed locally: SampleCount, Average, Sum, Minimum, Maximum, pNN)`);
    metric = { namespace: String(p.Namespace), name: String(p.MetricName), dimensions: dims(p.Dimensions), stat, periodSeconds };
  }
  if (!Number.isFinite(periodSeconds) || periodSeconds < 1) problems.push(`Period ${periodSeconds} must be at least 1 second`);
  return {
    kind: 'metric',
    logicalId,
    name,
    arn,
    metric,
    math,
    periodSeconds,
    evaluationPeriods,
    datapointsToAlarm,
    threshold,
    comparison: comparison as ComparisonOperator,
    treatMissingData: treat as TreatMissingData,
    actions: actionsOf(p),
    actionsEnabled: p.ActionsEnabled !== false && p.ActionsEnabled !== 'false',
    unsupported: problems.length ? problems.join('; ') : undefined,
  };
}

export function parseCompositeAlarm(logicalId: string, name: string, arn: string, p: Record<string, unknown>): CompositeAlarmDef {
  const rule = String(p.AlarmRule ?? '');
  let unsupported: string | undefined;
  try { parseRule(rule); } catch (e) { unsupported = `AlarmRule: ${(e as Error).message}`; }
  if (p.ActionsSuppressor !== undefined && unsupported === undefined) unsupported = 'ActionsSuppressor is not evaluated locally';
  return { kind: 'composite', logicalId, name, arn, rule, actions: actionsOf(p), actionsEnabled: p.ActionsEnabled !== false && p.ActionsEnabled !== 'false', unsupported };
}

/** Every alarm and composite alarm of the stack, with intrinsics resolved to local names. */
export function alarmsOf(stack: LocalStack): AlarmDef[] {
  const out: AlarmDef[] = [];
  for (const [logicalId, r] of stack.resources) {
    if (r.type !== 'AWS::CloudWatch::Alarm' && r.type !== 'AWS::CloudWatch::CompositeAlarm') continue;
    const where = { logicalId, type: r.type };
    const name = String(stack.ref(logicalId, where));
    const arn = String(stack.getAtt(logicalId, 'Arn', where));
    let props: Record<string, unknown>;
    try {
      props = stack.resolvedProperties(logicalId);
    } catch (e) {
      const unsupported = `its properties have no local value: ${(e as Error).message}`;
      const empty = { alarm: [], ok: [], insufficientData: [] };
      out.push(r.type === 'AWS::CloudWatch::CompositeAlarm'
        ? { kind: 'composite', logicalId, name, arn, rule: '', actions: empty, actionsEnabled: false, unsupported }
        : { kind: 'metric', logicalId, name, arn, periodSeconds: 60, evaluationPeriods: 1, datapointsToAlarm: 1, threshold: 0, comparison: 'GreaterThanThreshold', treatMissingData: 'missing', actions: empty, actionsEnabled: false, unsupported });
      continue;
    }
    out.push(r.type === 'AWS::CloudWatch::CompositeAlarm' ? parseCompositeAlarm(logicalId, name, arn, props) : parseMetricAlarm(logicalId, name, arn, props));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Statistics

/** One statistic of a period's values (undefined for none). Percentiles by nearest rank. */
export function statistic(stat: string, values: readonly number[]): number | undefined {
  if (values.length === 0) return undefined;
  switch (stat) {
    case 'SampleCount': return values.length;
    case 'Sum': return values.reduce((a, b) => a + b, 0);
    case 'Average': return values.reduce((a, b) => a + b, 0) / values.length;
    case 'Minimum': return values.reduce((a, b) => Math.min(a, b), Infinity);
    case 'Maximum': return values.reduce((a, b) => Math.max(a, b), -Infinity);
    default: {
      const m = /^p(\d+(\.\d+)?)$/.exec(stat);
      if (!m) throw new Error(`statistic ${stat} is not supported locally`);
      return percentile(values, Number(m[1]));
    }
  }
}

const AWS_DURATION_METRICS: Record<string, 'ms' | 's'> = {
  'AWS/Lambda|IteratorAge': 'ms',
  'AWS/Lambda|Duration': 'ms',
  'AWS/Lambda|PostRuntimeExtensionsDuration': 'ms',
  'AWS/Kinesis|GetRecords.IteratorAgeMilliseconds': 'ms',
  'AWS/SQS|ApproximateAgeOfOldestMessage': 's',
};
const TIME_UNITS = new Set(['Microseconds', 'Milliseconds', 'Seconds']);

/** True when the metric's values are durations (its threshold scales with local time). */
export function isDurationMetric(ref: MetricRef, series: MetricSeries | undefined): boolean {
  if (AWS_DURATION_METRICS[`${ref.namespace}|${ref.name}`]) return true;
  return series?.unit !== undefined && TIME_UNITS.has(series.unit);
}

// ---------------------------------------------------------------------------------------------------------------
// Metric math (the subset alarms use)

type Expr =
  | { t: 'num'; v: number }
  | { t: 'id'; id: string }
  | { t: 'un'; op: '-' | 'NOT'; a: Expr }
  | { t: 'bin'; op: string; a: Expr; b: Expr }
  | { t: 'call'; fn: string; args: Expr[] };

const MATH_FUNCTIONS = new Set(['IF', 'ABS', 'FILL']);

function tokenize(src: string, re: RegExp): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < src.length) {
    if (/\s/.test(src[i])) { i++; continue; }
    re.lastIndex = i;
    const m = re.exec(src);
    if (!m || m.index !== i) throw new Error(`unexpected ${JSON.stringify(src.slice(i, i + 12))} at ${i}`);
    out.push(m[0]);
    i += m[0].length;
  }
  return out;
}

/** Parses a metric-math expression (numbers, ids, + - * / ^, comparisons, AND/&&, OR/||, NOT/!, IF, ABS, FILL). */
export function parseExpression(src: string): Expr {
  const toks = tokenize(src, /\d+(\.\d+)?([eE][-+]?\d+)?|[A-Za-z_][A-Za-z0-9_]*|>=|<=|==|!=|&&|\|\||[-+*/^(),<>!]/y);
  let pos = 0;
  const peek = (): string | undefined => toks[pos];
  const take = (expect?: string): string => {
    const t = toks[pos++];
    if (t === undefined || (expect !== undefined && t.toUpperCase() !== expect)) throw new Error(`expected ${expect ?? 'more'} but found ${t ?? 'the end'}`);
    return t;
  };
  const level = (ops: string[], next: () => Expr): Expr => {
    let a = next();
    while (peek() !== undefined && ops.includes(peek()!.toUpperCase())) {
      let op = take().toUpperCase();
      if (op === '&&') op = 'AND';
      if (op === '||') op = 'OR';
      a = { t: 'bin', op, a, b: next() };
    }
    return a;
  };
  const or = (): Expr => level(['OR', '||'], and);
  const and = (): Expr => level(['AND', '&&'], cmp);
  const cmp = (): Expr => level(['>', '<', '>=', '<=', '==', '!='], add);
  const add = (): Expr => level(['+', '-'], mul);
  const mul = (): Expr => level(['*', '/'], pow);
  const pow = (): Expr => level(['^'], unary);
  const unary = (): Expr => {
    const t = peek()?.toUpperCase();
    if (t === '-') { take(); return { t: 'un', op: '-', a: unary() }; }
    if (t === 'NOT' || t === '!') { take(); return { t: 'un', op: 'NOT', a: unary() }; }
    return primary();
  };
  const primary = (): Expr => {
    const t = take();
    if (t === '(') { const e = or(); take(')'); return e; }
    if (/^\d/.test(t)) return { t: 'num', v: Number(t) };
    if (/^[A-Za-z_]/.test(t)) {
      if (peek() === '(') {
        const fn = t.toUpperCase();
        if (!MATH_FUNCTIONS.has(fn)) throw new Error(`function ${t} is not evaluated locally (allowed: ${[...MATH_FUNCTIONS].join(', ')})`);
        take('(');
        const args: Expr[] = [];
        if (peek() !== ')') {
          args.push(or());
          while (peek() === ',') { take(','); args.push(or()); }
        }
        take(')');
        return { t: 'call', fn, args };
      }
      return { t: 'id', id: t };
    }
    throw new Error(`unexpected ${t}`);
  };
  const e = or();
  if (pos !== toks.length) throw new Error(`unexpected ${toks[pos]}`);
  return e;
}

/** Evaluates an expression for one period; undefined = no datapoint. */
export function evaluateExpression(e: Expr, value: (id: string) => number | undefined): number | undefined {
  switch (e.t) {
    case 'num': return e.v;
    case 'id': return value(e.id);
    case 'un': {
      const a = evaluateExpression(e.a, value);
      if (a === undefined) return undefined;
      return e.op === '-' ? -a : (a === 0 ? 1 : 0);
    }
    case 'bin': {
      const a = evaluateExpression(e.a, value);
      const b = evaluateExpression(e.b, value);
      if (a === undefined || b === undefined) return undefined;
      switch (e.op) {
        case '+': return a + b;
        case '-': return a - b;
        case '*': return a * b;
        case '/': return b === 0 ? undefined : a / b;
        case '^': return a ** b;
        case '>': return a > b ? 1 : 0;
        case '<': return a < b ? 1 : 0;
        case '>=': return a >= b ? 1 : 0;
        case '<=': return a <= b ? 1 : 0;
        case '==': return a === b ? 1 : 0;
        case '!=': return a !== b ? 1 : 0;
        case 'AND': return a !== 0 && b !== 0 ? 1 : 0;
        case 'OR': return a !== 0 || b !== 0 ? 1 : 0;
      }
      throw new Error(`operator ${e.op}`);
    }
    case 'call': {
      if (e.fn === 'IF') {
        if (e.args.length < 2 || e.args.length > 3) throw new Error('IF takes 2 or 3 arguments');
        const c = evaluateExpression(e.args[0], value);
        if (c === undefined) return undefined;
        if (c !== 0) return evaluateExpression(e.args[1], value);
        return e.args.length === 3 ? evaluateExpression(e.args[2], value) : undefined;
      }
      if (e.fn === 'ABS') {
        const a = evaluateExpression(e.args[0], value);
        return a === undefined ? undefined : Math.abs(a);
      }
      // FILL(m, value): the missing datapoints of m get `value`.
      const a = evaluateExpression(e.args[0], value);
      return a !== undefined ? a : evaluateExpression(e.args[1], value);
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Composite rules

type Rule =
  | { t: 'state'; state: AlarmStateValue; alarm: string }
  | { t: 'const'; v: boolean }
  | { t: 'not'; a: Rule }
  | { t: 'and' | 'or'; a: Rule; b: Rule };

/** Parses an AlarmRule: ALARM/OK/INSUFFICIENT_DATA("arn or name"), TRUE, FALSE, AND, OR, NOT, parentheses. */
export function parseRule(src: string): Rule {
  if (src.trim() === '') throw new Error('empty rule');
  const toks = tokenize(src, /"[^"]*"|[A-Za-z_][A-Za-z0-9_:./-]*|\d+%?|[(),]/y);
  let pos = 0;
  const peek = (): string | undefined => toks[pos]?.toUpperCase();
  const take = (expect?: string): string => {
    const t = toks[pos++];
    if (t === undefined || (expect !== undefined && t.toUpperCase() !== expect)) throw new Error(`expected ${expect ?? 'more'} but found ${t ?? 'the end'}`);
    return t;
  };
  const or = (): Rule => {
    let a = and();
    while (peek() === 'OR') { take(); a = { t: 'or', a, b: and() }; }
    return a;
  };
  const and = (): Rule => {
    let a = not();
    while (peek() === 'AND') { take(); a = { t: 'and', a, b: not() }; }
    return a;
  };
  const not = (): Rule => {
    if (peek() === 'NOT') { take(); return { t: 'not', a: not() }; }
    return primary();
  };
  const primary = (): Rule => {
    const t = take();
    const u = t.toUpperCase();
    if (t === '(') { const r = or(); take(')'); return r; }
    if (u === 'TRUE' || u === 'FALSE') return { t: 'const', v: u === 'TRUE' };
    if (u === 'ALARM' || u === 'OK' || u === 'INSUFFICIENT_DATA') {
      take('(');
      const target = take();
      take(')');
      return { t: 'state', state: u, alarm: target.startsWith('"') ? target.slice(1, -1) : target };
    }
    if (u === 'AT_LEAST') throw new Error('AT_LEAST is not evaluated locally');
    throw new Error(`unexpected ${t}`);
  };
  const r = or();
  if (pos !== toks.length) throw new Error(`unexpected ${toks[pos]}`);
  return r;
}

function ruleAlarms(r: Rule, out: string[] = []): string[] {
  if (r.t === 'state') {out.push(r.alarm);} else if (r.t === 'not') {ruleAlarms(r.a, out);} else if (r.t === 'and' || r.t === 'or') { ruleAlarms(r.a, out); ruleAlarms(r.b, out); }
  return out;
}

function evaluateRule(r: Rule, stateOf: (alarm: string) => AlarmStateValue): boolean {
  switch (r.t) {
    case 'const': return r.v;
    case 'state': return stateOf(r.alarm) === r.state;
    case 'not': return !evaluateRule(r.a, stateOf);
    case 'and': return evaluateRule(r.a, stateOf) && evaluateRule(r.b, stateOf);
    case 'or': return evaluateRule(r.a, stateOf) || evaluateRule(r.b, stateOf);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The evaluator

interface Live {
  def: AlarmDef;
  state: AlarmStateValue;
  reason: string;
  transitions: AlarmTransition[];
  notifications: number;
  lastDatapoints?: Array<number | null>;
  localThreshold?: number;
  expr?: Expr;
  rule?: Rule;
}

function describeMetric(m: MetricRef): string {
  const d = Object.entries(m.dimensions).map(([k, v]) => `${k}=${v}`).join(',');
  return `${m.namespace} ${m.name} ${m.stat}${d ? ` {${d}}` : ''}`;
}

function round(v: number): number {
  return Math.abs(v) >= 100 ? Math.round(v) : Math.round(v * 1000) / 1000;
}

export class AlarmEvaluator {
  private readonly live: Live[];
  private readonly byKey = new Map<string, Live>();
  private readonly pending: AlarmNotification[] = [];

  constructor(defs: readonly AlarmDef[], private readonly metrics: MetricsStore, private readonly opts: AlarmEvaluatorOptions) {
    if (!(opts.timeScale >= 1)) throw new Error(`timeScale must be at least 1 (given ${opts.timeScale})`);
    this.live = defs.map((def) => {
      const l: Live = { def, state: 'INSUFFICIENT_DATA', reason: 'Unchecked: initial alarm creation', transitions: [], notifications: 0 };
      if (def.kind === 'metric' && def.math && !def.unsupported) l.expr = parseExpression(def.math.expression);
      if (def.kind === 'composite' && !def.unsupported) l.rule = parseRule(def.rule);
      return l;
    });
    for (const l of this.live) {
      this.byKey.set(l.def.arn, l);
      this.byKey.set(l.def.name, l);
    }
  }

  /**
   * Evaluates every alarm at `now` (metric alarms first, then composites until they settle); records changes.
   * `final`: the end of the run, whose partial last period counts when it has data.
   */
  evaluate(now: number = Date.now(), final = false): void {
    for (const l of this.live) if (l.def.kind === 'metric') this.evaluateMetric(l, l.def, now, final);
    const composites = this.live.filter((l) => l.def.kind === 'composite');
    for (let pass = 0; pass <= composites.length; pass++) {
      let changed = false;
      for (const l of composites) if (this.evaluateComposite(l, l.def as CompositeAlarmDef, now)) changed = true;
      if (!changed) break;
    }
  }

  /** Notifications produced since the last call (the caller publishes them). */
  takeNotifications(): AlarmNotification[] {
    return this.pending.splice(0, this.pending.length);
  }

  report(): AlarmReport[] {
    return this.live.map((l) => {
      const d = l.def;
      const base = {
        logicalId: d.logicalId,
        name: d.name,
        type: d.kind,
        state: l.state,
        reason: l.reason,
        transitions: l.transitions.map((t) => ({ ...t })),
        notifications: l.notifications,
      };
      if (d.kind === 'composite') return { ...base, watches: d.rule };
      return {
        ...base,
        watches: d.math ? `${d.math.expression} where ${Object.entries(d.math.metrics).map(([id, m]) => `${id} = ${describeMetric(m)}`).join('; ')}` : d.metric ? describeMetric(d.metric) : '(none)',
        periodSeconds: d.periodSeconds,
        localPeriodSeconds: round(d.periodSeconds / this.opts.timeScale),
        comparison: COMPARISON_SYMBOL[d.comparison],
        threshold: d.threshold,
        localThreshold: l.localThreshold ?? d.threshold,
        evaluationPeriods: d.evaluationPeriods,
        datapointsToAlarm: d.datapointsToAlarm,
        treatMissingData: d.treatMissingData,
        lastDatapoints: l.lastDatapoints,
      };
    });
  }

  private setState(l: Live, to: AlarmStateValue, reason: string, now: number): boolean {
    l.reason = reason;
    if (l.state === to) return false;
    const from = l.state;
    l.state = to;
    l.transitions.push({ at: new Date(now).toISOString(), sinceStartMs: now - this.opts.startMs, from, to, reason });
    const d = l.def;
    if (d.actionsEnabled) {
      const targets = to === 'ALARM' ? d.actions.alarm : to === 'OK' ? d.actions.ok : d.actions.insufficientData;
      for (const target of targets) {
        l.notifications++;
        this.pending.push({
          target,
          alarm: d.name,
          alarmArn: d.arn,
          subject: `${to}: "${d.name}" in local`,
          message: { AlarmName: d.name, AlarmArn: d.arn, NewStateValue: to, OldStateValue: from, NewStateReason: reason, StateChangeTime: new Date(now).toISOString(), Region: 'local' },
        });
      }
    }
    return true;
  }

  private seriesValues(ref: MetricRef, from: number, to: number): number[] {
    const s = this.metrics.find(ref.namespace, ref.name, ref.dimensions);
    if (!s) return [];
    const out: number[] = [];
    for (const [t, v] of s.points) if (t >= from && t < to) out.push(v);
    return out;
  }

  private evaluateMetric(l: Live, d: MetricAlarmDef, now: number, final: boolean): void {
    if (d.unsupported) { this.setState(l, 'INSUFFICIENT_DATA', `not evaluated locally: ${d.unsupported}`, now); return; }
    const refs = d.math ? Object.values(d.math.metrics) : d.metric ? [d.metric] : [];
    for (const ref of refs) {
      const why = this.opts.unavailable?.(ref, this.metrics.find(ref.namespace, ref.name, ref.dimensions));
      if (why) { this.setState(l, 'INSUFFICIENT_DATA', `${ref.namespace} ${ref.name} cannot be produced locally: ${why}`, now); return; }
    }
    const scale = this.opts.timeScale;
    const periodMs = (d.periodSeconds * 1000) / scale;
    let threshold = d.threshold;
    const single = d.metric;
    // The unit comes from the alarm's series, else from a series of the same metric with other dimensions.
    const unitSeries = single ? this.metrics.find(single.namespace, single.name, single.dimensions)
      ?? this.metrics.all().find((x) => x.namespace === single.namespace && x.name === single.name) : undefined;
    if (single && isDurationMetric(single, unitSeries)) threshold = d.threshold / scale;
    l.localThreshold = round(threshold);
    const elapsed = now - this.opts.startMs;
    if (elapsed < 0) return;
    const current = Math.floor(elapsed / periodMs);
    const valueOf = (k: number): number | undefined => {
      const from = this.opts.startMs + k * periodMs;
      const to = Math.min(this.opts.startMs + (k + 1) * periodMs, now + 1);
      if (d.metric) return statistic(d.metric.stat, this.seriesValues(d.metric, from, to));
      const math = d.math!;
      const cache = new Map<string, number | undefined>();
      const value = (id: string, depth = 0): number | undefined => {
        if (cache.has(id)) return cache.get(id);
        let v: number | undefined;
        if (math.metrics[id]) {
          v = statistic(math.metrics[id].stat, this.seriesValues(math.metrics[id], from, to));
        } else if (math.expressions[id] !== undefined && depth < 10) {
          v = evaluateExpression(parseExpression(math.expressions[id]), (x) => value(x, depth + 1));
        } else {throw new Error(`metric math id ${id} is not defined`);}
        cache.set(id, v);
        return v;
      };
      return evaluateExpression(l.expr!, (id) => value(id));
    };
    // The evaluation range: complete periods back to the start (at the end of the run, the partial one with data first).
    const range: Array<number | undefined> = [];
    let k = current;
    const partial = final ? valueOf(current) : undefined;
    if (partial !== undefined) range.unshift(partial);
    k--;
    for (; k >= 0 && range.length < d.evaluationPeriods; k--) range.unshift(valueOf(k));
    if (range.length === 0) return; // nothing to evaluate yet: the state stays
    l.lastDatapoints = range.map((v) => (v === undefined ? null : round(v)));
    const cmp = COMPARISONS[d.comparison];
    let considered = 0;
    let breaching = 0;
    for (const v of range) {
      if (v === undefined) {
        if (d.treatMissingData === 'breaching') { considered++; breaching++; } else if (d.treatMissingData === 'notBreaching') {considered++;}
        continue;
      }
      considered++;
      if (cmp(v, threshold)) breaching++;
    }
    // missing / ignore with fewer datapoints than DatapointsToAlarm: all of them breaching is ALARM (missing) or
    // keeps the state (ignore); otherwise OK.
    const few = considered > 0 && considered < d.datapointsToAlarm && (d.treatMissingData === 'missing' || d.treatMissingData === 'ignore');
    const shown = `[${l.lastDatapoints.map((v) => (v === null ? 'missing' : String(v))).join(', ')}]`;
    const what = `${breaching} of the last ${range.length} datapoint(s) ${shown} ${COMPARISON_SYMBOL[d.comparison]} ${l.localThreshold}`
      + `${threshold !== d.threshold ? ` (${d.threshold} / time scale ${scale})` : ''}, ${d.datapointsToAlarm} to alarm, period ${round(periodMs / 1000)} s, missing data ${d.treatMissingData}`;
    if (considered === 0) {
      if (d.treatMissingData === 'missing') this.setState(l, 'INSUFFICIENT_DATA', `no datapoints in the evaluation range (${what})`, now);
      else l.reason = `no datapoints in the evaluation range: state kept (${what})`;
      return;
    }
    if (few && breaching === considered) {
      if (d.treatMissingData === 'missing') this.setState(l, 'ALARM', `Threshold crossed: every datapoint present breaches, fewer than ${d.datapointsToAlarm} present (${what})`, now);
      else l.reason = `fewer datapoints than ${d.datapointsToAlarm}, all breaching: state kept (${what})`;
      return;
    }
    if (breaching >= d.datapointsToAlarm) this.setState(l, 'ALARM', `Threshold crossed: ${what}`, now);
    else this.setState(l, 'OK', `Threshold not crossed: ${what}`, now);
  }

  private evaluateComposite(l: Live, d: CompositeAlarmDef, now: number): boolean {
    if (d.unsupported) return this.setState(l, 'INSUFFICIENT_DATA', `not evaluated locally: ${d.unsupported}`, now);
    const unknown = ruleAlarms(l.rule!).filter((a) => !this.byKey.has(a));
    const stateOf = (a: string): AlarmStateValue => this.byKey.get(a)?.state ?? 'INSUFFICIENT_DATA';
    const inAlarm = ruleAlarms(l.rule!).map((a) => this.byKey.get(a)).filter((x): x is Live => x !== undefined && x.state === 'ALARM').map((x) => x.def.logicalId);
    const note = unknown.length ? `; not alarms of this stack (INSUFFICIENT_DATA locally): ${unknown.join(', ')}` : '';
    return evaluateRule(l.rule!, stateOf)
      ? this.setState(l, 'ALARM', `rule true; children in ALARM: ${inAlarm.join(', ') || 'none'}${note}`, now)
      : this.setState(l, 'OK', `rule false; children in ALARM: ${inAlarm.join(', ') || 'none'}${note}`, now);
  }
}
