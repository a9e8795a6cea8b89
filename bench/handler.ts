/**
 * Ingest handler benchmark: records/s of the production batch processor against
 *   (a) a floor: base64 decode + JSON.parse + JSON.stringify per record (the least any consumer does), and
 *   (c) Powertools BatchProcessor (Kinesis, default parallel mode) doing the same per-record work (and the same
 *       per-invocation EMF document and summary log line),
 * on the same ~1 KB JSON records, run interleaved over several rounds after a warm-up; medians are reported.
 * Also: the minified size and module load time of every handler asset (assets/lib/handlers/<name>/index.js).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import type { Context, KinesisStreamEvent, KinesisStreamRecord } from 'aws-lambda';
import type { BenchResult, BenchTarget } from './types';
import { METRIC_DIMENSIONS, METRICS_NAMESPACE } from '../constructs/contract';
import {
  decodeData, envelopeJson, eventTimeMs, idNamespaceFor, payloadBytesHash, payloadTextHash, sealEnvelope, toEnvelope,
  type CanonicalSlot, type Envelope, type VerbatimSlot,
} from '../lib/core';
import { MemoryDlq } from '../lib/handlers/ports/memory';
import type { SinkPort, SinkWriteMeta, WriteResult } from '../lib/handlers/ports/types';
import { compareVersions, type Version } from '../lib/handlers/ports/version';
import { emitBatchMetrics, newBatchStats } from '../lib/handlers/processor';
import { createIngestHandler } from '../lib/runtime';
import { kinesisRecord } from '../test/support/kinesis-record';
import { lambdaContext } from '../test/support/lambda';

export interface HandlerBenchOptions {
  readonly records?: number;
  readonly batchSize?: number;
  readonly rounds?: number;
}

export const PIPELINE = 'bench';
export const KEY_FIELDS = ['orderId'];
export const MAX_RECORD_BYTES = 1_048_576;

/**
 * In-memory idempotent sink, as cheap as a sink can be while doing what every real adapter does per record:
 * take the envelope's JSON text (the one the caller serialized, else serialize it, as the DynamoDB, S3 and Kinesis
 * adapters do) and compare versions. Keeps only id -> version (not the envelopes) to bound memory.
 */
export class BenchSink implements SinkPort {
  readonly versions = new Map<string, Version>();
  bytes = 0;
  async write(env: Envelope, meta: SinkWriteMeta): Promise<WriteResult> {
    this.bytes += (meta.envelopeJson ?? JSON.stringify(env)).length;
    const v: Version = { eventTime: env.eventTime, contentHash: meta.contentHash };
    const old = this.versions.get(env.id);
    if (old !== undefined && compareVersions(v, old) <= 0) return compareVersions(v, old) === 0 ? 'duplicate' : 'stale';
    this.versions.set(env.id, v);
    return 'written';
  }
}

/** A ~1 KB order-like JSON record. */
function payload(i: number): Record<string, unknown> {
  return {
    orderId: `ord-${i.toString(36).padStart(8, '0')}`,
    correlationId: `c-${i}`,
    eventTime: new Date(1_767_225_600_000 + i * 1000).toISOString(),
    customer: { id: `cust-${i % 5000}`, tier: ['gold', 'silver', 'bronze'][i % 3], country: 'DE', email: `user${i % 5000}@example.com` },
    items: Array.from({ length: 4 }, (_, k) => ({ sku: `SKU-${(i * 7 + k) % 10000}`, qty: 1 + ((i + k) % 5), price: Math.round(((i % 97) + k * 3.5) * 100) / 100 })),
    shipping: { method: 'express', address: { street: `${i % 300} Main Street`, city: 'Berlin', zip: `${10000 + (i % 9000)}` } },
    channel: 'web',
    notes: 'Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore et dolore magna aliqua.',
    userAgent: 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
    referrer: `https://www.example.com/catalog/category-${i % 40}/product-${i % 1000}?utm_source=newsletter&utm_campaign=winter`,
    session: { id: `sess-${(i * 2654435761) % 1e9}`, startedAt: new Date(1_767_225_000_000 + i * 1000).toISOString(), pageViews: i % 17 },
    flags: { gift: i % 11 === 0, priority: i % 13 === 0 },
  };
}

