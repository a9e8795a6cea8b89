/**
 * An archive replay killed with SIGKILL and resumed (issue #14, item 3): for each archive size, `phoenix replay --from
 * archive --checkpoint <file>` runs as a child process against the local emulators (fauxqs S3 holds the archive,
 * kinesalite the target stream; no limits or latency gate), is killed by its pid once its checkpoint passed ~40 % of
 * the objects, and a second child continues with `--resume "$(cat <file>)"`. The stream is read back: every record
 * must be on it (the sink's final state keeps one per id; copies put again after the resume are counted). The peak
 * RSS (VmHWM) of each child is read from /proc while it runs, to show memory does not grow with the archive.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { KinesisClient } from '@aws-sdk/client-kinesis';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { writeArchive } from './shard-replay';
import type { BenchResult } from './types';
import { startEmulators } from '../lib/local/emulators';
import { writeLocalEnv } from '../lib/local/keep';
import { createActiveStream } from '../test/lib/local/esm/support';
import { countOrderIds, missingAndExtra } from '../test/support/replay';

export interface ReplayResumeBenchOptions {
  /** Archive sizes (records), each replayed, killed and resumed. Default 100,000 and 1,000,000. */
  readonly sizes?: readonly number[];
  /** Shards of each target stream. Default 4. */
  readonly shards?: number;
}

const REGION = 'us-east-1';
const credentials = { accessKeyId: 'local', secretAccessKey: 'local' };
const ROOT = path.resolve(__dirname, '..');
/** The first child is killed once its checkpoint is at or past this share of the objects. */
const KILL_AT = 0.4;

interface ChildRun {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly peakRssMb: number;
  readonly seconds: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Peak resident set (VmHWM) of a live process, MB; 0 once it is gone. */
function peakRssMb(pid: number): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

/** Runs `phoenix replay` with `args`; `killWhen` (polled every 100 ms) true = SIGKILL by pid. Bounded by `timeoutMs`. */
async function runChild(args: string[], killWhen: () => boolean, timeoutMs: number): Promise<ChildRun> {
  const t0 = performance.now();
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'bin', 'phoenix.ts'), 'replay', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (b: Buffer) => { stdout += b.toString(); });
  child.stderr.on('data', (b: Buffer) => { stderr += b.toString(); });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  let peak = 0;
  let done: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  void exited.then((d) => { done = d; });
  while (!done) {
    peak = Math.max(peak, peakRssMb(child.pid!));
    if (killWhen() || performance.now() - t0 > timeoutMs) process.kill(child.pid!, 'SIGKILL');
    await Promise.race([exited, delay(100)]);
  }
  return { ...done, peakRssMb: Math.round(peak), seconds: Math.round((performance.now() - t0) / 100) / 10, stdout, stderr };
}

interface SizeFigures {
  readonly records: number;
  readonly objects: number;
  /** The checkpoint the killed child left (`<key>:<records done>`). */
  readonly killedAt: string;
  readonly killedAfterSeconds: number;
  readonly resumedSeconds: number;
  readonly peakRssMbKilledRun: number;
  readonly peakRssMbResumedRun: number;
  readonly missing: number;
  /** Records on the stream more than once (put again after the resume: the sinks keep one). */
  readonly putTwice: number;
  readonly distinctOnStream: number;
}

