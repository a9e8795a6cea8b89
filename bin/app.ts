import type { App } from 'aws-cdk-lib';
import { checkedApp, exampleApp, type BuildAppOptions } from '../examples/checked-app';
import { ClickstreamStack } from '../examples/clickstream/stack';

export { checkedApp, type BuildAppOptions };

/** Stack name of the example pipeline. */
export const CLICKSTREAM_STACK_NAME = 'PhoenixClickstream';

/**
 * The CDK app `cdk.json` runs: the clickstream example, checked by the AWS Solutions, Serverless, NIST 800-53 R5,
 * HIPAA Security and PCI DSS 3.2.1 packs of cdk-nag (any unacknowledged finding fails the synth).
 * Environment-agnostic: no account or region.
 */
export function buildApp(opts: BuildAppOptions = {}): App {
  return exampleApp(ClickstreamStack, 'Clickstream', CLICKSTREAM_STACK_NAME, opts);
}

if (require.main === module) {
  buildApp().synth();
}
