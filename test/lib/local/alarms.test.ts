import type { SQSClient } from '@aws-sdk/client-sqs';
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { addRunOptions, formatAlarms } from '../../../lib/cli/commands/local';
import {
  AlarmEvaluator, evaluateExpression, parseCompositeAlarm, parseExpression, parseMetricAlarm, parseRule, statistic,
  type AlarmDef, type MetricAlarmDef,
} from '../../../lib/local/alarms';
import type { EventSourcePoller } from '../../../lib/local/esm';
import { emptyFunctionStats, type LocalFunction } from '../../../lib/local/functions';
import { MetricsStore } from '../../../lib/local/metrics';
import type { LocalRunReport } from '../../../lib/local/run';
import { recordingIteratorAge, ServiceMetrics } from '../../../lib/local/service-metrics';

const T0 = 1_700_000_000_000;
const NS = 'PhoenixPipelines';
const DIMS = { Pipeline: 'p', Stage: 'ingest' };

function alarm(id: string, props: Record<string, unknown>): MetricAlarmDef {
  return parseMetricAlarm(id, id, `arn:aws:cloudwatch:us-east-1:000000000000:alarm:${id}`, {
    Namespace: NS,
    MetricName: 'M',
    Dimensions: Object.entries(DIMS).map(([Name, Value]) => ({ Name, Value })),
    Statistic: 'Maximum',
    Period: 60,
    EvaluationPeriods: 1,
    Threshold: 10,
    ComparisonOperator: 'GreaterThanThreshold',
    ...props,
  });
}

/** Puts `values` of metric M at T0 + second * 1000. */
function put(store: MetricsStore, second: number, values: number[], name = 'M', dims: Record<string, string> = DIMS, unit?: string): void {
  store.add({ namespace: NS, name, dimensions: dims, unit }, values, T0 + second * 1000);
}

function evaluator(defs: AlarmDef[], store: MetricsStore, timeScale = 1, unavailable?: (m: { name: string }) => string | undefined): AlarmEvaluator {
  return new AlarmEvaluator(defs, store, { startMs: T0, timeScale, unavailable });
}

const stateAt = (e: AlarmEvaluator, id: string): string => e.report().find((r) => r.logicalId === id)!.state;

