/**
 * The drill deletes the stack as CloudFormation does and creates it again: run twice on ~500 records (the second run
 * on the first run's cloud assembly), every generated name is new in each re-creation and across runs, the archive
 * bucket is orphaned and replayed, and the hashes are equal.
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
  expect(Object.keys(r.names.after).sort()).toEqual([...ids].sort());
  const explicit = new Set(r.unchanged.map((u) => u.logicalId));
  for (const id of ids.filter((i) => !explicit.has(i))) expect(r.names.after[id], id).not.toBe(r.names.before[id]);
  // The archive bucket: retained, orphaned under its old name, replayed from; the new stack has a new one.
  const archive = r.orphaned.find((o) => o.physicalName === r.archive.bucket);
  expect(archive).toMatchObject({ type: 'AWS::S3::Bucket' });
  expect(r.names.before[archive!.logicalId]).toBe(r.archive.bucket);
  expect(r.names.after[archive!.logicalId]).not.toBe(r.archive.bucket);
  expect(r.archive).toMatchObject({ fromTemplate: true, records: 500 });
  expect(r.failed).toEqual([]);
  expect(r.deleted).toBe(ids.length - r.orphaned.length);
}

describe('runDrill: CloudFormation delete and create', () => {
  it('twice: new names for every recreated resource, the archive orphaned and replayed, equal hashes', async () => {
    const runsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'phx-drill-cfn-'));
    try {
      const opts = { cwd: REPO, records: 500, runsDir, drainTimeoutMs: 120_000 };
      const first = await runDrill(opts);
      checkReport(first);
      const second = await runDrill({ ...opts, assembly: path.join(first.runDir, 'cdk.out') });
      checkReport(second);
      const explicit = new Set(first.unchanged.map((u) => u.logicalId));
      for (const [id, name] of Object.entries(first.names.after)) {
        if (!explicit.has(id)) expect(second.names.before[id], id).not.toBe(name);
      }
    } finally {
      fs.rmSync(runsDir, { recursive: true, force: true });
    }
  }, 480_000);
});
