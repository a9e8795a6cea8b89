import { beforeAll, describe, expect, it } from 'vitest';
import { liveChildren, mutatedAssembly, runOptions, synthExample } from './support';
import { runLocal } from '../../../lib/local/run';
import { UnsupportedTemplateError } from '../../../lib/local/template/errors';

type Template = Record<string, any>;

function mapping(t: Template): Record<string, any> {
  return Object.values<any>(t.Resources).find((r) => r.Type === 'AWS::Lambda::EventSourceMapping').Properties;
}

function ingestFunction(t: Template): Record<string, any> {
  return Object.values<any>(t.Resources).find((r) => r.Type === 'AWS::Lambda::Function' && r.Properties.Environment?.Variables?.PHX_PIPELINE).Properties;
}

describe('event source mapping settings behave as in AWS', () => {
  let example: string;
  beforeAll(() => {
    example = synthExample().dir;
  }, 120_000);

  it('a setting AWS rejects (BatchSize above 10,000) stops the run, naming the mapping and the property', async () => {
    const assembly = mutatedAssembly(example, (t) => { mapping(t).BatchSize = 20_000; });
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
    const assembly = mutatedAssembly(example, retryOnce);
    const r = await runLocal(runOptions(assembly, { records: 400, sinkFailureRate: 0.02, seed: 21 }));
    const esm = Object.values(r.eventSourceMappings)[0];
    expect(esm.partialFailures).toBeGreaterThan(0);
    expect(esm.retries).toBeGreaterThan(0);
    expect(r.invariant.problems).toEqual([]);
    expect(r.lost).toBe(0);
    expect(r.duplicatesInSink).toBe(0);
    expect(r.sinkRecords).toBe(r.validRecords);
    expect(liveChildren()).toEqual([]);
  }, 150_000);

  it('without ReportBatchItemFailures, the partial-failure response is ignored as in AWS: records are lost, and the run says so', async () => {
    const assembly = mutatedAssembly(example, (t) => {
      retryOnce(t);
      delete mapping(t).FunctionResponseTypes;
    });
    const r = await runLocal(runOptions(assembly, { records: 400, sinkFailureRate: 0.02, seed: 21 }));
    expect(r.metrics.BatchItemFailures).toBeGreaterThan(0);
    expect(Object.values(r.eventSourceMappings)[0].partialFailures).toBe(0);
    expect(r.lost).toBeGreaterThan(0);
    expect(r.accounting.lostValid).toBe(r.lost);
    expect(r.invariant.holds).toBe(false);
    expect(r.invariant.problems[0]).toBe(`${r.lost} valid record(s) neither in the sink nor dead-lettered`);
    expect(liveChildren()).toEqual([]);
  }, 150_000);
});
