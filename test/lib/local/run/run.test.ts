import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { LocalRunError, runLocal, type LocalRunReport } from '../../../../lib/local/run';
import { expectInvariant, ingestMapping, liveChildren, mutatedAssembly, runOptions, synthesizedExample, tempDir } from '../support';

/** Reason classes the pipeline may give each kind of bad record (which check fires first is the handler's business). */
const EXPECTED_CLASSES: Record<string, string[]> = {
  'invalid-utf8': ['decode'],
  'non-json': ['decode'],
  'json-array': ['decode', 'schema'],
  'deeply-nested': ['decode'],
  'huge-number': ['decode', 'schema'],
  'schema-violation': ['schema'],
  'missing-key': ['missing-key', 'schema'],
  'oversize': ['oversize'],
};

function deadLetters(r: LocalRunReport): Array<{ reason: string; message?: string; data?: string }> {
  return readFileSync(path.join(r.runDir, 'dlq.jsonl'), 'utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l));
}

describe('phoenix local run on the example clickstream pipeline', () => {
  const exampleDir = synthesizedExample();

  it('poison records and duplicates: every valid record in the sink exactly once, every bad record dead-lettered with payload and reason', async () => {
    const phases: string[] = [];
    const onProgress = (p: { phase: string }): void => { if (phases.at(-1) !== p.phase) phases.push(p.phase); };
    const r = await runLocal(runOptions(exampleDir(), { records: 800, poisonRate: 0.1, duplicateRate: 0.1, seed: 11, onProgress }));
    // every phase is reported as it starts, however short (a CI log's plain progress has a line for each)
    expect(phases).toEqual(['synth', 'start', 'produce', 'drain', 'verify']);
    expectInvariant(r);
    expect(r.recordsIn).toBe(800);
    expect(r.poisonRecords).toBeGreaterThan(40);
    expect(r.duplicatesPut).toBeGreaterThan(40);
    // Every kind the generator makes (oversize: above the DynamoDB sink's default 407,552-byte record limit) was
    // dead-lettered with a reason class that fits it.
    const kinds = Object.keys(r.accounting.dlqReasonByPoisonKind).sort();
    expect(kinds).toEqual(['deeply-nested', 'huge-number', 'invalid-utf8', 'json-array', 'missing-key', 'non-json', 'oversize', 'schema-violation']);
    for (const [kind, classes] of Object.entries(r.accounting.dlqReasonByPoisonKind)) {
      for (const cls of Object.keys(classes)) expect(EXPECTED_CLASSES[kind], `${kind} -> ${cls}`).toContain(cls);
    }
    const letters = deadLetters(r);
    expect(letters.length).toBeGreaterThanOrEqual(r.poisonRecords);
    for (const l of letters) {
      expect(l.data, 'payload recovered').toMatch(/^[A-Za-z0-9+/]+=*$/);
      expect(l.reason).toMatch(/^(decode|schema|missing-key|oversize)$/);
      expect(l.message).toBeTruthy();
    }
    // Latency comes from the envelopes' hops.
    expect(r.latencyMs.count).toBe(r.validRecords);
    expect(r.latencyMs.stages.ingest.count).toBe(r.validRecords);
    expect(liveChildren()).toEqual([]);
  }, 150_000);

  it('sink failures, throttles and crashes: nothing lost, nothing written twice', async () => {
    // Batches of 10 (instead of 100) give 60+ invocations, so that crashes and throttles at 15% surely happen (0.85^50 < 0.05%).
    const smallBatches = mutatedAssembly(exampleDir(), (t) => {
      for (const r of Object.values<any>(t.Resources)) if (r.Type === 'AWS::Lambda::EventSourceMapping') r.Properties.BatchSize = 10;
    });
    const r = await runLocal(runOptions(smallBatches, {
      records: 500,
      poisonRate: 0.03,
      duplicateRate: 0.05,
      seed: 12,
      sinkFailureRate: 0.2,
      throttleRate: 0.15,
      crashRate: 0.15,
      // 60+ invocations, 15% of them crashing (a cold start each) or throttled (backoff): on a loaded 2-core machine
      // the drain took over 60 s (CI, load 12); the drain ends as soon as everything is accounted for.
      drainTimeoutMs: 150_000,
    }));
    expectInvariant(r);
    // The faults really happened (the SDK's own retries absorb most sink errors; the proxy counts them).
    expect(r.faults.sinkProxies.dynamodb.injected).toBeGreaterThan(30);
    expect(r.faults.injectedThrottles).toBeGreaterThan(0);
    expect(r.faults.injectedCrashes).toBeGreaterThan(0);
    const esm = ingestMapping(r);
    const ingest = r.functions[esm.function];
    expect(ingest.injectedCrashes).toBeGreaterThan(0);
    expect(esm.functionErrors).toBe(ingest.errors + ingest.timeouts + ingest.crashes);
    // A crash after the sink writes re-delivers records that were already written: the sink suppresses them.
    expect(r.duplicatesSuppressed).toBeGreaterThan(0);
    expect(liveChildren()).toEqual([]);
  }, 240_000);

  it('a poison record never blocks its shard: records after it on the same partition key are written without retries', async () => {
    const lines: string[] = [];
    const ts = new Date().toISOString();
    for (let seq = 0; seq < 40; seq++) {
      lines.push(JSON.stringify({ userId: 'u-1', sessionId: 's-1', seq, eventType: 'click', url: 'https://shop.exampleDir().com/', ts }));
      if (seq === 5) lines.push('{"userId":"u-1","sessionId":"s-1" this is not json');
      if (seq === 15) lines.push(JSON.stringify({ userId: 'u-1', sessionId: 's-1', seq: 1000, eventType: 'teleport', url: 'x', ts }));
      if (seq === 25) lines.push(`base64:${Buffer.from([0x7b, 0xff, 0xfe, 0x7d]).toString('base64')}`);
    }
    const input = path.join(tempDir('input'), 'records.txt');
    writeFileSync(input, `${lines.join('\n')}\n`);
    const r = await runLocal(runOptions(exampleDir(), { input }));
    expectInvariant(r);
    expect(r.validRecords).toBe(40);
    expect(r.poisonRecords).toBe(3);
    expect(r.dlqByReason).toEqual({ decode: 2, schema: 1 });
    const esm = ingestMapping(r);
    expect(esm).toMatchObject({ functionErrors: 0, retries: 0, partialFailures: 0, bisections: 0, discardedToOnFailure: 0 });
    expect(liveChildren()).toEqual([]);
  }, 150_000);

  it('a Firehose delivery stream reading the pipeline stream archives every record to S3, GZIP, under its prefix', async () => {
    const withArchive = mutatedAssembly(exampleDir(), (t) => {
      const ids = Object.keys(t.Resources);
      const stream = ids.find((id) => t.Resources[id].Type === 'AWS::Kinesis::Stream')!;
      const bucket = ids.find((id) => t.Resources[id].Type === 'AWS::S3::Bucket')!;
      const role = 'arn:aws:iam::000000000000:role/firehose';
      t.Resources.Archive = {
        Type: 'AWS::KinesisFirehose::DeliveryStream',
        Properties: {
          DeliveryStreamType: 'KinesisStreamAsSource',
          KinesisStreamSourceConfiguration: { KinesisStreamARN: { 'Fn::GetAtt': [stream, 'Arn'] }, RoleARN: role },
          ExtendedS3DestinationConfiguration: {
            BucketARN: { 'Fn::GetAtt': [bucket, 'Arn'] },
            RoleARN: role,
            Prefix: 'archive/!{timestamp:yyyy/MM/dd}/',
            ErrorOutputPrefix: 'archive-errors/',
            BufferingHints: { IntervalInSeconds: 60, SizeInMBs: 1 },
            CompressionFormat: 'GZIP',
          },
        },
      };
    });
    // IAM off: the hand-written delivery stream names a role the template does not define (IAM is tested in iam.test.ts).
    const r = await runLocal(runOptions(withArchive, { records: 200, poisonRate: 0.05, duplicateRate: 0.05, seed: 5, iam: false }));
    expectInvariant(r);
    const archive = r.deliveryStreams.Archive;
    // The stream also carries the synthetic canaries the run's canary schedule put (Firehose archives them as in AWS).
    expect(r.canary.sent).toBeGreaterThanOrEqual(1);
    expect(archive.records).toBe(r.recordsIn + r.canary.sent);
    expect(archive.objects).toBeGreaterThanOrEqual(1);
    for (const key of archive.keys) {
      expect(key).toMatch(/^archive\/\d{4}\/\d{2}\/\d{2}\/PhoenixClickstream-Archive-[A-Za-z0-9]{12}-1-\d{4}(-\d{2}){5}-[0-9a-f-]{36}\.gz$/);
    }
    expect(liveChildren()).toEqual([]);
  }, 150_000);

  it('an emulator that dies stops the run with one line, and nothing is left running', async () => {
    let killed = false;
    const run = runLocal(runOptions(exampleDir(), {
      records: 100_000,
      rate: 200,
      onProgress: (p) => {
        if (killed || p.phase !== 'produce' || p.produced < 50) return;
        const host = liveChildren().find((pid) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('emulator-host'));
        if (host) {
          killed = true;
          process.kill(host, 'SIGKILL');
        }
      },
    }));
    const err = await run.catch((e: unknown) => e);
    expect(killed).toBe(true);
    expect(err).toBeInstanceOf(LocalRunError);
    expect((err as Error).message).toBe('the emulators stopped unexpectedly (killed by SIGKILL)');
    expect(liveChildren()).toEqual([]);
  }, 150_000);

  it('an interrupt stops the run and everything it started', async () => {
    const abort = new AbortController();
    const run = runLocal(runOptions(exampleDir(), {
      records: 100_000,
      rate: 200,
      signal: abort.signal,
      onProgress: (p) => { if (p.phase === 'produce' && p.produced > 50) abort.abort(); },
    }));
    const err = await run.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LocalRunError);
    expect((err as Error).message).toBe('interrupted');
    expect(liveChildren()).toEqual([]);
  }, 150_000);
});
