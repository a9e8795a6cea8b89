import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { type App, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { afterEach, describe, expect, it } from 'vitest';
import { buildApp, checkedApp, CLICKSTREAM_STACK_NAME } from '../../bin/app';
import { CorrelatedMonitor, DataPipeline, DriftDetector, IngestSink, IngestStage } from '../../constructs';
import { encryptedTopic, monitorStack, onePipeline, twoStagePipeline } from './monitoring/support/stacks';
import { ClickstreamStack } from '../../examples/clickstream/stack';
import { nagFindings } from '../support/examples';

/*
 * cdk-nag compliance of the constructs and the example app: the five packs the example app registers (AwsSolutions,
 * Serverless, NIST 800-53 R5, HIPAA Security, PCI DSS 3.2.1) find nothing unacknowledged, and still find what they should.
 */

const outdirs: string[] = [];
afterEach(() => {
  outdirs.splice(0).forEach((d) => fs.rmSync(d, { recursive: true, force: true }));
});

function outdir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'phx-nag-'));
  outdirs.push(dir);
  return dir;
}

/** Synthesizes a monitoring stack with the five packs; returns its findings as "<rule> <construct path>", [] when clean. */
function monitorFindings(build: (stack: Stack) => void): string[] {
  const dir = outdir();
  const { app, stack } = monitorStack({ nag: true, outdir: dir });
  build(stack);
  return reportedFindings(app, dir);
}

/** Synthesizes `app` (outdir `dir`); returns its findings as "<rule> <construct path>", [] when clean. */
function reportedFindings(app: App, dir: string): string[] {
  try {
    app.synth();
    return [];
  } catch (err) {
    if (!/ValidationFailed/.test(String(err))) throw err;
    const report = JSON.parse(fs.readFileSync(path.join(dir, 'validation-report.json'), 'utf8'));
    return report.pluginReports.flatMap((p: any) => p.violations.flatMap((v: any) =>
      v.violatingConstructs.map((c: any) => `${v.ruleName} ${c.constructPath}`)));
  }
}

describe('cdk-nag: the example app and the pipeline constructs', () => {
  it('the example app synthesizes with zero unacknowledged findings', () => {
    const app = buildApp({ appProps: { outdir: outdir() } });
    expect(nagFindings(app)).toBe('');
    expect(app.synth().getStackByName(CLICKSTREAM_STACK_NAME).template.Resources).toBeDefined();
  });

  it('buildApp registers all five packs (an unencrypted queue and a bare bucket fail the example app)', () => {
    const app = buildApp({ appProps: { outdir: outdir() } });
    const stack = app.node.findChild('Clickstream') as Stack;
    new sqs.Queue(stack, 'Plain', { encryption: sqs.QueueEncryption.UNENCRYPTED });
    new s3.Bucket(stack, 'Bare');
    const text = nagFindings(app);
    for (const rule of [
      'AwsSolutions-SQS2', 'AwsSolutions-SQS4', 'Serverless-SQSRedrivePolicy', 'AwsSolutions-S1',
      'NIST.800.53.R5-S3BucketLoggingEnabled', 'HIPAA.Security-S3BucketLoggingEnabled', 'PCI.DSS.321-S3BucketLoggingEnabled',
    ]) {
      expect(text).toContain(rule);
    }
  });

  it('buildApp without nag registers no pack', () => {
    const app = buildApp({ appProps: { outdir: outdir() }, nag: false });
    new sqs.Queue(app.node.findChild('Clickstream') as Stack, 'Plain', { encryption: sqs.QueueEncryption.UNENCRYPTED });
    expect(nagFindings(app)).toBe('');
  });

  it('acknowledgements are granular: a wildcard grant added to the processor is still reported', () => {
    const app = checkedApp({ appProps: { outdir: outdir() } });
    const stack = new ClickstreamStack(app, 'Clickstream');
    stack.pipeline.ingest.processor.addToRolePolicy(new iam.PolicyStatement({ actions: ['s3:*'], resources: ['*'] }));
    const text = nagFindings(app);
    expect(text).toContain('AwsSolutions-IAM5[Action::s3:*]');
    expect(text).not.toContain('AwsSolutions-IAM5[Resource::*]');
  });

  it('every sink kind synthesizes without findings', () => {
    const app = checkedApp({ appProps: { outdir: outdir() } });
    const stack = new Stack(app, 'Sinks');
    const next = new DataPipeline(stack, 'Next', { pipelineName: 'next', sink: IngestSink.none(), alarmTopic: new ClickstreamStack(app, 'Topics').alarmTopic });
    const lake = next.deadLetters.overflowBucket; // a KMS-encrypted, logged, versioned bucket
    new DataPipeline(stack, 'ToS3', { pipelineName: 'to-s3', sink: IngestSink.s3(lake, 'envelopes/'), ingest: { deadLetters: next.deadLetters } });
    // A chained stage: it shares the next stage's pipelineName (ids), as the synth check requires.
    new IngestStage(stack, 'ToKinesis', { pipelineName: 'next', sink: IngestSink.kinesis(next.ingest.stream), deadLetters: next.deadLetters });
    expect(nagFindings(app)).toBe('');
  });
});