export function makeBatches(n: number, batchSize: number): KinesisStreamEvent[] {
  const batches: KinesisStreamEvent[] = [];
  let records: KinesisStreamRecord[] = [];
  const base = 49590338271490256608559692538361571095921575989136588898n;
  for (let i = 0; i < n; i++) {
    // Arrival one second apart, as the event times: an event time more than 5 minutes past arrival is dead-lettered.
    const opts = { partitionKey: `pk-${i % 64}`, sequenceNumber: String(base + BigInt(i)), arrivalSeconds: 1_767_225_600 + i };
    records.push(kinesisRecord(payload(i), i, opts));
    if (records.length === batchSize) {
      batches.push({ Records: records });
      records = [];
    }
  }
  if (records.length > 0) batches.push({ Records: records });
  return batches;
}

/** The bench's Lambda context: 1,024 MB, ten minutes left. */
export function context(): Context {
  return lambdaContext({ functionName: 'bench', memoryMb: 1024, remainingMs: () => 600_000 });
}

export type Variant = (batches: readonly KinesisStreamEvent[]) => Promise<number>;

/** Swallows stdout/stderr writes (log lines and EMF documents are still built and serialized), counting lines. */
export function muted<T>(fn: () => Promise<T>): Promise<{ value: T; lines: number }> {
  const out = process.stdout.write.bind(process.stdout);
  const err = process.stderr.write.bind(process.stderr);
  let lines = 0;
  const sink = ((chunk: string | Uint8Array) => {
    lines += String(chunk).split('\n').length - 1;
    return true;
  }) as typeof process.stdout.write;
  process.stdout.write = sink;
  process.stderr.write = sink;
  return fn().then(
    (value) => ({ value, lines }),
    (e: unknown) => {
      throw e;
    },
  ).finally(() => {
    process.stdout.write = out;
    process.stderr.write = err;
  });
}

export function floorVariant(): Variant {
  return async (batches) => {
    let bytes = 0;
    for (const b of batches) {
      for (const r of b.Records) {
        const obj = JSON.parse(Buffer.from(r.kinesis.data, 'base64').toString('utf8'));
        bytes += JSON.stringify(obj).length;
      }
    }
    return bytes;
  };
}

export function handlerVariant(schema?: object): Variant {
  const sink = new BenchSink();
  const handler = createIngestHandler({
    env: { PHX_PIPELINE: PIPELINE, POWERTOOLS_SERVICE_NAME: 'bench' },
    keyFields: KEY_FIELDS,
    maxRecordBytes: MAX_RECORD_BYTES,
    schema,
    sink,
    dlq: new MemoryDlq(),
    logger: new Logger({ serviceName: 'bench', logLevel: 'INFO' }),
  });
  return async (batches) => {
    let failures = 0;
    for (const b of batches) failures += (await handler(b, context())).batchItemFailures.length;
    if (failures > 0) throw new Error(`handler reported ${failures} batch item failures`);
    return sink.bytes;
  };
}

/**
 * Powertools BatchProcessor (Kinesis, default parallel mode) around the per-record work of the handler's happy path
 * (lib/handlers/processor.ts; the same core functions in the same order: strict decode, envelope with deterministic id,
 * payload text (the record text itself when decodeData proves it is JSON.stringify of the payload) and its hash, sealed envelope serialized once, idempotent write, a latency and an age sample), plus
 * the observability every invocation of the handler has: one EMF document (emitBatchMetrics, the handler's own code,
 * on a Powertools Metrics configured like the handler's) and one summary log line. What differs is the orchestration:
 * the handler's ordering, retries, DLQ routing and batch-failure reporting against BatchProcessor's.
 */
