import { beforeAll, describe, expect, it } from 'vitest';
import { runLocal, type LocalRunReport } from '../../../../lib/local/run';
import { liveChildren, mutatedAssembly, runOptions, synthExample } from '../support';

/**
 * The example's alarms evaluated by `phoenix local run`, clean vs with a stalled sink. Time scale 60: one local
 * second stands for one minute (5-min periods last 5 s, the 5-min iterator-age threshold is 5 s, the 5-min canary
 * runs every 5 s and its 15-min window lasts 15 s). The example's 1-minute latency objective would be 1 s locally,
 * below the local pipeline's own floor (its mappings batch for up to 1 s), so the assembly gets the monitor's default
 * objective of 5 minutes (5 s locally) on the end-to-end and canary latency alarms.
 */

function byId(r: LocalRunReport, prefix: string): LocalRunReport['alarms']['alarms'][number] {
  const found = r.alarms.alarms.filter((a) => a.logicalId.startsWith(prefix));
  if (found.length !== 1) throw new Error(`expected one alarm ${prefix}*, got ${r.alarms.alarms.map((a) => a.logicalId).join(', ')}`);
  return found[0];
}

/**
 * Records of the stalled run: several batches per shard (the stage reads up to 1,000 records per batch), so the
 * mapping keeps invoking (one IteratorAge datapoint per invocation) for the whole bounded drain. With one batch per
 * shard the mapping gives up on everything before the drain ends, the last canary arrives fast and the alarm returns
 * to OK: the stall is then over, not caught.
 */
const STALL_RECORDS = 5000;

