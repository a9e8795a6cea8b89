import { describe, expect, it } from 'vitest';
import { buildOrdersApp, ORDERS_STACK_NAME } from '../../../../examples/orders/app';
import { runLocal } from '../../../../lib/local/run';
import { expectInvariant, liveChildren, runOptions, tempDir } from '../support';

describe('phoenix local run on the other examples (--workload)', () => {
  it('IoT telemetry, synthesized from its own app.ts: every reading in the sink once, every bad one dead-lettered', async () => {
    // no assembly: the run synthesizes the app command, as `phoenix local run --app ...` does
    const r = await runLocal(runOptions('', {
      assembly: undefined,
      app: 'npx tsx examples/iot-telemetry/app.ts',
      workload: 'iot-telemetry',
      records: 300,
      poisonRate: 0.05,
      duplicateRate: 0.05,
      seed: 3,
    }));
    expectInvariant(r);
    expect(r.stack).toBe('IotTelemetry');
    expect(r.recordsIn).toBe(300);
    expect(r.poisonRecords).toBeGreaterThan(5);
    expect(r.duplicatesPut).toBeGreaterThan(5);
    expect(r.duplicatesSuppressed).toBe(r.duplicatesPut);
    expect(r.duplicatesRewritten).toBe(0);
    // oversize: records above the DynamoDB sink's default record limit (407,552 bytes) are made and dead-lettered
    expect(Object.keys(r.dlqByReason).sort()).toEqual(['decode', 'missing-key', 'oversize', 'schema']);
    // the profiler (a second consumer of the stream, 5-minute windows) and the archive ran alongside the ingest stage
    expect(Object.keys(r.eventSourceMappings).some((id) => id.startsWith('TelemetryProfilerStreamMapping'))).toBe(true);
    // the archive holds every record put, the synthetic canary's included (it fires at the start of a local run)
    expect(Object.values(r.deliveryStreams)[0].records).toBe(300 + r.canary.sent);
    expect(liveChildren()).toEqual([]);
  }, 240_000);

  it('orders: several versions per order, some out of order: the sink holds the newest version of every order', async () => {
    const dir = tempDir('orders-cdkout');
    buildOrdersApp({ nag: false, appProps: { outdir: dir } }).synth();
    const r = await runLocal(runOptions(dir, { stack: ORDERS_STACK_NAME, workload: 'orders', records: 300, poisonRate: 0.03, duplicateRate: 0.05, seed: 4 }));
    expectInvariant(r);
    expect(r.recordsIn).toBe(300);
    // fewer orders than version records: the sink's one item per order is its newest version (checked by content)
    expect(r.validRecords).toBeLessThan(200);
    expect(r.accounting.newerVersionsPut).toBeGreaterThan(50);
    // older versions that arrived after a newer one were suppressed as stale, not written over the newer one
    expect(r.metrics.StaleSuppressed).toBeGreaterThan(0);
    expect(r.duplicatesRewritten).toBe(0);
    expect(liveChildren()).toEqual([]);
  }, 240_000);
});
