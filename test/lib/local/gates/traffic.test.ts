import { describe, expect, it } from 'vitest';
import { TrafficRecorder } from '../../../../lib/local/gates/traffic';

const STREAM = 'arn:aws:kinesis:us-east-1:000000000000:stream/s';
const answer = (arrivalsSeconds: number[]): string => JSON.stringify({ Records: arrivalsSeconds.map((t) => ({ ApproximateArrivalTimestamp: t })) });

describe('Kinesis traffic per consumer and writer', () => {
  it('counts reads and throttles per consumer; iterator age is the read time minus the last record\'s arrival, max and final', () => {
    const t = new TrafficRecorder();
    t.read('esm:f', STREAM, false);
    t.readResult('esm:f', STREAM, 'shardId-0', answer([10, 11]), 13_500);
    t.read('esm:f', STREAM, true);
    t.read('firehose:d', STREAM, false);
    t.readResult('firehose:d', STREAM, 'shardId-0', answer([]), 14_000);
    t.read('esm:f', STREAM, false);
    t.readResult('esm:f', STREAM, 'shardId-0', answer([12]), 12_400);
    const [f, d] = t.report().consumers;
    expect(f).toMatchObject({ consumer: 'esm:f', stream: 's', getRecordsCalls: 3, throttles: 1, records: 3, iteratorAgeMs: { max: 2500, final: 400 } });
    expect(d).toMatchObject({ consumer: 'firehose:d', getRecordsCalls: 1, throttles: 0, records: 0, iteratorAgeMs: { max: 0, final: 0 } });
  });

  it('final iterator age is the oldest shard\'s last read; writes count records in and throttled', () => {
    const t = new TrafficRecorder();
    t.readResult('c', STREAM, 'shardId-0', answer([1]), 3_000);
    t.readResult('c', STREAM, 'shardId-1', answer([1]), 1_500);
    expect(t.report().consumers[0].iteratorAgeMs).toEqual({ max: 2000, final: 2000 });
    t.write('producer', STREAM, 5, 2);
    t.write('producer', STREAM, 1, 1);
    expect(t.report().writers).toEqual([{ writer: 'producer', stream: 's', records: 3, throttled: 3 }]);
  });
});