describe('phoenix local run evaluates the monitor\'s alarms', () => {
  let assembly: string;
  /**
   * The same, with the ingest handler's in-process retry budget at 1 s instead of 10 s. IteratorAge has one datapoint
   * per invocation (as in AWS), and with a stalled sink an invocation lasts the whole budget: the time scale shrinks
   * the alarm's 5-min periods to 5 s but not the budget, so 10-s invocations would leave most local periods without a
   * datapoint (and the alarm's outcome to the machine's load). 1 s keeps invocations short against local periods,
   * as 10 s is against real ones.
   */
  let stallAssembly: string;
  beforeAll(() => {
    const example = synthExample().dir;
    // Latency objectives of 30 min (30 s at time scale 60): a clean run's canary took 4 s end to end on a loaded 2-core
    // machine, above the 5-min objective's 5 s; what this test checks is that no failure alarm fires.
    const latencyObjective = (t: Record<string, any>): void => {
      for (const [id, res] of Object.entries<any>(t.Resources)) {
        if (id.startsWith('MonitorEndToEndLatencyAlarm') || id.startsWith('MonitorCanaryLatencyAlarm')) res.Properties.Threshold = 1_800_000;
      }
    };
    assembly = mutatedAssembly(example, latencyObjective);
    stallAssembly = mutatedAssembly(example, (t) => {
      latencyObjective(t);
      for (const res of Object.values<any>(t.Resources)) {
        const vars = res.Properties?.Environment?.Variables;
        if (res.Type === 'AWS::Lambda::Function' && vars?.PHX_PIPELINE !== undefined && vars?.PHX_SINK_KIND !== undefined) vars.PHX_RETRY_BUDGET_MS = '1000';
      }
    });
  }, 120_000);

  it('a clean run: no alarm in ALARM, the pipeline\'s alarms OK; the canary goes through', async () => {
    const r = await runLocal(runOptions(assembly, { records: 200, seed: 21, timeScale: 60 }));
    expect(r.invariant.problems).toEqual([]);
    expect(r.accounting.unexpectedSinkItems).toBe(0);
    expect(r.accounting.canariesInSink).toBe(0);
    // Nothing in ALARM. Not OK: the drift detector's alarms (CloudFormation is not emulated), and alarms whose period
    // neither completed nor got a datapoint in this short run (e.g. the profiler's 5-minute windows).
    expect(r.alarms.states.ALARM).toBe(0);
    for (const a of r.alarms.alarms.filter((x) => x.state !== 'OK')) {
      expect(a.state).toBe('INSUFFICIENT_DATA');
      // ... and the failure-path alarms on metrics only AWS produces (Firehose; Lambda's DeadLetterErrors, DestinationDeliveryFailures).
      expect(a.reason).toMatch(/cannot be produced locally: (its producer .*DriftDetector.* called cloudformation|AWS\/Firehose metrics are not produced by the local environment|the local environment produces AWS\/Lambda .* only)|^Unchecked: initial alarm creation$/);
    }
    for (const id of ['MonitorStageingestIteratorAgeAlarm', 'MonitorStageingestErrorRateAlarm', 'MonitorStageingestDlqDepthAlarm', 'MonitorEndToEndLatencyAlarm',
      'MonitorCanaryMissingAlarm', 'MonitorCanaryLatencyAlarm']) {
      expect(`${id} ${byId(r, id).state}`).toBe(`${id} OK`);
    }
    expect(byId(r, 'MonitorPipelineHealth').state).toBe('OK');
    // The alarms that would catch a stall saw data and were judged on it.
    expect(byId(r, 'MonitorStageingestIteratorAgeAlarm').lastDatapoints!.some((v) => v !== null)).toBe(true);
    expect(byId(r, 'MonitorCanaryMissingAlarm').lastDatapoints!.every((v) => v !== null && v >= 1)).toBe(true);
    expect(r.canary.sent).toBeGreaterThanOrEqual(1);
    expect(r.canary.received).toBeGreaterThanOrEqual(1);
    expect(r.canary.received).toBeLessThanOrEqual(r.canary.sent);
    expect(r.canary.latencyMs.count).toBe(r.canary.received);
    expect(liveChildren()).toEqual([]);
  }, 150_000);

  // The drain is bounded (30 s after the last put): the mapping retries each batch 10 times before giving up on it,
  // so the run ends with records still in the stream -- and the test with it.
  it('a stalled sink: iterator age, canary and pipeline health go to ALARM and notify; the run ends; nothing is lost', async () => {
    const r = await runLocal(runOptions(stallAssembly, { records: STALL_RECORDS, seed: 22, timeScale: 60, stallSink: true, drainTimeoutMs: 30_000 }));
    // The stall was real: every sink write failed and nothing reached the sink.
    expect(r.faults.stalledSink).toEqual(['dynamodb']);
    const proxy = r.faults.sinkProxies.dynamodb;
    expect(proxy.writes).toBeGreaterThan(0);
    expect(proxy.injected).toBe(proxy.writes);
    expect(r.sinkRecords).toBe(0);

    const iteratorAge = byId(r, 'MonitorStageingestIteratorAgeAlarm');
    expect(iteratorAge.state).toBe('ALARM');
    expect(iteratorAge.transitions.map((t) => t.to)).toContain('ALARM');
    const canaryMissing = byId(r, 'MonitorCanaryMissingAlarm');
    const canaryLatency = byId(r, 'MonitorCanaryLatencyAlarm');
    // Canaries stuck behind the failing batches either never arrive or arrive late: one of the canary alarms fired
    // during the stall (a canary put after the mapping gave up on a batch may arrive fast again in the last period).
    expect([...canaryMissing.transitions, ...canaryLatency.transitions].map((t) => t.to)).toContain('ALARM');
    const health = byId(r, 'MonitorPipelineHealth');
    expect(health.state).toBe('ALARM');
    expect(health.reason).toContain(iteratorAge.logicalId);
    expect(health.notifications).toBeGreaterThanOrEqual(1);
    expect(r.alarms.notifications.published).toBeGreaterThanOrEqual(health.notifications);
    expect(r.alarms.notifications.failed).toBe(0);
    // Delivered through the topic policy and the topic key's policy (IAM on: nothing denied).
    expect(r.iamEnforced).toBe(true);
    expect(r.accessDenied.count).toBe(0);
    // End-to-end age is measured on written records only: with nothing written, the latency alarm has no data
    // (missing = not breaching) -- the stall is the iterator-age and canary alarms' to catch.
    const e2e = byId(r, 'MonitorEndToEndLatencyAlarm');
    expect(e2e.state).toBe('OK');
    expect(e2e.lastDatapoints!.every((v) => v === null)).toBe(true);
    expect(r.canary.sent).toBeGreaterThanOrEqual(2);

    // Nothing lost: every valid record is dead-lettered (retries exhausted) or still in the stream, which no mapping
    // acknowledged past (nothing discarded without a destination).
    expect(Object.values(r.eventSourceMappings).reduce((n, m) => n + m.discardedWithoutDestination, 0)).toBe(0);
    expect(r.accounting.validInDlq + r.accounting.lostValid).toBe(r.validRecords);
    // Dead letters are this run's records or canaries captured with their batch (none unaccounted for).
    expect(r.accounting.dlqUnmatched).toBe(0);
    expect(r.invariant.problems.join('\n')).toMatch(/with --stall-sink they stay in the stream/);
    expect(liveChildren()).toEqual([]);
  }, 150_000);
});
