/**
 * Replay benchmark, measured side by side in one run against the same local kinesalite stream, served by the emulator
 * host of the local environment (a separate process, stopped by its pid at the end):
 * - the replay engine (`phoenix replay --from archive`: S3 objects on fauxqs -> PutRecords batches of 500, 4 lanes)
 * - a naive sequential replay of the same records: one PutRecord call per record, awaited one after the other.
 * The ratio of their records/s is the figure (target >= 20). Then the same set is replayed twice into a fresh stream
 * and consumed by the real ingest handler with an idempotent in-memory sink: duplicates in the sink must be 0.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';
import { Logger } from '@aws-lambda-powertools/logger';
import { KinesisClient, PutRecordCommand } from '@aws-sdk/client-kinesis';
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { KinesisStreamRecord } from 'aws-lambda';
import { processCpuSeconds } from './local';
import type { BenchResult } from './types';
import { startEmulators } from '../lib/local/emulators';
import { frameFirehoseRecords } from '../lib/replay/archive';
import { runReplay } from '../lib/replay/engine';
import { parseFilter } from '../lib/replay/filter';
import { createIngestHandler, MemoryDlq, MemorySink } from '../lib/runtime';
import { createActiveStream } from '../test/lib/local/esm/support';
import { lambdaContext } from '../test/support/lambda';
import { readStream } from '../test/support/replay';

export interface ReplayBenchOptions {
  /** Records replayed by the engine. Default 20,000. */
  readonly records?: number;
  /** Records of the sequential baseline (its rate is what matters; fewer keeps the run short). Default 2,000. */
  readonly baselineRecords?: number;
  /** Records of the replay-twice duplicate check. Default 2,000. */
  readonly duplicateCheckRecords?: number;
  /** Shards of the streams. Default 4. */
  readonly shards?: number;
}

const REGION = 'us-east-1';
const credentials = { accessKeyId: 'local', secretAccessKey: 'local' };

/** Archive objects (framed, GZIP) of `n` order records, 1,000 per object. */
async function writeArchive(s3: S3Client, bucket: string, streamArn: string, n: number, tag: string): Promise<void> {
  const t = Date.now();
  const hour = new Date(t).toISOString().replace(/^(\d{4})-(\d{2})-(\d{2})T(\d{2}).*$/, '$1/$2/$3/$4');
  for (let i = 0; i < n; i += 1000) {
    const framed = frameFirehoseRecords({
      sourceKinesisStreamArn: streamArn,
      records: Array.from({ length: Math.min(1000, n - i) }, (_, k) => {
        const j = i + k;
        const payload = { orderId: `${tag}-${j}`, customer: `c-${j % 97}`, amount: (j % 1000) / 10, items: [{ sku: `S${j % 50}`, qty: 1 + (j % 3) }] };
        return {
          recordId: String(k),
          data: Buffer.from(JSON.stringify(payload)).toString('base64'),
          kinesisRecordMetadata: { shardId: 'shardId-000000000000', partitionKey: `c-${j % 97}`, sequenceNumber: String(j + 1), approximateArrivalTimestamp: t + j },
        };
      }),
    });
    const body = gzipSync(Buffer.concat(framed.records.map((r) => Buffer.from(r.data, 'base64'))));
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `raw/${hour}/${tag}-${String(i).padStart(8, '0')}.gz`, Body: body }));
  }
}

