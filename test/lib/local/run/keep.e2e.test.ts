/**
 * The on-call flow on the local environment, from the terminal: `phoenix local run --keep` with the sink down for the
 * whole workload (every write fails), so the event source mapping gives up and the valid records end as dead letters
 * (`esm-exhausted`). The environment stays up with the fault ended ("the cause fixed"); `phoenix dlq stats/list
 * --local` show the dead letters, `phoenix replay --from dlq --local` replays the chosen ones into the sink, a second
 * replay finds nothing left to do, and Ctrl-C (SIGINT to the pid) stops everything and removes `local-env.json`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import * as path from 'node:path';
import { DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCAL_CREDENTIALS } from '../../../../lib/aws/clients';
import type { LocalEnvFile } from '../../../../lib/local/keep';
import { cli } from '../../../support/replay';
import { mutatedAssembly, REPO, synthExample, tempDir } from '../support';

const CLI = path.join(REPO, 'assets', 'bin', 'phoenix', 'index.js');
const RECORDS = 40;

interface Kept {
  child: ChildProcess;
  report: Record<string, any>;
  envFile: string;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | null>;
}

/** Starts `phoenix local run --keep --json` and resolves once it printed its report (bounded by `timeoutMs`). */
function startKept(args: string[], timeoutMs: number): Promise<Kept> {
  const child = spawn(process.execPath, [CLI, 'local', 'run', ...args, '--keep', '--json'], {
    cwd: REPO,
    env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (c: Buffer) => { out += c.toString(); });
  child.stderr!.on('data', (c: Buffer) => { err += c.toString(); });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return new Promise<Kept>((resolve, reject) => {
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`no report within ${timeoutMs} ms; stderr: ${err.slice(-2000)}`)); }, timeoutMs);
    const onData = (): void => {
      const nl = out.indexOf('\n');
      if (nl < 0) return;
      clearTimeout(timer);
      child.stdout!.off('data', onData);
      const report = JSON.parse(out.slice(0, nl)) as Record<string, any>;
      resolve({ child, report, envFile: report.localEnv, stdout: () => out, stderr: () => err, exited });
    };
    child.stdout!.on('data', onData);
    void exited.then((code) => { clearTimeout(timer); reject(new Error(`exited ${code} before printing its report: ${err.slice(-2000)}`)); });
  });
}

async function sinkIds(env: LocalEnvFile): Promise<Set<string>> {
  const ddb = new DynamoDBClient({ region: env.region, endpoint: env.endpoints.dynamodb, credentials: LOCAL_CREDENTIALS }); // the operator's key: IAM rejects unknown keys
  try {
    const ids = new Set<string>();
    let start: Record<string, any> | undefined;
    do {
      const r = await ddb.send(new ScanCommand({ TableName: env.outputs.SinkTarget, ExclusiveStartKey: start }));
      for (const item of r.Items ?? []) ids.add(item.pk.S!);
      start = r.LastEvaluatedKey;
    } while (start);
    return ids;
  } finally {
    ddb.destroy();
  }
}

/** Pids of live processes whose command line mentions `text` (Linux /proc). */
function processesMentioning(text: string): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(text)) out.push(Number(entry));
    } catch {
      // exited while we looked
    }
  }
  return out;
}

/** Polls `probe` every 500 ms until it returns true (at most `timeoutMs`). */
async function waitFor(probe: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await probe()) return true;
    await new Promise((r) => setTimeout(r, 500));
  }
  return probe();
}

