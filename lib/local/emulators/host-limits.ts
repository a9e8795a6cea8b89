/**
 * The emulator host's service limits and latency model: the limit and latency gates of its chain, the batch entries
 * they fail (sent to the emulator without them, merged back into its answer) and the Kinesis traffic per consumer
 * and writer the run report shows.
 */
import type { LimitsHostConfig, LimitsRegistration } from './protocol';
import { LatencyGate } from '../gates/latency';
import { LimitsGate } from '../gates/limits';
import { mergeFailed, withoutFailed } from '../gates/partial';
import { CONSUMER_HEADER, TrafficRecorder } from '../gates/traffic';
import type { AwsCall, EntryFailure, RequestGate } from '../gates/types';
import { Random } from '../random';

type Headers = Readonly<Record<string, string | string[] | undefined>>;
type Json = Record<string, unknown>;

const THROTTLED = 'ProvisionedThroughputExceededException';

export class HostLimits {
  readonly limits: LimitsGate;
  readonly latency: LatencyGate;
  readonly traffic = new TrafficRecorder();

  constructor(config: LimitsHostConfig, accountId: string) {
    const random = new Random(config.seed);
    this.limits = new LimitsGate({ accountId, limitsScale: config.scale });
    this.latency = new LatencyGate(config.latency, () => random.next());
  }

  get gates(): RequestGate[] {
    return [this.limits, this.latency];
  }

  register(registration: LimitsRegistration): void {
    for (const s of registration.streams) this.limits.setStream(s.arn, s.shards);
    for (const q of registration.queues) this.limits.setQueue(q.arn, q.maximumMessageSize);
  }

  /** Counts a Kinesis call the gates answered: forwarded (with `failures` entries failed) or rejected with `errorType`. */
  observe(calls: readonly AwsCall[], headers: Headers, outcome: { failures?: readonly EntryFailure[]; errorType?: string }): void {
    const call = calls[0];
    if (call?.service !== 'kinesis') return;
    const throttled = outcome.errorType === THROTTLED;
    if (isRead(call)) this.traffic.read(consumerOf(call, headers), call.resources[0], throttled);
    if (call.operation === 'PutRecords' || call.operation === 'PutRecord') {
      if (outcome.errorType !== undefined && !throttled) return;
      const total = call.kinesisRecords?.length ?? 0;
      this.traffic.write(writerOf(call), call.resources[0], total, throttled ? total : (outcome.failures?.length ?? 0));
    }
  }

  /** Records what a forwarded read returned, and charges its data bytes to the read limits. */
  observeResponse(calls: readonly AwsCall[], headers: Headers, body: string, nowMs: number): void {
    const call = calls[0];
    if (call?.service !== 'kinesis' || !isRead(call) || call.shardId === undefined) return;
    this.limits.read(call, this.traffic.readResult(consumerOf(call, headers), call.resources[0], call.shardId, body, nowMs), nowMs);
  }
}

/** A batch request with failed entries: the body to forward (undefined: none left) and the answer merging them back. */
export function partialBatch(operation: string, body: Buffer | Json, failures: readonly EntryFailure[]): {
  forward: Json | undefined;
  answer(response: Json | undefined): Json;
} {
  const request = Buffer.isBuffer(body) ? JSON.parse(body.toString('utf8')) as Json : body;
  return { forward: withoutFailed(operation, request, failures), answer: (response) => mergeFailed(operation, request, response, failures) };
}

function header(headers: Headers, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function consumerOf(call: AwsCall, headers: Headers): string {
  return header(headers, CONSUMER_HEADER) ?? call.principal.session ?? call.principal.arn;
}

/** A read of a shard: GetRecords (shared limits) or a subscription's SubscribeToShard (its consumer's own). */
function isRead(call: AwsCall): boolean {
  return call.operation === 'GetRecords' || call.operation === 'SubscribeToShard';
}

function writerOf(call: AwsCall): string {
  return call.principal.session ?? call.principal.arn;
}
