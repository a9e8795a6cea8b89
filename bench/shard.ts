/**
 * Shard benchmark: can the ingest stage keep up with one Kinesis shard in AWS? The production handler, configured as
 * IngestStage synthesizes it by default, processes one shard's backlog the way Lambda delivers it (one batch at a time
 * per shard and parallelization slot, an invoke overhead per batch, redelivery from the reported batch item failure)
 * against each sink adapter over a fake SDK client with the latency model of the local environment. Records are
 * ~1 KB, their partition keys (= natural keys) drawn from a Zipf distribution over 10,000 keys, each record a newer
 * version of its key. The upper anchor is Powertools' BatchProcessor (parallel, no per-key order) over the same sinks.
 */
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import { Logger } from '@aws-lambda-powertools/logger';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { KinesisClient } from '@aws-sdk/client-kinesis';
import type { S3Client } from '@aws-sdk/client-s3';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type { KinesisStreamEvent, KinesisStreamRecord } from 'aws-lambda';
import { context, happyPathWork, muted } from './handler';
import { FakeDynamoDb, FakeKinesis, FakeS3, hashRangeIndex, Latency, SDK_MAX_SOCKETS, SHARD_RECORDS_PER_S, type FakeService } from './shard-aws';
import type { BenchResult, BenchTarget } from './types';
import { IngestStage } from '../constructs';
import { PhoenixError } from '../lib/core/errors';
import { DynamoDbSink } from '../lib/handlers/ports/dynamodb';
import { KinesisSink } from '../lib/handlers/ports/kinesis';
import { MemoryDlq } from '../lib/handlers/ports/memory';
import { S3Sink } from '../lib/handlers/ports/s3';
import type { SinkPort } from '../lib/handlers/ports/types';
import { Random } from '../lib/local/random';
import { createIngestHandler } from '../lib/runtime';
import { kinesisRecord } from '../test/support/kinesis-record';

export interface ShardBenchOptions {
  readonly records?: number;
  /** Overrides of the synthesized settings, for exploring the levers. */
  readonly batchSize?: number;
  readonly recordConcurrency?: number;
  readonly parallelizationFactor?: number;
  /** Shards of the next stage's stream (Kinesis sink). */
  readonly nextShards?: number;
  /** Connections of the DynamoDB and S3 clients (the SDK's default is 50). */
  readonly sdkMaxSockets?: number;
  readonly seed?: number;
}

const KEYS = 10_000;
const ZIPF_EXPONENT = 1.0;
/** An on-demand stream's initial write capacity (4 MB/s, 4,000 records/s): the default next-stage stream. */
const ON_DEMAND_INITIAL_SHARDS = 4;

/** What IngestStage synthesizes by default (keyFields set: versions of a key share an id). */
interface StageDefaults {
  readonly env: Record<string, string>;
  readonly batchSize: number;
  readonly parallelizationFactor: number;
  readonly maxBatchingWindowS: number;
  readonly memoryMb: number;
}

function synthesizedDefaults(): StageDefaults {
  const stack = new Stack(new App(), 'ShardBench');
  new IngestStage(stack, 'Ingest', { pipelineName: 'bench', keyFields: ['orderId'] });
  const t = Template.fromStack(stack);
  const esm = Object.values(t.findResources('AWS::Lambda::EventSourceMapping'))[0].Properties;
  const fn = Object.values(t.findResources('AWS::Lambda::Function')).find((f) => f.Properties.Environment?.Variables?.PHX_PIPELINE === 'bench')!;
  const vars = fn.Properties.Environment.Variables as Record<string, unknown>;
  // Values CloudFormation resolves at deploy time (queue URL, bucket, table) get placeholders.
  const env = Object.fromEntries(Object.entries(vars).map(([k, v]) => [k, typeof v === 'string' ? v : {
    PHX_DLQ_URL: 'https://sqs.us-east-1.amazonaws.com/123456789012/bench-dlq',
    PHX_DLQ_OVERFLOW_BUCKET: 'bench-overflow',
  }[k] ?? 'bench-target']));
  return {
    env,
    batchSize: esm.BatchSize,
    parallelizationFactor: esm.ParallelizationFactor ?? 1,
    maxBatchingWindowS: esm.MaximumBatchingWindowInSeconds ?? 0,
    memoryMb: fn.Properties.MemorySize ?? 128,
  };
}

/** A seeded uniform generator: every run draws the same records and latencies for a seed. */
function seeded(seed: number): () => number {
  const r = new Random(seed);
  return () => r.next();
}

