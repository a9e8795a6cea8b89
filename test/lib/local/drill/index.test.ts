/**
 * The drill deletes the stack as CloudFormation does and creates it again: run twice on ~500 records (the second run
 * on the first run's cloud assembly, replaying through the stack's ReplayFunction), every generated name is new in each
 * re-creation and across runs, the archive buckets are orphaned, then adopted by the re-created stack and replayed, and
 * the hashes are equal.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runDrill, type DrillReport } from '../../../../lib/local/drill';

const REPO = path.resolve(__dirname, '../../../..');

function checkReport(r: DrillReport): void {
  expect(r.equal).toBe(true);
  expect(r.after.hash).toBe(r.before.hash);
  expect(r.before.items).toBeGreaterThan(450);
  expect(r.replay).toMatchObject({ replayed: 500, failed: 0 });
  expect(r.namesChanged).toBe(true);
  expect(r.unchanged.every((u) => u.explicit)).toBe(true);
  const ids = Object.keys(r.names.before);
  expect(ids.length).toBeGreaterThan(50);
  // The re-creation creates everything again but the adopted archive buckets (imported, not created).
  const adopted = new Set(r.adopted.map((a) => a.logicalId));
  expect(adopted.size).toBe(2);
  expect(Object.keys(r.names.after).sort()).toEqual(ids.filter((i) => !adopted.has(i)).sort());
  const explicit = new Set(r.unchanged.map((u) => u.logicalId));
  for (const id of ids.filter((i) => !explicit.has(i))) expect(r.names.after[id], id).not.toBe(r.names.before[id]);
  // The archive bucket: retained, orphaned under its fixed name, adopted by the new stack and replayed from.
  const archive = r.orphaned.find((o) => o.physicalName === r.archive.bucket);
  expect(archive).toMatchObject({ type: 'AWS::S3::Bucket' });
  expect(r.names.before[archive!.logicalId]).toBe(r.archive.bucket);
  expect(r.adopted).toContainEqual({ logicalId: archive!.logicalId, type: 'AWS::S3::Bucket', physicalName: r.archive.bucket });
  expect(r.archive).toMatchObject({ fromTemplate: true, records: 500, same: true, bucketAfter: r.archive.bucket, tlsOnly: true });
  expect(r.archive.accessLogs).toEqual({ bucket: expect.stringMatching(/-arclogs$/), deliveryAllowed: true });
  expect(r.failed).toEqual([]);
  expect(r.deleted).toBe(ids.length - r.orphaned.length);
}

describe('runDrill: CloudFormation delete and create', () => {
  it('twice (CLI replay, then ReplayFunction): new names for every recreated resource, the archive adopted and replayed, equal hashes', async () => {
    const runsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'phx-drill-cfn-'));
    try {
      const opts = { cwd: REPO, records: 500, runsDir, drainTimeoutMs: 120_000 };
      const first = await runDrill(opts);
      checkReport(first);
      expect(first.replayVia).toBe('cli');
      const second = await runDrill({ ...opts, assembly: path.join(first.runDir, 'cdk.out'), replayVia: 'function' });
      checkReport(second);
      expect(second.replayVia).toBe('function');
      const explicit = new Set(first.unchanged.map((u) => u.logicalId));
      for (const [id, name] of Object.entries(first.names.after)) {
        if (!explicit.has(id)) expect(second.names.before[id], id).not.toBe(name);
      }
    } finally {
      fs.rmSync(runsDir, { recursive: true, force: true });
    }
  }, 480_000);
});
