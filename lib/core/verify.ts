/**
 * `phoenix verify`: the post-deploy checks of a pipeline, judged from what was observed (pure: no I/O, no AWS SDK).
 * The CLI gathers the observations from AWS (lib/cli/verify/aws.ts) or from a kept local environment
 * (lib/cli/verify/local.ts); both feed {@link judge}, which returns one result per check, in {@link VERIFY_CHECKS} order.
 */
import { describeError } from './failure';
import { METRIC, METRIC_DIMENSIONS, METRICS_NAMESPACE } from '../../constructs/contract';

/** The checks, in the order they are reported. */
export const VERIFY_CHECKS = ['canary', 'dead-letters', 'alarms', 'drift', 'event-source-mappings', 'iterator-age'] as const;
export type VerifyCheck = (typeof VERIFY_CHECKS)[number];

export type CheckStatus = 'PASS' | 'FAIL' | 'SKIP';

export interface CheckResult {
  readonly check: VerifyCheck;
  readonly status: CheckStatus;
  readonly detail: string;
}

/** What could not be observed: `skip` (the target cannot show it: SKIP) or `error` (reading it failed: FAIL). */
export type Unobserved = { readonly skip: string } | { readonly error: string };
export type Observed<T> = T | Unobserved;

export interface Datapoint {
  /** Epoch ms. */
  readonly at: number;
  readonly value: number;
}

export interface MetricId {
  readonly namespace: string;
  readonly name: string;
  readonly dimensions: Readonly<Record<string, string>>;
}

export interface AlarmObservation {
  readonly name: string;
  /** `OK`, `ALARM` or `INSUFFICIENT_DATA`. */
  readonly state: string;
  /** The alarm's single metric (none for composite and metric-math alarms). */
  readonly metric?: MetricId;
  readonly threshold?: number;
}

export interface MappingObservation {
  /** Mapping UUID (AWS) or logical id (local). */
  readonly id: string;
  readonly functionName: string;
  /** Lambda's mapping state: `Enabled`, `Disabled`, `Creating`, `Updating`, ... */
  readonly state: string;
}

export interface VerifyObservations {
  /** When the observations were made (epoch ms): the window ends here. */
  readonly now: number;
  /** Canary latency datapoints of the pipeline's canary latency alarm's metric, and that alarm's threshold. */
  readonly canary: Observed<{ readonly metric: MetricId; readonly points: readonly Datapoint[]; readonly alarmThreshold?: number }>;
  readonly deadLetters: Observed<{ readonly queue: string; readonly messages: number }>;
  readonly alarms: Observed<readonly AlarmObservation[]>;
  /** CloudFormation's StackDriftStatus (`IN_SYNC`, `DRIFTED`, ...) and what it rests on. */
  readonly drift: Observed<{ readonly status: string; readonly detail?: string }>;
  readonly mappings: Observed<readonly MappingObservation[]>;
  /** Iterator age datapoints (ms) of the pipeline's stream or mapping functions; `what` names the metric. */
  readonly iteratorAge: Observed<{ readonly what: string; readonly points: readonly Datapoint[]; readonly alarmThreshold?: number }>;
}

export interface VerifyLimits {
  /** Look-back of the canary datapoint and of the iterator age (ms). */
  readonly windowMs: number;
  readonly maxDeadLetters: number;
  /** Default: the canary latency alarm's threshold. */
  readonly canarySloMs?: number;
  /** Default: the stack's iterator age alarm threshold, else {@link DEFAULT_MAX_ITERATOR_AGE_MS}. */
  readonly maxIteratorAgeMs?: number;
}

/** Iterator age bound when neither the flag nor an iterator age alarm of the stack gives one (the monitor's default threshold). */
export const DEFAULT_MAX_ITERATOR_AGE_MS = 300_000;

/** Look-back window default, minutes. */
export const DEFAULT_VERIFY_WINDOW_MINUTES = 15;

/** Every check judged from the observations, in {@link VERIFY_CHECKS} order. */
export function judge(o: VerifyObservations, limits: VerifyLimits): CheckResult[] {
  return [
    judgeCanary(o, limits),
    judgeDeadLetters(o, limits),
    judgeAlarms(o),
    judgeDrift(o),
    judgeMappings(o),
    judgeIteratorAge(o, limits),
  ];
}

