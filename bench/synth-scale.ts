/**
 * Synth time per added pipeline (`npm run bench -- synth-scale [--pipelines=1,5,10,20] [--json]`): an app of N full
 * pipelines (quality and a CorrelatedMonitor), each in a DataPipelineStack of one parent, constructed and synthesized
 * in a fresh App per N after one warm-up synth (module loading and asset hashing are paid once). Linear when the
 * per-pipeline time at the largest N is close to that at the second size (ratio near 1).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { CorrelatedMonitor, DataPipelineStack, QualityRuleKind } from '../constructs';
import type { BenchResult } from './types';
import { TEST_ENV } from '../test/support/stacks';

const QUALITY = { rules: [{ name: 'volume', kind: QualityRuleKind.VOLUME }] };
export const DEFAULT_PIPELINES = [1, 5, 10, 20];
/** Per-pipeline time at the largest size over the second size's: above this the cost grows faster than linear. */
const LINEAR_RATIO_TARGET = 1.5;

export interface SynthScaleOptions {
  /** Pipeline counts, ascending, at least two. */
  readonly pipelines?: number[];
}

/** Milliseconds to construct and synthesize an app of `count` full pipelines in nested stacks. */
function synthMs(count: number): number {
  const outdir = mkdtempSync(path.join(tmpdir(), 'phx-synth-scale-'));
  try {
    const started = process.hrtime.bigint();
    const app = new App({ outdir });
    const parent = new Stack(app, 'Platform', { env: TEST_ENV });
    for (let i = 0; i < count; i++) {
      const pipelineStack = new DataPipelineStack(parent, `Pipeline${i}`, { pipelineName: `p${i}`, quality: QUALITY });
      pipelineStack.pipeline.profiler!.addToMonitor(new CorrelatedMonitor(pipelineStack, 'Monitor', { pipeline: pipelineStack.pipeline }));
    }
    app.synth();
    return Number(process.hrtime.bigint() - started) / 1e6;
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}

export async function runSynthScaleBench(opts: SynthScaleOptions = {}): Promise<BenchResult> {
  const sizes = opts.pipelines ?? DEFAULT_PIPELINES;
  synthMs(1); // warm-up
  const rows = sizes.map((n) => ({ pipelines: n, totalMs: synthMs(n) }))
    .map((r, i, all) => ({
      ...r,
      perPipelineMs: r.totalMs / r.pipelines,
      // Marginal cost: time added per pipeline since the previous size.
      perAddedPipelineMs: i === 0 ? r.totalMs / r.pipelines : (r.totalMs - all[i - 1].totalMs) / (r.pipelines - all[i - 1].pipelines),
    }));
  const last = rows[rows.length - 1];
  const base = rows[Math.min(1, rows.length - 1)];
  const ratio = last.perPipelineMs / base.perPipelineMs;
  const lines = [
    'synth-scale: full pipelines (quality + monitor) in DataPipelineStacks of one parent',
    ...rows.map((r) => `  ${String(r.pipelines).padStart(3)} pipelines: ${(r.totalMs / 1000).toFixed(1)} s total, ${r.perPipelineMs.toFixed(0)} ms/pipeline, ${r.perAddedPipelineMs.toFixed(0)} ms per added pipeline`),
    `  per-pipeline time at ${last.pipelines} / at ${base.pipelines}: ${ratio.toFixed(2)} (${ratio <= LINEAR_RATIO_TARGET ? 'linear' : 'worse than linear'})`,
  ];
  return {
    name: 'synth-scale',
    figures: { rows, linearityRatio: ratio },
    targets: [{ name: `per-pipeline synth time ${last.pipelines} vs ${base.pipelines} pipelines`, value: Number(ratio.toFixed(4)), target: LINEAR_RATIO_TARGET, op: '<=', pass: ratio <= LINEAR_RATIO_TARGET }],
    lines,
  };
}
