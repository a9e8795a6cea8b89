import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { failedAssertions } from './cli';

const dirs: string[] = [];
afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));

/** A `cdk deploy --outputs-file` file with `outputs` as the assertion stack's outputs. */
function outputsFile(outputs: Record<string, string>): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'phx-integ-outputs-'));
  dirs.push(dir);
  const file = path.join(dir, 'outputs.json');
  writeFileSync(file, JSON.stringify({ PhoenixOrdersInteg: { StreamName: 's' }, PhoenixOrdersIntegDefaultTestDeployAssert9BF9FF73: outputs }));
  return file;
}

describe('integ:deploy reads the assertions\' results', () => {
  it('passes when every AssertionResults output is a success, whatever the other outputs', () => {
    expect(failedAssertions(outputsFile({ AssertionResultsA: '{"status":"success"}', AssertionResultsB: '{"status":"success"}' }))).toEqual([]);
  });
  it('names each failed or unreadable assertion result', () => {
    const failed = failedAssertions(outputsFile({
      AssertionResultsA: '{"status":"success"}',
      AssertionResultsB: '{"status":"fail","message":"Expected 1, got 0"}',
      AssertionResultsC: 'not json',
    }));
    expect(failed).toEqual(['AssertionResultsB: {"status":"fail","message":"Expected 1, got 0"}', 'AssertionResultsC: not json']);
  });
});
