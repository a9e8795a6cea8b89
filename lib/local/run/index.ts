/**
 * `phoenix local run`: synthesizes (or loads) the app, starts the emulators, creates every resource of the stack,
 * runs its functions, event source mappings, schedules and delivery streams locally, puts a workload on the
 * pipeline's stream with the requested faults, waits until everything is processed, and checks the invariant
 * (every valid record in the sink exactly once, every bad record dead-lettered with its payload).
 * One module per phase: synth, provision, start, produce, drain, verify, report (and keep).
 */
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { RunContext } from './context';
import { drainRun } from './drain';
import { asRunError, LocalRunError } from './errors';
import { keepEnvironment } from './keep';
import { choosePipeline } from './pipeline';
import { createRunWorkload, produceWorkload } from './produce';
import { deployStack, registerLimits, startServices } from './provision';
import { buildReport, resolveOutputs } from './report';
import { startStack } from './start';
import { synthStack } from './synth';
import type { LocalRunOptions, LocalRunReport } from './types';
import { verifyRun } from './verify';
import { METRIC_DIMENSIONS } from '../../../constructs/contract';
import { summarizeDenials } from '../iam';
import { DEFAULT_ON_DEMAND_SHARDS, provision } from '../provision';
import { LocalQuality } from '../quality';

export { LocalRunError, LocalRunUsageError } from './errors';
export { chooseStack } from './synth';
export { traceRecords } from './report';
export type { LocalRunOptions, LocalRunReport, RunProgress, TraceResult } from './types';

/** Runs the stack locally; everything started is stopped before this resolves or rejects. */
export async function runLocal(opts: LocalRunOptions): Promise<LocalRunReport> {
  const ctx = new RunContext(opts);
  try {
    // The timer runs from the start, so progress (and its clock) shows during a synth of 30 s or more.
    ctx.emitProgress();
    ctx.startProgressTimer();
    ctx.lap();
    const { assembly, stack } = await synthStack(opts, ctx.runDir, ctx.life, (p) => ctx.guard(p));
    const quality = new LocalQuality(opts.windowSeconds);
    ctx.lapEnd('synth');

    ctx.lap();
    ctx.enter('start');
    deployStack(ctx.model, stack, (m, cause) => new LocalRunError(m, { cause }));
    const services = await startServices(stack, ctx.runDir, ctx.life, {
      portBase: opts.portBase,
      onUnexpectedExit: (message) => ctx.fail(new LocalRunError(message)),
      guard: (p) => ctx.guard(p),
      iam: opts.iam,
      limits: { scale: opts.limitsScale ?? 1, latency: opts.latency ?? 'none', seed: opts.seed },
    });
    const provisioned = await ctx.guard(provision(stack, assembly, services.clients, {
      onDemandShards: opts.onDemandShards ?? DEFAULT_ON_DEMAND_SHARDS, runDir: ctx.runDir, log: ctx.log,
    }));
    await ctx.guard(registerLimits(services, provisioned));
    for (const n of provisioned.notes) ctx.log(n);
    const started = await startStack(ctx, { stack, services, provisioned, quality });
    const pipeline = choosePipeline(started.kinesisMappings, opts.stream, provisioned);
    const workload = await createRunWorkload(ctx, pipeline, quality);
    ctx.lapEnd('start');

    ctx.lap();
    ctx.enter('produce');
    const { produced, producerStats } = await produceWorkload(ctx, services.clients, pipeline, workload);
    ctx.lapEnd('produce');

    ctx.lap();
    ctx.enter('drain');
    const { drained, qualityReport } = await drainRun(ctx, services.clients, started, quality, workload);
    ctx.lapEnd('drain');

    ctx.lap();
    ctx.enter('verify');
    const { sink, accounting } = await verifyRun(ctx, services, provisioned, pipeline, produced);
    const traffic = await ctx.guard(services.emulators.traffic());
    ctx.lapEnd('verify');

    ctx.finish();
    const report = buildReport(ctx, {
      stack: assembly.displayName,
      workload,
      produced,
      producerStats,
      accounting,
      drained,
      provisioned,
      sink,
      started,
      outputs: resolveOutputs(stack),
      stageDimensions: { [METRIC_DIMENSIONS.pipeline]: pipeline.config.pipeline, [METRIC_DIMENSIONS.stage]: pipeline.config.stage },
      traffic,
      iamEnforced: services.authz !== undefined,
      accessDenied: summarizeDenials(services.accessDenied),
    });
    if (qualityReport) report.quality = qualityReport;
    writeFileSync(path.join(ctx.runDir, 'summary.json'), `${JSON.stringify(report, null, 2)}\n`);
    if (opts.keep) await keepEnvironment(ctx, report, { assembly, stack, services, started, pipeline });
    return report;
  } catch (e) {
    throw asRunError(e);
  } finally {
    await ctx.dispose();
  }
}
