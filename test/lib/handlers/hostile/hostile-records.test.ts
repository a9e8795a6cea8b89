/** The hostile-record suite through the real handler: each class reaches its expected outcome, nothing stalls. */
import { describe, expect, it } from 'vitest';
import { HOSTILE_CANARY_KEY, HOSTILE_CLASSES, HOSTILE_NOW_MS, HOSTILE_STAGE_ENV, type HostileClass } from '../../../../lib/local/workloads/hostile-records';
import { harnessPerTest } from '../support/harness';
import { kinesisRecord } from '../support/kinesis';

const harness = harnessPerTest();

/** A Kinesis event record of the class: its data, and its metadata overrides applied (undefined deletes a field). */
function recordOf(c: HostileClass): unknown {
  const rec = kinesisRecord(Buffer.isBuffer(c.data) ? c.data : { base64: '' }, 0) as unknown as {
    kinesis: Record<string, unknown>; eventID: unknown; eventSourceARN: unknown;
  };
  if (!Buffer.isBuffer(c.data)) rec.kinesis.data = c.data.base64;
  const m = c.meta ?? {};
  const set = (o: Record<string, unknown>, k: string, field: keyof typeof m): void => {
    if (field in m) o[k] = m[field];
  };
  set(rec.kinesis, 'approximateArrivalTimestamp', 'arrival');
  set(rec.kinesis, 'sequenceNumber', 'sequenceNumber');
  set(rec.kinesis, 'partitionKey', 'partitionKey');
  set(rec as unknown as Record<string, unknown>, 'eventID', 'eventID');
  set(rec as unknown as Record<string, unknown>, 'eventSourceARN', 'eventSourceARN');
  return rec;
}

describe('hostile-record suite (through the handler)', () => {
  it('has at least 40 classes, each named once', () => {
    expect(HOSTILE_CLASSES.length).toBeGreaterThanOrEqual(40);
    expect(new Set(HOSTILE_CLASSES.map((c) => c.name)).size).toBe(HOSTILE_CLASSES.length);
  });

  it.each(HOSTILE_CLASSES.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const h = harness(HOSTILE_STAGE_ENV, { canaryKey: HOSTILE_CANARY_KEY });
    h.clock.t = HOSTILE_NOW_MS;
    const res = await h.run({ Records: [recordOf(c)] } as never);
    expect(res.batchItemFailures).toEqual([]);
    const dead = h.dlqMessages();
    const canaries = h.stdout.json().filter((l) => l.message === 'canary received').length;
    if ('dlq' in c.expect) {
      expect(dead.map((m) => m.reason.class)).toEqual([c.expect.dlq]);
      expect(h.sink.envelopes).toHaveLength(0);
    } else if ('canary' in c.expect) {
      expect(canaries).toBe(1);
      expect(dead).toHaveLength(0);
      expect(h.sink.envelopes).toHaveLength(0);
    } else {
      expect(dead.map((m) => `${m.reason.class}: ${m.reason.message}`)).toEqual([]);
      expect(h.sink.envelopes).toHaveLength(1);
      expect(canaries).toBe(0);
      expect(c.stored?.(h.sink.envelopes[0].payload)).toBeUndefined();
    }
  });
});
