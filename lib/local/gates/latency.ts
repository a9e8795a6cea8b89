/**
 * The latency gate: `--latency aws` delays each call by a draw from its operation's log-normal distribution
 * (fitted to the table's p50 and p99); `--latency none` adds nothing. Operations without a figure are not delayed.
 */
import { LATENCY_TABLE, type LatencyFigure } from './latency-table';
import type { AwsCall, GateVerdict, RequestGate } from './types';
import { PhoenixError } from '../../core/errors';

export type LatencyMode = 'aws' | 'none';

/** z of the 99th percentile of the standard normal distribution. */
const Z99 = 2.3263478740408408;

export interface LogNormal {
  readonly mu: number;
  readonly sigma: number;
}

/** The log-normal whose median is p50 and whose 99th percentile is p99. */
export function fitLogNormal(f: Pick<LatencyFigure, 'p50' | 'p99'>): LogNormal {
  if (!(f.p50 > 0) || !(f.p99 >= f.p50)) throw new PhoenixError('LATENCY_BAD_FIGURE', `latency figures need 0 < p50 <= p99 (got p50 ${f.p50}, p99 ${f.p99})`);
  return { mu: Math.log(f.p50), sigma: (Math.log(f.p99) - Math.log(f.p50)) / Z99 };
}

/** One draw (Box-Muller on two uniforms from `rng`). */
export function sampleLogNormal(d: LogNormal, rng: () => number): number {
  const u1 = Math.max(rng(), Number.MIN_VALUE);
  const z = Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * rng());
  return Math.exp(d.mu + d.sigma * z);
}

/** Firehose delivers a buffer when its interval or size fills, whichever first: at the latest after the interval. */
export function firehoseBufferDelayMs(hints: { readonly IntervalInSeconds?: number } | undefined): number {
  return (hints?.IntervalInSeconds ?? 300) * 1000;
}

/**
 * Lambda's own time per invocation under `--latency aws` (the `lambda:Invoke` figure): the orchestrator invokes
 * functions itself, so the overhead is drawn per invocation rather than by the emulator host's gate. `none`: undefined.
 */
export function invokeOverheadSampler(mode: LatencyMode, rng: () => number): (() => number) | undefined {
  if (mode !== 'aws') return undefined;
  const d = fitLogNormal(LATENCY_TABLE['lambda:Invoke']);
  return () => sampleLogNormal(d, rng);
}

export class LatencyGate implements RequestGate {
  readonly name = 'latency';
  private readonly fitted = new Map<string, LogNormal>();

  constructor(private readonly mode: LatencyMode, private readonly rng: () => number) {
    if (mode !== 'aws' && mode !== 'none') throw new PhoenixError('USAGE', `--latency must be aws or none (got ${String(mode)})`);
    for (const [op, f] of Object.entries(LATENCY_TABLE)) this.fitted.set(op, fitLogNormal(f));
  }

  before(call: AwsCall): GateVerdict {
    const d = this.mode === 'aws' ? this.fitted.get(`${call.service}:${call.operation}`) : undefined;
    return d ? { kind: 'delay', ms: sampleLogNormal(d, this.rng) } : { kind: 'allow' };
  }
}