describe('local alarm evaluation', () => {
  it('statistics: sum, average, min, max, sample count, nearest-rank percentiles', () => {
    const v = [5, 1, 4, 2, 3, 10, 9, 8, 7, 6];
    expect(statistic('Sum', v)).toBe(55);
    expect(statistic('Average', v)).toBe(5.5);
    expect(statistic('Minimum', v)).toBe(1);
    expect(statistic('Maximum', v)).toBe(10);
    expect(statistic('SampleCount', v)).toBe(10);
    expect(statistic('p50', v)).toBe(5);
    expect(statistic('p90', v)).toBe(9);
    expect(statistic('p99', v)).toBe(10);
    expect(statistic('p10', v)).toBe(1);
    expect(statistic('Sum', [])).toBeUndefined();
  });

  it('every comparison operator, at and around the threshold', () => {
    const cases: Array<[string, number, string]> = [
      ['GreaterThanThreshold', 10, 'OK'], ['GreaterThanThreshold', 11, 'ALARM'],
      ['GreaterThanOrEqualToThreshold', 10, 'ALARM'], ['GreaterThanOrEqualToThreshold', 9, 'OK'],
      ['LessThanThreshold', 10, 'OK'], ['LessThanThreshold', 9, 'ALARM'],
      ['LessThanOrEqualToThreshold', 10, 'ALARM'], ['LessThanOrEqualToThreshold', 11, 'OK'],
    ];
    for (const [op, value, expected] of cases) {
      const store = new MetricsStore();
      put(store, 5, [value]);
      const e = evaluator([alarm('A', { ComparisonOperator: op })], store);
      e.evaluate(T0 + 61_000);
      expect(`${op} ${value}: ${stateAt(e, 'A')}`).toBe(`${op} ${value}: ${expected}`);
    }
  });

  it('a percentile statistic (ExtendedStatistic p99) over the period', () => {
    const store = new MetricsStore();
    const values = Array.from({ length: 100 }, (_, i) => i + 1); // p99 = 99, max 100
    put(store, 1, values);
    const below = evaluator([alarm('A', { Statistic: undefined, ExtendedStatistic: 'p99', Threshold: 99 })], store);
    below.evaluate(T0 + 61_000);
    expect(stateAt(below, 'A')).toBe('OK');
    const above = evaluator([alarm('A', { Statistic: undefined, ExtendedStatistic: 'p99', Threshold: 98 })], store);
    above.evaluate(T0 + 61_000);
    expect(stateAt(above, 'A')).toBe('ALARM');
    expect(above.report()[0].lastDatapoints).toEqual([99]);
  });

  it('datapoints to alarm: M of N breaching periods', () => {
    const store = new MetricsStore();
    // periods 0..2: 20 (breach), 5 (ok), 20 (breach)
    put(store, 10, [20]);
    put(store, 70, [5]);
    put(store, 130, [20]);
    const twoOfThree = evaluator([alarm('A', { EvaluationPeriods: 3, DatapointsToAlarm: 2 })], store);
    twoOfThree.evaluate(T0 + 181_000);
    expect(stateAt(twoOfThree, 'A')).toBe('ALARM');
    expect(twoOfThree.report()[0].lastDatapoints).toEqual([20, 5, 20]);
    const threeOfThree = evaluator([alarm('A', { EvaluationPeriods: 3 })], store);
    threeOfThree.evaluate(T0 + 181_000);
    expect(stateAt(threeOfThree, 'A')).toBe('OK');
  });

  it('missing data: breaching, notBreaching, missing (INSUFFICIENT_DATA) and ignore (state kept)', () => {
    const empty = new MetricsStore();
    const results: Record<string, string> = {};
    for (const treat of ['breaching', 'notBreaching', 'missing', 'ignore']) {
      const e = evaluator([alarm('A', { TreatMissingData: treat })], empty);
      e.evaluate(T0 + 61_000);
      results[treat] = stateAt(e, 'A');
    }
    expect(results).toEqual({ breaching: 'ALARM', notBreaching: 'OK', missing: 'INSUFFICIENT_DATA', ignore: 'INSUFFICIENT_DATA' });

    // ignore keeps an earlier ALARM when data stops; missing goes to INSUFFICIENT_DATA.
    const store = new MetricsStore();
    put(store, 10, [50]);
    const ignore = evaluator([alarm('A', { TreatMissingData: 'ignore' }), alarm('B', { TreatMissingData: 'missing' })], store);
    ignore.evaluate(T0 + 61_000);
    expect([stateAt(ignore, 'A'), stateAt(ignore, 'B')]).toEqual(['ALARM', 'ALARM']);
    ignore.evaluate(T0 + 121_000);
    expect([stateAt(ignore, 'A'), stateAt(ignore, 'B')]).toEqual(['ALARM', 'INSUFFICIENT_DATA']);

    // 3 of 3 with one datapoint present: missing -> ALARM when it breaches, OK when it does not; ignore keeps the state.
    const some = new MetricsStore();
    put(some, 70, [50]);
    put(some, 70, [5], 'Low');
    const e = evaluator([
      alarm('A', { TreatMissingData: 'missing', EvaluationPeriods: 3 }),
      alarm('B', { TreatMissingData: 'ignore', EvaluationPeriods: 3 }),
      alarm('C', { TreatMissingData: 'missing', EvaluationPeriods: 3, MetricName: 'Low' }),
      alarm('D', { TreatMissingData: 'notBreaching', EvaluationPeriods: 3 }),
      alarm('E', { TreatMissingData: 'breaching', EvaluationPeriods: 3 }),
    ], some);
    e.evaluate(T0 + 181_000);
    expect(['A', 'B', 'C', 'D', 'E'].map((id) => stateAt(e, id))).toEqual(['ALARM', 'INSUFFICIENT_DATA', 'OK', 'OK', 'ALARM']);
    expect(e.report()[0].lastDatapoints).toEqual([null, 50, null]);
  });

  it('a partial period is evaluated only at the end of the run, and only when it has data', () => {
    const store = new MetricsStore();
    const e = evaluator([alarm('A', { TreatMissingData: 'breaching' })], store);
    e.evaluate(T0 + 30_000);
    expect(stateAt(e, 'A')).toBe('INSUFFICIENT_DATA');
    put(store, 31, [3]);
    e.evaluate(T0 + 32_000);
    expect(stateAt(e, 'A')).toBe('INSUFFICIENT_DATA');
    e.evaluate(T0 + 33_000, true);
    expect(stateAt(e, 'A')).toBe('OK');
    expect(e.report()[0].transitions.map((t) => [t.from, t.to, t.sinceStartMs])).toEqual([['INSUFFICIENT_DATA', 'OK', 33_000]]);
    // Without data in the partial period, the final evaluation looks at the complete ones (missing -> breaching).
    const late = evaluator([alarm('B', { TreatMissingData: 'breaching' })], new MetricsStore());
    late.evaluate(T0 + 90_000, true);
    expect(stateAt(late, 'B')).toBe('ALARM');
  });

  it('time scale: periods and duration thresholds are divided, count thresholds are not', () => {
    const store = new MetricsStore();
    // 2 s into the run: an age of 6 s (Milliseconds); threshold 300 s / 60 = 5 s.
    put(store, 2, [6_000], 'AgeMs', DIMS, 'Milliseconds');
    put(store, 2, [3], 'Count', DIMS, 'Count');
    const defs = [
      alarm('Age', { MetricName: 'AgeMs', Period: 300, Threshold: 300_000 }),
      alarm('Count', { MetricName: 'Count', Period: 300, Statistic: 'Sum', Threshold: 2 }),
    ];
    const e = evaluator(defs, store, 60);
    e.evaluate(T0 + 5_001);
    expect(e.report().map((x) => x.state)).toEqual(['ALARM', 'ALARM']);
    const r = e.report();
    expect(r.map((x) => [x.logicalId, x.state, x.localPeriodSeconds, x.localThreshold])).toEqual([
      ['Age', 'ALARM', 5, 5_000],
      ['Count', 'ALARM', 5, 2],
    ]);
    // A series of the same metric with other dimensions gives the unit even before the alarm's own series has data.
    const other = new MetricsStore();
    put(other, 2, [1], 'AgeMs', { Pipeline: 'other' }, 'Milliseconds');
    const early = evaluator([alarm('Age', { MetricName: 'AgeMs', Period: 300, Threshold: 300_000, TreatMissingData: 'notBreaching' })], other, 60);
    early.evaluate(T0 + 5_001);
    expect(early.report()[0]).toMatchObject({ state: 'OK', localThreshold: 5_000 });
    // Unscaled, the same data is within the 300 s threshold.
    const real = evaluator(defs, store, 1);
    real.evaluate(T0 + 5_001, true);
    expect(stateAt(real, 'Age')).toBe('OK');
  });

  it('metric math: IF(invocations > 0, 100 * errors / invocations, 0) over two metrics', () => {
    const fn = { FunctionName: 'f' };
    const store = new MetricsStore();
    store.add({ namespace: 'AWS/Lambda', name: 'Invocations', dimensions: fn }, [10, 10], T0 + 1000);
    store.add({ namespace: 'AWS/Lambda', name: 'Errors', dimensions: fn }, [0, 1], T0 + 1000);
    const stat = (name: string) => ({ Metric: { Namespace: 'AWS/Lambda', MetricName: name, Dimensions: [{ Name: 'FunctionName', Value: 'f' }] }, Period: 60, Stat: 'Sum' });
    const props = {
      EvaluationPeriods: 1,
      ComparisonOperator: 'GreaterThanThreshold',
      TreatMissingData: 'notBreaching',
      Metrics: [
        { Id: 'expr_1', Expression: 'IF(invocations > 0, 100 * errors / invocations, 0)', ReturnData: true },
        { Id: 'errors', MetricStat: stat('Errors'), ReturnData: false },
        { Id: 'invocations', MetricStat: stat('Invocations'), ReturnData: false },
      ],
    };
    const over = new AlarmEvaluator([parseMetricAlarm('E', 'E', 'arn:E', { ...props, Threshold: 4 })], store, { startMs: T0, timeScale: 1 });
    over.evaluate(T0 + 61_000);
    expect(over.report()[0]).toMatchObject({ state: 'ALARM', lastDatapoints: [5] });
    const under = new AlarmEvaluator([parseMetricAlarm('E', 'E', 'arn:E', { ...props, Threshold: 5 })], store, { startMs: T0, timeScale: 1 });
    under.evaluate(T0 + 61_000);
    expect(under.report()[0].state).toBe('OK');
  });

  it('metric-math expressions: precedence, logic, FILL, and unsupported functions named', () => {
    const ids: Record<string, number | undefined> = { a: 2, b: 3, m: undefined };
    const ev = (s: string) => evaluateExpression(parseExpression(s), (id) => ids[id]);
    expect(ev('a + b * 2')).toBe(8);
    expect(ev('(a + b) * 2')).toBe(10);
    expect(ev('a > 1 AND b < 3')).toBe(0);
    expect(ev('a > 1 || b < 3')).toBe(1);
    expect(ev('NOT a')).toBe(0);
    expect(ev('-a ^ 2')).toBe(4);
    expect(ev('m + 1')).toBeUndefined();
    expect(ev('FILL(m, 0) + 1')).toBe(1);
    expect(ev('IF(a > 5, 1)')).toBeUndefined();
    expect(ev('a / 0')).toBeUndefined();
    expect(() => parseExpression('ANOMALY_DETECTION_BAND(m)')).toThrow(/ANOMALY_DETECTION_BAND is not evaluated locally/);
    const bad = parseMetricAlarm('X', 'X', 'arn:X', { EvaluationPeriods: 1, Threshold: 1, ComparisonOperator: 'GreaterThanThreshold', Metrics: [{ Id: 'e', Expression: 'SEARCH(x)' }] });
    expect(bad.unsupported).toMatch(/SEARCH is not evaluated locally/);
  });

  it('settings it cannot evaluate and metrics it cannot produce give INSUFFICIENT_DATA with a reason, never OK', () => {
    const store = new MetricsStore();
    const band = alarm('Band', { ComparisonOperator: 'LessThanLowerOrGreaterThanUpperThreshold', TreatMissingData: 'notBreaching' });
    const trimmed = alarm('Trimmed', { Statistic: undefined, ExtendedStatistic: 'tm99', TreatMissingData: 'notBreaching' });
    const remote = alarm('Remote', { Namespace: 'AWS/EC2', MetricName: 'CPUUtilization', TreatMissingData: 'notBreaching' });
    const e = evaluator([band, trimmed, remote], store, 1, (m) => (m.name === 'CPUUtilization' ? 'no EC2 locally' : undefined));
    e.evaluate(T0 + 61_000);
    const r = e.report();
    expect(r.map((x) => x.state)).toEqual(['INSUFFICIENT_DATA', 'INSUFFICIENT_DATA', 'INSUFFICIENT_DATA']);
    expect(r[0].reason).toMatch(/ComparisonOperator LessThanLowerOrGreaterThanUpperThreshold/);
    expect(r[1].reason).toMatch(/statistic tm99/);
    expect(r[2].reason).toBe('AWS/EC2 CPUUtilization cannot be produced locally: no EC2 locally');
  });

  it('composite rules: ALARM/OK/INSUFFICIENT_DATA, AND, OR, NOT, precedence; actions notify on every change', () => {
    const store = new MetricsStore();
    put(store, 1, [50], 'Hot');
    put(store, 1, [1], 'Cold');
    const hot = alarm('Hot', { MetricName: 'Hot' });
    const cold = alarm('Cold', { MetricName: 'Cold' });
    const none = alarm('None', { MetricName: 'Nothing', TreatMissingData: 'missing' });
    const composite = (id: string, rule: string) => parseCompositeAlarm(id, id, `arn:${id}`, { AlarmRule: rule, AlarmActions: ['arn:aws:sns:us-east-1:000000000000:t'], OKActions: ['arn:aws:sns:us-east-1:000000000000:t'] });
    const defs: AlarmDef[] = [
      hot, cold, none,
      composite('AnyOf', `ALARM("${hot.arn}") OR ALARM("${cold.arn}")`),
      composite('AllOf', `ALARM("${hot.arn}") AND ALARM("${cold.arn}")`),
      composite('Not', `NOT ALARM(Cold) AND OK("${cold.arn}")`),
      composite('Insufficient', 'INSUFFICIENT_DATA(None)'),
      composite('Precedence', 'TRUE OR FALSE AND FALSE'),
      composite('Nested', 'ALARM(AnyOf) AND NOT ALARM(AllOf)'),
    ];
    const e = evaluator(defs, store);
    e.evaluate(T0 + 61_000);
    const states = Object.fromEntries(e.report().map((r) => [r.logicalId, r.state]));
    expect(states).toMatchObject({ Hot: 'ALARM', Cold: 'OK', None: 'INSUFFICIENT_DATA', AnyOf: 'ALARM', AllOf: 'OK', Not: 'ALARM', Insufficient: 'ALARM', Precedence: 'ALARM', Nested: 'ALARM' });
    const notes = e.takeNotifications();
    expect(notes.filter((n) => n.alarm === 'AnyOf').map((n) => (n.message as { NewStateValue: string }).NewStateValue)).toEqual(['ALARM']);
    expect(e.takeNotifications()).toEqual([]);
    expect(() => parseRule('ALARM(x) OR')).toThrow(/expected more/);
    expect(() => parseRule('AT_LEAST(2, ALARM, (a, b))')).toThrow(/AT_LEAST is not evaluated locally/);
  });
});

