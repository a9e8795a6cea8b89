import { App, type AppProps, type Stack, type StackProps, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks, HIPAASecurityChecks, NIST80053R5Checks, PCIDSS321Checks, ServerlessChecks } from 'cdk-nag';
import type { Construct } from 'constructs';

/** Options of the example apps (`checkedApp`, bin/app.ts `buildApp`). */
export interface BuildAppOptions {
  /** Props of the App (outdir, context), e.g. for tests. */
  readonly appProps?: AppProps;
  /** Register the five cdk-nag packs as validation plugins (default true). */
  readonly nag?: boolean;
}

/**
 * An empty App with the five cdk-nag packs registered as validation plugins (unless `nag` is false): what every
 * example app builds on. Each example has its own app of one stack (e.g. `examples/iot-telemetry/app.ts`), so that
 * this one, `npm start` and `phoenix local run` without `--stack` keep running the clickstream alone.
 */
export function checkedApp(opts: BuildAppOptions = {}): App {
  const app = new App(opts.appProps);
  if (opts.nag ?? true) {
    Validations.of(app).addPlugins(
      new AwsSolutionsChecks(app),
      new ServerlessChecks(app),
      new NIST80053R5Checks(app),
      new HIPAASecurityChecks(app),
      new PCIDSS321Checks(app),
    );
  }
  return app;
}

/** A checked App of one example stack (construct id `id`, CloudFormation stack name `stackName`). */
export function exampleApp(
  stack: new (scope: Construct, id: string, props: StackProps) => Stack, id: string, stackName: string, opts: BuildAppOptions = {},
): App {
  const app = checkedApp(opts);
  new stack(app, id, { stackName });
  return app;
}
