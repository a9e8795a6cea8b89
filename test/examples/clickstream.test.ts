import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { PhoenixMode, QualityRuleKind, QualityRules } from '../../constructs';
import { clickQuality, clickQualityRules } from '../../examples/clickstream/quality';
import { CLICK_EVENT_TYPES, clickEventKeyFields, clickEventSchema } from '../../examples/clickstream/schema';
import { ClickstreamStack } from '../../examples/clickstream/stack';
import { exampleTemplate, expectEveryAlarmNotifiesTheTopic, expectHealthAlarmCovers, nagCheckedApp, nagFindings, expectPhoenixRetention, expectShowcase, ingestSettings } from '../support/examples';
import { TEST_ENV } from '../support/stacks';

function clickstreamTemplate(phoenixMode?: PhoenixMode): Template {
  return exampleTemplate((app) => new ClickstreamStack(app, 'Clickstream', { env: TEST_ENV, stackName: 'PhoenixClickstream', phoenixMode }));
}

describe('clickstream example', () => {
  it('matches the snapshot (asset hashes normalized)', () => {
    expect(clickstreamTemplate().toJSON()).toMatchSnapshot();
  });
  it('validates click events with the schema and derives ids from (userId, sessionId, seq)', () => {
    const keyFields = ['userId', 'sessionId', 'seq'];
    expect(ingestSettings(clickstreamTemplate())).toMatchObject({ schema: clickEventSchema, keyFields, sinkKind: 'dynamodb' });
    expect(clickEventKeyFields).toEqual(keyFields);
  });
  it('routes every alarm to the encrypted topic CloudWatch can use: directly, or through the pipeline-health composite alarm', () => {
    expectEveryAlarmNotifiesTheTopic(clickstreamTemplate());
  });

  it('is the full showcase: failure normalizer, raw archive, replay function, quality profiler, monitor with canary, drift detector', () => {
    const app = new App({ analyticsReporting: false });
    const stack = new ClickstreamStack(app, 'Clickstream', { env: TEST_ENV, stackName: 'PhoenixClickstream' });
    const { pipeline, monitor, drift } = stack;
    expectShowcase(stack, clickQualityRules);
    expect(drift.stackNames).toEqual(['PhoenixClickstream']);
    const t = Template.fromStack(stack);
    t.resourceCountIs('AWS::KinesisFirehose::DeliveryStream', 1);
    t.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
    t.hasResourceProperties('AWS::CloudWatch::Dashboard', { DashboardName: 'Phoenix-PhoenixClickstream-eu-west-1-clickstream' });
    // the composite health alarm covers the profiler's failures and both drift alarms
    expectHealthAlarmCovers(t, stack, [monitor.node.tryFindChild(`Quality${pipeline.profiler!.node.id}`), drift.driftAlarm, drift.detectionAlarm]);
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
    expectPhoenixRetention(clickstreamTemplate, 'Clickstream');
  });

  it('synthesizes with zero unacknowledged findings of the five cdk-nag packs (EPHEMERAL; PRODUCTION: test/constructs/compliance.test.ts)', () => {
    const app = nagCheckedApp();
    new ClickstreamStack(app, 'Clickstream', { phoenixMode: PhoenixMode.EPHEMERAL });
    expect(nagFindings(app)).toBe('');
  });
});
