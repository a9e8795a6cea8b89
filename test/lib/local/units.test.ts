import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import type { KinesisClient } from '@aws-sdk/client-kinesis';
import { describe, expect, it, vi } from 'vitest';
import { REPO, tempDir } from './support';
import { main } from '../../../lib/cli';
import { recordId } from '../../../lib/core';
import { account, ProducedLog } from '../../../lib/local/accounting';
import { AsyncInvoker } from '../../../lib/local/async-invoke';
import type { LocalClients } from '../../../lib/local/clients';
import { evaluatePrefix } from '../../../lib/local/firehose';
import type { LocalFunction } from '../../../lib/local/functions';
import { MetricsStore, summarize } from '../../../lib/local/metrics';
import { produce, type ProducerStats } from '../../../lib/local/producer';
import type { ProvisionedStack } from '../../../lib/local/provision';
import { nextFire, parseScheduleExpression, startSchedules } from '../../../lib/local/scheduler';
import { ACCEPTED_TYPES, RUN_TYPES } from '../../../lib/local/template/resource-types';
import { sha256, type DeadLetter, type SinkEnvelope } from '../../../lib/local/verify';
import { ClickstreamWorkload, FileWorkload, type PipelineRules, type WorkloadRecord } from '../../../lib/local/workloads';

const NS = '3f1c8f0e-3b5a-5d3e-9a77-2b1f0c9d4e10';
const rules: PipelineRules = {
  namespace: NS,
  keyFields: ['userId', 'sessionId', 'seq'],
  validate: (p) => (typeof (p as { eventType?: unknown }).eventType === 'string' ? null : '/eventType must be string'),
  maxRecordBytes: 10_000,
};

function drain(w: { next(): WorkloadRecord | undefined }): WorkloadRecord[] {
  const out: WorkloadRecord[] = [];
  for (let r = w.next(); r; r = w.next()) out.push(r);
  return out;
}

