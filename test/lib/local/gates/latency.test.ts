import { describe, expect, it } from 'vitest';
import { firehoseBufferDelayMs, fitLogNormal, LatencyGate } from '../../../../lib/local/gates/latency';
import { LATENCY_TABLE } from '../../../../lib/local/gates/latency-table';
import type { AwsCall } from '../../../../lib/local/gates/types';
import { Random } from '../../../../lib/local/random';

const call = (service: AwsCall['service'], operation: string): AwsCall => ({
  service, operation, action: `${service}:${operation}`, resources: [], principal: { arn: 'r', kind: 'role' }, requestBytes: 0,
});

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

describe('latency model', () => {
  it('--latency aws: sampled p50 and p99 of every operation match the table within 5% / 10%', () => {
    const r = new Random(42);
    const gate = new LatencyGate('aws', () => r.next());
    for (const [op, f] of Object.entries(LATENCY_TABLE)) {
      const [service, operation] = op.split(':') as [AwsCall['service'], string];
      const draws = Array.from({ length: 40_000 }, () => {
        const v = gate.before(call(service, operation));
        if (v.kind !== 'delay') throw new Error(`${op}: expected a delay, got ${v.kind}`);
        return v.ms;
      }).sort((a, b) => a - b);
      expect(Math.abs(percentile(draws, 0.5) / f.p50 - 1), `${op} p50`).toBeLessThan(0.05);
      expect(Math.abs(percentile(draws, 0.99) / f.p99 - 1), `${op} p99`).toBeLessThan(0.1);
    }
  });

  it('--latency none adds nothing; an operation without a figure is not delayed; a bad mode is refused', () => {
    expect(new LatencyGate('none', Math.random).before(call('dynamodb', 'PutItem'))).toEqual({ kind: 'allow' });
    expect(new LatencyGate('aws', Math.random).before(call('kinesis', 'ListShards'))).toEqual({ kind: 'allow' });
    expect(() => new LatencyGate('fast' as 'aws', Math.random)).toThrow(/--latency must be aws or none \(got fast\)/);
  });

  it('fits sigma from p50 and p99, rejects impossible figures, and Firehose waits its buffer interval', () => {
    expect(fitLogNormal({ p50: 10, p99: 10 }).sigma).toBe(0);
    expect(() => fitLogNormal({ p50: 10, p99: 5 })).toThrow(/0 < p50 <= p99/);
    expect(firehoseBufferDelayMs({ IntervalInSeconds: 60 })).toBe(60_000);
    expect(firehoseBufferDelayMs(undefined)).toBe(300_000);
  });
});