describe('local service metrics', () => {
  it('AWS/Lambda datapoints from the functions\' counters and the Kinesis mappings; what cannot be produced says why', async () => {
    const stats = emptyFunctionStats();
    const fn = { functionName: 'ingest', stats } as unknown as LocalFunction;
    const poller = { stats: { invocations: 0, iteratorAgeMs: 0 } } as unknown as EventSourcePoller;
    const store = new MetricsStore();
    const calls: Record<string, string[]> = { drift: ['cloudformation'] };
    const sm = new ServiceMetrics({
      metrics: store,
      functions: [fn],
      kinesisPollers: [{ poller, fn: 'ingest' }],
      queues: [],
      consumedQueueUrls: new Set(),
      sqs: {} as SQSClient,
      unemulatedCalls: (f) => calls[f] ?? [],
    });
    Object.assign(stats, { invocations: 12, throttles: 2, errors: 1, crashes: 1, durationsMs: [5, 7] });
    await sm.sample(T0 + 1000);
    await sm.sample(T0 + 2000); // nothing new: no datapoints
    const points = (name: string) => store.find('AWS/Lambda', name, { FunctionName: 'ingest' })?.points;
    expect(points('Invocations')).toEqual([[T0 + 1000, 10]]);
    expect(points('Errors')).toEqual([[T0 + 1000, 2]]);
    expect(points('Throttles')).toEqual([[T0 + 1000, 2]]);
    expect(points('Duration')).toEqual([[T0 + 1000, 5], [T0 + 1000, 7]]);
    // IteratorAge: at each invocation by a Kinesis mapping, now - arrival of the batch's last record.
    const invoked: unknown[] = [];
    const invoke = async (e: unknown) => {
      invoked.push(e);
      return { ok: true as const, payload: null, durationMs: 1 };
    };
    const target = { functionName: 'ingest', functionArn: 'arn', invoke };
    const recording = recordingIteratorAge(target, store, () => T0 + 9_000);
    const arrivals = [T0 + 1_000, T0 + 5_000];
    await recording.invoke({ Records: arrivals.map((ms) => ({ kinesis: { approximateArrivalTimestamp: ms / 1000 } })) });
    expect(invoked).toHaveLength(1);
    expect(points('IteratorAge')).toEqual([[T0 + 9_000, 4_000]]);

    const ref = (namespace: string, name: string, dimensions: Record<string, string>) => ({ namespace, name, dimensions, stat: 'Sum', periodSeconds: 60 });
    expect(sm.unavailable(ref('AWS/Lambda', 'Invocations', { FunctionName: 'ingest' }), undefined)).toBeUndefined();
    expect(sm.unavailable(ref('AWS/Lambda', 'ConcurrentExecutions', { FunctionName: 'ingest' }), undefined)).toMatch(/produces AWS\/Lambda Invocations, Errors, Throttles, Duration, IteratorAge only/);
    expect(sm.unavailable(ref('AWS/Lambda', 'Errors', { FunctionName: 'other' }), undefined)).toBe('other is not a function of this stack');
    expect(sm.unavailable(ref('AWS/SQS', 'ApproximateNumberOfMessagesVisible', { QueueName: 'q' }), undefined)).toBe('q is not a queue of this stack');
    expect(sm.unavailable(ref('AWS/Kinesis', 'GetRecords.IteratorAgeMilliseconds', { StreamName: 's' }), undefined)).toBe('AWS/Kinesis metrics are not produced by the local environment');
    store.add({ namespace: NS, name: 'StacksDrifted', dimensions: { Pipeline: 'p' } }, [0], T0, 'drift');
    expect(sm.unavailable(ref(NS, 'StacksDrifted', { Pipeline: 'p' }), store.find(NS, 'StacksDrifted', { Pipeline: 'p' })))
      .toBe('its producer drift called cloudformation, which the local environment does not emulate');
    expect(sm.unavailable(ref(NS, 'CanariesReceived', DIMS), undefined)).toBeUndefined();
  });
});