describe('a kept local environment: dead letters listed, filtered and replayed into the sink from the terminal', () => {
  let assembly: string;
  let runsDir: string;
  let kept: Kept | undefined;

  beforeAll(() => {
    // The ingest handler's in-process retry budget at 1 s instead of 10 s: with every write failing, each invocation
    // spends the whole budget, and the mapping's retries and bisections multiply it; what is tested here is what
    // follows the outage.
    const example = synthExample().dir;
    assembly = mutatedAssembly(example, (t) => {
      for (const res of Object.values<any>(t.Resources)) {
        const vars = res.Properties?.Environment?.Variables;
        if (res.Type === 'AWS::Lambda::Function' && vars?.PHX_PIPELINE !== undefined && vars?.PHX_SINK_KIND !== undefined) vars.PHX_RETRY_BUDGET_MS = '1000';
      }
    });
    rmSync(example, { recursive: true, force: true });
    runsDir = tempDir('kept-runs');
  });
  afterAll(async () => {
    if (kept && kept.child.exitCode === null) {
      kept.child.kill('SIGKILL');
      await kept.exited;
    }
    rmSync(assembly, { recursive: true, force: true });
    rmSync(runsDir, { recursive: true, force: true });
  });

  it('sink outage -> esm-exhausted dead letters -> fault ends -> replay lands every valid record once; Ctrl-C stops it', async () => {
    kept = await startKept(['--assembly', assembly, '--records', String(RECORDS), '--poison-rate', '0.1', '--duplicate-rate', '0',
      '--sink-failure-rate', '1', '--on-demand-shards', '2', '--max-environments', '2', '--runs-dir', runsDir, '--drain-timeout', '150'], 240_000);
    const report = kept.report;
    // The run itself: nothing reached the sink, every record is a dead letter, nothing lost.
    expect(report.recordsIn).toBe(RECORDS);
    expect(report.sinkRecords).toBe(0);
    expect(report.lost).toBe(0);
    const valid: number = report.validRecords;
    expect(valid).toBeGreaterThan(RECORDS / 2);
    expect(report.accounting.validInDlq).toBe(valid);
    expect(report.dlqByReason['esm-exhausted']).toBeGreaterThanOrEqual(valid);

    // local-env.json: endpoints, the pipeline's outputs with local values, this process.
    expect(path.dirname(kept.envFile)).toBe(report.runDir);
    const env = JSON.parse(readFileSync(kept.envFile, 'utf8')) as LocalEnvFile;
    expect(env.pid).toBe(kept.child.pid);
    expect(env.outputs.DlqUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\//);
    expect(env.outputs.SinkKind).toBe('dynamodb');
    expect(env.outputs.StreamName).toBeDefined();
    const dir = report.runDir as string;

    // dlq stats / list: the dead letters by reason; a filter.
    const stats = await cli(['dlq', 'stats', '--local', dir, '--json']);
    expect(stats.code).toBe(0);
    const s = JSON.parse(stats.stdout);
    expect(s.byReason['esm-exhausted']).toBeGreaterThanOrEqual(valid);
    const listed = await cli(['dlq', 'list', '--local', dir, '--reason', 'esm-exhausted', '--limit', '5', '--json']);
    expect(listed.code).toBe(0);
    const lines = listed.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(lines).toHaveLength(5);
    for (const l of lines) expect(l.reason.class).toBe('esm-exhausted');

    // A dry run changes nothing.
    const dry = await cli(['replay', '--from', 'dlq', '--local', dir, '--reason', 'esm-exhausted', '--dry-run', '--json']);
    expect(dry.code).toBe(0);
    expect(JSON.parse(dry.stdout)).toMatchObject({ dryRun: true, deleted: 0, putCalls: 0 });
    expect((await sinkIds(env)).size).toBe(0);

    // Replay the esm-exhausted dead letters: every valid record of the run ends in the sink, once.
    const r1 = await cli(['replay', '--from', 'dlq', '--local', dir, '--reason', 'esm-exhausted', '--json']);
    expect(r1.code).toBe(0);
    const s1 = JSON.parse(r1.stdout);
    expect(s1.failed).toBe(0);
    expect(s1.deleted).toBe(s1.matched);
    const landed = await waitFor(async () => (await sinkIds(env)).size >= valid, 60_000);
    expect(landed).toBe(true);
    // Exactly the valid records, each the record of an esm-exhausted dead letter of the run (dlq.jsonl: the run's dump).
    const deadIds = new Set<string>(readFileSync(path.join(dir, 'dlq.jsonl'), 'utf8').trim().split('\n')
      .map((l) => JSON.parse(l) as { id: string | null; reason: string }).filter((l) => l.reason === 'esm-exhausted' && l.id).map((l) => l.id!));
    const ids = await sinkIds(env);
    expect(ids.size).toBe(valid);
    for (const id of ids) expect(deadIds.has(id)).toBe(true);

    // Again: nothing left to replay, the sink unchanged.
    const r2 = await cli(['replay', '--from', 'dlq', '--local', dir, '--reason', 'esm-exhausted', '--json']);
    expect(r2.code).toBe(0);
    expect(JSON.parse(r2.stdout)).toMatchObject({ matched: 0, replayed: 0 });
    expect((await sinkIds(env)).size).toBe(valid);

    // Ctrl-C: stops, removes local-env.json; the tools then say so in one line, exit 2.
    expect(processesMentioning(dir).length).toBeGreaterThan(0);
    kept.child.kill('SIGINT');
    const code = await Promise.race([kept.exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 30_000))]);
    expect(code).not.toBe('timeout');
    expect(existsSync(kept.envFile)).toBe(false);
    expect(kept.stderr()).toMatch(/the local environment was stopped/);
    // Its function processes (started from the run directory) are gone too.
    expect(processesMentioning(dir)).toEqual([]);
    const after = await cli(['dlq', 'stats', '--local', dir]);
    expect(after.code).toBe(2);
    expect(after.stderr.trim().split('\n')).toHaveLength(1);
    expect(after.stderr).toMatch(/no local-env\.json there/);
  }, 420_000);
});
