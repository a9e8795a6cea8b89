import type { RunContext } from './context';
import { LocalRunError } from './errors';
import type { Pipeline } from './pipeline';
import { ProducedLog } from '../accounting';
import type { LocalClients } from '../clients';
import { PhasedWorkload } from '../phased-workload';
import { produce, type ProducerStats } from '../producer';
import { DEFAULT_LOCAL_WINDOW_SECONDS, type LocalQuality } from '../quality';
import { createWorkload, type Workload } from '../workloads';

/** The workload of the run: a phased clickstream (--phases, one phase per window), else the selected generator or file. */
export async function createRunWorkload(ctx: RunContext, pipeline: Pipeline, quality: LocalQuality): Promise<Workload> {
  const { opts } = ctx;
  if (opts.phases && (opts.input || (opts.workload && opts.workload !== 'clickstream'))) {
    throw new LocalRunError('--phases uses the built-in clickstream generator: it excludes --input and other --workload values');
  }
  const phaseSeconds = quality.windowSeconds() ?? opts.windowSeconds ?? DEFAULT_LOCAL_WINDOW_SECONDS;
  const workload: Workload = opts.phases
    ? new PhasedWorkload({ ...opts, phases: opts.phases, windowSeconds: phaseSeconds }, pipeline.rules)
    : await ctx.guard(createWorkload(opts, pipeline.rules));
  for (const n of workload.notes) ctx.log(n);
  ctx.progress.total = workload.total;
  return workload;
}

/** Produce phase: puts the workload on the pipeline's stream at the requested rate; logs every record put. */
export async function produceWorkload(
  ctx: RunContext,
  clients: LocalClients,
  pipeline: Pipeline,
  workload: Workload,
): Promise<{ produced: ProducedLog; producerStats: ProducerStats }> {
  const produced = new ProducedLog();
  const producerStats: ProducerStats = { put: 0, failed: 0, retriedEntries: 0, throttledEntries: 0, putRecordsCalls: 0 };
  const produceAbort = new AbortController();
  ctx.life.add('producer', () => produceAbort.abort());
  ctx.opts.signal?.addEventListener('abort', () => produceAbort.abort(), { once: true });
  await ctx.guard(produce(clients.kinesis, workload, {
    streamName: pipeline.streamName,
    rate: ctx.opts.rate,
    signal: produceAbort.signal,
    onPut: (rec, at) => { produced.record(rec, at); ctx.progress.produced = produced.recordsIn; },
  }, producerStats));
  return { produced, producerStats };
}
