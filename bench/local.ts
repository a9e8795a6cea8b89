/**
 * Local environment benchmark (`npm run bench -- local`): the example pipeline's records/s on the local environment
 * divided by the raw Kinesis emulator's put+get records/s, measured in the same run on the same machine.
 *
 * - raw: the same emulator host `phoenix local run` starts (kinesalite over HTTP/2); PutRecords in batches of 500 onto a
 *   4-shard stream, then GetRecords of every shard until all records were read back. records / (put + get seconds).
 * - pipeline: `runLocal` on the example app (synthesized once before timing), no faults; its recordsPerSecond spans
 *   the first put to the last record processed (sink write or dead letter), so it includes the handlers and sinks.
 * - raw sink: the same host's DynamoDB emulator (dynalite): conditional PutItem of envelope-sized items with the
 *   sink's condition, 8 in flight (the pipeline's shards x parallelization keep about that many writes in flight).
 *   The pipeline needs both emulators per record, so the slower of the two bounds it: the bench prints the pipeline
 *   against that bound too, to show how much of the gap is the environment and how much the emulator.
 * - CPU bound: the same conditional PutItems' CPU time in this (the SDK client's) process and in the emulator host
 *   (from /proc). Each valid record needs one such write, so the machine's cores divided by that CPU time is an upper
 *   bound on the pipeline's records/s, printed as the highest ratio any local pipeline with this sink could reach.
 * Also prints the end-to-end latency p50/p99 of the pipeline run.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import * as path from 'node:path';
import { CreateTableCommand, DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { CreateStreamCommand, DescribeStreamSummaryCommand, GetRecordsCommand, GetShardIteratorCommand, KinesisClient, ListShardsCommand, PutRecordsCommand } from '@aws-sdk/client-kinesis';
import type { BenchResult } from './types';
import { DYNAMODB_CONDITION } from '../lib/handlers/ports/dynamodb';
import { LOCAL_CREDENTIALS } from '../lib/local/clients';
import { startEmulators } from '../lib/local/emulators';
import { runLocal } from '../lib/local/run';

export interface LocalBenchOptions {
  /** Records put through the pipeline (default 3000). */
  readonly records?: number;
  /** Records put and read back on the raw emulator (default 20000). */
  readonly rawRecords?: number;
}

