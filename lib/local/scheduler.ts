import { randomUUID } from 'node:crypto';
import type { AsyncInvoker } from './async-invoke';
import type { LocalClients } from './clients';
import type { LocalFunction } from './functions';
import type { CallPrincipal, GateVerdict } from './gates/types';
import { assumeRoleCall, invokeCall, isAccessDeniedError, type InProcessAuthorizer } from './iam';
import type { ProvisionedStack } from './provision';
import { UnsupportedTemplateError } from './template/errors';
import { LOCAL_ACCOUNT, LOCAL_REGION } from './template/types';

/**
 * Schedules of the template run locally: `AWS::Scheduler::Schedule` and scheduled `AWS::Events::Rule`s invoke their
 * targets at the times AWS would (rate(), cron() in UTC, at()). Lambda targets are invoked asynchronously: a failed
 * invocation is retried (EventInvokeConfig MaximumRetryAttempts, default 2; the 1 and 2 minute delays of AWS are
 * shortened to 1 and 2 seconds locally) and then sent to the function's DeadLetterConfig queue and/or the
 * EventInvokeConfig on-failure destination (SQS or SNS). SQS targets receive the input as a message.
 *
 * Local timing (docs/local-environment.md, "Schedules"): with `timeScale` N, a rate() schedule fires every
 * interval / N (cron() and at() keep their wall-clock times); with `fireAtStart`, every rate() schedule also fires once
 * right after the run's resources are up, then every interval / N from then on -- so that a short run sees e.g. a
 * synthetic canary. `timeScale` 1 without `fireAtStart` is AWS's timing (first fire one interval after creation).
 */

export interface LocalSchedules {
  /** Per schedule: fires, targets not delivered, of which refused by IAM (also in the run's accessDenied). */
  readonly stats: Record<string, { fired: number; failed: number; denied: number; nextAt?: string }>;
  stop(): Promise<void>;
}

type Expr =
  | { kind: 'rate'; everyMs: number }
  | { kind: 'at'; at: number }
  | { kind: 'cron'; fields: CronFields };

interface CronFields { minutes: Set<number>; hours: Set<number>; dom: Set<number> | '*'; months: Set<number>; dow: Set<number> | '*'; years: Set<number> | '*' }

const UNIT_MS: Record<string, number> = { minute: 60_000, minutes: 60_000, hour: 3_600_000, hours: 3_600_000, day: 86_400_000, days: 86_400_000 };
const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
const DAYS = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];

function cronField(text: string, min: number, max: number, names: string[] | undefined, offset: number): Set<number> {
  const out = new Set<number>();
  const value = (v: string): number => {
    const i = names?.indexOf(v.toUpperCase()) ?? -1;
    const n = i >= 0 ? i + offset : Number(v);
    if (!Number.isInteger(n) || n < min || n > max) throw new Error(`${v} is not in ${min}-${max}`);
    return n;
  };
  for (const part of text.split(',')) {
    const [range, stepText] = part.split('/');
    const step = stepText === undefined ? 1 : Number(stepText);
    if (!Number.isInteger(step) || step < 1) throw new Error(`bad step in ${part}`);
    let lo: number;
    let hi: number;
    if (range === '*') { lo = min; hi = max; } else if (range.includes('-')) { const [a, b] = range.split('-'); lo = value(a); hi = value(b); } else { lo = value(range); hi = stepText === undefined ? lo : max; }
    for (let v = lo; v <= hi; v += step) out.add(v);
  }
  return out;
}

