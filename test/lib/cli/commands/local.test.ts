/** `phoenix local run` misuse: exit 2 with one line, before any synth or emulator start. */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli } from '../../../support/cli';

/** Runs `phoenix local ...` and checks it was refused as a usage error: exit 2, one line on stderr, nothing on stdout. */
async function refused(args: string[]): Promise<string> {
  const started = Date.now();
  const r = await cli(['local', ...args]);
  expect(r.code, r.stderr).toBe(2);
  expect(r.stdout).toBe('');
  expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
  // Synthesizing the example takes more than 10 s here: a refusal this fast started nothing.
  expect(Date.now() - started).toBeLessThan(5000);
  return r.stderr;
}

describe('phoenix local run: usage errors', () => {
  it.each([
    [['run', '--hostile-rate', '2'], /--hostile-rate must be a number between 0 and 1; got "2"/],
    [['run', '--hostile-rate', 'lots'], /--hostile-rate must be a number between 0 and 1; got "lots"/],
    [['run', '--hostile-rate', '0.02', '--input', 'package.json'], /--input and --hostile-rate exclude each other/],
    [['run', '--hostile-rate', '0.02', '--phases', 'clean', '--rate', '10'], /--phases and --hostile-rate exclude each other/],
  ])('%j', async (args, message) => {
    expect(await refused(args)).toMatch(message);
  });
});

describe('phoenix local run: input and stack checked before synth', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'phx-cli-local-'));
  const file = (name: string, text: string | Buffer): string => {
    writeFileSync(path.join(dir, name), text);
    return path.join(dir, name);
  };
  // A cloud assembly with one stack (its template is never read: the stack is looked up in the manifest).
  const assembly = path.join(dir, 'cdk.out');
  mkdirSync(assembly);
  writeFileSync(path.join(assembly, 'manifest.json'), JSON.stringify({
    version: '48.0.0',
    artifacts: { Real: { type: 'aws:cloudformation:stack', environment: 'aws://unknown-account/unknown-region', properties: { templateFile: 'Real.template.json' } } },
  }));
  writeFileSync(path.join(assembly, 'Real.template.json'), '{"Resources":{}}');

  it.each([
    ['--input a directory', () => ['run', '--input', dir], /--input .* is a directory: give a file with one record per line/],
    ['--input missing', () => ['run', '--input', path.join(dir, 'none.txt')], /cannot read --input .*none.txt: ENOENT/],
    ['--input with a line over 1 MiB', () => ['run', '--input', file('big.txt', `{"a":1}\n"${'x'.repeat(1_048_576)}"\n`)], /big.txt:2: 1048578 bytes is above the Kinesis record limit/],
    ['--input with a bad base64: line', () => ['run', '--input', file('b64.txt', '{"a":1}\nbase64:%%%\n')], /b64.txt:2: invalid base64 after "base64:"/],
    ['--stack the assembly does not have', () => ['run', '--assembly', assembly, '--stack', 'DoesNotExist'], /no stack named DoesNotExist; the assembly has: Real/],
    ['--assembly that is not one', () => ['run', '--assembly', dir], /is not a cloud assembly \(no manifest.json\)/],
  ])('%s', async (_name, args, message) => {
    expect(await refused(args())).toMatch(message);
  });
});

describe('unknown ids: exit 2 naming the id', () => {
  it('local trace <unknown>', async () => {
    const runDir = mkdtempSync(path.join(os.tmpdir(), 'phx-cli-trace-'));
    writeFileSync(path.join(runDir, 'sink.jsonl'), `${JSON.stringify({ v: 1, id: 'id-1', correlationId: 'c-1', hops: [], payload: {} })}\n`);
    expect(await refused(['trace', 'no-such-record', '--run', runDir])).toMatch(/no record with correlation id or record id no-such-record in the sink of /);
  });
});

describe('phoenix local run: Ctrl-C', () => {
  it('exits 130 with one line saying everything started was stopped (interrupted during synth)', async () => {
    const repo = path.resolve(__dirname, '../../../..');
    const runs = mkdtempSync(path.join(os.tmpdir(), 'phx-cli-sigint-'));
    const child = spawn(process.execPath, [path.join(repo, 'assets', 'bin', 'phoenix', 'index.js'), 'local', 'run', '--records', '10', '--runs-dir', runs],
      { cwd: repo, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => { stderr += c.toString(); });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    // Synthesizing the example takes 30 s or more: 8 s in, the CLI has loaded (slow on a loaded machine) and is synthesizing.
    await new Promise((r) => setTimeout(r, 8000));
    child.kill('SIGINT');
    const code = await Promise.race([exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 50_000))]);
    if (code === 'timeout') child.kill('SIGKILL');
    expect(code).toBe(130);
    expect(stderr).toMatch(/phoenix: SIGINT: stopping the local environment\.\.\.\nphoenix: interrupted; everything started was stopped\n$/);
  }, 70_000);
});
