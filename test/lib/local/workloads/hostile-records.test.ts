/**
 * A sample of the hostile-record suite through `phoenix local run --input` (emulators, the bundled handler): each
 * class ends where the suite says, on a stage configured as the suite's (HOSTILE_STAGE_ENV, no schema).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runLocal } from '../../../../lib/local/run';
import { HOSTILE_CLASSES, HOSTILE_STAGE_ENV } from '../../../../lib/local/workloads/hostile-records';
import { expectInvariant, liveChildren, mutatedAssembly, runOptions, synthesizedExample, tempDir } from '../support';

/** Classes a producer can put whose outcome holds at any clock and without the suite's canary key. */
const SAMPLE = HOSTILE_CLASSES.filter((c) => c.meta === undefined && Buffer.isBuffer(c.data) && !c.suiteClockOnly && !('canary' in c.expect));
const SCHEMA_VARIABLES = ['PHX_SCHEMA', 'PHX_SCHEMA_MODULE', 'PHX_EVENT_TIME_FIELD'];

/** The example's functions that compute ids (ingest, replay) configured as the suite's stage: its key fields and limits, no schema. */
function suiteStage(template: Record<string, any>): void {
  let stages = 0;
  for (const r of Object.values<any>(template.Resources)) {
    const vars = r.Type === 'AWS::Lambda::Function' ? r.Properties.Environment?.Variables : undefined;
    if (!vars?.PHX_KEY_FIELDS) continue;
    for (const name of SCHEMA_VARIABLES) delete vars[name];
    Object.assign(vars, HOSTILE_STAGE_ENV);
    stages++;
  }
  if (stages === 0) throw new Error('no function with PHX_KEY_FIELDS in the template');
}

describe('hostile-record suite through phoenix local run --input', () => {
  const exampleDir = synthesizedExample();

  it('each class of the sample is written, or dead-lettered with its reason', async () => {
    expect(SAMPLE.length).toBeGreaterThanOrEqual(40);
    const input = path.join(tempDir('hostile'), 'records.txt');
    writeFileSync(input, `${SAMPLE.map((c) => `base64:${(c.data as Buffer).toString('base64')}`).join('\n')}\n`);
    const r = await runLocal(runOptions(mutatedAssembly(exampleDir(), suiteStage), { input }));
    expectInvariant(r);
    const letters = readFileSync(path.join(r.runDir, 'dlq.jsonl'), 'utf8').split('\n').filter(Boolean)
      .map((l) => JSON.parse(l) as { reason: string; data?: string });
    const outcomes = SAMPLE.map((c) => {
      const found = letters.filter((l) => l.data === (c.data as Buffer).toString('base64')).map((l) => l.reason);
      return { name: c.name, outcome: found.length === 0 ? 'sink' : found.join(',') };
    });
    expect(outcomes).toEqual(SAMPLE.map((c) => ({ name: c.name, outcome: 'dlq' in c.expect ? c.expect.dlq : 'sink' })));
    const inSink = SAMPLE.filter((c) => 'sink' in c.expect).length;
    expect(r.validRecords).toBe(inSink);
    expect(r.sinkRecords).toBe(inSink);
    expect(r.dlqRecords).toBe(SAMPLE.length - inSink);
    expect(liveChildren()).toEqual([]);
  }, 200_000);
});