describe('cdk-nag: functions in a VPC', () => {
  it('a pipeline in a VPC has no unacknowledged finding of its own (the VPC\'s findings are the app\'s), and a wildcard action is still reported', () => {
    const dir = outdir();
    const { app, stack } = monitorStack({ nag: true, outdir: dir });
    const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2, natGateways: 1 });
    const data = new DataPipeline(stack, 'P', { pipelineName: 'orders', sink: IngestSink.none(), alarmTopic: encryptedTopic(stack), vpc });
    data.ingest.processor.addToRolePolicy(new iam.PolicyStatement({ actions: ['ec2:*'], resources: ['*'] }));
    const found = reportedFindings(app, dir).filter((f) => !f.includes('Monitoring/Vpc/'));
    // the ENI actions on * share the acknowledged AwsSolutions-IAM5[Resource::*]; the added ec2:* has findings of its own
    const ofAddedStatement = (rule: string) => rule.endsWith('[Action::ec2:*]') || rule.endsWith('-IAMPolicyNoStatementsWithFullAccess');
    expect(found.map((f) => f.split(' ')[0]).filter((rule) => !ofAddedStatement(rule))).toEqual([]);
    expect(found.some((f) => f.startsWith('AwsSolutions-IAM5[Action::ec2:*]'))).toBe(true);
  });
});

describe('cdk-nag: the monitoring constructs', () => {
  it('a monitor with every default (created topic, canary) and a drift detector has no unacknowledged finding', () => {
    expect(monitorFindings((stack) => {
      const topic = encryptedTopic(stack);
      const { pipeline } = onePipeline(stack, topic);
      const monitor = new CorrelatedMonitor(stack, 'Monitor', { pipeline, alertEmails: ['oncall@example.com'] });
      const drift = new DriftDetector(stack, 'Drift', { pipelineName: 'orders' });
      monitor.addAlarm(drift.driftAlarm);
      monitor.addAlarm(drift.detectionAlarm);
    })).toEqual([]);
  });

  it('a two-stage monitor on a given topic notifying from every alarm, and a drift detector with a topic, have no unacknowledged finding', () => {
    expect(monitorFindings((stack) => {
      const topic = encryptedTopic(stack);
      new CorrelatedMonitor(stack, 'Monitor', { pipeline: twoStagePipeline(stack, topic), alarmTopic: topic, notifyEveryAlarm: true });
      new DriftDetector(stack, 'Drift', { pipelineName: 'orders', alarmTopic: topic, stackNames: ['Monitoring', 'Other-Stack'] });
    })).toEqual([]);
  });

  it('reports what it should: an alarm without action is a finding once its acknowledgement does not apply', () => {
    // The packs do run on the monitor's resources: a plain alarm added next to them is reported.
    const found = monitorFindings((stack) => {
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
