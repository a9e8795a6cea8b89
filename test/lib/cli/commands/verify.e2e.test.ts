/**
 * `phoenix verify --local` from the terminal, on environments kept by `phoenix local run --keep` (the bundled CLI,
 * as test/lib/local/run/keep.e2e.test.ts drives it): a healthy run verifies (exit 0, drift SKIPped: the local
 * environment cannot detect drift); a run whose sink was stalled throughout (`--stall-sink`: the mapping gave up,
 * the records are dead letters, the DLQ depth alarms fired) fails, naming the failing checks (exit 1).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO, synthExample, tempDir } from '../../local/support';

const CLI = path.join(REPO, 'assets', 'bin', 'phoenix', 'index.js');
const ENV = { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' };
const RECORDS = 40;

interface Kept { child: ChildProcess; runDir: string; exited: Promise<number | null>; stderr: () => string }

/** Starts `phoenix local run --keep --json`; resolves once it printed its report (bounded by `timeoutMs`). */
function startKept(args: string[], timeoutMs: number): Promise<Kept> {
  const child = spawn(process.execPath, [CLI, 'local', 'run', ...args, '--keep', '--json'], { cwd: REPO, env: ENV, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stderr!.on('data', (c: Buffer) => { err += c.toString(); });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return new Promise<Kept>((resolve, reject) => {
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`no report within ${timeoutMs} ms; stderr: ${err.slice(-2000)}`)); }, timeoutMs);
    child.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      const nl = out.indexOf('\n');
      if (nl < 0) return;
      clearTimeout(timer);
      resolve({ child, runDir: (JSON.parse(out.slice(0, nl)) as { runDir: string }).runDir, exited, stderr: () => err });
    });
    void exited.then((code) => { clearTimeout(timer); reject(new Error(`exited ${code} before printing its report: ${err.slice(-2000)}`)); });
  });
}

/** SIGINT to the kept run's pid; waits (at most 30 s) for it to stop, else SIGKILL. */
async function stop(k: Kept | undefined): Promise<void> {
  if (!k || k.child.exitCode !== null) return;
  k.child.kill('SIGINT');
  const code = await Promise.race([k.exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 30_000))]);
  if (code === 'timeout') {
    k.child.kill('SIGKILL');
    await k.exited;
  }
}

/** `phoenix verify --local <dir> ...` (bounded to 60 s). */
function verify(dir: string, ...args: string[]): { code: number | null; stdout: string; stderr: string; ms: number } {
  const started = Date.now();
  const r = spawnSync(process.execPath, [CLI, 'verify', '--local', dir, ...args], { cwd: REPO, env: ENV, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, ms: Date.now() - started };
}

describe('phoenix verify --local on kept environments', () => {
  let assembly: string;
  let runsDir: string;
  let kept: Kept | undefined;
  const common = (): string[] => ['--assembly', assembly, '--records', String(RECORDS), '--duplicate-rate', '0', '--on-demand-shards', '2', '--max-environments', '2', '--runs-dir', runsDir];

  beforeAll(() => {
    assembly = synthExample().dir;
    runsDir = tempDir('verify-runs');
  }, 120_000);
  afterAll(async () => {
    await stop(kept);
    rmSync(assembly, { recursive: true, force: true });
    rmSync(runsDir, { recursive: true, force: true });
  });

  it('a healthy kept run verifies: exit 0, every check PASS but drift (SKIP, said why)', async () => {
    const started = Date.now();
    kept = await startKept([...common(), '--poison-rate', '0'], 240_000);
    const keptMs = Date.now() - started;
    const r = verify(kept.runDir);
    console.log(`healthy: kept after ${keptMs} ms, verify ${r.ms} ms`);
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    const lines = r.stdout.trimEnd().split('\n').slice(1);
    expect(lines.map((l) => l.split(':')[0])).toEqual([
      'PASS canary', 'PASS dead-letters', 'PASS alarms', 'SKIP drift', 'PASS event-source-mappings', 'PASS iterator-age',
    ]);
    expect(lines[3]).toMatch(/the local environment cannot detect drift/);
    await stop(kept);
    // Stopped: the tools say so in one line, exit 2.
    const after = verify(kept.runDir);
    expect(after.code).toBe(2);
    expect(after.stderr.trim().split('\n')).toHaveLength(1);
  }, 360_000);

  it('a kept run with the sink stalled fails: exit 1 naming dead-letters and alarms', async () => {
    const started = Date.now();
    kept = await startKept([...common(), '--stall-sink', '--drain-timeout', '60'], 240_000);
    const keptMs = Date.now() - started;
    const r = verify(kept.runDir, '--json');
    console.log(`stalled: kept after ${keptMs} ms, verify ${r.ms} ms`);
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(1);
    const doc = JSON.parse(r.stdout) as { ok: boolean; checks: Array<{ check: string; status: string; detail: string }> };
    expect(doc.ok).toBe(false);
    expect(doc.checks.map((c) => c.check)).toEqual(['canary', 'dead-letters', 'alarms', 'drift', 'event-source-mappings', 'iterator-age']);
    const failed = doc.checks.filter((c) => c.status === 'FAIL');
    expect(failed.map((c) => c.check)).toEqual(expect.arrayContaining(['dead-letters', 'alarms']));
    expect(failed.find((c) => c.check === 'dead-letters')!.detail).toMatch(/^\d+ message\(s\) in the DLQ .*at most 0 allowed/);
    expect(failed.find((c) => c.check === 'alarms')!.detail).toMatch(/DlqDepth/);
    await stop(kept);
  }, 360_000);
});
