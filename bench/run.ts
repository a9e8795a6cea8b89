/**
 * Benchmark dispatcher (`npm run bench`, `npx tsx bench/run.ts [names...] [--json] [--flag=value...]`).
 * Runs the named benchmarks (all when none is named), prints their figures and a PASS/MISS line per target;
 * `--json` prints one JSON object instead. Exit code 0 whatever the targets (a MISS is a measurement); 1 when a benchmark
 * threw (printed as FAILED, in JSON under `failed`), after the others ran.
 * Add a benchmark by registering it in BENCHMARKS.
 */
import { runHandlerBench } from './handler';
import { runLocalBench } from './local';
import { runProfileBench } from './profile';
import { runReplayBench } from './replay';
import { runReplayResumeBench } from './replay-resume';
import { runShardBench } from './shard';
import { runShardReplayBench } from './shard-replay';
import { runSynthScaleBench } from './synth-scale';
import type { Benchmark, BenchResult, BenchTarget } from './types';

function int(flags: Readonly<Record<string, string>>, name: string): number | undefined {
  const v = flags[name];
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer; got ${JSON.stringify(v)}`);
  return n;
}

/** `--sizes=100000,300000`: positive integers, ascending. */
function sizes(v: string | undefined): number[] | undefined {
  if (v === undefined) return undefined;
  const xs = v.split(',').map(Number);
  if (xs.length === 0 || xs.some((n) => !Number.isSafeInteger(n) || n < 1000) || xs.some((n, i) => i > 0 && n <= xs[i - 1])) {
    throw new Error(`--sizes must be ascending integers of at least 1000 records, comma-separated; got ${JSON.stringify(v)}`);
  }
  return xs;
}

/** `--pipelines=1,5,10,20`: at least two positive integers, ascending. */
function pipelineCounts(v: string | undefined): number[] | undefined {
  if (v === undefined) return undefined;
  const xs = v.split(',').map(Number);
  if (xs.length < 2 || xs.some((n) => !Number.isSafeInteger(n) || n < 1) || xs.some((n, i) => i > 0 && n <= xs[i - 1])) {
    throw new Error(`--pipelines must be at least two ascending positive integers, comma-separated; got ${JSON.stringify(v)}`);
  }
  return xs;
}

function target(name: string, value: number, op: '>=' | '<=', t: number): BenchTarget {
  return { name, value: Number(value.toFixed(4)), target: t, op, pass: op === '>=' ? value >= t : value <= t };
}

/** The QualityProfiler benchmark: runProfileBench prints its own report (unless --json); the targets are checked here. */
async function profileBench(json: boolean): Promise<BenchResult> {
  const f = runProfileBench({ json });
  const worstRank = Math.max(...f.accuracy.quantiles.flatMap((q) => [q.p50, q.p95, q.p99]));
  const worstDistinct = Math.max(...f.accuracy.distinct.map((d) => d.meanAbsRelError));
  const targets = [
    target('profile records/s / JSON.parse floor (bundled, as the Lambda runs it)', f.throughputBundled.ratioToParseFloor, '>=', 0.5),
    target('serialized per-shard state bytes (20 columns)', f.state.serializedBytes, '<=', 256 * 1024),
    target('worst p50/p95/p99 rank error', worstRank, '<=', 0.01),
    target('worst mean distinct-count error', worstDistinct, '<=', 0.02),
  ];
  if (f.heap.growthBytes !== null) targets.push(target('heap growth 1e4 -> 1e6 records (bytes)', f.heap.growthBytes, '<=', 8 * 1024 * 1024));
  return { name: 'profile', figures: f as unknown as Record<string, unknown>, targets, lines: [] };
}

export const BENCHMARKS: Record<string, Benchmark> = {
  // --records=20000 --seed=1 --next-shards=4; levers: --batch-size --record-concurrency --parallelization-factor --sdk-max-sockets
  'shard': (flags) => runShardBench({
    sdkMaxSockets: int(flags, 'sdk-max-sockets'),
    records: int(flags, 'records'),
    seed: int(flags, 'seed'),
    nextShards: int(flags, 'next-shards'),
    batchSize: int(flags, 'batch-size'),
    recordConcurrency: int(flags, 'record-concurrency'),
    parallelizationFactor: int(flags, 'parallelization-factor'),
  }),
  // --records=3000 --shards=2 --limits-scale=10: archive and DLQ replay at the target stream's scaled write limit
  'shard-replay': (flags) => runShardReplayBench({ records: int(flags, 'records'), shards: int(flags, 'shards'), limitsScale: int(flags, 'limits-scale') }),
  // --sizes=100000,1000000 --shards=4: archive replay killed with SIGKILL and resumed from its checkpoint; peak RSS per size
  'replay-resume': (flags) => runReplayResumeBench({ sizes: sizes(flags.sizes), shards: int(flags, 'shards') }),
  // --records=100000 --batch-size=100 --rounds=5
  'handler': (flags) => runHandlerBench({ records: int(flags, 'records'), batchSize: int(flags, 'batch-size'), rounds: int(flags, 'rounds') }),
  'profile': (flags) => profileBench(flags.json === 'true'),
  // --pipelines=1,5,10,20: synth time per added full pipeline (DataPipelineStack each)
  'synth-scale': (flags) => runSynthScaleBench({ pipelines: pipelineCounts(flags.pipelines) }),
  // --pipeline-records=3000 --raw-records=20000
  'local': (flags) => runLocalBench({ records: int(flags, 'pipeline-records'), rawRecords: int(flags, 'raw-records') }),
  // --records=20000 --baseline-records=2000 --duplicate-records=2000 --shards=4
  'replay': (flags) => runReplayBench({
    records: int(flags, 'records'),
    baselineRecords: int(flags, 'baseline-records'),
    duplicateCheckRecords: int(flags, 'duplicate-records'),
    shards: int(flags, 'shards'),
  }),
};

async function main(argv: readonly string[]): Promise<void> {
  const flags: Record<string, string> = {};
  const names: string[] = [];
  let json = false;
  for (const a of argv) {
    if (a === '--json') {
      json = true;
      flags.json = 'true';
    } else if (a.startsWith('--')) {
      const [k, ...v] = a.slice(2).split('=');
      flags[k] = v.join('=');
    } else {
      names.push(a);
    }
  }
  const selected = names.length > 0 ? names : Object.keys(BENCHMARKS);
  for (const n of selected) {
    if (!BENCHMARKS[n]) throw new Error(`unknown benchmark ${JSON.stringify(n)}; known: ${Object.keys(BENCHMARKS).join(', ')}`);
  }
  const results: BenchResult[] = [];
  const failed: Record<string, string> = {};
  for (const n of selected) {
    // One benchmark that throws is reported and the others still run: a crash, unlike a MISS, exits 1 at the end.
    try {
      const r = await BENCHMARKS[n](flags);
      results.push(r);
      if (!json) printResult(r);
    } catch (e) {
      failed[n] = e instanceof Error ? e.message : String(e);
      if (!json) console.log(`  FAILED ${n}: ${failed[n]}`);
    }
  }
  if (json) {
    process.stdout.write(JSON.stringify({
      benchmarks: Object.fromEntries(results.map((r) => [r.name, { ...r.figures, targets: r.targets }])),
      ...(Object.keys(failed).length > 0 ? { failed } : {}),
    }) + '\n');
  }
  if (Object.keys(failed).length > 0) process.exitCode = 1;
}

function printResult(r: BenchResult): void {
  for (const l of r.lines) console.log(l);
  for (const t of r.targets) console.log(`  ${t.pass ? 'PASS' : 'MISS'} ${t.name} = ${t.value} (target ${t.op} ${t.target})`);
}

main(process.argv.slice(2)).catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