/** Zipf(s) over 1..n: the sampler of key ranks (rank 1 the hottest). */
function zipf(n: number, s: number, rng: () => number): () => number {
  const cdf = new Float64Array(n);
  let sum = 0;
  for (let k = 1; k <= n; k++) cdf[k - 1] = sum += 1 / k ** s;
  return () => {
    const u = rng() * sum;
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = Math.floor((lo + hi) / 2);
      if (cdf[mid] < u) lo = mid + 1;
      else hi = mid;
    }
    return lo + 1;
  };
}

/** One shard's records: ~1 KB each; the natural key is the partition key; event time grows with the sequence. */
function shardRecords(n: number, rng: () => number): KinesisStreamRecord[] {
  const rank = zipf(KEYS, ZIPF_EXPONENT, rng);
  const base = 49590338271490256608559692538361571095921575989136588898n;
  const pad = 'x'.repeat(860);
  return Array.from({ length: n }, (_, i) => {
    const key = `key-${rank()}`;
    const seq = String(base + BigInt(i));
    const payload = { orderId: key, eventTime: new Date(1_767_225_600_000 + i).toISOString(), seq: i, status: ['new', 'paid', 'shipped'][i % 3], pad };
    return kinesisRecord(payload, i, { partitionKey: key, sequenceNumber: seq, arrivalSeconds: 1_767_225_600 + i / 1000 });
  });
}

type BatchFn = (event: KinesisStreamEvent) => Promise<{ batchItemFailures: Array<{ itemIdentifier: string }> }>;

/** The partition-key hash range of Lambda's parallelization slot (`slots` per shard) a key belongs to. */
function slotOf(key: string, slots: number): number {
  return hashRangeIndex(key, slots);
}

/**
 * Lambda's event source mapping over one shard: per parallelization slot, one batch at a time, an invoke overhead
 * before each, and redelivery from the reported batch item failure. Returns the handler's batch durations.
 */
async function runShard(records: readonly KinesisStreamRecord[], fn: BatchFn, batchSize: number, slots: number, latency: Latency): Promise<number[]> {
  const durations: number[] = [];
  const bySlot: KinesisStreamRecord[][] = Array.from({ length: slots }, () => []);
  for (const r of records) bySlot[slotOf(r.kinesis.partitionKey, slots)].push(r);
  await Promise.all(bySlot.map(async (recs) => {
    let cursor = 0;
    let redeliveries = 0;
    while (cursor < recs.length) {
      const batch = recs.slice(cursor, cursor + batchSize);
      await new Promise((r) => setTimeout(r, latency.draw('lambda:Invoke')));
      const t0 = performance.now();
      const res = await fn({ Records: batch });
      durations.push(performance.now() - t0);
      // Lambda checkpoints before the lowest reported sequence number (a batch is in sequence order).
      const failed = new Set(res.batchItemFailures.map((f) => f.itemIdentifier));
      const found = batch.findIndex((r) => failed.has(r.kinesis.sequenceNumber));
      const at = failed.size === 0 ? batch.length : found;
      if (at < 0) throw new PhoenixError('BENCH_BAD_FAILURE', `batch item failures ${[...failed].join(', ')} are not in the batch`);
      if (at === 0 && ++redeliveries > 1000) throw new PhoenixError('BENCH_NO_PROGRESS', 'the shard made no progress in 1,000 deliveries');
      cursor += at;
    }
  }));
  return durations;
}

/** The production handler with the synthesized environment and `sink`. */
function handlerOf(d: StageDefaults, sink: SinkPort): BatchFn {
  const h = createIngestHandler({ env: d.env, sink, dlq: new MemoryDlq(), logger: new Logger({ serviceName: 'bench', logLevel: 'INFO' }) });
  return (event) => h(event, context());
}

/** Powertools BatchProcessor (parallel) around the handler's per-record happy path, over the same sink. */
function powertoolsOf(sink: SinkPort): BatchFn {
  const work = happyPathWork(sink);
  return async (event) => {
    const t0 = Date.now();
    work.newBatch();
    const res = await processPartialResponse(event, work.recordHandler, new BatchProcessor(EventType.KinesisDataStreams), { context: context() });
    work.observe(event.Records.length, res.batchItemFailures.length, t0);
    return res;
  };
}

interface SinkCase {
  readonly name: string;
  readonly make: (latency: Latency) => { fake: FakeService; sink: SinkPort };
}

function sinkCases(nextShards: number, sockets: number): SinkCase[] {
  return [
    { name: 'dynamodb', make: (l) => { const fake = new FakeDynamoDb(l, sockets); return { fake, sink: new DynamoDbSink(fake as unknown as DynamoDBClient, 'bench-table') }; } },
    { name: 's3', make: (l) => { const fake = new FakeS3(l, sockets); return { fake, sink: new S3Sink(fake as unknown as S3Client, 'bench-bucket') }; } },
    { name: 'kinesis', make: (l) => { const fake = new FakeKinesis(l, nextShards); return { fake, sink: new KinesisSink(fake as unknown as KinesisClient, 'next') }; } },
  ];
}

