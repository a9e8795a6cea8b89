import type { App } from 'aws-cdk-lib';
import { IotTelemetryStack } from './stack';
import { exampleApp, type BuildAppOptions } from '../checked-app';

/** Stack name of the IoT telemetry example. */
export const IOT_TELEMETRY_STACK_NAME = 'PhoenixIotTelemetry';

/**
 * The CDK app of the IoT telemetry example: its one stack, checked by the same five cdk-nag packs as bin/app.ts.
 * `npx cdk synth --app "npx tsx examples/iot-telemetry/app.ts"`, or run it locally:
 * `npx phoenix local run --app "npx tsx examples/iot-telemetry/app.ts" --workload iot-telemetry`.
 */
export function buildIotTelemetryApp(opts: BuildAppOptions = {}): App {
  return exampleApp(IotTelemetryStack, 'IotTelemetry', IOT_TELEMETRY_STACK_NAME, opts);
}

if (require.main === module) {
  buildIotTelemetryApp().synth();
}
