/** `--local`: finding a kept local environment and refusing a stale one (its process gone). */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { findRunningLocalEnv, processAlive, queueUrlProblem, readLocalEnv } from '../../../lib/cli/targets';
import { LOCAL_ENV_FILE, localPipelineOutputs } from '../../../lib/local/keep';
import { cli } from '../../support/cli';

/** The pid of a process that has exited. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', '0']);
  expect(processAlive(r.pid!)).toBe(false);
  return r.pid!;
}

const dirs: string[] = [];
function runDir(root: string, name: string, pid: number | undefined, mtime: number): string {
  const d = path.join(root, name);
  mkdirSync(d, { recursive: true });
  const file = path.join(d, LOCAL_ENV_FILE);
  writeFileSync(file, JSON.stringify({ region: 'us-east-1', endpoints: { kinesis: 'http://127.0.0.1:1', sqs: 'http://127.0.0.1:2', s3: 'http://127.0.0.1:2' }, outputs: {}, pid }));
  utimesSync(file, mtime / 1000, mtime / 1000);
  return d;
}
afterEach(() => { for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true }); });

describe('kept local environments', () => {
  it('finds the most recent one whose process is alive; none when all are stale', () => {
    const root = mkdtempSync(path.join(os.tmpdir(), 'phx-localenv-'));
    dirs.push(root);
    const dead = deadPid();
    expect(findRunningLocalEnv(path.join(root, 'missing'))).toBeUndefined();
    runDir(root, 'a-old-live', process.pid, 1_000_000);
    const newer = runDir(root, 'b-new-live', process.pid, 2_000_000);
    runDir(root, 'c-newest-dead', dead, 3_000_000);
    expect(findRunningLocalEnv(root)).toBe(newer);
    rmSync(newer, { recursive: true });
    expect(findRunningLocalEnv(root)).toBe(path.join(root, 'a-old-live'));
    rmSync(path.join(root, 'a-old-live'), { recursive: true });
    expect(findRunningLocalEnv(root)).toBeUndefined();
  });

  it('refuses a local-env.json whose process is gone, in one line naming the pid', () => {
    const root = mkdtempSync(path.join(os.tmpdir(), 'phx-localenv-'));
    dirs.push(root);
    const dead = deadPid();
    const d = runDir(root, 'stale', dead, Date.now());
    expect(() => readLocalEnv(d)).toThrow(`the local environment that wrote ${LOCAL_ENV_FILE} (pid ${dead}) is no longer running`);
    const live = runDir(root, 'live', process.pid, Date.now());
    expect(readLocalEnv(live).endpoints.sqs).toBe('http://127.0.0.1:2');
  });

  it('picks the outputs of the pipeline whose stream the workload used', () => {
    const outputs = {
      AStreamName1234ABCD: 'stream-a',
      ADlqUrl1234ABCD: 'http://q/a',
      BStreamName5678ABCD: 'stream-b',
      BDlqUrl5678ABCD: 'http://q/b',
    };
    const descriptions = {
      AStreamName1234ABCD: 'stream (pipeline a)',
      ADlqUrl1234ABCD: 'dlq (pipeline a)',
      BStreamName5678ABCD: 'stream (pipeline b)',
      BDlqUrl5678ABCD: 'dlq (pipeline b)',
    };
    expect(localPipelineOutputs('S', outputs, descriptions, 'stream-b')).toEqual({ StreamName: 'stream-b', DlqUrl: 'http://q/b' });
    expect(localPipelineOutputs('S', outputs, descriptions, 'stream-a')).toEqual({ StreamName: 'stream-a', DlqUrl: 'http://q/a' });
  });
});

describe('--queue-url', () => {
  it('accepts SQS queue URLs of AWS and of a local endpoint', () => {
    expect(queueUrlProblem('https://sqs.us-east-2.amazonaws.com/111111111111/orders-dlq')).toBeUndefined();
    expect(queueUrlProblem('http://127.0.0.1:4566/000000000000/orders-dlq')).toBeUndefined();
    expect(queueUrlProblem('http://sqs.us-east-1.127.0.0.1:45167/000000000000/orders-dlq')).toBeUndefined();
  });

  it.each(['not-a-url', 'ftp://sqs.us-east-2.amazonaws.com/1/q', 'https://sqs.us-east-2.amazonaws.com/orders-dlq', 'https://example.com/a/b/c'])(
    'refuses %s before any call: exit 2, one line', async (url) => {
      expect(queueUrlProblem(url)).toMatch(/is not an SQS queue URL: allowed https:\/\/sqs.<region>.amazonaws.com\/<account>\/<queue>/);
      const r = await cli(['dlq', 'list', '--queue-url', url]);
      expect(r.code).toBe(2);
      expect(r.stderr).toBe(`phoenix: ${queueUrlProblem(url)}\n`);
    });
});
