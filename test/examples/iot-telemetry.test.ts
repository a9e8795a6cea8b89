import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { DriftMethod, PhoenixMode, QualityMetric, QualityRuleKind, QualityRules } from '../../constructs';
import { buildIotTelemetryApp, IOT_TELEMETRY_STACK_NAME } from '../../examples/iot-telemetry/app';
import { telemetryQuality, telemetryQualityRules } from '../../examples/iot-telemetry/quality';
import { IOT_FIRMWARE, IOT_SITES, telemetryKeyFields, telemetrySchema } from '../../examples/iot-telemetry/schema';
import { IotTelemetryStack } from '../../examples/iot-telemetry/stack';
import { compileValidator } from '../../lib/handlers/schema';
import { exampleTemplate, expectEveryAlarmNotifiesTheTopic, expectHealthAlarmCovers, nagCheckedApp, nagFindings, expectPhoenixRetention, tempOutdir, expectShowcase, ingestSettings } from '../support/examples';
import { TEST_ENV } from '../support/stacks';

function iotTemplate(phoenixMode?: PhoenixMode): Template {
  return exampleTemplate((app) => new IotTelemetryStack(app, 'IotTelemetry', { env: TEST_ENV, stackName: IOT_TELEMETRY_STACK_NAME, phoenixMode }));
}