describe('phoenix local run options and summary', () => {
  it('--time-scale is validated; --stall-sink and --real-time-schedules are flags', () => {
    const parse = (args: string[]) => addRunOptions(new Command()).exitOverride().parse(['node', 'phoenix', ...args]).opts();
    expect(parse([])).toMatchObject({ timeScale: 1 });
    expect(parse(['--time-scale', '60', '--stall-sink', '--real-time-schedules'])).toMatchObject({ timeScale: 60, stallSink: true, realTimeSchedules: true });
    expect(() => parse(['--time-scale', '0.5'])).toThrow('--time-scale must be a number between 1 and 3600; got "0.5"');
  });

  it('the summary lists every alarm with its state, reason and state changes', () => {
    const alarms: LocalRunReport['alarms'] = {
      timeScale: 60,
      evaluatedEveryMs: 1000,
      evaluations: 30,
      states: { OK: 1, ALARM: 1, INSUFFICIENT_DATA: 0 },
      notifications: { published: 2, failed: 0, denied: 0, notEmulated: 0 },
      alarms: [
        { logicalId: 'IteratorAge', name: 'a', type: 'metric', state: 'ALARM', reason: 'Threshold crossed', watches: 'x', transitions: [{ at: '', sinceStartMs: 25_300, from: 'OK', to: 'ALARM', reason: '' }], notifications: 0 },
        { logicalId: 'Health', name: 'h', type: 'composite', state: 'OK', reason: 'rule false', watches: 'ALARM(a)', transitions: [], notifications: 2 },
      ],
    };
    expect(formatAlarms({ alarms } as LocalRunReport)).toEqual([
      'alarms            1 ALARM, 1 OK, 0 INSUFFICIENT_DATA  (time scale 60; 2 notification(s) published to the alarm topics)',
      '  ALARM             IteratorAge  Threshold crossed  [ALARM at +25.3s]',
      '  OK                Health       rule false',
    ]);
  });
});