/** One size: archive, first child killed past KILL_AT of the objects, second child resumed from the checkpoint. */
async function measureSize(kinesis: KinesisClient, s3: S3Client, runDir: string, n: number, shards: number): Promise<SizeFigures> {
  const tag = `r${n}`;
  const bucket = `archive-${n}`;
  const stream = `resume-${n}`;
  const arn = await createActiveStream(kinesis, stream, shards);
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  await writeArchive(s3, bucket, arn, n, tag);
  const objects = Math.ceil(n / 1000);
  const checkpoint = path.join(runDir, `${tag}.cursor`);
  const args = ['--from', 'archive', '--local', runDir, '--bucket', bucket, '--prefix', 'raw/', '--target-stream', stream, '--checkpoint', checkpoint, '--json'];
  const killAtKey = `raw/${tag}-${String(Math.floor(objects * KILL_AT) * 1000).padStart(8, '0')}.gz`;
  const passed = (): boolean => existsSync(checkpoint) && readFileSync(checkpoint, 'utf8').trim() >= killAtKey;
  const first = await runChild(args, passed, 30 * 60_000);
  if (first.signal !== 'SIGKILL') throw new Error(`the first replay of ${n} records ended before it was killed (code ${first.code}): ${first.stderr.slice(-500)}`);
  const killedAt = readFileSync(checkpoint, 'utf8').trim();
  const second = await runChild([...args, '--resume', killedAt], () => false, 30 * 60_000);
  if (second.code !== 0) throw new Error(`the resumed replay of ${n} records exited ${second.code ?? second.signal}: ${second.stderr.slice(-500)}`);
  const seen = await countOrderIds(kinesis, stream);
  const { missing, extra: putTwice } = missingAndExtra(seen, tag, n);
  return {
    records: n,
    objects,
    killedAt,
    killedAfterSeconds: first.seconds,
    resumedSeconds: second.seconds,
    peakRssMbKilledRun: first.peakRssMb,
    peakRssMbResumedRun: second.peakRssMb,
    missing,
    putTwice,
    distinctOnStream: seen.size,
  };
}

export async function runReplayResumeBench(opts: ReplayResumeBenchOptions = {}): Promise<BenchResult> {
  const sizes = opts.sizes ?? [100_000, 1_000_000];
  const shards = opts.shards ?? 4;
  const runDir = mkdtempSync(path.join(tmpdir(), 'phx-bench-replay-resume-'));
  const emulators = await startEmulators({ runDir, region: REGION });
  const kinesis = new KinesisClient({ region: REGION, endpoint: emulators.endpoints.kinesis, credentials });
  const s3 = new S3Client({ region: REGION, endpoint: emulators.endpoints.fauxqs, credentials, forcePathStyle: true });
  try {
    const e = emulators.endpoints;
    writeLocalEnv(runDir, { region: REGION, endpoints: { kinesis: e.kinesis, sqs: e.fauxqs, s3: e.fauxqs }, outputs: {} as never, pid: process.pid, stack: 'bench' });
    const runs: SizeFigures[] = [];
    for (const n of sizes) runs.push(await measureSize(kinesis, s3, runDir, n, shards));
    const small = runs[0];
    const large = runs[runs.length - 1];
    const peak = (f: SizeFigures): number => Math.max(f.peakRssMbKilledRun, f.peakRssMbResumedRun);
    const ratio = Math.round((peak(large) / peak(small)) * 100) / 100;
    return {
      name: 'replay-resume',
      figures: { shards, runs, peakRssRatioLargestToSmallest: ratio },
      targets: [
        { name: 'records missing from the stream after kill -9 and resume', value: runs.reduce((x, r) => x + r.missing, 0), target: 0, op: '<=', pass: runs.every((r) => r.missing === 0) },
        { name: `peak RSS ${large.records} / ${small.records} records`, value: ratio, target: 1.5, op: '<=', pass: ratio <= 1.5 },
      ],
      lines: [
        'archive on fauxqs S3, target on kinesalite (local emulators, no limits); replay killed with SIGKILL past 40 % of the objects, resumed from --checkpoint',
        ...runs.map((r) => `${r.records} records (${r.objects} objects): killed after ${r.killedAfterSeconds} s at ${r.killedAt}, resumed in ${r.resumedSeconds} s; `
          + `missing ${r.missing}, put twice ${r.putTwice} (the sinks keep one); peak RSS ${r.peakRssMbKilledRun} MB killed run, ${r.peakRssMbResumedRun} MB resumed run`),
        `peak RSS side by side: ${runs.map((r) => `${r.records} records ${peak(r)} MB`).join(' | ')} (ratio ${ratio})`,
      ],
    };
  } finally {
    kinesis.destroy();
    s3.destroy();
    await emulators.stop();
    rmSync(runDir, { recursive: true, force: true });
  }
}
