import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { App, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks, HIPAASecurityChecks, NIST80053R5Checks, PCIDSS321Checks, ServerlessChecks } from 'cdk-nag';
import type { Construct } from 'constructs';
import { describe, expect, it } from 'vitest';
import { PhoenixMode, QualityRuleKind, QualityRules } from '../../constructs';
import { ENV } from '../../constructs/contract';
import { clickQuality, clickQualityRules } from '../../examples/clickstream/quality';
import { CLICK_EVENT_TYPES, clickEventKeyFields, clickEventSchema } from '../../examples/clickstream/schema';
import { ClickstreamStack } from '../../examples/clickstream/stack';
import { handlerEnv, TEST_ENV } from '../support/stacks';

function clickstreamTemplate(phoenixMode?: PhoenixMode): Template {
  // No analytics metadata: the snapshot must not change with the CDK version.
  const app = new App({ analyticsReporting: false });
  return Template.fromStack(new ClickstreamStack(app, 'Clickstream', { env: TEST_ENV, stackName: 'PhoenixClickstream', phoenixMode }));
}

describe('clickstream example', () => {
  it('matches the snapshot (asset hashes normalized)', () => {
    expect(clickstreamTemplate().toJSON()).toMatchSnapshot();
  });
  it('validates click events with the schema and derives ids from (userId, sessionId, seq)', () => {
    const env = handlerEnv(clickstreamTemplate());
    expect(JSON.parse(env[ENV.schema] as string)).toEqual(clickEventSchema);
    expect(JSON.parse(env[ENV.keyFields] as string)).toEqual(['userId', 'sessionId', 'seq']);
    expect(clickEventKeyFields).toEqual(['userId', 'sessionId', 'seq']);
    expect(env[ENV.sinkKind]).toBe('dynamodb');
  });
  it('routes every alarm to the encrypted topic CloudWatch can use: directly, or through the pipeline-health composite alarm', () => {
    const t = clickstreamTemplate();
    t.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^AlarmTopicKey'), 'Arn'] } });
    const [key] = Object.entries(t.findResources('AWS::KMS::Key')).filter(([id]) => id.startsWith('AlarmTopicKey')).map(([, k]) => k);
    expect(JSON.stringify(key.Properties.KeyPolicy)).toContain('cloudwatch.amazonaws.com');
    // the example's topic is the only one: the monitor and the profiler use it, they create none
    t.resourceCountIs('AWS::SNS::Topic', 1);
    const [health] = Object.values(t.findResources('AWS::CloudWatch::CompositeAlarm'));
    expect(health.Properties.AlarmActions).toEqual([{ Ref: expect.stringMatching(/^AlarmTopic/) }]);
    const rule = JSON.stringify(health.Properties.AlarmRule);
    const [topicId] = Object.keys(t.findResources('AWS::SNS::Topic'));
    const alarms = Object.entries(t.findResources('AWS::CloudWatch::Alarm'));
    expect(alarms.length).toBeGreaterThan(10);
    for (const [id, alarm] of alarms) {
      const direct = JSON.stringify(alarm.Properties.AlarmActions) === JSON.stringify([{ Ref: topicId }]);
      expect({ id, notifies: direct || rule.includes(id) }).toEqual({ id, notifies: true });
    }
  });

  it('is the full showcase: failure normalizer, raw archive, replay function, quality profiler, monitor with canary, drift detector', () => {
    const app = new App({ analyticsReporting: false });
    const stack = new ClickstreamStack(app, 'Clickstream', { env: TEST_ENV, stackName: 'PhoenixClickstream' });
    const { pipeline, monitor, drift } = stack;
    expect(pipeline.failureNormalizer).toBeDefined();
    expect(pipeline.archive).toBeDefined();
    expect(pipeline.replay).toBeDefined();
    expect(pipeline.profiler!.rules).toEqual(clickQualityRules);
    expect(pipeline.profiler!.alarmTopic).toBe(stack.alarmTopic);
    expect(monitor.canary).toBeDefined();
    expect(monitor.alarmTopic).toBe(stack.alarmTopic);
    expect(drift.stackNames).toEqual(['PhoenixClickstream']);
    const t = Template.fromStack(stack);
    t.resourceCountIs('AWS::KinesisFirehose::DeliveryStream', 1);
    t.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
    t.hasResourceProperties('AWS::CloudWatch::Dashboard', { DashboardName: 'Phoenix-PhoenixClickstream-clickstream' });
    // the composite health alarm covers the profiler's failures and both drift alarms
    const rule = JSON.stringify(Object.values(t.findResources('AWS::CloudWatch::CompositeAlarm'))[0].Properties.AlarmRule);
    for (const c of [monitor.node.tryFindChild(`Quality${pipeline.profiler!.node.id}`), drift.driftAlarm, drift.detectionAlarm]) {
      expect(rule).toContain(stack.getLogicalId((c as Construct).node.defaultChild as never));
    }
  });

  it('profiles the stream with rules on the click schema (key completeness, event types, URLs, volume, drift, freshness)', () => {
    expect(clickQuality.eventTimeField).toBe('ts');
    const byKind = (kind: QualityRuleKind) => clickQualityRules.filter((r) => r.kind === kind).map((r) => r.column ?? r.name);
    expect(byKind(QualityRuleKind.COMPLETENESS)).toEqual(['userId', 'sessionId']);
    expect(clickQualityRules.find((r) => r.kind === QualityRuleKind.ALLOWED_VALUES)!.allowedValues).toEqual([...CLICK_EVENT_TYPES]);
    expect(byKind(QualityRuleKind.VOLUME)).toEqual(['volume']);
    expect(byKind(QualityRuleKind.DRIFT)).toEqual(['eventType', 'seq']);
    expect(byKind(QualityRuleKind.FRESHNESS)).toEqual(['fresh']);
    // every rule column is a column of the click schema (the synth checks it too)
    const columns = Object.keys(clickEventSchema.properties);
    for (const r of clickQualityRules) if (r.column) expect(columns).toContain(r.column);
    expect(QualityRules.validate(clickQualityRules, 300, columns)).toEqual([]);
  });

  it('PRODUCTION keeps the raw archive (bucket and access logs) and the clicks table only; EPHEMERAL keeps nothing', () => {
    const retained = (t: Template) => Object.entries(t.toJSON().Resources as Record<string, { Type: string; DeletionPolicy?: string }>)
      .filter(([, r]) => r.DeletionPolicy === 'Retain').map(([id, r]) => `${r.Type} ${id.replace(/[0-9A-F]{8}$/, '')}`).sort();
    expect(retained(clickstreamTemplate())).toEqual([
      'AWS::DynamoDB::Table ClickstreamIngestSinkTable',
      'AWS::S3::Bucket ClickstreamArchiveAccessLogs',
      'AWS::S3::Bucket ClickstreamArchiveBucket',
    ]);
    expect(retained(clickstreamTemplate(PhoenixMode.EPHEMERAL))).toEqual([]);
  });

  it('synthesizes with zero unacknowledged findings of the five cdk-nag packs (EPHEMERAL; PRODUCTION: test/nag)', () => {
    const app = new App({ outdir: fs.mkdtempSync(path.join(os.tmpdir(), 'phx-clicks-')) });
    Validations.of(app).addPlugins(
      new AwsSolutionsChecks(app), new ServerlessChecks(app), new NIST80053R5Checks(app), new HIPAASecurityChecks(app), new PCIDSS321Checks(app),
    );
    new ClickstreamStack(app, 'Clickstream', { phoenixMode: PhoenixMode.EPHEMERAL });
    let text = '';
    try {
      app.synth();
    } catch (e) {
      const report = path.join(app.outdir, 'validation-report.json');
      text = String((e as Error).message) + (fs.existsSync(report) ? fs.readFileSync(report, 'utf8') : '');
    }
    expect(text).toBe('');
  });
});
