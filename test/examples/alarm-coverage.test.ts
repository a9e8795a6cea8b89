import { App, type Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { ClickstreamStack } from '../../examples/clickstream/stack';
import { IotTelemetryStack } from '../../examples/iot-telemetry/stack';
import { OrdersStack } from '../../examples/orders/stack';
import { TEST_ENV } from '../support/stacks';

type Resource = { Type: string; Properties: Record<string, unknown> };

/** Logical ids of the template's metric alarms that have no action and appear in no rule of a composite alarm with one. */
function silentAlarms(resources: Record<string, Resource>): string[] {
  const notifyingRules = JSON.stringify(Object.values(resources)
    .filter((r) => r.Type === 'AWS::CloudWatch::CompositeAlarm' && (r.Properties.AlarmActions as unknown[] | undefined)?.length)
    .map((r) => r.Properties.AlarmRule));
  return Object.entries(resources)
    .filter(([, r]) => r.Type === 'AWS::CloudWatch::Alarm')
    .filter(([id, r]) => !(r.Properties.AlarmActions as unknown[] | undefined)?.length && !notifyingRules.includes(`"${id}"`))
    .map(([id]) => id);
}

const examples: Array<[string, (app: App) => Stack]> = [
  ['clickstream', (app) => new ClickstreamStack(app, 'Clickstream', { env: TEST_ENV })],
  ['iot-telemetry', (app) => new IotTelemetryStack(app, 'Telemetry', { env: TEST_ENV })],
  ['orders', (app) => new OrdersStack(app, 'Orders', { env: TEST_ENV })],
];

describe('every alarm of the examples notifies someone', () => {
  it.each(examples)('%s: each AWS::CloudWatch::Alarm has AlarmActions or is in the rule of a composite alarm with actions', (_, build) => {
    const resources = Template.fromStack(build(new App())).toJSON().Resources as Record<string, Resource>;
    const alarms = Object.entries(resources).filter(([, r]) => r.Type === 'AWS::CloudWatch::Alarm').map(([id]) => id);
    // The failure paths are alarmed: normalizer (failed events, errors, destination delivery) and archive (freshness, success).
    for (const name of ['FailedEventsAlarm', 'ErrorsAlarm', 'DestinationDeliveryFailuresAlarm', 'DataFreshnessAlarm', 'ReadLagAlarm', 'DeliverySuccessAlarm', 'ProcessingSuccessAlarm']) {
      expect(alarms.some((id) => id.includes(name))).toBe(true);
    }
    expect(silentAlarms(resources)).toEqual([]);
  });

  it('the walk fails on an alarm without action and without a notifying composite parent', () => {
    const resources: Record<string, Resource> = {
      Loud: { Type: 'AWS::CloudWatch::Alarm', Properties: { AlarmActions: [{ Ref: 'Topic' }] } },
      Child: { Type: 'AWS::CloudWatch::Alarm', Properties: {} },
      Orphan: { Type: 'AWS::CloudWatch::Alarm', Properties: {} },
      Muted: { Type: 'AWS::CloudWatch::Alarm', Properties: {} },
      Health: { Type: 'AWS::CloudWatch::CompositeAlarm', Properties: { AlarmActions: [{ Ref: 'Topic' }], AlarmRule: { 'Fn::Join': ['', ['ALARM("', { 'Fn::GetAtt': ['Child', 'Arn'] }, '")']] } } },
      Quiet: { Type: 'AWS::CloudWatch::CompositeAlarm', Properties: { AlarmRule: { 'Fn::Join': ['', ['ALARM("', { 'Fn::GetAtt': ['Muted', 'Arn'] }, '")']] } } },
    };
    expect(silentAlarms(resources)).toEqual(['Orphan', 'Muted']);
  });
});
