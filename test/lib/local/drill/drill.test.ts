/**
 * The Phoenix drill on the local environment (the example app): the sink state rebuilt from the raw archive alone is
 * the same as before the destruction. And the hash it compares is order-independent but sensitive to what matters.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { sinkHash } from '../../../../lib/local/drill';
import type { SinkEnvelope } from '../../../../lib/local/verify';
import { cli } from '../../../support/replay';

const item = (id: string, eventTime: string, payload: unknown, hops = 1): SinkEnvelope => ({
  id, eventTime, payload, location: `t/${id}`, hops: Array.from({ length: hops }, (_, i) => ({ stage: 'ingest', in: i, out: i + 1, attempt: 1 })),
});

describe('sink hash', () => {
  it('is independent of order, key order and hops; keeps the newest version per id; changes with payload or eventTime', () => {
    const a = [item('1', '2025-01-01T00:00:00.000Z', { x: 1, y: 2 }), item('2', '2025-01-01T00:00:01.000Z', { z: [1] })];
    const base = sinkHash(a).hash;
    expect(sinkHash([...a].reverse()).hash).toBe(base);
    expect(sinkHash([item('1', '2025-01-01T00:00:00.000Z', { y: 2, x: 1 }, 3), a[1]]).hash).toBe(base);
    // A Kinesis sink holds every version: the newest one counts, as in the idempotent sinks.
    expect(sinkHash([...a, item('1', '2024-12-31T00:00:00.000Z', { x: 0 })]).hash).toBe(base);
    expect(sinkHash([item('1', '2025-01-01T00:00:00.001Z', { x: 1, y: 2 }), a[1]]).hash).not.toBe(base);
    expect(sinkHash([item('1', '2025-01-01T00:00:00.000Z', { x: 1, y: 3 }), a[1]]).hash).not.toBe(base);
    expect(sinkHash([a[0]]).hash).not.toBe(base);
  });
});

describe('phoenix drill', () => {
  it('runs a workload, deletes the stack (the archive retained), rebuilds from the template and the archive: same hash', async () => {
    const runsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'phx-drill-'));
    try {
      const r = await cli(['drill', '--records', '250', '--json', '--runs-dir', runsDir]);
      // (The AWS SDK may print Node.js version warnings; the drill itself prints nothing with --json.)
      expect(r.stderr).not.toMatch(/phoenix/);
      expect(r.code).toBe(0);
      const report = JSON.parse(r.stdout);
      expect(report.equal).toBe(true);
      expect(report.before.hash).toMatch(/^[0-9a-f]{64}$/);
      expect(report.after.hash).toBe(report.before.hash);
      // Not an empty comparison: most of the workload is in the sink (the rest is poison, dead-lettered).
      expect(report.before.items).toBeGreaterThan(200);
      expect(report.archive.records).toBe(250);
      expect(report.replay).toMatchObject({ replayed: 250, failed: 0 });
      expect(report.destroyed.streams).toBeGreaterThan(0);
      // PRODUCTION mode: the sink table is retained with the archive (orphaned, not deleted); the new stack has new ones.
      expect(report.destroyed.tables).toBe(0);
      expect(report.orphaned.map((o: { type: string }) => o.type).sort()).toEqual(['AWS::DynamoDB::Table', 'AWS::S3::Bucket', 'AWS::S3::Bucket']);
      expect(report.namesChanged).toBe(true);
      // The rebuild adopted the archive (fixed names, imported by the re-creation): the same bucket, its records, its
      // TLS-only policy and its access logging with the log bucket's delivery allow, created again with the stack.
      expect(report.archive).toMatchObject({ same: true, bucketAfter: report.archive.bucket, tlsOnly: true, accessLogs: { deliveryAllowed: true } });
      const adopted = report.adopted.map((a: { physicalName: string }) => a.physicalName).sort();
      expect(adopted).toEqual([report.archive.bucket, report.archive.accessLogs.bucket].sort());
      // Every other resource created by both deployments has a new name, unless the template names it.
      for (const id of Object.keys(report.names.after)) {
        if (id in report.names.before && report.names.after[id] === report.names.before[id]) {
          expect(report.unchanged).toContainEqual({ logicalId: id, physicalName: report.names.after[id], explicit: true });
        }
      }
    } finally {
      fs.rmSync(runsDir, { recursive: true, force: true });
    }
  }, 300_000);

  it('rejects bad input with one line, exit 2', async () => {
    const r = await cli(['drill', '--records', '0']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('phoenix: --records must be an integer between 1 and 1000000; got "0"\n');
  });
});