export async function runReplayBench(opts: ReplayBenchOptions = {}): Promise<BenchResult> {
  const records = opts.records ?? 20_000;
  const baselineRecords = Math.min(opts.baselineRecords ?? 2_000, records);
  const dupRecords = opts.duplicateCheckRecords ?? 2_000;
  const shards = opts.shards ?? 4;
  process.env.POWERTOOLS_METRICS_DISABLED = 'true';
  // The emulator host `phoenix local run` starts (and `phoenix replay --local` replays into): kinesalite and fauxqs (S3)
  // in a child process on 127.0.0.1, as a remote stream is in AWS; the engine and the baseline use the same stream.
  const runDir = mkdtempSync(path.join(tmpdir(), 'phx-bench-replay-'));
  const emulators = await startEmulators({ runDir, region: REGION });
  const kinesis = new KinesisClient({ region: REGION, endpoint: emulators.endpoints.kinesis, credentials });
  const s3 = new S3Client({ region: REGION, endpoint: emulators.endpoints.fauxqs, credentials, forcePathStyle: true });
  try {
    const streamArn = await createActiveStream(kinesis, 'bench', shards);
    await s3.send(new CreateBucketCommand({ Bucket: 'archive' }));
    await writeArchive(s3, 'archive', streamArn, records, 'main');

    // CPU ms per record in this process (the SDK client) and in the emulator host over a phase: shows how much of each
    // core the phase got on a shared machine (the engine can use both cores, the sequential baseline one at a time).
    const cpuSince = (): (() => { client: number; emulator: number | undefined }) => {
      const c0 = process.cpuUsage();
      const h0 = processCpuSeconds(emulators.pid);
      return () => {
        const c = process.cpuUsage(c0);
        const h1 = processCpuSeconds(emulators.pid);
        return { client: (c.user + c.system) / 1000, emulator: h0 === undefined || h1 === undefined ? undefined : (h1 - h0) * 1000 };
      };
    };
    const perRecord = (ms: number | undefined, n: number): number | undefined => (ms === undefined ? undefined : Math.round((ms / n) * 1000) / 1000);
    const loadAtStart = loadavg()[0];

    // 1. The engine.
    const engineCpu = cpuSince();
    const t0 = performance.now();
    const summary = await runReplay({
      source: { kind: 'archive', bucket: 'archive', prefix: 'raw/' },
      filter: parseFilter({}),
      clients: { kinesis, s3 },
    });
    const engineMs = performance.now() - t0;
    const engineCpuMs = engineCpu();
    if (summary.replayed !== records || summary.failed !== 0) throw new Error(`engine replayed ${summary.replayed}/${records} (failed ${summary.failed})`);
    const engineRate = records / (engineMs / 1000);

    // 2. The sequential baseline on the same stream: the same kind of records, one awaited PutRecord each.
    const baselineCpu = cpuSince();
    const t1 = performance.now();
    for (let j = 0; j < baselineRecords; j++) {
      const payload = { orderId: `base-${j}`, customer: `c-${j % 97}`, amount: (j % 1000) / 10, items: [{ sku: `S${j % 50}`, qty: 1 + (j % 3) }] };
      await kinesis.send(new PutRecordCommand({ StreamName: 'bench', PartitionKey: `c-${j % 97}`, Data: Buffer.from(JSON.stringify(payload)) }));
    }
    const baselineMs = performance.now() - t1;
    const baselineCpuMs = baselineCpu();
    const baselineRate = baselineRecords / (baselineMs / 1000);

    // 3. The same set replayed twice into a fresh stream, consumed by the ingest handler: duplicates in the sink.
    const dupArn = await createActiveStream(kinesis, 'dups', shards);
    await s3.send(new CreateBucketCommand({ Bucket: 'dups' }));
    await writeArchive(s3, 'dups', dupArn, dupRecords, 'dup');
    for (let round = 0; round < 2; round++) {
      const s = await runReplay({ source: { kind: 'archive', bucket: 'dups', prefix: 'raw/' }, filter: parseFilter({}), clients: { kinesis, s3 } });
      if (s.replayed !== dupRecords) throw new Error(`duplicate check: replayed ${s.replayed}/${dupRecords}`);
    }
    const put = await readStream(kinesis, 'dups', dupArn);
    const sink = new MemorySink();
    const handler = createIngestHandler({
      env: {}, pipeline: 'bench', keyFields: ['orderId'], sink, dlq: new MemoryDlq(), logger: new Logger({ serviceName: 'bench', logLevel: 'SILENT' }),
    });
    const byShard = new Map<string, KinesisStreamRecord[]>();
    for (const r of put) byShard.set(r.eventID.split(':')[0], [...(byShard.get(r.eventID.split(':')[0]) ?? []), r]);
    for (const list of byShard.values()) {
      for (let i = 0; i < list.length; i += 500) {
        await handler({ Records: list.slice(i, i + 500) }, lambdaContext({ functionName: 'bench', remainingMs: () => 300_000 }));
      }
    }
    const written = sink.calls.filter((c) => c.result === 'written').length;
    const duplicatesInSink = written - sink.items.size;
    const ratio = engineRate / baselineRate;
    const figures = {
      records,
      baselineRecords,
      engineRecordsPerSecond: Math.round(engineRate),
      baselineRecordsPerSecond: Math.round(baselineRate),
      ratio: Math.round(ratio * 10) / 10,
      engineMs: Math.round(engineMs),
      baselineMs: Math.round(baselineMs),
      cpuMsPerRecord: {
        engine: { client: perRecord(engineCpuMs.client, records), emulator: perRecord(engineCpuMs.emulator, records) },
        baseline: { client: perRecord(baselineCpuMs.client, baselineRecords), emulator: perRecord(baselineCpuMs.emulator, baselineRecords) },
      },
      loadAverage1m: { start: Math.round(loadAtStart * 100) / 100, end: Math.round(loadavg()[0] * 100) / 100 },
      putRecordsCalls: summary.putCalls,
      retriedEntries: summary.retried,
      duplicateCheck: {
        records: dupRecords, putOnStream: put.length, sinkItems: sink.items.size, duplicatesSuppressed: sink.calls.length - written, duplicatesInSink,
      },
    };
    return {
      name: 'replay',
      figures,
      targets: [
        { name: 'replay records/s vs sequential PutRecord', value: figures.ratio, target: 20, op: '>=', pass: ratio >= 20 },
        { name: 'duplicates in the sink after replaying twice', value: duplicatesInSink, target: 0, op: '<=', pass: duplicatesInSink <= 0 && sink.items.size === dupRecords },
      ],
      lines: [
        `replay engine: ${figures.engineRecordsPerSecond} records/s (${records} records, ${summary.putCalls} PutRecords calls, ${summary.retried} entries retried)`,
        `sequential PutRecord: ${figures.baselineRecordsPerSecond} records/s (${baselineRecords} records)`,
        `CPU ms per record, client + emulator host: engine ${figures.cpuMsPerRecord.engine.client} + ${figures.cpuMsPerRecord.engine.emulator ?? '?'}, `
          + `sequential ${figures.cpuMsPerRecord.baseline.client} + ${figures.cpuMsPerRecord.baseline.emulator ?? '?'} `
          + `(1-minute load average ${figures.loadAverage1m.start} -> ${figures.loadAverage1m.end} on ${availableParallelism()} cores)`,
        `ratio: ${figures.ratio}x`,
        `replayed ${dupRecords} records twice (${put.length} on the stream): ${sink.items.size} in the sink, ${duplicatesInSink} duplicates`,
      ],
    };
  } finally {
    kinesis.destroy();
    s3.destroy();
    await emulators.stop();
    rmSync(runDir, { recursive: true, force: true });
  }
}

if (require.main === module) {
  runReplayBench().then((r) => { for (const l of r.lines) process.stdout.write(`${l}\n`); }, (e) => { process.stderr.write(`${(e as Error).message}\n`); process.exitCode = 1; });
}
