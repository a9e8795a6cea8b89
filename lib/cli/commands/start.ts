import type { Command } from 'commander';
import { addRunOptions, runLocalCommand, type LocalRunCliOptions } from './local';

/** The example's stack (CLICKSTREAM_STACK_NAME of bin/app.ts; not imported, so that the CLI does not load the CDK). */
export const EXAMPLE_STACK_NAME = 'PhoenixClickstream';
import { packageRoot } from '../../local/paths';

/**
 * `phoenix start` (behind `npm start`): `phoenix local run` on this package's example app (the clickstream pipeline
 * of bin/app.ts) with the default workload: 2,000 click events with 2% bad records and 2% duplicates. Every option
 * of `local run` applies (e.g. `npm start -- --records 10000 --crash-rate 0.05`).
 */
export function registerStart(program: Command): void {
  addRunOptions(program
    .command('start')
    .description('the main job: run the example clickstream pipeline locally with a default workload and check that nothing is lost'))
    .action(async (o: LocalRunCliOptions) => {
      // The example app is synthesized from this package's cdk.json, whatever the current directory.
      process.exitCode = await runLocalCommand({
        ...o,
        stack: o.stack ?? (o.app || o.assembly ? undefined : EXAMPLE_STACK_NAME),
        runsDir: o.runsDir ?? `${process.cwd()}/.phoenix/runs`,
      }, packageRoot());
    });
}
