import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { PhoenixMode } from '../../constructs';
import { buildOrdersApp, ORDERS_STACK_NAME } from '../../examples/orders/app';
import { orderEventKeyFields, orderEventSchema } from '../../examples/orders/schema';
import { OrdersStack } from '../../examples/orders/stack';
import { nagCheckedApp, nagFindings, expectPhoenixRetention, tempOutdir, ingestSettings } from '../support/examples';
import { TEST_ENV } from '../support/stacks';

/** The orders stack in an app with the five cdk-nag packs; returns the findings ('' when none). */
function ordersFindings(mode?: PhoenixMode): string {
  const app = nagCheckedApp();
  new OrdersStack(app, 'Orders', { phoenixMode: mode });
  return nagFindings(app);
}

function template(mode?: PhoenixMode): Template {
  return Template.fromStack(new OrdersStack(new App(), 'Orders', { env: TEST_ENV, phoenixMode: mode }));
}

describe('orders example', () => {
  it('synthesizes with zero unacknowledged findings of the five cdk-nag packs (PRODUCTION)', () => {
    expect(ordersFindings()).toBe('');
  });
  it('synthesizes with zero unacknowledged findings of the five cdk-nag packs (EPHEMERAL)', () => {
    expect(ordersFindings(PhoenixMode.EPHEMERAL)).toBe('');
  });
  it('its app (examples/orders/app.ts) synthesizes the one orders stack with the five packs and no findings', () => {
    const app = buildOrdersApp({ appProps: { outdir: tempOutdir() } });
    expect(nagFindings(app)).toBe('');
    expect(app.synth().stacks.map((s) => s.stackName)).toEqual([ORDERS_STACK_NAME]);
  });
  it('derives record ids from orderId alone, so every version of an order has the same id', () => {
    expect(ingestSettings(template())).toMatchObject({ schema: orderEventSchema, keyFields: ['orderId'], sinkKind: 'dynamodb', recordConcurrency: '10' });
    expect(orderEventKeyFields).toEqual(['orderId']);
  });
  it('requires eventTime (the version the sink keeps is the one with the newest eventTime) and the order fields', () => {
    expect(orderEventSchema.required).toEqual(expect.arrayContaining(['orderId', 'version', 'eventTime', 'status', 'items', 'total']));
    expect(orderEventSchema.properties.eventTime).toEqual({ type: 'string', format: 'date-time' });
  });
  it('PRODUCTION keeps the orders table and the raw archive (bucket and access logs) and nothing else; EPHEMERAL keeps nothing', () => {
    expectPhoenixRetention(template, 'Orders');
  });
  it('routes the alarms to the encrypted topic', () => {
    const t = template();
    const alarms = Object.values(t.findResources('AWS::CloudWatch::Alarm'));
    expect(alarms.length).toBeGreaterThanOrEqual(2);
    for (const alarm of alarms) expect(alarm.Properties.AlarmActions).toEqual([{ Ref: expect.stringMatching(/^AlarmTopic/) }]);
  });
});