describe('IoT telemetry example', () => {
  it('matches the snapshot (asset hashes normalized)', () => {
    expect(iotTemplate().toJSON()).toMatchSnapshot();
  });

  it('validates readings with the telemetry schema, derives ids from (deviceId, seq) and orders versions by ts', () => {
    const keyFields = ['deviceId', 'seq'];
    expect(ingestSettings(iotTemplate())).toEqual({ schema: telemetrySchema, keyFields, eventTimeField: 'ts', sinkKind: 'dynamodb', recordConcurrency: '10' });
    expect(telemetryKeyFields).toEqual(keyFields);
  });

  it('the schema accepts a reading (null temperature included) and rejects corrupt ones', () => {
    const validate = compileValidator(telemetrySchema);
    const reading = { deviceId: 'dev-00a1f3', seq: 18_442, ts: '2026-11-26T10:15:00.000Z', site: 'ams-01', firmware: '3.2.1', temperature: 21.4, humidity: 48.2, battery: 87, rssi: -71 };
    expect(validate(reading)).toBeNull();
    expect(validate({ ...reading, temperature: null })).toBeNull();
    const { humidity: _h, rssi: _r, ...minimal } = reading;
    expect(validate(minimal)).toBeNull();
    expect(validate({ ...reading, battery: 101 })).toMatch(/battery/);
    expect(validate({ ...reading, temperature: 300 })).toMatch(/temperature/);
    expect(validate({ ...reading, deviceId: 'sensor-1' })).toMatch(/deviceId/);
    expect(validate({ ...reading, voltage: 3.3 })).toMatch(/additional/i);
  });

  it('routes every alarm to the encrypted topic CloudWatch can use: directly, or through the pipeline-health composite alarm', () => {
    expectEveryAlarmNotifiesTheTopic(iotTemplate());
  });

  it('has the archive, replay function, quality profiler, monitor with canary and stack drift detection', () => {
    const app = new App({ analyticsReporting: false });
    const stack = new IotTelemetryStack(app, 'IotTelemetry', { env: TEST_ENV, stackName: IOT_TELEMETRY_STACK_NAME });
    const { pipeline, monitor, stackDrift } = stack;
    expectShowcase(stack, telemetryQualityRules);
    expect(stackDrift.stackNames).toEqual([IOT_TELEMETRY_STACK_NAME]);
    const t = Template.fromStack(stack);
    t.resourceCountIs('AWS::KinesisFirehose::DeliveryStream', 1);
    t.hasResourceProperties('AWS::CloudWatch::Dashboard', { DashboardName: 'Phoenix-PhoenixIotTelemetry-eu-west-1-iot-telemetry' });
    // the profiler reads the telemetry stream in 5-minute tumbling windows
    const mappings = Object.values(t.findResources('AWS::Lambda::EventSourceMapping')).map((m) => m.Properties);
    expect(mappings.filter((m) => m.TumblingWindowInSeconds === 300)).toHaveLength(1);
    // the composite health alarm covers the profiler's failures and both stack-drift alarms
    expectHealthAlarmCovers(t, stack, [monitor.node.tryFindChild(`Quality${pipeline.profiler!.node.id}`), stackDrift.driftAlarm, stackDrift.detectionAlarm]);
  });

  it('profiles the fleet: completeness, ranges, allowed sites and firmware, freshness, volume, drift with a minRows gate, anomaly; warn inside fail', () => {
    expect(telemetryQuality.eventTimeField).toBe('ts');
    const byKind = (kind: QualityRuleKind) => telemetryQualityRules.filter((r) => r.kind === kind).map((r) => r.name);
    expect(byKind(QualityRuleKind.COMPLETENESS)).toEqual(['deviceId-complete', 'ts-complete', 'temperature-complete']);
    expect(byKind(QualityRuleKind.RANGE)).toEqual(['temperature-min', 'temperature-max', 'battery-min', 'battery-max', 'battery-p05']);
    expect(byKind(QualityRuleKind.VOLUME)).toEqual(['volume']);
    expect(byKind(QualityRuleKind.FRESHNESS)).toEqual(['fresh']);
    expect(byKind(QualityRuleKind.ANOMALY)).toEqual(['temperature-mean-anomaly']);
    const allowed = Object.fromEntries(telemetryQualityRules
      .filter((r) => r.kind === QualityRuleKind.ALLOWED_VALUES).map((r) => [r.column, r.allowedValues]));
    expect(allowed).toEqual({ site: [...IOT_SITES], firmware: [...IOT_FIRMWARE] });
    const drift = telemetryQualityRules.filter((r) => r.kind === QualityRuleKind.DRIFT);
    expect(drift.map((r) => [r.column, r.driftMethod])).toEqual([['temperature', DriftMethod.PSI], ['humidity', DriftMethod.KS]]);
    for (const r of drift) expect(r.minRows).toBeGreaterThanOrEqual(300);
    const anomaly = telemetryQualityRules.find((r) => r.kind === QualityRuleKind.ANOMALY)!;
    expect(anomaly).toMatchObject({ column: 'temperature', metric: QualityMetric.MEAN });
    expect(telemetryQuality.historyWindows).toBeGreaterThanOrEqual(Math.max(...telemetryQualityRules.map((r) => r.lastWindows ?? 0)));
    // every rule has both levels, and the whole set is valid against the schema's columns (the synth checks it too)
    for (const r of telemetryQualityRules) expect({ name: r.name, warn: !!r.warn, fail: !!r.fail }).toEqual({ name: r.name, warn: true, fail: true });
    expect(QualityRules.validate(telemetryQualityRules, 300, Object.keys(telemetrySchema.properties))).toEqual([]);
  });

  it('PRODUCTION keeps the raw archive (bucket and access logs) and the readings table only; EPHEMERAL keeps nothing', () => {
    expectPhoenixRetention(iotTemplate, 'Telemetry');
  });

  it('its app synthesizes one stack with zero unacknowledged findings of the five cdk-nag packs (PRODUCTION)', () => {
    const app = buildIotTelemetryApp({ appProps: { outdir: tempOutdir() } });
    expect(nagFindings(app)).toBe('');
    expect(app.synth().stacks.map((s) => s.stackName)).toEqual([IOT_TELEMETRY_STACK_NAME]);
  });

  it('synthesizes with zero unacknowledged findings of the five cdk-nag packs (EPHEMERAL)', () => {
    const app = nagCheckedApp();
    new IotTelemetryStack(app, 'IotTelemetry', { phoenixMode: PhoenixMode.EPHEMERAL });
    expect(nagFindings(app)).toBe('');
  });
});
