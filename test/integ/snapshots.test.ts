/**
 * CI's check of the integration tests (test/integ/integ.<example>.ts) without an AWS account: each test app is
 * synthesized again and its templates compared with the committed `integ.<example>.ts.snapshot/` (asset hashes left
 * out, as integ-runner's snapshot mode does: ./snapshot.ts); a difference or a missing snapshot fails. Nothing is
 * deployed. After an intended change: `npx projen integ:snapshot`, look at the diff, commit it.
 */
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { canonicalTemplate, compareAssemblies, exampleOf, integFiles, ROOT, snapshotDirOf, synthIntegApp } from './snapshot';

// The TypeScript example pipelines (a stack.ts each); examples/python is an app over the Python bindings.
const examples = readdirSync(path.join(ROOT, 'examples'))
  .filter((d) => statSync(path.join(ROOT, 'examples', d)).isDirectory() && existsSync(path.join(ROOT, 'examples', d, 'stack.ts'))).sort();

type Template = { Resources: Record<string, { Type: string; Properties: Record<string, unknown> }> };

/** A copy of the orders snapshot with `edit` applied to the orders stack's template. */
function editedOrdersSnapshot(edit: (template: Template) => void): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'phx-integ-edited-'));
  cpSync(snapshotDirOf('integ.orders.ts'), dir, { recursive: true });
  const file = path.join(dir, 'Orders.template.json');
  const template = JSON.parse(readFileSync(file, 'utf8'));
  edit(template);
  writeFileSync(file, JSON.stringify(template));
  return dir;
}

describe('integration test snapshots (synth and compare, no deployment)', () => {
  it('every example pipeline has an integration test', () => {
    expect(integFiles().map(exampleOf)).toEqual(examples);
  });

  it.each(integFiles())('%s synthesizes to its committed snapshot', (file) => {
    const actual = synthIntegApp(file);
    try {
      expect(compareAssemblies(snapshotDirOf(file), actual)).toEqual([]);
    } finally {
      rmSync(actual, { recursive: true, force: true });
    }
  }, 180_000);

  it('reports a changed property, a missing stack and a missing snapshot', () => {
    const edited = editedOrdersSnapshot((t) => {
      const mapping = Object.values(t.Resources).find((r) => r.Type === 'AWS::Lambda::EventSourceMapping')!;
      mapping.Properties.BatchSize = 7;
    });
    try {
      const problems = compareAssemblies(edited, snapshotDirOf('integ.orders.ts'));
      expect(problems).toHaveLength(1);
      expect(problems[0]).toMatch(/^Orders: the template differs from the snapshot:[\s\S]*BatchSize/);
      expect(compareAssemblies(snapshotDirOf('integ.orders.ts'), snapshotDirOf('integ.clickstream.ts'))).toEqual(expect.arrayContaining([
        'Orders: in the snapshot, not in the synthesized app', 'Clickstream: in the synthesized app, not in the snapshot',
      ]));
      expect(compareAssemblies(path.join(edited, 'none'), edited)).toEqual([expect.stringMatching(/^no snapshot: .*manifest\.json does not exist$/)]);
    } finally {
      rmSync(edited, { recursive: true, force: true });
    }
  });

  it('leaves asset hashes (by their position in the asset manifest) and the assertions\' salts out of the comparison', () => {
    const hash = 'a'.repeat(64);
    const template = {
      Resources: {
        Fn: { Type: 'AWS::Lambda::Function', Properties: { Code: { S3Key: `${hash}.zip` }, salt: '1' } },
        Call: { Type: 'Custom::DeployAssert@SdkCallSQSreceiveMessage', Properties: { QueueUrl: 'q', salt: '1796667246243' } },
      },
    };
    expect(canonicalTemplate(template, [hash])).toEqual({
      Resources: {
        Fn: { Type: 'AWS::Lambda::Function', Properties: { Code: { S3Key: 'Asset1.zip' }, salt: '1' } },
        Call: { Type: 'Custom::DeployAssert@SdkCallSQSreceiveMessage', Properties: { QueueUrl: 'q' } },
      },
    });
  });
});
