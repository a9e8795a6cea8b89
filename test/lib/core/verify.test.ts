import { describe, expect, it } from 'vitest';
import { METRIC, METRICS_NAMESPACE } from '../../../constructs/contract';
import {
  allPassed, canaryLatencyAlarm, DEFAULT_MAX_ITERATOR_AGE_MS, formatCheck, iteratorAgeAlarmThreshold, judge, observe, VERIFY_CHECKS,
  type AlarmObservation, type CheckResult, type VerifyCheck, type VerifyLimits, type VerifyObservations,
} from '../../../lib/core/verify';

const NOW = Date.parse('2026-12-07T12:00:00Z');
const MIN = 60_000;
const canaryMetric = { namespace: METRICS_NAMESPACE, name: METRIC.canaryLatencyMs, dimensions: { Deployment: 'd', Pipeline: 'orders', Stage: 'ingest' } };
const limits: VerifyLimits = { windowMs: 15 * MIN, maxDeadLetters: 0 };

/** Observations of a healthy pipeline; `over` replaces some. */
function healthy(over: Partial<VerifyObservations> = {}): VerifyObservations {
  return {
    now: NOW,
    canary: { metric: canaryMetric, points: [{ at: NOW - 20 * MIN, value: 99_999 }, { at: NOW - 3 * MIN, value: 1500 }], alarmThreshold: 60_000 },
    deadLetters: { queue: 'https://sqs/q', messages: 0 },
    alarms: [{ name: 'a1', state: 'OK' }, { name: 'a2', state: 'INSUFFICIENT_DATA' }],
    drift: { status: 'IN_SYNC', detail: '0 drifted resource(s)' },
    mappings: [{ id: 'u1', functionName: 'f1', state: 'Enabled' }],
    iteratorAge: { what: 'IteratorAge of f1', points: [{ at: NOW - MIN, value: 800 }], alarmThreshold: 300_000 },
    ...over,
  };
}

function result(check: VerifyCheck, o: VerifyObservations, l: VerifyLimits = limits): CheckResult {
  return judge(o, l).find((r) => r.check === check)!;
}

