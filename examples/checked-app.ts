import { App, type AppProps, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks, HIPAASecurityChecks, NIST80053R5Checks, PCIDSS321Checks, ServerlessChecks } from 'cdk-nag';

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
