/**
 * Integration test of the IoT telemetry example, deployed for real (see README, "Integration tests in your account"):
 * the telemetry stack in EPHEMERAL mode (everything is deleted with it) and the scenario of ./scenario.ts, with its
 * canary and pipeline-health assertions.
 */
import { App } from 'aws-cdk-lib';
import { pipelineIntegTest, INTEG_EVENT_TIME } from './scenario';
import { PhoenixMode } from '../../constructs';
import { telemetryKeyFields, telemetrySchema } from '../../examples/iot-telemetry/schema';
import { IotTelemetryStack } from '../../examples/iot-telemetry/stack';

const app = new App();
const stack = new IotTelemetryStack(app, 'IotTelemetry', { stackName: 'PhoenixIotTelemetryInteg', phoenixMode: PhoenixMode.EPHEMERAL });

/** A reading as a site gateway puts it (valid under telemetrySchema). */
function reading(seq: number): Record<string, unknown> {
  return { deviceId: 'dev-00a1b2', seq, ts: INTEG_EVENT_TIME, site: 'ams-01', firmware: '3.3.0', temperature: 21.5, humidity: 40, battery: 87, rssi: -70 };
}

const monitoring = { monitor: stack.monitor, drift: stack.stackDrift };
pipelineIntegTest(
  { stack, pipeline: stack.pipeline, schema: telemetrySchema, keyFields: telemetryKeyFields, partitionKeyField: 'deviceId', monitoring },
  { valid: reading(1), poison: reading(2) },
);
app.synth();