/** Per-key order of the writes (event times never go back for a key) and the final state per id against the reference. */
function check(fake: FakeService, records: readonly KinesisStreamRecord[]): { orderHeld: boolean; finalStateOk: boolean } {
  const last = new Map<string, string>();
  let orderHeld = true;
  for (const w of fake.writes) {
    const prev = last.get(w.key);
    if (prev !== undefined && w.eventTime < prev) orderHeld = false;
    last.set(w.key, w.eventTime);
  }
  const expected = new Map<string, string>();
  for (const r of records) {
    const p = JSON.parse(Buffer.from(r.kinesis.data, 'base64').toString('utf8')) as { orderId: string; eventTime: string };
    expected.set(p.orderId, p.eventTime);
  }
  const finals = [...fake.finalEventTimes().values()].sort();
  return { orderHeld, finalStateOk: finals.length === expected.size && finals.join() === [...expected.values()].sort().join() };
}

interface VariantFigures {
  recordsPerSecond: number;
  p99BatchMs: number;
  batches: number;
  gbSecondsPerMillion: number;
  requestsPerRecord: Record<string, number>;
  orderHeld: boolean;
  finalStateOk: boolean;
  throttledEntries?: number;
}

async function measure(c: SinkCase, variant: 'handler' | 'powertools', records: readonly KinesisStreamRecord[], d: StageDefaults, seed: number): Promise<VariantFigures> {
  const latency = new Latency(seeded(seed));
  const { fake, sink } = c.make(latency);
  const fn = variant === 'handler' ? handlerOf(d, sink) : powertoolsOf(sink);
  const t0 = performance.now();
  const { value: durations } = await muted(() => runShard(records, fn, d.batchSize, d.parallelizationFactor, latency));
  const wallS = (performance.now() - t0) / 1000;
  const sorted = [...durations].sort((a, b) => a - b);
  // Lambda bills each invocation's duration rounded up to the millisecond.
  const billedS = durations.reduce((a, ms) => a + Math.ceil(ms), 0) / 1000;
  return {
    recordsPerSecond: Math.round(records.length / wallS),
    p99BatchMs: Math.round(sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.99))]),
    batches: durations.length,
    gbSecondsPerMillion: Math.round((billedS * d.memoryMb / 1024 / records.length) * 1e6 * 10) / 10,
    requestsPerRecord: Object.fromEntries(Object.entries(fake.calls).map(([op, n]) => [op, Math.round((n / records.length) * 1000) / 1000])),
    ...check(fake, records),
    ...(fake instanceof FakeKinesis ? { throttledEntries: fake.throttled } : {}),
  };
}

function applyOverrides(d: StageDefaults, o: ShardBenchOptions): StageDefaults {
  return {
    ...d,
    env: { ...d.env, ...(o.recordConcurrency !== undefined ? { PHX_RECORD_CONCURRENCY: String(o.recordConcurrency) } : {}) },
    batchSize: o.batchSize ?? d.batchSize,
    parallelizationFactor: o.parallelizationFactor ?? d.parallelizationFactor,
  };
}

interface SinkFigures {
  readonly handler: VariantFigures;
  readonly powertools: VariantFigures;
  readonly ratioToShardLimit: number;
  readonly ratioToPowertools: number;
  /** Minutes to drain a backlog of one hour at the shard write limit while writes go on at that rate; null: never. */
  readonly catchUpMinutesPerBacklogHour: number | null;
}

function sinkFigures(handler: VariantFigures, powertools: VariantFigures): SinkFigures {
  const spare = handler.recordsPerSecond - SHARD_RECORDS_PER_S;
  return {
    handler,
    powertools,
    ratioToShardLimit: Math.round((handler.recordsPerSecond / SHARD_RECORDS_PER_S) * 100) / 100,
    ratioToPowertools: Math.round((handler.recordsPerSecond / powertools.recordsPerSecond) * 100) / 100,
    catchUpMinutesPerBacklogHour: spare > 0 ? Math.round((60 * SHARD_RECORDS_PER_S) / spare) : null,
  };
}

function sinkTargets(name: string, s: SinkFigures): BenchTarget[] {
  const need = name === 's3' ? 1.0 : 2.0;
  const kept = s.handler.orderHeld && s.handler.finalStateOk;
  return [
    { name: `${name}: records/s per shard / shard write limit`, value: s.ratioToShardLimit, target: need, op: '>=', pass: s.handler.recordsPerSecond / SHARD_RECORDS_PER_S >= need },
    { name: `${name}: per-key order and final state per id kept (1 = yes)`, value: kept ? 1 : 0, target: 1, op: '>=', pass: kept },
  ];
}