async function rawPutGet(records: number): Promise<{ recordsPerSecond: number; putMs: number; getMs: number }> {
  const runDir = mkdtempSync(path.join(tmpdir(), 'phx-bench-local-'));
  const emulators = await startEmulators({ runDir, region: 'us-east-1' });
  const kinesis = new KinesisClient({ region: 'us-east-1', credentials: LOCAL_CREDENTIALS, endpoint: emulators.endpoints.kinesis });
  try {
    const StreamName = 'bench-raw';
    await kinesis.send(new CreateStreamCommand({ StreamName, ShardCount: 4 }));
    for (let i = 0; i < 100; i++) {
      const d = await kinesis.send(new DescribeStreamSummaryCommand({ StreamName }));
      if (d.StreamDescriptionSummary?.StreamStatus === 'ACTIVE') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const payload = (i: number) => Buffer.from(JSON.stringify({ userId: `u-${i % 5000}`, sessionId: `s-${i % 700}`, seq: i, eventType: 'click', url: 'https://shop.example.com/p/espresso-machine', ts: new Date().toISOString() }));
    const t0 = performance.now();
    for (let i = 0; i < records; i += 500) {
      let entries = Array.from({ length: Math.min(500, records - i) }, (_, j) => ({ Data: payload(i + j), PartitionKey: `k-${(i + j) % 997}` }));
      for (let attempt = 0; entries.length > 0 && attempt < 10; attempt++) {
        const r = await kinesis.send(new PutRecordsCommand({ StreamName, Records: entries }));
        entries = entries.filter((_, k) => r.Records?.[k]?.ErrorCode !== undefined);
      }
    }
    const t1 = performance.now();
    const shards = (await kinesis.send(new ListShardsCommand({ StreamName }))).Shards ?? [];
    let read = 0;
    for (const s of shards) {
      let it = (await kinesis.send(new GetShardIteratorCommand({ StreamName, ShardId: s.ShardId!, ShardIteratorType: 'TRIM_HORIZON' }))).ShardIterator;
      for (let calls = 0; it && calls < 10_000; calls++) {
        const r = await kinesis.send(new GetRecordsCommand({ ShardIterator: it, Limit: 10_000 }));
        read += r.Records?.length ?? 0;
        if ((r.Records?.length ?? 0) === 0 || r.MillisBehindLatest === 0) break;
        it = r.NextShardIterator;
      }
    }
    const t2 = performance.now();
    if (read !== records) throw new Error(`raw emulator benchmark read back ${read} of ${records} records`);
    return { recordsPerSecond: records / ((t2 - t0) / 1000), putMs: Math.round(t1 - t0), getMs: Math.round(t2 - t1) };
  } finally {
    kinesis.destroy();
    await emulators.stop();
    rmSync(runDir, { recursive: true, force: true });
  }
}

/**
 * CPU seconds a process has used so far, from /proc (Linux; undefined elsewhere): for the emulator host, a child
 * process whose usage `process.cpuUsage()` does not include.
 */
export function processCpuSeconds(pid: number): number | undefined {
  try {
    // Fields after the command name; utime and stime are fields 14 and 15 of the line, in clock ticks (100 per second
    // on Linux builds of every architecture Node supports).
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return undefined;
  }
}

interface RawSinkFigures {
  readonly recordsPerSecond: number;
  /** CPU ms per conditional PutItem in the SDK client's process (this one). */
  readonly clientCpuMsPerPut: number;
  /** CPU ms per conditional PutItem in the emulator host (dynalite); undefined where /proc is not readable. */
  readonly emulatorCpuMsPerPut: number | undefined;
}

/** Conditional PutItems (the DynamoDB sink's condition, ~1 KB items, `inFlight` at a time) on the emulator host's dynalite. */
async function rawConditionalPuts(items: number, inFlight = 8): Promise<RawSinkFigures> {
  const runDir = mkdtempSync(path.join(tmpdir(), 'phx-bench-ddb-'));
  const emulators = await startEmulators({ runDir, region: 'us-east-1' });
  const ddb = new DynamoDBClient({ region: 'us-east-1', credentials: LOCAL_CREDENTIALS, endpoint: emulators.endpoints.dynamodb });
  try {
    const TableName = 'bench-sink';
    await ddb.send(new CreateTableCommand({
      TableName,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
    }));
    const envelope = 'x'.repeat(900);
    let next = 0;
    const host0 = processCpuSeconds(emulators.pid);
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const worker = async (): Promise<void> => {
      for (let i = next++; i < items; i = next++) {
        const et = new Date(1_700_000_000_000 + i).toISOString();
        await ddb.send(new PutItemCommand({
          TableName,
          Item: { pk: { S: `id-${i}` }, eventTime: { S: et }, contentHash: { S: `h${i}` }, correlationId: { S: `c${i}` }, source: { S: 'bench' }, envelope: { S: envelope } },
          ConditionExpression: DYNAMODB_CONDITION,
          ExpressionAttributeValues: { ':et': { S: et }, ':h': { S: `h${i}` } },
        }));
      }
    };
    await Promise.all(Array.from({ length: inFlight }, worker));
    const seconds = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const host1 = processCpuSeconds(emulators.pid);
    return {
      recordsPerSecond: items / seconds,
      clientCpuMsPerPut: (cpu.user + cpu.system) / 1000 / items,
      emulatorCpuMsPerPut: host0 !== undefined && host1 !== undefined ? ((host1 - host0) * 1000) / items : undefined,
    };
  } finally {
    ddb.destroy();
    await emulators.stop();
    rmSync(runDir, { recursive: true, force: true });
  }
}

export async function runLocalBench(opts: LocalBenchOptions = {}): Promise<BenchResult> {
  const records = opts.records ?? 3000;
  const rawRecords = opts.rawRecords ?? 20_000;
  const cwd = path.resolve(__dirname, '..');
  const runsDir = mkdtempSync(path.join(tmpdir(), 'phx-bench-runs-'));
  try {
    const raw = await rawPutGet(rawRecords);
    const rawSink = await rawConditionalPuts(Math.min(rawRecords, 5000));
    const report = await runLocal({
      cwd,
      runsDir,
      stack: 'PhoenixClickstream',
      records,
      rate: 0,
      poisonRate: 0,
      duplicateRate: 0,
      seed: 1,
      sinkFailureRate: 0,
      throttleRate: 0,
      crashRate: 0,
      log: () => undefined,
    });
    const ratio = report.recordsPerSecond / raw.recordsPerSecond;
    const bound = Math.min(raw.recordsPerSecond, rawSink.recordsPerSecond);
    // Every valid record costs the pipeline at least one conditional PutItem: its SDK call in a handler process and
    // its execution in dynalite. With nothing else to do, this machine's cores could run at most this many per second,
    // which bounds the pipeline's records/s (and so the ratio) from above whatever the environment does.
    const cores = availableParallelism();
    const cpuMsPerPut = rawSink.emulatorCpuMsPerPut !== undefined ? rawSink.clientCpuMsPerPut + rawSink.emulatorCpuMsPerPut : undefined;
    const cpuBoundRecordsPerSecond = cpuMsPerPut !== undefined ? (cores * 1000) / cpuMsPerPut : undefined;
    const figures = {
      rawRecords,
      rawRecordsPerSecond: Math.round(raw.recordsPerSecond),
      rawPutMs: raw.putMs,
      rawGetMs: raw.getMs,
      pipelineRecords: records,
      pipelineRecordsPerSecond: report.recordsPerSecond,
      ratio: Number(ratio.toFixed(4)),
      rawSinkConditionalPutsPerSecond: Math.round(rawSink.recordsPerSecond),
      ratioToSlowerEmulator: Number((report.recordsPerSecond / bound).toFixed(4)),
      rawSinkClientCpuMsPerPut: Number(rawSink.clientCpuMsPerPut.toFixed(3)),
      rawSinkEmulatorCpuMsPerPut: rawSink.emulatorCpuMsPerPut !== undefined ? Number(rawSink.emulatorCpuMsPerPut.toFixed(3)) : null,
      cores,
      cpuBoundRecordsPerSecond: cpuBoundRecordsPerSecond !== undefined ? Math.round(cpuBoundRecordsPerSecond) : null,
      cpuBoundRatio: cpuBoundRecordsPerSecond !== undefined ? Number((cpuBoundRecordsPerSecond / raw.recordsPerSecond).toFixed(4)) : null,
      lost: report.lost,
      duplicatesInSink: report.duplicatesInSink,
      endToEndP50Ms: report.latencyMs.p50,
      endToEndP99Ms: report.latencyMs.p99,
    };
    return {
      name: 'local',
      figures,
      targets: [
        { name: 'records lost in the local run', value: report.lost, target: 0, op: '<=', pass: report.lost === 0 },
      ],
      lines: [
        `local benchmark: raw kinesalite put+get ${figures.rawRecordsPerSecond} records/s (${rawRecords} records: put ${raw.putMs} ms, get ${raw.getMs} ms)`,
        `  example pipeline on the local environment: ${report.recordsPerSecond} records/s (${records} records, lost ${report.lost}, duplicates in sink ${report.duplicatesInSink})`,
        `  end-to-end latency p50 ${report.latencyMs.p50} ms, p99 ${report.latencyMs.p99} ms (the producer puts as fast as it can: records queue)`,
        `  raw dynalite conditional PutItem (the sink's condition, 8 in flight): ${figures.rawSinkConditionalPutsPerSecond} records/s`,
        `  ratio ${figures.ratio} to kinesalite (information: the emulators' speed says nothing about AWS, see the shard bench); against the slower emulator of the path ${figures.ratioToSlowerEmulator} (not a target: how close the environment gets to its emulators' bound)`,
        cpuMsPerPut !== undefined
          ? `  CPU per conditional PutItem: ${figures.rawSinkClientCpuMsPerPut} ms in the SDK client + ${figures.rawSinkEmulatorCpuMsPerPut} ms in dynalite; ` +
            `${cores} cores could run at most ${figures.cpuBoundRecordsPerSecond} per second with nothing else to do, so no pipeline that writes each ` +
            `record once can exceed ratio ${figures.cpuBoundRatio} here`
          : '  CPU per conditional PutItem: not measured (no /proc)',
      ],
    };
  } finally {
    rmSync(runsDir, { recursive: true, force: true });
  }
}
