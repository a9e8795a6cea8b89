import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { encryptedTopic, monitorStack, onePipeline, twoStagePipeline } from './support/stacks';
import { CorrelatedMonitor, DriftDetector } from '../../constructs/monitoring';

let outdir: string | undefined;
afterEach(() => {
  if (outdir) rmSync(outdir, { recursive: true, force: true });
  outdir = undefined;
});

/** Synthesizes with the five packs; returns the findings ("<rule> <construct path>") of the validation report, [] when clean. */
function findings(build: (stack: ReturnType<typeof monitorStack>['stack']) => void): string[] {
  outdir = mkdtempSync(join(tmpdir(), 'phx-monitor-nag-'));
  const { app, stack } = monitorStack({ nag: true, outdir });
  build(stack);
  try {
    app.synth();
    return [];
  } catch (err) {
    if (!/ValidationFailed/.test(String(err))) throw err;
    const report = JSON.parse(readFileSync(join(outdir, 'validation-report.json'), 'utf8'));
    return report.pluginReports.flatMap((p: any) => p.violations.flatMap((v: any) =>
      v.violatingConstructs.map((c: any) => `${v.ruleName} ${c.constructPath}`)));
  }
}

describe('cdk-nag (AwsSolutions, Serverless, NIST 800-53 R5, HIPAA Security, PCI DSS 3.2.1)', () => {
  it('a monitor with every default (created topic, canary) and a drift detector has no unacknowledged finding', () => {
    expect(findings((stack) => {
      const topic = encryptedTopic(stack);
      const { pipeline } = onePipeline(stack, topic);
      const monitor = new CorrelatedMonitor(stack, 'Monitor', { pipeline, alertEmails: ['oncall@example.com'] });
      const drift = new DriftDetector(stack, 'Drift', { pipelineName: 'orders' });
      monitor.addAlarm(drift.driftAlarm);
      monitor.addAlarm(drift.detectionAlarm);
    })).toEqual([]);
  });

  it('a two-stage monitor on a given topic notifying from every alarm, and a drift detector with a topic, have no unacknowledged finding', () => {
    expect(findings((stack) => {
      const topic = encryptedTopic(stack);
      new CorrelatedMonitor(stack, 'Monitor', { pipeline: twoStagePipeline(stack, topic), alarmTopic: topic, notifyEveryAlarm: true });
      new DriftDetector(stack, 'Drift', { pipelineName: 'orders', alarmTopic: topic, stackNames: ['Monitoring', 'Other-Stack'] });
    })).toEqual([]);
  });

  it('reports what it should: an alarm without action is a finding once its acknowledgement does not apply', () => {
    // The packs do run on the monitor's resources: a plain alarm added next to them is reported.
    const found = findings((stack) => {
      const topic = encryptedTopic(stack);
      const { pipeline, data } = onePipeline(stack, topic);
      new CorrelatedMonitor(stack, 'Monitor', { pipeline, alarmTopic: topic });
      data.ingest.metricRecordsIn().createAlarm(stack, 'Unacknowledged', { threshold: 1, evaluationPeriods: 1 });
    });
    expect(found).toEqual(expect.arrayContaining([
      'NIST.800.53.R5-CloudWatchAlarmAction Monitoring/Unacknowledged/Resource',
      'HIPAA.Security-CloudWatchAlarmAction Monitoring/Unacknowledged/Resource',
    ]));
    expect(found.filter((f) => f.includes('Monitoring/Monitor/'))).toEqual([]);
  });
});
