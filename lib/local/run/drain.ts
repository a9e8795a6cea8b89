import type { RunContext } from './context';
import type { StartedStack } from './start';
import type { LocalClients } from '../clients';
import type { EventSourcePoller } from '../esm';
import { PhasedWorkload } from '../phased-workload';
import type { LocalQuality, LocalQualityReport } from '../quality';
import type { Workload } from '../workloads';

export interface DrainOptions {
  /** Rounds over the pollers (default 2). */
  readonly rounds?: number;
  /** Stop at the first poller that does not drain. */
  readonly failFast?: boolean;
  readonly guard?: <T>(p: Promise<T>) => Promise<T>;
}

/**
 * Drains `pollers` twice in a row (a mapping's on-failure or a function's output can feed another mapping's
 * source); false when one did not reach the end of its source with nothing in flight by `deadline`.
 */
export async function drainPollers(pollers: readonly EventSourcePoller[], deadline: number, o: DrainOptions = {}): Promise<boolean> {
  const guard = o.guard ?? ((p) => p);
  let drained = true;
  for (let round = 0; round < (o.rounds ?? 2); round++) {
    for (const p of pollers) {
      if (await guard(p.drain({ timeoutMs: Math.max(0, deadline - Date.now()) }))) continue;
      drained = false;
      if (o.failFast) return false;
    }
  }
  return drained;
}

/**
 * Drain phase: every poller reached the end of its source with nothing in flight, the delivery streams and bucket
 * notifications flushed, the quality windows closed, the last alarm evaluation done. A mapping with a tumbling window
 * (e.g. a data-quality profiler) is drained and has its windows closed after the others (quality.finish).
 */
export async function drainRun(
  ctx: RunContext,
  clients: LocalClients,
  started: StartedStack,
  quality: LocalQuality,
  workload: Workload,
): Promise<{ drained: boolean; qualityReport: LocalQualityReport | undefined }> {
  const drainTimeoutMs = ctx.opts.drainTimeoutMs ?? 120_000;
  const deadline = Date.now() + drainTimeoutMs;
  const toDrain = ctx.pollers.filter((p) => p.windowSeconds === 0).map((p) => p.poller);
  const guard = <T>(p: Promise<T>): Promise<T> => ctx.guard(p);
  let drained = await drainPollers(toDrain, deadline, { guard });
  await ctx.guard(started.delivery.flush());
  // Bucket notifications (e.g. on-failure captures turned into dead letters), then anything they fed.
  await ctx.guard(started.notifications.flush());
  if (!(await drainPollers(toDrain, deadline, { guard, rounds: 1 }))) drained = false;
  if (!drained) ctx.log(`the pipeline did not finish processing within ${Math.round(drainTimeoutMs / 1000)} s (--drain-timeout); counting what is there`);
  const phased = workload instanceof PhasedWorkload ? workload : undefined;
  const qualityReport = await ctx.guard(quality.finish(clients.s3, { deadline, workload: phased }));
  for (const n of qualityReport?.notes ?? []) ctx.log(n);
  // Last service-metric sample and alarm evaluation (before the verification reads the queues).
  await ctx.guard(started.monitoring.stop());
  return { drained, qualityReport };
}
