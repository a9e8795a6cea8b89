/**
 * Integration test of the orders example, deployed for real (see README, "Integration tests in your account"): the
 * orders stack in EPHEMERAL mode (everything is deleted with it) and the scenario of ./scenario.ts. The orders example
 * has no monitor: no canary or health-alarm assertion, its stack's alarms are checked.
 */
import { App } from 'aws-cdk-lib';
import { pipelineIntegTest, INTEG_EVENT_TIME } from './scenario';
import { PhoenixMode } from '../../constructs';
import { orderEventKeyFields, orderEventSchema } from '../../examples/orders/schema';
import { OrdersStack } from '../../examples/orders/stack';

const app = new App();
const stack = new OrdersStack(app, 'Orders', { stackName: 'PhoenixOrdersInteg', phoenixMode: PhoenixMode.EPHEMERAL });

/** An order as the order service puts it (valid under orderEventSchema). */
function order(orderId: string): Record<string, unknown> {
  return {
    orderId,
    version: 1,
    eventTime: INTEG_EVENT_TIME,
    status: 'created',
    customerId: 'c-integ',
    currency: 'EUR',
    items: [{ sku: 'SKU-100', quantity: 2, unitPrice: 4.5 }],
    total: 9,
  };
}

pipelineIntegTest(
  { stack, pipeline: stack.pipeline, schema: orderEventSchema, keyFields: orderEventKeyFields, partitionKeyField: 'orderId' },
  { valid: order('o-integ-valid'), poison: order('o-integ-poison') },
);
app.synth();