/** Runs a gatherer's `read`; its failure becomes `{ error }` (that check FAILs). */
export async function observe<T>(read: () => Promise<Observed<T>>): Promise<Observed<T>> {
  try {
    return await read();
  } catch (e) {
    return { error: describeError(e) };
  }
}

/** True when no check failed (SKIP allowed). */
export function allPassed(results: readonly CheckResult[]): boolean {
  return results.every((r) => r.status !== 'FAIL');
}

/** `PASS|FAIL|SKIP <check>: <detail>`. */
export function formatCheck(r: CheckResult): string {
  return `${r.status} ${r.check}: ${r.detail}`;
}

/**
 * The canary latency alarm of the pipeline among the stack's alarms (the CorrelatedMonitor's SyntheticCanary alarm on
 * METRIC.canaryLatencyMs): the one whose Pipeline dimension is `pipeline` when given, else the first.
 */
export function canaryLatencyAlarm(alarms: readonly AlarmObservation[], pipeline?: string): AlarmObservation | undefined {
  return alarms.find((a) => a.metric?.namespace === METRICS_NAMESPACE && a.metric.name === METRIC.canaryLatencyMs
    && (pipeline === undefined || a.metric.dimensions[METRIC_DIMENSIONS.pipeline] === pipeline));
}

/** The lowest threshold of the stack's `AWS/Lambda` `IteratorAge` alarms on `functionNames` (any function when empty). */
export function iteratorAgeAlarmThreshold(alarms: readonly AlarmObservation[], functionNames: readonly string[] = []): number | undefined {
  const t = alarms
    .filter((a) => a.metric?.namespace === 'AWS/Lambda' && a.metric.name === 'IteratorAge' && a.threshold !== undefined)
    .filter((a) => functionNames.length === 0 || functionNames.includes(a.metric!.dimensions.FunctionName))
    .map((a) => a.threshold!);
  return t.length > 0 ? Math.min(...t) : undefined;
}

function isUnobserved(v: object): v is Unobserved {
  return 'skip' in v || 'error' in v;
}

/** SKIP with the reason the target cannot show it, FAIL when reading it failed. */
function unobservedResult(check: VerifyCheck, v: Unobserved): CheckResult {
  return 'skip' in v ? { check, status: 'SKIP', detail: v.skip } : { check, status: 'FAIL', detail: `could not be read: ${v.error}` };
}

const minutes = (ms: number): string => `${Math.round(ms / 6000) / 10} min`;
const dims = (d: Readonly<Record<string, string>>): string => Object.entries(d).map(([k, v]) => `${k}=${v}`).join(',');
const inWindow = (points: readonly Datapoint[], now: number, windowMs: number): Datapoint[] =>
  points.filter((p) => p.at > now - windowMs && p.at <= now + 60_000);

function judgeCanary(o: VerifyObservations, limits: VerifyLimits): CheckResult {
  const check = 'canary';
  if (isUnobserved(o.canary)) return unobservedResult(check, o.canary);
  const c = o.canary;
  const slo = limits.canarySloMs ?? c.alarmThreshold;
  const sloText = limits.canarySloMs !== undefined ? `--canary-slo-ms ${slo}` : 'the canary latency alarm threshold';
  if (slo === undefined) return { check, status: 'FAIL', detail: 'no SLO: the canary latency alarm has no threshold; pass --canary-slo-ms' };
  const metric = `${c.metric.name} {${dims(c.metric.dimensions)}}`;
  const points = inWindow(c.points, o.now, limits.windowMs);
  if (points.length === 0) {
    return { check, status: 'FAIL', detail: `no ${metric} datapoint in the last ${minutes(limits.windowMs)}: no canary made the round trip` };
  }
  const latest = points.reduce((a, b) => (b.at > a.at ? b : a));
  const when = `${new Date(latest.at).toISOString()} (${minutes(o.now - latest.at)} ago)`;
  if (latest.value > slo) return { check, status: 'FAIL', detail: `latest ${metric} ${latest.value} ms at ${when} is over the SLO ${slo} ms (${sloText})` };
  return { check, status: 'PASS', detail: `latest ${metric} ${latest.value} ms at ${when}, within the SLO ${slo} ms (${sloText})` };
}