function powertoolsVariant(observability = true): Variant {
  const work = happyPathWork(new BenchSink());
  return async (batches) => {
    let failures = 0;
    for (const b of batches) {
      const t0 = Date.now();
      work.newBatch();
      const processor = new BatchProcessor(EventType.KinesisDataStreams);
      const res = await processPartialResponse(b, work.recordHandler, processor, { context: context() });
      failures += res.batchItemFailures.length;
      if (!observability) continue;
      work.observe(b.Records.length, res.batchItemFailures.length, t0);
    }
    if (failures > 0) throw new Error(`powertools reported ${failures} batch item failures`);
    return work.sink.bytes;
  };
}

/**
 * The per-record work of the handler's happy path, in the handler's order, with the per-batch observability (one EMF
 * document through Powertools Metrics, one summary log line): shared by the Powertools variants and by the
 * orchestration-free loop below.
 */
export function happyPathWork<S extends SinkPort>(sink: S) {
  const namespace = idNamespaceFor(PIPELINE);
  const logger = new Logger({ serviceName: 'bench', logLevel: 'INFO', persistentKeys: { pipeline: PIPELINE, stage: 'ingest' } });
  const metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName: 'bench' });
  metrics.clearDefaultDimensions();
  metrics.setDefaultDimensions({ [METRIC_DIMENSIONS.pipeline]: PIPELINE, [METRIC_DIMENSIONS.stage]: 'ingest' });
  const slot: CanonicalSlot = {};
  const verbatim: VerbatimSlot = {};
  let stats = newBatchStats(Math.random);
  const recordHandler = async (r: KinesisStreamRecord): Promise<WriteResult> => {
    const start = Date.now();
    const decoded = decodeData(r.kinesis.data, { maxBytes: MAX_RECORD_BYTES }, verbatim);
    if (!decoded.ok) throw new Error(decoded.reason.message);
    const env = toEnvelope(decoded.value, { namespace, keyFields: KEY_FIELDS, source: 'bench', arrivedAtMs: Math.round(r.kinesis.approximateArrivalTimestamp * 1000) }, slot);
    // The handler's payload text: the canonical text the id hashed, else the record text when it is exactly
    // JSON.stringify of the payload (its bytes hashed as they are), else JSON.stringify.
    const text = slot.canonicalPayload ?? verbatim.json;
    const json = text ?? JSON.stringify(env.payload);
    const hash = text !== undefined && text === verbatim.json ? payloadBytesHash(verbatim.utf8!) : payloadTextHash(json);
    const out = sealEnvelope(env, env.payload, 'ingest', start, Date.now(), 1);
    const result = await sink.write(out, {
      partitionKey: r.kinesis.partitionKey,
      sequenceNumber: r.kinesis.sequenceNumber,
      contentHash: hash,
      envelopeJson: envelopeJson(out, json),
    });
    const end = Date.now();
    if (result === 'written') stats.written++;
    else if (result === 'duplicate') stats.duplicates++;
    else stats.stale++;
    stats.latency.add(end - start);
    stats.age.add(Math.max(0, end - eventTimeMs(env.eventTime)));
    return result;
  };
  return {
    sink,
    recordHandler,
    newBatch(): void {
      stats = newBatchStats(Math.random);
    },
    /** The handler's per-batch observability: the EMF document and the summary log line. */
    observe(records: number, failures: number, t0: number): void {
      emitBatchMetrics(metrics, stats, records, failures);
      logger.info('batch processed', {
        records,
        written: stats.written,
        duplicates: stats.duplicates,
        stale: stats.stale,
        failures,
        durationMs: Date.now() - t0,
      });
    },
  };
}

/**
 * Informational, not a target: the happy path's per-record work in a plain loop (no orchestration at all: no ordering
 * guarantees, retries, DLQ routing or failure reporting), with or without the per-batch EMF document and log line. Its
 * ratio to the floor is what a handler made of these core steps would reach if its orchestration cost nothing: the
 * bench prints it so that the gap to the floor splits into orchestration, observability and core steps.
 */