describe('workload', () => {
  it('is reproducible per seed (ids, kinds, partition keys), mixes every usable poison kind and real duplicates', () => {
    const opts = { records: 600, seed: 42, poisonRate: 0.1, duplicateRate: 0.1 };
    const a = drain(new ClickstreamWorkload(opts, rules));
    const b = drain(new ClickstreamWorkload(opts, rules));
    // Event times are the time of production, so only ids (natural keys), kinds and partition keys repeat.
    const shape = (r: WorkloadRecord): string => `${r.kind}:${r.poisonKind ?? ''}:${r.id ?? ''}:${r.partitionKey}`;
    expect(a.map(shape)).toEqual(b.map(shape));
    expect(a).toHaveLength(600);
    expect(new Set(a.filter((r) => r.kind === 'poison').map((r) => r.poisonKind)))
      .toEqual(new Set(['invalid-utf8', 'non-json', 'json-array', 'schema-violation', 'missing-key', 'oversize', 'deeply-nested', 'huge-number']));
    for (const d of a.filter((r) => r.kind === 'duplicate')) {
      const orig = a.find((r) => r.kind === 'valid' && r.id === d.id)!;
      expect(d.data.equals(orig.data)).toBe(true);
      expect(d.index).toBeGreaterThan(orig.index);
    }
    for (const v of a.filter((r) => r.kind === 'valid')) {
      expect(v.id).toBe(recordId(JSON.parse(v.data.toString('utf8')), NS, rules.keyFields));
    }
    expect(new Set(a.filter((r) => r.kind === 'valid').map((r) => r.id)).size).toBe(a.filter((r) => r.kind === 'valid').length);
    const oversize = a.find((r) => r.poisonKind === 'oversize')!;
    expect(oversize.data.length).toBeGreaterThan(rules.maxRecordBytes);
  });

  it('skips kinds that cannot apply, with a note', () => {
    const bare: PipelineRules = { ...rules, validate: undefined, keyFields: [], maxRecordBytes: 1_048_576 };
    const w = new ClickstreamWorkload({ records: 10, seed: 1, poisonRate: 0.5, duplicateRate: 0 }, bare);
    expect(w.notes.join('\n')).toMatch(/schema-violation records are not generated/);
    expect(w.notes.join('\n')).toMatch(/missing-key records are not generated/);
    expect(w.notes.join('\n')).toMatch(/oversize records are not generated/);
    expect(w.notes.join('\n')).toMatch(/empty records are not generated: Kinesis rejects/);
  });

  it('refuses to run when the generated events do not match the function schema', () => {
    expect(() => new ClickstreamWorkload({ records: 1, seed: 1, poisonRate: 0, duplicateRate: 0 }, { ...rules, validate: () => '/ must have required property \'sku\'' }))
      .toThrow(/does not match the function's schema \(\/ must have required property 'sku'\); pass --input FILE/);
  });

  it('reads --input files: JSON lines, base64: lines, classified as the pipeline would, identical lines as duplicates', () => {
    const file = path.join(tempDir('input-unit'), 'in.txt');
    const ok = JSON.stringify({ userId: 'u', sessionId: 's', seq: 1, eventType: 'click' });
    writeFileSync(file, [ok, '', 'not json', `base64:${Buffer.from([0xff]).toString('base64')}`, ok,
      JSON.stringify({ userId: 'u', sessionId: 's', seq: 2, eventType: 5 }), JSON.stringify({ userId: 'u', seq: 3, eventType: 'x' })].join('\n'));
    const recs = drain(new FileWorkload(file, rules));
    expect(recs.map((r) => r.kind)).toEqual(['valid', 'poison', 'poison', 'duplicate', 'poison', 'poison']);
    expect(recs[0].id).toBe(recordId(JSON.parse(ok), NS, rules.keyFields));
    expect(recs[2].data).toEqual(Buffer.from([0xff]));
  });
});

describe('producer', () => {
  it('retries only the entries PutRecords reports as failed, and every record ends on the stream once', async () => {
    const seen: string[] = [];
    let call = 0;
    const kinesis = {
      send: async (cmd: { input: { Records: Array<{ Data: Uint8Array }> } }) => {
        call++;
        const results = cmd.input.Records.map((r, i) => {
          // The first call fails every third entry.
          if (call === 1 && i % 3 === 0) return { ErrorCode: 'ProvisionedThroughputExceededException', ErrorMessage: 'slow down' };
          seen.push(Buffer.from(r.Data).toString('utf8'));
          return { SequenceNumber: String(seen.length), ShardId: 'shardId-000000000000' };
        });
        return { FailedRecordCount: results.filter((r) => 'ErrorCode' in r).length, Records: results };
      },
    } as unknown as KinesisClient;
    const records = Array.from({ length: 700 }, (_, i): WorkloadRecord => ({ index: i, kind: 'valid', data: Buffer.from(`r${i}`), partitionKey: `k${i % 7}`, hash: String(i) }));
    let n = 0;
    const stats: ProducerStats = { put: 0, failed: 0, retriedEntries: 0, throttledEntries: 0, putRecordsCalls: 0 };
    const put: number[] = [];
    await produce(kinesis, { total: 700, notes: [], next: () => records[n++] }, { streamName: 's', rate: 0, onPut: (r) => put.push(r.index) }, stats);
    expect(stats.put).toBe(700);
    expect(stats.failed).toBe(0);
    expect(stats.retriedEntries).toBe(167);
    expect(new Set(seen).size).toBe(700);
    expect(seen).toHaveLength(700);
    expect([...put].sort((x, y) => x - y)).toEqual(records.map((r) => r.index));
  });
});

describe('EMF metrics', () => {
  it('extracts namespace, metric, dimensions and every value of a value array; ignores other lines', () => {
    const m = new MetricsStore();
    const line = JSON.stringify({
      _aws: { Timestamp: 1, CloudWatchMetrics: [{ Namespace: 'PhoenixPipelines', Dimensions: [['Pipeline', 'Stage']], Metrics: [{ Name: 'RecordsIn', Unit: 'Count' }, { Name: 'ProcessingLatencyMs', Unit: 'Milliseconds' }] }] },
      Pipeline: 'clickstream',
      Stage: 'ingest',
      RecordsIn: 3,
      ProcessingLatencyMs: [1, 2, 30],
    });
    expect(m.ingestLine(`env1\t${line}`)).toBe(true);
    expect(m.ingestLine('{"level":"INFO","message":"hello"}')).toBe(false);
    expect(m.ingestLine('START RequestId: x')).toBe(false);
    expect(m.total('RecordsIn')).toBe(3);
    const latency = m.all().find((s) => s.name === 'ProcessingLatencyMs')!;
    expect(latency).toMatchObject({ namespace: 'PhoenixPipelines', dimensions: { Pipeline: 'clickstream', Stage: 'ingest' }, unit: 'Milliseconds', count: 3, sum: 33, min: 1, max: 30 });
    expect(summarize(m.samples('ProcessingLatencyMs'))).toMatchObject({ count: 3, p50: 2, p99: 30 });
  });
});

describe('accounting', () => {
  const rec = (index: number, kind: 'valid' | 'poison', body: string, id?: string): WorkloadRecord => ({
    index, kind, data: Buffer.from(body), partitionKey: 'k', hash: sha256(Buffer.from(body)), id, payload: kind === 'valid' ? JSON.parse(body) : undefined,
  });
  const env = (id: string, payload: unknown): SinkEnvelope => ({ id, payload, hops: [{ stage: 'ingest', in: 1000, out: 1010, attempt: 1 }], location: 'x' });

  it('counts lost records, dead letters by reason, versions that differ and valid records dead-lettered', () => {
    const p = new ProducedLog();
    p.record(rec(0, 'valid', '{"a":1}', 'id-1'), 900);
    p.record(rec(1, 'valid', '{"a":2}', 'id-2'), 900);
    p.record(rec(2, 'valid', '{"a":3}', 'id-3'), 900);
    p.record({ ...rec(0, 'valid', '{"a":1}', 'id-1'), index: 3, kind: 'duplicate' }, 950);
    p.record(rec(4, 'poison', 'bad-1'), 900);
    p.record(rec(5, 'poison', 'bad-2'), 900);
    const sink = [env('id-1', { a: 1 }), env('id-2', { a: 99 }), env('id-9', {})];
    const letters: DeadLetter[] = [
      { reason: 'decode', data: Buffer.from('bad-1'), location: 'q' },
      { reason: 'decode', data: Buffer.from('bad-1'), location: 'q' },
      { reason: 'esm-exhausted', data: Buffer.from('{"a":3}'), location: 's3' },
      { reason: 'schema', problem: 'no payload', location: 'q' },
    ];
    const a = account(p, sink, letters);
    expect(a).toMatchObject({
      recordsIn: 6,
      validRecords: 3,
      poisonRecords: 2,
      duplicatesPut: 1,
      sinkRecords: 3,
      sinkExpectedFound: 2,
      versionMismatches: 1,
      duplicatesInSink: 1,
      unexpectedSinkItems: 1,
      dlqRecords: 2,
      dlqMessages: 4,
      dlqByReason: { 'decode': 1, 'esm-exhausted': 1 },
      dlqUnmatched: 1,
      validInDlq: 1,
      lostValid: 0,
      lostPoison: 1,
      lost: 1,
    });
    expect(a.samples.versionMismatchIds).toEqual(['id-2']);
    expect(a.latencyMs).toMatchObject({ count: 2, p50: 110 });
    expect(a.latencyMs.stages.ingest).toMatchObject({ count: 2, p50: 10 });
  });

  it('synthetic canaries of the run\'s schedule are neither unexpected sink items nor unmatched dead letters', () => {
    const p = new ProducedLog();
    p.record(rec(0, 'valid', '{"a":1}', 'id-1'), 900);
    const canary = { v: 1, id: 'c-1', correlationId: 'canary-p-1', source: 'phoenix-canary', eventTime: '2026-01-01T00:00:00.000Z', hops: [], payload: { canary: true, sentAt: '2026-01-01T00:00:00.000Z', pipeline: 'p' } };
    const a = account(p, [env('id-1', { a: 1 }), env('c-1', canary.payload)], [
      { reason: 'esm-exhausted', data: Buffer.from(JSON.stringify(canary)), location: 's3' },
      { reason: 'esm-exhausted', data: Buffer.from(JSON.stringify({ ...canary, source: 'someone-else' })), location: 's3' },
    ]);
    expect(a).toMatchObject({ unexpectedSinkItems: 0, canariesInSink: 1, canaryDeadLetters: 1, dlqUnmatched: 1, lost: 0 });
  });
});

describe('schedules and delivery streams', () => {
  it('parses rate(), cron() and at() and computes the next fire time in UTC', () => {
    const t0 = Date.UTC(2026, 0, 1, 10, 0, 0);
    expect(nextFire(parseScheduleExpression('rate(5 minutes)'), t0, t0)).toBe(t0 + 300_000);
    expect(nextFire(parseScheduleExpression('rate(1 hour)'), t0 + 1, t0)).toBe(t0 + 3_600_000);
    expect(nextFire(parseScheduleExpression('cron(15 10 * * ? *)'), t0, t0)).toBe(Date.UTC(2026, 0, 1, 10, 15));
    expect(nextFire(parseScheduleExpression('cron(0 8 ? * MON-FRI *)'), t0, t0)).toBe(Date.UTC(2026, 0, 2, 8, 0)); // 2026-01-02 is a Friday
    expect(nextFire(parseScheduleExpression('at(2026-01-01T10:30:00)'), t0, t0)).toBe(Date.UTC(2026, 0, 1, 10, 30));
    expect(nextFire(parseScheduleExpression('at(2026-01-01T09:30:00)'), t0, t0)).toBeUndefined();
    expect(() => parseScheduleExpression('cron(0 8 L * ? *)')).toThrow(/L, W or # is not supported locally/);
    expect(() => parseScheduleExpression('every 5 minutes')).toThrow(/is not rate\(\), cron\(\) or at\(\)/);
  });

  it('an at() schedule invokes its Lambda target asynchronously; a failing invocation is retried, then dead-lettered', async () => {
    const sent: Array<{ QueueUrl: string; MessageBody: string }> = [];
    const send = async (c: { input: { QueueUrl: string; MessageBody: string } }): Promise<unknown> => { sent.push(c.input); return {}; };
    const clients = { sqs: { send } } as unknown as LocalClients;
    const events: unknown[] = [];
    const fn = {
      functionName: 'f',
      functionArn: 'arn:aws:lambda:us-east-1:000000000000:function:f',
      def: { deadLetterTargetArn: 'arn:aws:sqs:us-east-1:000000000000:dlq' },
      invoke: async (e: unknown) => { events.push(e); return { ok: false, errorType: 'error', message: 'boom', durationMs: 1 }; },
    } as unknown as LocalFunction;
    const at = new Date(Date.now() + 1500).toISOString().slice(0, 19);
    const provisioned = {
      schedules: [{
        logicalId: 'Nightly',
        type: 'AWS::Scheduler::Schedule',
        name: 'n',
        arn: 'arn:aws:scheduler:us-east-1:000000000000:schedule/default/n',
        props: { ScheduleExpression: `at(${at})`, FlexibleTimeWindow: { Mode: 'OFF' }, Target: { Arn: fn.functionArn, RoleArn: 'r', Input: '{"job":"compact"}' } },
      }],
      invokeConfigs: [{ logicalId: 'Cfg', props: { FunctionName: 'f', MaximumRetryAttempts: 1 } }],
    } as unknown as ProvisionedStack;
    const logs: string[] = [];
    const queueUrlForArn = (arn: string): string => `http://127.0.0.1:1/000000000000/${arn.split(':')[5]}`;
    const invoker = new AsyncInvoker(provisioned, clients, { log: (l) => logs.push(l), queueUrlForArn, retryDelayMs: 10 });
    const s = startSchedules(provisioned, [fn], invoker, { log: (l) => logs.push(l), queueUrlForArn });
    for (let i = 0; i < 100 && sent.length === 0; i++) await new Promise((r) => setTimeout(r, 100));
    await s.stop();
    expect(events).toEqual([{ job: 'compact' }, { job: 'compact' }]);
    expect(sent).toEqual([{ QueueUrl: 'http://127.0.0.1:1/000000000000/dlq', MessageBody: '{"job":"compact"}' }]);
    expect(s.stats.Nightly).toMatchObject({ fired: 1, failed: 1 });
    expect(logs.join('\n')).toMatch(/Nightly: asynchronous invocation of f failed after 2 attempt\(s\): boom/);
  }, 20_000);

  it('a rate() schedule fires once at start with fireAtStart, then every interval / timeScale; without them, one interval after start', async () => {
    const events: unknown[] = [];
    const fn = {
      functionName: 'c',
      functionArn: 'arn:aws:lambda:us-east-1:000000000000:function:c',
      def: {},
      invoke: async (e: unknown) => { events.push(e); return { ok: true, payload: null, durationMs: 1 }; },
    } as unknown as LocalFunction;
    const provisioned = {
      schedules: [{
        logicalId: 'Canary',
        type: 'AWS::Scheduler::Schedule',
        name: 'c',
        arn: 'arn:aws:scheduler:us-east-1:000000000000:schedule/default/c',
        props: { ScheduleExpression: 'rate(5 minutes)', FlexibleTimeWindow: { Mode: 'OFF' }, Target: { Arn: fn.functionArn, RoleArn: 'r' } },
      }],
      invokeConfigs: [],
    } as unknown as ProvisionedStack;
    const queueUrlForArn = (arn: string): string => arn;
    const invoker = new AsyncInvoker(provisioned, {} as LocalClients, { log: () => undefined, queueUrlForArn });
    const before = Date.now();
    const fast = startSchedules(provisioned, [fn], invoker, { log: () => undefined, queueUrlForArn, timeScale: 60, fireAtStart: true });
    const after = Date.now();
    expect(fast.stats.Canary.fired).toBe(1);
    const next = Date.parse(fast.stats.Canary.nextAt!);
    // 5 minutes / 60 = 5 s after the schedule started (the ISO time has millisecond precision).
    expect(next).toBeGreaterThanOrEqual(before + 5_000);
    expect(next).toBeLessThanOrEqual(after + 5_000);
    await fast.stop();
    expect(events).toHaveLength(1);
    const real = startSchedules(provisioned, [fn], invoker, { log: () => undefined, queueUrlForArn });
    expect(real.stats.Canary.fired).toBe(0);
    expect(Date.parse(real.stats.Canary.nextAt!)).toBeGreaterThanOrEqual(after + 300_000);
    await real.stop();
    expect(() => startSchedules(provisioned, [fn], invoker, { log: () => undefined, queueUrlForArn, timeScale: 0.5 })).toThrow('timeScale must be at least 1 (given 0.5)');
  });

  it('evaluates Firehose prefixes like Firehose (timestamp expressions, else the default YYYY/MM/dd/HH/)', () => {
    const t = new Date(Date.UTC(2026, 10, 26, 7, 5, 9));
    expect(evaluatePrefix('archive/!{timestamp:yyyy/MM/dd}/', t)).toBe('archive/2026/11/26/');
    expect(evaluatePrefix('raw/', t)).toBe('raw/2026/11/26/07/');
    expect(evaluatePrefix('', t)).toBe('2026/11/26/07/');
    expect(() => evaluatePrefix('!{partitionKeyFromQuery:customer}/', t)).toThrow(/not supported locally/);
  });
});

describe('documentation', () => {
  it('docs/local-environment.md names every supported and accepted resource type', () => {
    const doc = readFileSync(path.join(REPO, 'docs', 'local-environment.md'), 'utf8');
    for (const type of [...Object.keys(RUN_TYPES), ...Object.keys(ACCEPTED_TYPES)]) expect(doc, type).toContain(`\`${type}\``);
  });
});

describe('phoenix local trace', () => {
  it('prints one record\'s hops with per-stage and end-to-end times from a run\'s sink dump', async () => {
    const runDir = tempDir('trace');
    const envelope = {
      id: 'id-1',
      correlationId: 'corr-1',
      eventTime: '2026-11-26T07:00:00.000Z',
      location: 't/id-1',
      producedAt: 1_795_000_000_000,
      hops: [{ stage: 'ingest', in: 1_795_000_000_040, out: 1_795_000_000_052, attempt: 2 }],
      payload: { a: 1 },
    };
    writeFileSync(path.join(runDir, 'sink.jsonl'), `${JSON.stringify(envelope)}\n${JSON.stringify({ ...envelope, id: 'id-2', correlationId: 'other' })}\n`);
    const out: string[] = [];
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => { out.push(String(chunk)); return true; });
    try {
      expect(await main(['node', 'phoenix', 'local', 'trace', 'corr-1', '--run', runDir])).toBe(0);
      expect(out.join('')).toBe([
        'trace corr-1: id id-1, correlationId corr-1, eventTime 2026-11-26T07:00:00.000Z, at t/id-1',
        `  put on the stream   ${new Date(1_795_000_000_000).toISOString()}`,
        `  ingest     attempt 2  in ${new Date(1_795_000_000_040).toISOString()} (+40 ms)  12 ms`,
        '  end to end          52 ms',
        '',
      ].join('\n'));
      out.length = 0;
      process.exitCode = undefined;
      // An unknown id is a usage error (exit 2, one line on stderr naming it; test/lib/cli/commands/local.test.ts).
      expect(await main(['node', 'phoenix', 'local', 'trace', 'nope', '--run', runDir])).toBe(2);
      expect(out.join('')).toBe('');
    } finally {
      spy.mockRestore();
      process.exitCode = undefined;
    }
  });
});