/** Parses rate(), at() and cron() expressions (AWS syntax: six cron fields, L, W and # are not supported locally). */
export function parseScheduleExpression(expr: string): Expr {
  const rate = /^rate\((\d+)\s+(minutes?|hours?|days?)\)$/.exec(expr.trim());
  if (rate) {
    const n = Number(rate[1]);
    if (n < 1) throw new Error('rate() needs a positive value');
    return { kind: 'rate', everyMs: n * UNIT_MS[rate[2]] };
  }
  const at = /^at\((\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\)$/.exec(expr.trim());
  if (at) return { kind: 'at', at: Date.parse(`${at[1]}Z`) };
  const cron = /^cron\((.*)\)$/.exec(expr.trim());
  if (cron) {
    const f = cron[1].trim().split(/\s+/);
    if (f.length !== 6) throw new Error('cron() needs six fields: minutes hours day-of-month month day-of-week year');
    if (/[LW#]/.test(f[2] + f[4])) throw new Error('cron() with L, W or # is not supported locally');
    const any = (s: string): boolean => s === '?' || s === '*';
    return {
      kind: 'cron',
      fields: {
        minutes: cronField(f[0], 0, 59, undefined, 0),
        hours: cronField(f[1], 0, 23, undefined, 0),
        dom: any(f[2]) ? '*' : cronField(f[2], 1, 31, undefined, 0),
        months: cronField(f[3] === '?' ? '*' : f[3], 1, 12, MONTHS, 1),
        dow: any(f[4]) ? '*' : cronField(f[4], 1, 7, DAYS, 1),
        years: f[5] === '*' || f[5] === '?' ? '*' : cronField(f[5], 1970, 2199, undefined, 0),
      },
    };
  }
  throw new Error(`${expr} is not rate(), cron() or at()`);
}

/** Next fire time strictly after `after` (epoch ms), or undefined. */
export function nextFire(expr: Expr, after: number, startedAt: number): number | undefined {
  if (expr.kind === 'rate') return startedAt + (Math.floor((after - startedAt) / expr.everyMs) + 1) * expr.everyMs;
  if (expr.kind === 'at') return expr.at > after ? expr.at : undefined;
  const f = expr.fields;
  let t = Math.floor(after / 60_000) * 60_000 + 60_000;
  // At most a year and a day of minutes.
  for (let i = 0; i < 527_040; i++, t += 60_000) {
    const d = new Date(t);
    if (!f.minutes.has(d.getUTCMinutes()) || !f.hours.has(d.getUTCHours()) || !f.months.has(d.getUTCMonth() + 1)) continue;
    if (f.years !== '*' && !f.years.has(d.getUTCFullYear())) continue;
    if (f.dom !== '*' && !f.dom.has(d.getUTCDate())) continue;
    if (f.dow !== '*' && !f.dow.has(d.getUTCDay() + 1)) continue;
    return t;
  }
  return undefined;
}

/** A target; `deadLetterArn` receives the event when it cannot be delivered (the target's DeadLetterConfig). */
interface Target { id: string; arn: string; input: unknown; deadLetterArn?: string; roleArn?: string }

/** Clients signed as the principal that delivers a plan's targets (IAM on); undefined: the invoker's (the operator's). */
interface DeliveryPrincipals {
  /** A role EventBridge Scheduler assumed (the schedule target's RoleArn). */
  clientsOfRole?: (roleArn: string) => LocalClients;
  /** EventBridge for a rule: `events.amazonaws.com` with `aws:SourceArn` the rule (queue and key policies decide). */
  clientsOfRule?: (ruleArn: string) => LocalClients;
}

function throwIfRejected(verdict: GateVerdict | undefined): void {
  if (verdict?.kind === 'reject') throw Object.assign(new Error(`${verdict.errorType}: ${verdict.message}`), { name: verdict.errorType });
}

/**
 * Who calls a plan's targets, as AWS does it (IAM on). EventBridge Scheduler assumes the target's RoleArn (the role's
 * trust policy must allow `scheduler.amazonaws.com` for this schedule) and calls the target -- Lambda, SQS, the
 * dead-letter queue -- with that role. A rule calls as `events.amazonaws.com` for the rule: the function's
 * resource-based policy, the queue policy and the queue key's policy decide. Throws a denial of the assumption.
 */
class TargetCaller {
  constructor(
    private readonly authz: InProcessAuthorizer | undefined,
    private readonly principals: DeliveryPrincipals,
    private readonly type: string,
    private readonly sourceArn: string,
  ) {}

  private get isRule(): boolean {
    return this.type === 'AWS::Events::Rule';
  }

  /** Scheduler's sts:AssumeRole of the target's role (no-op for rules and with IAM off). */
  assumeRole(t: Target): void {
    if (this.isRule || !this.authz) return;
    const principal = { kind: 'service', arn: 'scheduler.amazonaws.com', sourceArn: this.sourceArn, sourceAccount: accountOfArn(this.sourceArn) } as const;
    throwIfRejected(this.authz.authorize(assumeRoleCall('scheduler', t.roleArn ?? '', principal)));
  }

  /** lambda:InvokeFunction of the target, decided in process. */
  authorizeInvoke(t: Target): void {
    if (!this.authz) return;
    const principal: CallPrincipal = this.isRule
      ? { kind: 'service', arn: 'events.amazonaws.com', sourceArn: this.sourceArn, sourceAccount: accountOfArn(this.sourceArn) }
      : { kind: 'role', arn: t.roleArn ?? '' };
    throwIfRejected(this.authz.authorize(invokeCall(t.arn, principal)));
  }

  /** Clients for SQS sends (the target queue, the dead-letter queue): the emulator host's gate decides. */
  clients(t: Target): LocalClients | undefined {
    if (this.isRule) return this.principals.clientsOfRule?.(this.sourceArn);
    return t.roleArn !== undefined ? this.principals.clientsOfRole?.(t.roleArn) : undefined;
  }
}

function accountOfArn(arn: string): string {
  return arn.split(':')[4] ?? '';
}

interface Plan { logicalId: string; arn: string; expr: Expr; targets: Target[]; type: string; end?: number; start?: number }

type ScheduleResource = ProvisionedStack['schedules'][number];

function unsupported(s: ScheduleResource, prop: string, detail: string): never {
  throw new UnsupportedTemplateError(s.logicalId, s.type, prop, detail);
}

function fnByArn(functions: readonly LocalFunction[], arn: string): LocalFunction | undefined {
  return functions.find((f) => f.functionArn === arn || arn.startsWith(`${f.functionArn}:`));
}

/** A schedule's or rule's targets; throws UnsupportedTemplateError for one the local environment cannot call. */
function targetsOf(s: ScheduleResource, functions: readonly LocalFunction[], queueUrlForArn: (arn: string) => string): Target[] {
  const p = s.props;
  const fail = (prop: string, detail: string): never => unsupported(s, prop, detail);
  const rule = s.type === 'AWS::Events::Rule';
  const rawTargets = rule ? (p.Targets as Array<Record<string, unknown>> | undefined) ?? [] : [p.Target as Record<string, unknown>];
  return rawTargets.map((t, i) => {
    const prop = rule ? `Targets[${i}]` : 'Target';
    for (const k of ['InputPath', 'InputTransformer', 'KinesisParameters', 'EcsParameters', 'HttpParameters', 'SageMakerPipelineParameters', 'BatchParameters', 'EventBridgeParameters']) {
      if (t[k] !== undefined) fail(`${prop}.${k}`, 'is not supported locally');
    }
    const arn = String(t.Arn);
    const service = arn.split(':')[2];
    if (service === 'lambda' && !fnByArn(functions, arn)) fail(`${prop}.Arn`, `${arn} is not a function of this stack`);
    if (service === 'sqs') queueUrlForArn(arn);
    if (service !== 'lambda' && service !== 'sqs') fail(`${prop}.Arn`, `${service} targets are not supported locally (Lambda and SQS are)`);
    // A rule without Input sends its scheduled event; a schedule without Input sends {}.
    let input: unknown = rule ? undefined : {};
    if (t.Input !== undefined) {
      try { input = typeof t.Input === 'string' ? JSON.parse(t.Input) : t.Input; } catch { input = t.Input; }
    }
    const roleArn = t.RoleArn !== undefined ? String(t.RoleArn) : undefined;
    return { id: String(t.Id ?? i), arn, input, deadLetterArn: (t.DeadLetterConfig as { Arn?: string } | undefined)?.Arn, roleArn };
  });
}

/** The plan of an enabled schedule or scheduled rule (rate() intervals divided by `timeScale`), else undefined. */
function planOf(
  s: ScheduleResource,
  functions: readonly LocalFunction[],
  opts: { log: (line: string) => void; queueUrlForArn: (arn: string) => string; timeScale: number },
): Plan | undefined {
  const p = s.props;
  const fail = (prop: string, detail: string): never => unsupported(s, prop, detail);
  const state = String(p.State ?? 'ENABLED');
  if (state !== 'ENABLED') { opts.log(`${s.logicalId}: schedule is ${state}, not run`); return undefined; }
  if (s.type === 'AWS::Events::Rule') {
    if (p.EventPattern !== undefined) fail('EventPattern', 'event-pattern rules are not supported locally (no service emits events locally); only scheduled rules are');
    if (p.EventBusName !== undefined && p.EventBusName !== 'default') fail('EventBusName', 'only the default event bus exists locally');
  } else if (p.ScheduleExpressionTimezone !== undefined && !['UTC', 'Etc/UTC'].includes(String(p.ScheduleExpressionTimezone))) {
    fail('ScheduleExpressionTimezone', 'only UTC schedules are evaluated locally');
  }
  let expr: Expr;
  try {
    expr = parseScheduleExpression(String(p.ScheduleExpression ?? ''));
  } catch (e) {
    return fail('ScheduleExpression', (e as Error).message);
  }
  if (expr.kind === 'rate' && opts.timeScale !== 1) expr = { kind: 'rate', everyMs: Math.max(1, Math.round(expr.everyMs / opts.timeScale)) };
  const start = p.StartDate !== undefined ? Date.parse(String(p.StartDate)) : undefined;
  const end = p.EndDate !== undefined ? Date.parse(String(p.EndDate)) : undefined;
  return { logicalId: s.logicalId, arn: s.arn, expr, targets: targetsOf(s, functions, opts.queueUrlForArn), type: s.type, start, end };
}

export function startSchedules(
  provisioned: ProvisionedStack,
  functions: readonly LocalFunction[],
  invoker: AsyncInvoker,
  opts: {
    log: (line: string) => void;
    queueUrlForArn: (arn: string) => string;
    /** Divides rate() intervals (default 1). */
    timeScale?: number;
    /** Fire every rate() schedule once at start (default false). */
    fireAtStart?: boolean;
    /** IAM on: schedules assume their target's role and call with it; rules call as events.amazonaws.com. */
    authz?: InProcessAuthorizer;
  } & DeliveryPrincipals,
): LocalSchedules {
  const timeScale = opts.timeScale ?? 1;
  if (!(timeScale >= 1)) throw new Error(`timeScale must be at least 1 (given ${timeScale})`);
  const timers = new Set<NodeJS.Timeout>();
  const inFlight = new Set<Promise<void>>();
  const stats: LocalSchedules['stats'] = {};
  let stopped = false;
  const startedAt = Date.now();

  const plans: Plan[] = [];
  for (const s of provisioned.schedules) {
    const plan = planOf(s, functions, { log: opts.log, queueUrlForArn: opts.queueUrlForArn, timeScale });
    if (plan) plans.push(plan);
  }
  async function fire(plan: Plan): Promise<void> {
    const st = (stats[plan.logicalId] ??= { fired: 0, failed: 0, denied: 0 });
    st.fired++;
    const time = new Date().toISOString();
    const caller = new TargetCaller(opts.authz, opts, plan.type, plan.arn);
    for (const t of plan.targets) {
      const event = plan.type === 'AWS::Events::Rule' && t.input === undefined
        ? { 'version': '0', 'id': randomUUID(), 'detail-type': 'Scheduled Event', 'source': 'aws.events', 'account': LOCAL_ACCOUNT, time, 'region': LOCAL_REGION, 'resources': [plan.arn], 'detail': {} }
        : t.input ?? {};
      const body = typeof event === 'string' ? event : JSON.stringify(event);
      let assumed = false;
      try {
        caller.assumeRole(t);
        assumed = true;
        if (t.arn.split(':')[2] === 'sqs') {
          await invoker.sendTo(t.arn, body, caller.clients(t));
        } else {
          caller.authorizeInvoke(t);
          if (!(await invoker.invoke(fnByArn(functions, t.arn)!, event, plan.logicalId))) st.failed++;
        }
      } catch (e) {
        st.failed++;
        if (isAccessDeniedError((e as Error).name)) st.denied++;
        opts.log(`${plan.logicalId}: target ${t.id} could not be delivered: ${(e as Error).message}`);
        // The dead-letter queue is sent to by the same principal: not at all when Scheduler could not assume the role.
        if (t.deadLetterArn && assumed) {
          await invoker.sendTo(t.deadLetterArn, body, caller.clients(t))
            .catch((err: unknown) => opts.log(`${plan.logicalId}: dead-letter queue ${t.deadLetterArn} failed too: ${(err as Error).message}`));
        }
      }
    }
  }

  function arm(plan: Plan, after: number): void {
    if (stopped) return;
    let next = nextFire(plan.expr, after, startedAt);
    if (next !== undefined && plan.start !== undefined && next < plan.start) next = nextFire(plan.expr, plan.start - 1, startedAt);
    if (next === undefined || (plan.end !== undefined && next > plan.end)) return;
    (stats[plan.logicalId] ??= { fired: 0, failed: 0, denied: 0 }).nextAt = new Date(next).toISOString();
    // Long delays are re-armed in steps (setTimeout holds at most ~24.8 days).
    const delay = Math.min(next - Date.now(), 2 ** 31 - 1);
    const timer = setTimeout(() => {
      timers.delete(timer);
      if (Date.now() + 5 < next!) { arm(plan, Date.now()); return; }
      const p = fire(plan).finally(() => inFlight.delete(p));
      inFlight.add(p);
      arm(plan, next!);
    }, Math.max(0, delay));
    timers.add(timer);
  }
  for (const plan of plans) {
    if (opts.fireAtStart && plan.expr.kind === 'rate' && (plan.start === undefined || plan.start <= Date.now()) && (plan.end === undefined || plan.end > Date.now())) {
      const p = fire(plan).finally(() => inFlight.delete(p));
      inFlight.add(p);
    }
    arm(plan, Date.now());
  }
  if (plans.length > 0) opts.log(`${plans.length} schedule(s) run locally: ${plans.map((p) => `${p.logicalId} next ${stats[p.logicalId]?.nextAt ?? 'never'}`).join(', ')}`);

  return {
    stats,
    stop: async () => {
      stopped = true;
      for (const t of timers) clearTimeout(t);
      timers.clear();
      await Promise.allSettled([...inFlight]);
    },
  };
}