function coreStepsVariant(observability: boolean): Variant {
  const work = happyPathWork(new BenchSink());
  return async (batches) => {
    for (const b of batches) {
      const t0 = Date.now();
      work.newBatch();
      for (const r of b.Records) await work.recordHandler(r);
      if (observability) work.observe(b.Records.length, 0, t0);
    }
    return work.sink.bytes;
  };
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

async function timeIt(v: Variant, batches: readonly KinesisStreamEvent[]): Promise<number> {
  const t0 = process.hrtime.bigint();
  await muted(() => v(batches));
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

/** Size and module load time (require + one macrotask, so that lazy imports started at load settle) of each asset. */
function assetFigures(root: string, loads: number): Array<{ name: string; bytes: number; loadMsMedian?: number; loadError?: string }> {
  const dir = join(root, 'assets/lib/handlers');
  if (!existsSync(dir)) return [];
  return readdirSync(dir).filter((n) => existsSync(join(dir, n, 'index.js'))).map((name) => {
    const file = join(dir, name, 'index.js');
    const bytes = statSync(file).size;
    const env = {
      ...process.env,
      AWS_REGION: 'us-east-1',
      PHX_PIPELINE: 'bench',
      PHX_SINK_KIND: 'dynamodb',
      PHX_SINK_TARGET: 'bench-table',
      PHX_DLQ_URL: 'https://sqs.us-east-1.amazonaws.com/123456789012/bench-dlq',
      PHX_DLQ_OVERFLOW_BUCKET: 'bench-dlq-overflow',
      NODE_NO_WARNINGS: '1',
    };
    const script = `const t=process.hrtime.bigint();require(${JSON.stringify(file)});setImmediate(()=>process.stdout.write(String(Number(process.hrtime.bigint()-t)/1e6)))`;
    const times: number[] = [];
    try {
      for (let i = 0; i < loads; i++) {
        times.push(Number(execFileSync(process.execPath, ['-e', script], { env, cwd: root, stdio: ['ignore', 'pipe', 'pipe'], timeout: 30_000 }).toString()));
      }
    } catch (e) {
      return { name, bytes, loadError: (e as Error).message.split('\n')[0] };
    }
    return { name, bytes, loadMsMedian: Math.round(median(times) * 10) / 10 };
  });
}

export async function runHandlerBench(opts: HandlerBenchOptions = {}): Promise<BenchResult> {
  const n = opts.records ?? 100_000;
  const batchSize = opts.batchSize ?? 100;
  const rounds = opts.rounds ?? 5;
  const batches = makeBatches(n, batchSize);
  const avgBytes = Math.round(batches.reduce((a, b) => a + b.Records.reduce((x, r) => x + (r.kinesis.data.length * 3) / 4, 0), 0) / n);

  const schema = {
    type: 'object',
    required: ['orderId', 'eventTime', 'customer', 'items'],
    properties: {
      orderId: { type: 'string' },
      eventTime: { type: 'string', format: 'date-time' },
      customer: { type: 'object', required: ['id'], properties: { id: { type: 'string' } } },
      items: { type: 'array', items: { type: 'object', required: ['sku', 'qty', 'price'], properties: { qty: { type: 'integer' }, price: { type: 'number' } } } },
    },
  };
  const variants: Record<string, () => Variant> = {
    floor: floorVariant,
    handler: () => handlerVariant(),
    powertools: () => powertoolsVariant(),
    // Informational: the same without the EMF document and summary log line (not a target).
    powertoolsBare: () => powertoolsVariant(false),
    handlerWithSchema: () => handlerVariant(schema),
    // Informational: the same core steps with no orchestration, with and without the per-batch observability.
    coreSteps: () => coreStepsVariant(true),
    coreStepsNoEmf: () => coreStepsVariant(false),
  };
  const names = Object.keys(variants);

  // Warm-up: JIT every path on a tenth of the data.
  const warm = batches.slice(0, Math.max(1, Math.floor(batches.length / 10)));
  for (const name of names) await timeIt(variants[name](), warm);

  const seconds: Record<string, number[]> = Object.fromEntries(names.map((k) => [k, []]));
  for (let r = 0; r < rounds; r++) {
    // Rotate the order every round so that no variant always runs first (GC debt, thermal state).
    const order = names.map((_, i) => names[(i + r) % names.length]);
    for (const name of order) {
      // A fresh sink per run: every run writes each record for the first time (no duplicate shortcut).
      seconds[name].push(await timeIt(variants[name](), batches));
    }
  }
  const rps = Object.fromEntries(names.map((k) => [k, Math.round(n / median(seconds[k]))]));
  const perRound = (a: string, b: string) => median(seconds[a].map((s, i) => seconds[b][i] / s));
  const ratioFloor = Math.round(perRound('handler', 'floor') * 1000) / 1000;
  const ratioPowertools = Math.round(perRound('handler', 'powertools') * 1000) / 1000;
  const ratioPowertoolsBare = Math.round(perRound('handler', 'powertoolsBare') * 1000) / 1000;
  const coreStepsToFloor = Math.round(perRound('coreSteps', 'floor') * 1000) / 1000;
  const coreStepsNoEmfToFloor = Math.round(perRound('coreStepsNoEmf', 'floor') * 1000) / 1000;

  const assets = assetFigures(resolve(__dirname, '..'), 5);
  // CPU ratios are information: what limits a stage in AWS is the sink's latency (npm run bench -- shard).
  const targets: BenchTarget[] = [
    ...assets.map((a): BenchTarget => ({
      name: `asset ${a.name} KB (minified)`,
      value: Math.round(a.bytes / 102.4) / 10,
      target: 100,
      op: '<=',
      pass: a.bytes <= 100 * 1024,
    })),
  ];
  const lines = [
    `handler benchmark: ${n} records of ~${avgBytes} B JSON, batches of ${batchSize}, ${rounds} interleaved rounds after warm-up (medians)`,
    ...names.map((k) => `  ${k.padEnd(18)} ${String(rps[k]).padStart(9)} records/s   (${seconds[k].map((s) => s.toFixed(2)).join(' ')} s)`),
    `  handler/floor        ${ratioFloor.toFixed(3)}  (information: CPU only)`,
    `  handler/powertools   ${ratioPowertools.toFixed(3)}  (information: CPU only)`,
    `  handler/powertoolsBare ${ratioPowertoolsBare.toFixed(3)} (informational: Powertools without EMF document and summary log)`,
    `  coreSteps/floor      ${coreStepsToFloor.toFixed(3)}  (informational: the handler's core steps and EMF document with no orchestration at all)`,
    `  coreStepsNoEmf/floor ${coreStepsNoEmfToFloor.toFixed(3)}  (informational: the same without the EMF document and summary log)`,
    ...assets.map((a) => `  asset ${a.name}: ${(a.bytes / 1024).toFixed(1)} KB minified, module load ${a.loadMsMedian !== undefined ? `${a.loadMsMedian} ms (median of 5, require + 1 tick, SDK clients included)` : `failed: ${a.loadError}`}`),
  ];
  return {
    name: 'handler',
    figures: {
      records: n,
      avgRecordBytes: avgBytes,
      batchSize,
      rounds,
      recordsPerSecond: rps,
      secondsPerRound: seconds,
      ratios: {
        handlerToFloor: ratioFloor,
        handlerToPowertools: ratioPowertools,
        handlerToPowertoolsBare: ratioPowertoolsBare,
        coreStepsToFloor,
        coreStepsNoEmfToFloor,
      },
      assets,
    },
    targets,
    lines,
  };
}
