/**
 * Integration test of the clickstream example, deployed for real (see README, "Integration tests in your account"):
 * the clickstream stack in EPHEMERAL mode (everything is deleted with it) and the scenario of ./scenario.ts, with
 * its canary and pipeline-health assertions.
 */
import { App } from 'aws-cdk-lib';
import { pipelineIntegTest, INTEG_EVENT_TIME } from './scenario';
import { PhoenixMode } from '../../constructs';
import { clickEventKeyFields, clickEventSchema } from '../../examples/clickstream/schema';
import { ClickstreamStack } from '../../examples/clickstream/stack';

const app = new App();
const stack = new ClickstreamStack(app, 'Clickstream', { stackName: 'PhoenixClickstreamInteg', phoenixMode: PhoenixMode.EPHEMERAL });

/** A click as the web SDK puts it (valid under clickEventSchema). */
function click(seq: number): Record<string, unknown> {
  return { userId: 'u-integ', sessionId: 's-integ', seq, eventType: 'page_view', url: 'https://example.com/integ', ts: INTEG_EVENT_TIME };
}

const monitoring = { monitor: stack.monitor, drift: stack.drift };
pipelineIntegTest(
  { stack, pipeline: stack.pipeline, schema: clickEventSchema, keyFields: clickEventKeyFields, partitionKeyField: 'sessionId', monitoring },
  { valid: click(1), poison: click(2) },
);
app.synth();
