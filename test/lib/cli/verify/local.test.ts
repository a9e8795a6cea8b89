/** The local adapter of `phoenix verify`: a kept environment's kept-status.json and its DLQ (SQS mocked). */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { METRIC, METRICS_NAMESPACE } from '../../../../constructs/contract';
import { gatherLocal, LOCAL_DRIFT_SKIP, readKeptStatus } from '../../../../lib/cli/verify/local';
import { judge } from '../../../../lib/core/verify';
import { KEPT_STATUS_FILE, type KeptStatus, type LocalEnvFile } from '../../../../lib/local/keep';

const NOW = Date.parse('2026-12-07T12:00:00Z');
const canary = { namespace: METRICS_NAMESPACE, name: METRIC.canaryLatencyMs, dimensions: { Deployment: 'd', Pipeline: 'orders', Stage: 'ingest' } };
const env: LocalEnvFile = {
  region: 'us-east-1',
  endpoints: { kinesis: 'http://127.0.0.1:1', sqs: 'http://127.0.0.1:2', s3: 'http://127.0.0.1:2' },
  outputs: { PipelineName: 'orders', ProcessorName: 'P', DlqUrl: 'http://127.0.0.1:2/000000000000/dlq' },
};

function status(over: Partial<KeptStatus> = {}): KeptStatus {
  return {
    at: new Date(NOW - 1000).toISOString(),
    alarms: [
      { name: 'CanaryLatency', state: 'OK', metric: canary, threshold: 60_000 },
      { name: 'IteratorAge', state: 'OK', metric: { namespace: 'AWS/Lambda', name: 'IteratorAge', dimensions: { FunctionName: 'P' } }, threshold: 300_000 },
    ],
    mappings: [{ id: 'Mapping', functionName: 'P', state: 'Enabled' }],
    metrics: [
      { ...canary, points: [[NOW - 60_000, 1800]] },
      // Another pipeline's canary: not this one's.
      { ...canary, dimensions: { ...canary.dimensions, Pipeline: 'other' }, points: [[NOW - 1000, 999_999]] },
      { namespace: 'AWS/Lambda', name: 'IteratorAge', dimensions: { FunctionName: 'P' }, points: [[NOW - 30_000, 1200]] },
    ],
    ...over,
  };
}

let dir: string;
let sqsMock: ReturnType<typeof mockClient>;
const sqs = new SQSClient({ region: 'us-east-1' });
beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'phx-verify-local-'));
  sqsMock = mockClient(SQSClient);
  sqsMock.on(GetQueueAttributesCommand).resolves({ Attributes: { ApproximateNumberOfMessages: '0' } });
});
afterEach(() => {
  sqsMock.restore();
  rmSync(dir, { recursive: true, force: true });
});

const write = (s: unknown): void => writeFileSync(path.join(dir, KEPT_STATUS_FILE), typeof s === 'string' ? s : JSON.stringify(s));

describe('gatherLocal', () => {
  it('a healthy kept environment: every check passes but drift, SKIPped with the reason', async () => {
    write(status());
    const results = judge(await gatherLocal(dir, env, sqs, undefined, NOW), { windowMs: 15 * 60_000, maxDeadLetters: 0 });
    expect(results.map((r) => `${r.status} ${r.check}`)).toEqual([
      'PASS canary', 'PASS dead-letters', 'PASS alarms', 'SKIP drift', 'PASS event-source-mappings', 'PASS iterator-age',
    ]);
    expect(results[0].detail).toMatch(/1800 ms/);
    expect(results[3].detail).toBe(LOCAL_DRIFT_SKIP);
    expect(results[5].detail).toMatch(/max IteratorAge of P .* 1200 ms, bound 300000 ms \(the iterator age alarm threshold\)/);
    expect(sqsMock.commandCalls(GetQueueAttributesCommand)[0].args[0].input.QueueUrl).toBe(env.outputs.DlqUrl);
  });

  it('alarms in ALARM, dead letters and a disabled mapping fail', async () => {
    write(status({ alarms: [{ name: 'DlqDepth', state: 'ALARM' }], mappings: [{ id: 'Mapping', functionName: 'P', state: 'Disabled' }] }));
    sqsMock.on(GetQueueAttributesCommand).resolves({ Attributes: { ApproximateNumberOfMessages: '41' } });
    const results = judge(await gatherLocal(dir, env, sqs, undefined, NOW), { windowMs: 15 * 60_000, maxDeadLetters: 0 });
    expect(results.filter((r) => r.status === 'FAIL').map((r) => r.check)).toEqual(['dead-letters', 'alarms', 'event-source-mappings']);
    // Without its alarm the canary has no metric to read: SKIP.
    expect(results[0].status).toBe('SKIP');
  });
});

describe('readKeptStatus', () => {
  it('refuses a missing, malformed, incomplete or stale file, naming it', () => {
    expect(() => readKeptStatus(dir, NOW)).toThrow(/no kept-status\.json there/);
    write('{');
    expect(() => readKeptStatus(dir, NOW)).toThrow(/kept-status\.json is not valid JSON/);
    write({ at: new Date(NOW).toISOString() });
    expect(() => readKeptStatus(dir, NOW)).toThrow(/lacks at, alarms, mappings or metrics/);
    write(status({ at: new Date(NOW - 60_000).toISOString() }));
    expect(() => readKeptStatus(dir, NOW)).toThrow(/last written 60 s ago/);
    write(status());
    expect(readKeptStatus(dir, NOW).mappings).toHaveLength(1);
  });
});
