/**
 * The integration tests' commands (projen tasks `integ:snapshot` and `integ:deploy`; README, "Integration tests in
 * your account"):
 *   tsx test/integ/cli.ts snapshot [integ.<example>.ts ...]   write the snapshots again (synth only, no credentials)
 *   tsx test/integ/cli.ts deploy [integ.<example>.ts ...]     deploy to the current account, check the assertions'
 *                                                             results, destroy the stacks (also after a failure)
 * No file: every integration test. Exit code 1 when a deployment or an assertion failed, 2 on bad arguments.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { INTEG_DIR, ROOT, integFiles, synthIntegApp, writeSnapshot } from './snapshot';

function snapshot(files: readonly string[]): number {
  for (const file of files) {
    const outdir = synthIntegApp(file);
    try {
      writeSnapshot(file, outdir);
      console.log(`wrote ${path.relative(ROOT, INTEG_DIR)}/${file}.snapshot`);
    } finally {
      rmSync(outdir, { recursive: true, force: true });
    }
  }
  return 0;
}

function cdk(args: readonly string[]): number {
  const r = spawnSync(path.join(ROOT, 'node_modules', '.bin', 'cdk'), args, { cwd: ROOT, stdio: 'inherit' });
  return r.status ?? 1;
}

/** The assertions' results a deployment wrote (`AssertionResults...` outputs of the assertion stack) that failed. */
export function failedAssertions(outputsFile: string): string[] {
  const outputs = JSON.parse(readFileSync(outputsFile, 'utf8')) as Record<string, Record<string, string>>;
  return Object.values(outputs).flatMap((stack) => Object.entries(stack))
    .filter(([key, value]) => key.startsWith('AssertionResults') && statusOf(value) !== 'success')
    .map(([key, value]) => `${key}: ${value}`);
}

/** `status` of an assertion result (`{"status":"success"}` or `{"status":"fail","message":...}`). */
function statusOf(result: string): string | undefined {
  try {
    return (JSON.parse(result) as { status?: string }).status;
  } catch {
    return undefined;
  }
}

/** Deploys one integration test (the example stack, then its assertion stack), reads the results, destroys both. */
function deployOne(file: string): boolean {
  const app = ['--app', `npx tsx ${path.relative(ROOT, path.join(INTEG_DIR, file))}`];
  const work = mkdtempSync(path.join(tmpdir(), 'phx-integ-deploy-'));
  const outputsFile = path.join(work, 'outputs.json');
  try {
    const deployed = cdk(['deploy', ...app, '--all', '--require-approval', 'never', '--outputs-file', outputsFile]) === 0;
    const failed = deployed ? failedAssertions(outputsFile) : [];
    for (const f of failed) console.error(`assertion failed: ${f}`);
    console.log(`${file}: ${!deployed ? 'deployment failed (a waiting assertion timed out, or a resource failed)' : failed.length ? 'FAILED' : 'passed'}`);
    return deployed && failed.length === 0;
  } finally {
    if (cdk(['destroy', ...app, '--all', '--force']) !== 0) console.error(`${file}: destroy failed: delete the stacks by hand`);
    rmSync(work, { recursive: true, force: true });
  }
}

function main(argv: readonly string[]): number {
  const [command, ...named] = argv;
  const all = integFiles();
  const unknown = named.filter((f) => !all.includes(f));
  if ((command !== 'snapshot' && command !== 'deploy') || unknown.length > 0) {
    console.error(`usage: tsx test/integ/cli.ts snapshot|deploy [file ...]; got ${JSON.stringify(argv)} (files: ${all.join(', ')})`);
    return 2;
  }
  const files = named.length > 0 ? named : all;
  if (command === 'snapshot') return snapshot(files);
  return files.map(deployOne).every(Boolean) ? 0 : 1;
}

if (require.main === module) process.exitCode = main(process.argv.slice(2));
