import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { monitorStack, twoStagePipeline } from './support/stacks';
import { CorrelatedMonitor, DriftDetector } from '../../../constructs/monitoring';

describe('snapshot', () => {
  it('the monitoring resources of a two-stage pipeline (monitor with canary, drift detector)', () => {
    const { stack } = monitorStack();
    const monitor = new CorrelatedMonitor(stack, 'Monitor', { pipeline: twoStagePipeline(stack), alertEmails: ['oncall@example.com'] });
    const drift = new DriftDetector(stack, 'Drift', { pipelineName: 'orders' });
    monitor.addAlarm(drift.driftAlarm);
    monitor.addAlarm(drift.detectionAlarm);
    // Only what the monitoring constructs create: the stages have snapshots of their own.
    const resources = Template.fromStack(stack).toJSON().Resources as Record<string, unknown>;
    const own = Object.fromEntries(Object.entries(resources).filter(([id]) => id.startsWith('Monitor') || id.startsWith('Drift')));
    expect(Object.keys(own).length).toBeGreaterThan(30);
    expect(own).toMatchSnapshot();
  });
});
