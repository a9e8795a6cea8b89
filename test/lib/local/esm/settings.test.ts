import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runLocal } from '../../../../lib/local/run';
import { UnsupportedTemplateError } from '../../../../lib/local/template/errors';
import { ingestMapping, liveChildren, mutatedAssembly, runOptions, synthesizedExample } from '../support';

type Template = Record<string, any>;

function ingestFunctionId(t: Template): string {
  return Object.keys(t.Resources).find((id) => t.Resources[id].Type === 'AWS::Lambda::Function'
    && t.Resources[id].Properties.Environment?.Variables?.PHX_SINK_KIND !== undefined)!;
}

function ingestFunction(t: Template): Record<string, any> {
  return t.Resources[ingestFunctionId(t)].Properties;
}

/** The mapping into the ingest function (the example has a profiler mapping on the same stream too). */
function mapping(t: Template): Record<string, any> {
  const fn = ingestFunctionId(t);
  return Object.values<any>(t.Resources).find((r) => r.Type === 'AWS::Lambda::EventSourceMapping' && r.Properties.FunctionName?.Ref === fn).Properties;
}

describe('event source mapping settings behave as in AWS', () => {
  const exampleDir = synthesizedExample();

  it('a setting AWS rejects (BatchSize above 10,000) stops the run, naming the mapping and the property', async () => {
    const assembly = mutatedAssembly(exampleDir(), (t) => { mapping(t).BatchSize = 20_000; });
    const err = await runLocal(runOptions(assembly)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnsupportedTemplateError);
    expect((err as Error).message).toMatch(/^resource ClickstreamIngestStreamMapping[0-9A-F]+ \(AWS::Lambda::EventSourceMapping\): .*BatchSize/);
    expect(liveChildren()).toEqual([]);
  }, 120_000);

  // The handler gives up on a record after one failed sink write (PHX_RETRY_MAX_ATTEMPTS=1, and AWS_MAX_ATTEMPTS=1 turns
  // off the SDK's own retries) and reports it, and everything after it in the batch, as batch item failures. Only with
  // ReportBatchItemFailures does Lambda retry from there; without it, AWS ignores the response, counts the batch as
  // done and the records are lost.
  const retryOnce = (t: Template): void => {
    Object.assign(ingestFunction(t).Environment.Variables, { PHX_RETRY_MAX_ATTEMPTS: '1', AWS_MAX_ATTEMPTS: '1' });
  };

  it('with ReportBatchItemFailures, records the handler reports as failed are retried from the lowest failure: none lost', async () => {
    const assembly = mutatedAssembly(exampleDir(), retryOnce);
    const r = await runLocal(runOptions(assembly, { records: 400, sinkFailureRate: 0.02, seed: 21 }));
    const esm = ingestMapping(r);
    expect(esm.partialFailures).toBeGreaterThan(0);
    expect(esm.retries).toBeGreaterThan(0);
    expect(r.invariant.problems).toEqual([]);
    expect(r.lost).toBe(0);
    expect(r.duplicatesInSink).toBe(0);
    expect(r.sinkRecords).toBe(r.validRecords);
    expect(liveChildren()).toEqual([]);
  }, 150_000);

  it('without ReportBatchItemFailures, the partial-failure response is ignored as in AWS: records are lost, and the run says so', async () => {
    const assembly = mutatedAssembly(exampleDir(), (t) => {
      retryOnce(t);
      delete mapping(t).FunctionResponseTypes;
    });
    const r = await runLocal(runOptions(assembly, { records: 400, sinkFailureRate: 0.02, seed: 21 }));
    expect(r.metrics.BatchItemFailures).toBeGreaterThan(0);
    expect(ingestMapping(r).partialFailures).toBe(0);
    expect(r.lost).toBeGreaterThan(0);
    expect(r.accounting.lostValid).toBe(r.lost);
    expect(r.invariant.holds).toBe(false);
    expect(r.invariant.problems[0]).toBe(`${r.lost} valid record(s) neither in the sink nor dead-lettered`);
    expect(liveChildren()).toEqual([]);
  }, 150_000);

  it('MaximumRetryAttempts 0: a failed remainder goes to the on-failure bucket at once and is normalized into the DLQ; nothing is lost', async () => {
    const assembly = mutatedAssembly(exampleDir(), (t) => {
      retryOnce(t);
      mapping(t).MaximumRetryAttempts = 0;
    });
    const r = await runLocal(runOptions(assembly, { records: 400, sinkFailureRate: 0.02, seed: 21 }));
    const esm = ingestMapping(r);
    expect(esm.discardedToOnFailure).toBeGreaterThan(0);
    expect(r.lost).toBe(0);
    // Valid records end in the dead letters instead of the sink: the invariant says so.
    expect(r.accounting.validInDlq).toBeGreaterThan(0);
    expect(r.invariant.holds).toBe(false);
    // Records after the lowest failure that were written already are sent on-failure too (Lambda resumes from the
    // lowest failed record): they are in both places.
    expect(r.dlqByReason['esm-exhausted']).toBe(r.accounting.validInDlq + r.accounting.validInSinkAndDlq);
    // The S3 capture triggered the failure normalizer, which wrote DLQ messages v1 to the queue.
    const notified = Object.values(r.bucketNotifications)[0];
    expect(notified.delivered).toBeGreaterThan(0);
    const letters = readFileSync(path.join(r.runDir, 'dlq.jsonl'), 'utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l));
    const inQueue = letters.filter((l) => l.location.startsWith('http://127.0.0.1:') && l.reason === 'esm-exhausted');
    const inBucket = letters.filter((l) => l.location.startsWith('s3://'));
    expect(inBucket.length).toBe(esm.discardedToOnFailure);
    expect(inQueue.length).toBe(inBucket.length);
    expect(new Set(inQueue.map((l) => l.data))).toEqual(new Set(inBucket.map((l) => l.data)));
    expect(liveChildren()).toEqual([]);
  }, 150_000);
});