describe('judge', () => {
  it('passes a healthy pipeline, one result per check in order', () => {
    const results = judge(healthy(), limits);
    expect(results.map((r) => r.check)).toEqual([...VERIFY_CHECKS]);
    expect(results.map((r) => r.status)).toEqual(['PASS', 'PASS', 'PASS', 'PASS', 'PASS', 'PASS']);
    expect(allPassed(results)).toBe(true);
  });

  it('SKIP is allowed, FAIL is not', () => {
    expect(allPassed([{ check: 'drift', status: 'SKIP', detail: 'x' }])).toBe(true);
    expect(allPassed([{ check: 'drift', status: 'SKIP', detail: 'x' }, { check: 'alarms', status: 'FAIL', detail: 'y' }])).toBe(false);
  });

  it('formats PASS|FAIL|SKIP <check>: <detail>', () => {
    expect(formatCheck({ check: 'dead-letters', status: 'FAIL', detail: '3 message(s)' })).toBe('FAIL dead-letters: 3 message(s)');
  });

  describe('canary', () => {
    it('passes on the latest datapoint in the window under the alarm threshold (an older, slower one does not count)', () => {
      const r = result('canary', healthy());
      expect(r.status).toBe('PASS');
      expect(r.detail).toMatch(/latest CanaryLatencyMs \{Deployment=d,Pipeline=orders,Stage=ingest\} 1500 ms .*within the SLO 60000 ms \(the canary latency alarm threshold\)/);
    });
    it('fails when the latest datapoint is over the SLO of --canary-slo-ms', () => {
      const r = result('canary', healthy(), { ...limits, canarySloMs: 1000 });
      expect(r.status).toBe('FAIL');
      expect(r.detail).toMatch(/1500 ms .* is over the SLO 1000 ms \(--canary-slo-ms 1000\)/);
    });
    it('fails when no datapoint lies in the window: no round trip', () => {
      const o = healthy({ canary: { metric: canaryMetric, points: [{ at: NOW - 20 * MIN, value: 10 }], alarmThreshold: 60_000 } });
      const r = result('canary', o);
      expect(r.status).toBe('FAIL');
      expect(r.detail).toMatch(/no CanaryLatencyMs .* datapoint in the last 15 min/);
    });
    it('fails without an SLO (no threshold, no flag)', () => {
      expect(result('canary', healthy({ canary: { metric: canaryMetric, points: [{ at: NOW, value: 1 }] } })).detail).toMatch(/pass --canary-slo-ms/);
    });
  });

  describe('dead letters', () => {
    it('fails over the threshold, passes at it', () => {
      const o = healthy({ deadLetters: { queue: 'q', messages: 3 } });
      const fail = result('dead-letters', o);
      expect(fail).toMatchObject({ status: 'FAIL' });
      expect(fail.detail).toMatch(/3 message\(s\) in the DLQ q .*at most 0 allowed/);
      expect(result('dead-letters', o, { ...limits, maxDeadLetters: 3 }).status).toBe('PASS');
    });
  });

  describe('alarms', () => {
    it('fails naming the alarms in ALARM', () => {
      const r = result('alarms', healthy({ alarms: [{ name: 'ok', state: 'OK' }, { name: 'DlqDepth', state: 'ALARM' }] }));
      expect(r.status).toBe('FAIL');
      expect(r.detail).toBe('1 of the stack\'s 2 alarm(s) in ALARM: DlqDepth');
    });
    it('passes with the state counts; SKIPs a stack without alarms', () => {
      expect(result('alarms', healthy()).detail).toBe('none of the stack\'s 2 alarm(s) in ALARM (1 OK, 1 INSUFFICIENT_DATA)');
      expect(result('alarms', healthy({ alarms: [] })).status).toBe('SKIP');
    });
  });

  describe('drift', () => {
    it('fails on DRIFTED and on a failed detection; SKIPs with the reason given', () => {
      expect(result('drift', healthy({ drift: { status: 'DRIFTED', detail: '2 drifted resource(s)' } }))).toMatchObject({ status: 'FAIL', detail: 'stack drift status DRIFTED (2 drifted resource(s))' });
      expect(result('drift', healthy({ drift: { status: 'UNKNOWN', detail: 'detection failed: x' } })).status).toBe('FAIL');
      expect(result('drift', healthy({ drift: { skip: 'cannot detect drift locally' } }))).toMatchObject({ status: 'SKIP', detail: 'cannot detect drift locally' });
    });
    it('a read that failed FAILs, never passes', () => {
      expect(result('drift', healthy({ drift: { error: 'AccessDenied' } }))).toMatchObject({ status: 'FAIL', detail: 'could not be read: AccessDenied' });
    });
  });

  describe('event source mappings', () => {
    it('fails naming a mapping not Enabled, and when there is none', () => {
      const r = result('event-source-mappings', healthy({ mappings: [{ id: 'u1', functionName: 'f1', state: 'Enabled' }, { id: 'u2', functionName: 'f2', state: 'Disabled' }] }));
      expect(r).toMatchObject({ status: 'FAIL', detail: '1 of 2 mapping(s) not Enabled: u2 -> f2 Disabled' });
      expect(result('event-source-mappings', healthy({ mappings: [] })).status).toBe('FAIL');
    });
  });

  describe('iterator age', () => {
    it('fails over the alarm threshold; the flag overrides it', () => {
      const o = healthy({ iteratorAge: { what: 'IteratorAge of f1', points: [{ at: NOW - MIN, value: 400_000 }, { at: NOW - 2 * MIN, value: 5 }], alarmThreshold: 300_000 } });
      const r = result('iterator-age', o);
      expect(r.status).toBe('FAIL');
      expect(r.detail).toMatch(/max IteratorAge of f1 over the last 15 min 400000 ms, bound 300000 ms \(the iterator age alarm threshold\)/);
      expect(result('iterator-age', o, { ...limits, maxIteratorAgeMs: 500_000 }).status).toBe('PASS');
    });
    it('defaults the bound without an alarm; SKIPs without datapoints in the window', () => {
      const o = healthy({ iteratorAge: { what: 'x', points: [{ at: NOW, value: DEFAULT_MAX_ITERATOR_AGE_MS + 1 }] } });
      expect(result('iterator-age', o).detail).toMatch(/bound 300000 ms \(default\)/);
      expect(result('iterator-age', healthy({ iteratorAge: { what: 'x', points: [{ at: NOW - 16 * MIN, value: 1 }] } })).status).toBe('SKIP');
    });
  });
});

describe('the stack\'s alarms as the source of the canary metric and the bounds', () => {
  const alarms: AlarmObservation[] = [
    { name: 'other', state: 'OK', metric: { namespace: METRICS_NAMESPACE, name: METRIC.recordsIn, dimensions: {} }, threshold: 1 },
    { name: 'canary-a', state: 'OK', metric: { ...canaryMetric, dimensions: { ...canaryMetric.dimensions, Pipeline: 'a' } }, threshold: 10 },
    { name: 'canary-orders', state: 'OK', metric: canaryMetric, threshold: 20 },
    { name: 'age-f1', state: 'OK', metric: { namespace: 'AWS/Lambda', name: 'IteratorAge', dimensions: { FunctionName: 'f1' } }, threshold: 1000 },
    { name: 'age-f2', state: 'OK', metric: { namespace: 'AWS/Lambda', name: 'IteratorAge', dimensions: { FunctionName: 'f2' } }, threshold: 500 },
  ];
  it('picks the canary latency alarm of the pipeline', () => {
    expect(canaryLatencyAlarm(alarms, 'orders')?.name).toBe('canary-orders');
    expect(canaryLatencyAlarm(alarms)?.name).toBe('canary-a');
    expect(canaryLatencyAlarm(alarms, 'nope')).toBeUndefined();
  });
  it('takes the lowest IteratorAge alarm threshold of the functions', () => {
    expect(iteratorAgeAlarmThreshold(alarms, ['f1'])).toBe(1000);
    expect(iteratorAgeAlarmThreshold(alarms)).toBe(500);
    expect(iteratorAgeAlarmThreshold(alarms, ['f3'])).toBeUndefined();
  });
  it('observe turns a failed read into an error', async () => {
    expect(await observe(() => Promise.reject(new Error('throttled')))).toEqual({ error: expect.stringMatching(/throttled/) });
  });
});