function judgeDeadLetters(o: VerifyObservations, limits: VerifyLimits): CheckResult {
  const check = 'dead-letters';
  if (isUnobserved(o.deadLetters)) return unobservedResult(check, o.deadLetters);
  const d = o.deadLetters;
  const text = `${d.messages} message(s) in the DLQ ${d.queue} (ApproximateNumberOfMessages), at most ${limits.maxDeadLetters} allowed`;
  return { check, status: d.messages > limits.maxDeadLetters ? 'FAIL' : 'PASS', detail: text };
}

function judgeAlarms(o: VerifyObservations): CheckResult {
  const check = 'alarms';
  if (isUnobserved(o.alarms)) return unobservedResult(check, o.alarms);
  const alarms = o.alarms;
  if (alarms.length === 0) return { check, status: 'SKIP', detail: 'the stack has no alarms' };
  const firing = alarms.filter((a) => a.state === 'ALARM').map((a) => a.name);
  const count = (s: string): number => alarms.filter((a) => a.state === s).length;
  const states = `${count('OK')} OK, ${count('INSUFFICIENT_DATA')} INSUFFICIENT_DATA`;
  if (firing.length === 0) return { check, status: 'PASS', detail: `none of the stack's ${alarms.length} alarm(s) in ALARM (${states})` };
  const shown = firing.slice(0, 5).join(', ') + (firing.length > 5 ? `, and ${firing.length - 5} more` : '');
  return { check, status: 'FAIL', detail: `${firing.length} of the stack's ${alarms.length} alarm(s) in ALARM: ${shown}` };
}

function judgeDrift(o: VerifyObservations): CheckResult {
  const check = 'drift';
  if (isUnobserved(o.drift)) return unobservedResult(check, o.drift);
  const d = o.drift;
  const detail = `stack drift status ${d.status}${d.detail ? ` (${d.detail})` : ''}`;
  return { check, status: d.status === 'IN_SYNC' ? 'PASS' : 'FAIL', detail };
}

function judgeMappings(o: VerifyObservations): CheckResult {
  const check = 'event-source-mappings';
  if (isUnobserved(o.mappings)) return unobservedResult(check, o.mappings);
  const mappings = o.mappings;
  if (mappings.length === 0) return { check, status: 'FAIL', detail: 'no event source mapping found for the stack\'s functions' };
  const off = mappings.filter((m) => m.state !== 'Enabled');
  if (off.length === 0) return { check, status: 'PASS', detail: `${mappings.length} mapping(s), all Enabled` };
  return { check, status: 'FAIL', detail: `${off.length} of ${mappings.length} mapping(s) not Enabled: ${off.map((m) => `${m.id} -> ${m.functionName} ${m.state}`).join(', ')}` };
}

function judgeIteratorAge(o: VerifyObservations, limits: VerifyLimits): CheckResult {
  const check = 'iterator-age';
  if (isUnobserved(o.iteratorAge)) return unobservedResult(check, o.iteratorAge);
  const it = o.iteratorAge;
  const bound = limits.maxIteratorAgeMs ?? it.alarmThreshold ?? DEFAULT_MAX_ITERATOR_AGE_MS;
  const boundText = limits.maxIteratorAgeMs !== undefined ? '--max-iterator-age-ms' : it.alarmThreshold !== undefined ? 'the iterator age alarm threshold' : 'default';
  const points = inWindow(it.points, o.now, limits.windowMs);
  if (points.length === 0) return { check, status: 'SKIP', detail: `no ${it.what} datapoint in the last ${minutes(limits.windowMs)} (no reads of the stream)` };
  const max = Math.max(...points.map((p) => p.value));
  const detail = `max ${it.what} over the last ${minutes(limits.windowMs)} ${max} ms, bound ${bound} ms (${boundText})`;
  return { check, status: max > bound ? 'FAIL' : 'PASS', detail };
}
