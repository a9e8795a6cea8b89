/**
 * `phoenix drill`: the Phoenix drill on the local environment (lib/local/drill/). Prints the sink hash before the
 * destruction and after the rebuild from the archive; exits 1 when they differ.
 */
import type { Command } from 'commander';
import { DrillError, runDrill, type DrillReport } from '../../local/drill';
import { UsageError } from '../errors';
import { interruptible, intFlag } from '../options';
import { defaultDrainTimeoutSeconds } from './local';

interface DrillFlags {
  app?: string;
  assembly?: string;
  stack?: string;
  records: string;
  seed: string;
  drainTimeout?: string;
  runsDir?: string;
  json?: boolean;
  replayVia: string;
  /** false with --no-iam. */
  iam: boolean;
}

export function formatDrill(r: DrillReport): string {
  const lines = [
    `stack ${r.stack}: ${r.records} records; archive s3://${r.archive.bucket}/${r.archive.prefix} (${r.archive.objects} objects, ${r.archive.records} records${r.archive.fromTemplate ? ', the template\'s RawArchive' : ', drill bucket'})`,
    `before  ${r.before.hash}  (${r.before.items} items)`,
    `after   ${r.after.hash}  (${r.after.items} items)`,
    `deleted ${r.deleted} resource(s) with the stack (${r.destroyed.streams} stream(s), ${r.destroyed.queues} queue(s), ${r.destroyed.tables} table(s), ${r.destroyed.buckets} bucket(s) on the emulators); replayed ${r.replay.replayed} record(s) from the archive`,
    `orphaned ${r.orphaned.length} retained resource(s): ${r.orphaned.map((o) => `${o.logicalId} (${o.physicalName})`).join(', ') || 'none'}`,
    `failed ${r.failed.length} deletion(s)${r.failed.map((f) => `; ${f.logicalId}: ${f.reason}`).join('')}`,
    r.namesChanged
      ? `names: every generated name is new in the re-created stack${r.unchanged.length > 0 ? ` (explicit names kept: ${r.unchanged.map((u) => u.physicalName).join(', ')})` : ''}`
      : `names: NOT all new: ${r.unchanged.filter((u) => !u.explicit).map((u) => `${u.logicalId} (${u.physicalName})`).join(', ')}`,
    `access denied ${r.accessDenied.count}${Object.keys(r.accessDenied.byPrincipalActionResource).map((k) => `\n  ${k}`).join('')}`,
    r.equal ? 'PASS: the rebuilt pipeline holds exactly the same state' : `FAIL: the states differ (${r.differences.length} shown in ${r.runDir}/drill.json)`,
  ];
  for (const d of r.differences.slice(0, 5)) lines.push(`  ${d.id}: before ${d.before ?? 'absent'} / after ${d.after ?? 'absent'}`);
  return `${lines.join('\n')}\n`;
}

export function registerDrill(program: Command): void {
  program
    .command('drill')
    .description('Phoenix drill (local): run a workload, hash the sink, delete the stack as CloudFormation does (the retained archive '
      + 'stays: PhoenixMode PRODUCTION), create it again under new names, replay the old archive, hash again')
    .option('--app <command>', 'CDK app command (default: cdk.json "app")')
    .option('--assembly <dir>', 'an existing cloud assembly instead of synthesizing')
    .option('--stack <name>', 'stack to drill (when the app has several)')
    .option('--records <n>', 'workload records', '500')
    .option('--seed <n>', 'workload seed', '1')
    .option('--drain-timeout <seconds>', 'bound on waiting for the pipeline to process everything (default: 120 s, or 1 s per 40 records when longer)')
    .option('--runs-dir <dir>', 'where the run directory is created (default .phoenix/runs)')
    .option('--json', 'one JSON object (the report) on stdout')
    .option('--replay-via <path>', 'cli (phoenix replay --from archive, resolved from the stack outputs) or function (the stack\'s ReplayFunction)', 'cli')
    .option('--no-iam', 'do not authorize calls against the template\'s IAM and resource policies (default: authorized as in AWS)')
    .action(async (f: DrillFlags) => {
      const records = intFlag('--records', f.records, 1, 1_000_000, (m) => new UsageError(m));
      const seed = intFlag('--seed', f.seed, 0, 2 ** 31 - 1, (m) => new UsageError(m));
      const drain = f.drainTimeout === undefined ? defaultDrainTimeoutSeconds(records) : intFlag('--drain-timeout', f.drainTimeout, 1, 3_600, (m) => new UsageError(m));
      if (f.replayVia !== 'cli' && f.replayVia !== 'function') throw new UsageError(`--replay-via must be cli or function; got ${JSON.stringify(f.replayVia)}`);
      // As in `local run`: the SDK's Node 22 notice concerns releases after January 2027, and these clients only talk
      // to local emulators.
      process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
      const intr = interruptible();
      let report: DrillReport;
      try {
        report = await runDrill({
          cwd: process.cwd(),
          app: f.app,
          assembly: f.assembly,
          stack: f.stack,
          records,
          seed,
          drainTimeoutMs: drain * 1000,
          runsDir: f.runsDir,
          iam: f.iam,
          replayVia: f.replayVia,
          signal: intr.signal,
          log: (l) => { if (!f.json) process.stderr.write(`phoenix drill: ${l}\n`); },
          onPhase: (p) => { if (!f.json && process.stderr.isTTY) process.stderr.write(`phoenix drill: ${p}\n`); },
        });
      } catch (e) {
        if (e instanceof DrillError) throw new DrillError(`drill: ${e.message}`, { cause: e });
        throw e;
      } finally {
        intr.dispose();
      }
      process.stdout.write(f.json ? `${JSON.stringify(report)}\n` : formatDrill(report));
      if (!report.equal) process.exitCode = 1;
    });
}