function sinkLines(name: string, s: SinkFigures): string[] {
  const h = s.handler;
  const p = s.powertools;
  const catchUp = s.catchUpMinutesPerBacklogHour === null ? 'never catches up' : `1 h backlog drains in ${s.catchUpMinutesPerBacklogHour} min`;
  return [
    `  ${name.padEnd(9)} handler    ${String(h.recordsPerSecond).padStart(6)} records/s per shard = ${s.ratioToShardLimit.toFixed(2)}x shard write limit `
      + `(${catchUp}), ${s.ratioToPowertools.toFixed(2)}x Powertools; p99 batch ${h.p99BatchMs} ms; ${h.gbSecondsPerMillion} GB-s per million records`,
    `  ${''.padEnd(20)} order ${h.orderHeld ? 'held' : 'BROKEN'}, final state ${h.finalStateOk ? 'ok' : 'WRONG'}; requests per record `
      + `${JSON.stringify(h.requestsPerRecord)}${h.throttledEntries !== undefined ? `; throttled entries ${h.throttledEntries}` : ''}`,
    `  ${''.padEnd(9)} powertools ${String(p.recordsPerSecond).padStart(6)} records/s per shard; p99 batch ${p.p99BatchMs} ms; ${p.gbSecondsPerMillion} GB-s per million `
      + `records; order ${p.orderHeld ? 'held' : 'not kept'}, final state ${p.finalStateOk ? 'ok' : 'WRONG'}`,
  ];
}

function hottestKeyRecords(records: readonly KinesisStreamRecord[]): number {
  const counts = new Map<string, number>();
  for (const r of records) counts.set(r.kinesis.partitionKey, (counts.get(r.kinesis.partitionKey) ?? 0) + 1);
  return Math.max(...counts.values());
}

export async function runShardBench(opts: ShardBenchOptions = {}): Promise<BenchResult> {
  const n = opts.records ?? 20_000;
  const seed = opts.seed ?? 1;
  const nextShards = opts.nextShards ?? ON_DEMAND_INITIAL_SHARDS;
  const sockets = opts.sdkMaxSockets ?? SDK_MAX_SOCKETS;
  const d = applyOverrides(synthesizedDefaults(), opts);
  const records = shardRecords(n, seeded(seed));
  const keysInUse = new Set(records.map((r) => r.kinesis.partitionKey)).size;
  const hottest = hottestKeyRecords(records);
  const sinks: Record<string, SinkFigures> = {};
  for (const c of sinkCases(nextShards, sockets)) {
    sinks[c.name] = sinkFigures(await measure(c, 'handler', records, d, seed + 1), await measure(c, 'powertools', records, d, seed + 1));
  }
  const concurrency = Number(d.env.PHX_RECORD_CONCURRENCY);
  const lines = [
    `shard benchmark: ${n} records of ~1 KB on one shard, partition keys Zipf(${ZIPF_EXPONENT}) over ${KEYS} keys (${keysInUse} in use, hottest ${hottest} records), seed ${seed}`,
    `  settings as synthesized: batchSize ${d.batchSize}, parallelizationFactor ${d.parallelizationFactor}, recordConcurrency ${concurrency}, `
      + `maxBatchingWindow ${d.maxBatchingWindowS} s (a backlog fills batches at once), memory ${d.memoryMb} MB; `
      + `DynamoDB/S3 client connections ${sockets}; next-stage stream ${nextShards} shards`,
    '  latency per call (p50/p99 ms, log-normal, lib/local/gates/latency-table.ts): DynamoDB PutItem 6/25, S3 HEAD 20/100, PUT 40/200, '
      + 'Kinesis PutRecord 20/100, PutRecords 30/150, Lambda invoke 10/50',
    ...Object.entries(sinks).flatMap(([name, s]) => sinkLines(name, s)),
  ];
  return {
    name: 'shard',
    figures: {
      records: n,
      seed,
      keys: KEYS,
      keysInUse,
      hottestKeyRecords: hottest,
      settings: {
        batchSize: d.batchSize,
        parallelizationFactor: d.parallelizationFactor,
        recordConcurrency: concurrency,
        maxBatchingWindowS: d.maxBatchingWindowS,
        memoryMb: d.memoryMb,
      },
      sdkMaxSockets: sockets,
      nextShards,
      sinks,
    },
    targets: Object.entries(sinks).flatMap(([name, s]) => sinkTargets(name, s)),
    lines,
  };
}
