import type { App } from 'aws-cdk-lib';
import { OrdersStack } from './stack';
import { exampleApp, type BuildAppOptions } from '../checked-app';

/** Stack name of the orders example. */
export const ORDERS_STACK_NAME = 'PhoenixOrders';

/**
 * The CDK app of the orders example: its one stack, checked by the same five cdk-nag packs as bin/app.ts.
 * `npx cdk synth --app "npx tsx examples/orders/app.ts"`, or run it locally:
 * `npx phoenix local run --app "npx tsx examples/orders/app.ts" --workload orders`.
 */
export function buildOrdersApp(opts: BuildAppOptions = {}): App {
  return exampleApp(OrdersStack, 'Orders', ORDERS_STACK_NAME, opts);
}

if (require.main === module) {
  buildOrdersApp().synth();
}
