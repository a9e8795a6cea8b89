/**
 * Where the ingest handler's time per record goes, as a waterfall of CPU time (process.cpuUsage, so that other load on
 * a shared machine counts less than in wall time): the floor, then the handler's per-record steps added one at a time
 * on the same records (strict decode with the verbatim check, envelope + id, payload hash, sealed envelope + its JSON,
 * the bench sink's write), then the full handler with a Metrics whose addMetric/publishStoredMetrics do nothing (no
 * EMF), then the full handler. Informational (docs/performance.md); not a benchmark target.
 *
 *   node --expose-gc --import tsx bench/handler-breakdown.ts [records=50000] [rounds=7]
 */
import { Logger } from '@aws-lambda-powertools/logger';
import type { Metrics } from '@aws-lambda-powertools/metrics';
import type { KinesisStreamEvent } from 'aws-lambda';
import {
  BenchSink, context, floorVariant, handlerVariant, KEY_FIELDS, makeBatches, MAX_RECORD_BYTES, median, muted, PIPELINE, type Variant,
} from './handler';
import {
  decodeData, envelopeJson, idNamespaceFor, payloadBytesHash, payloadTextHash, sealEnvelope, toEnvelope, type CanonicalSlot, type VerbatimSlot,
} from '../lib/core';
import { MemoryDlq } from '../lib/handlers/ports/memory';
import { createIngestHandler } from '../lib/runtime';

/** The handler's per-record steps up to `level` (1 decode .. 5 sink write), in a plain loop. */
function steps(level: number): Variant {
  const namespace = idNamespaceFor(PIPELINE);
  return async (batches) => {
    const sink = new BenchSink();
    const slot: CanonicalSlot = {};
    const verbatim: VerbatimSlot = {};
    let bytes = 0;
    for (const b of batches) {
      for (const r of b.Records) {
        const d = decodeData(r.kinesis.data, { maxBytes: MAX_RECORD_BYTES }, verbatim);
        if (!d.ok) throw new Error(d.reason.message);
        if (level < 2) continue;
        const arrivedAtMs = Math.round(r.kinesis.approximateArrivalTimestamp * 1000);
        const env = toEnvelope(d.value, { namespace, keyFields: KEY_FIELDS, source: 'bench', arrivedAtMs }, slot);
        if (level < 3) continue;
        const json = verbatim.json ?? JSON.stringify(env.payload);
        const hash = verbatim.utf8 !== undefined ? payloadBytesHash(verbatim.utf8) : payloadTextHash(json);
        if (level < 4) continue;
        const out = sealEnvelope(env, env.payload, 'ingest', Date.now(), Date.now(), 1);
        const text = envelopeJson(out, json);
        if (level < 5) {
          bytes += text.length;
          continue;
        }
        const meta = { partitionKey: r.kinesis.partitionKey, sequenceNumber: r.kinesis.sequenceNumber, contentHash: hash, envelopeJson: text };
        await sink.write(out, meta);
      }
    }
    return bytes + sink.bytes;
  };
}

/** The full handler with a Metrics stub: what the EMF document costs is the difference to the full handler. */
function handlerWithoutEmf(): Variant {
  const sink = new BenchSink();
  const stub = { addMetric: () => stub, publishStoredMetrics: () => stub } as unknown as Metrics;
  const handler = createIngestHandler({
    env: { PHX_PIPELINE: PIPELINE, POWERTOOLS_SERVICE_NAME: 'bench' },
    keyFields: KEY_FIELDS,
    maxRecordBytes: MAX_RECORD_BYTES,
    sink,
    dlq: new MemoryDlq(),
    logger: new Logger({ serviceName: 'bench', logLevel: 'INFO' }),
    metrics: stub,
  });
  return async (batches) => {
    for (const b of batches) await handler(b, context());
    return sink.bytes;
  };
}

async function cpuSeconds(v: Variant, batches: readonly KinesisStreamEvent[]): Promise<number> {
  (globalThis as { gc?: () => void }).gc?.();
  const c0 = process.cpuUsage();
  await muted(() => v(batches));
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / 1e6;
}

async function main(): Promise<void> {
  const n = Number(process.argv[2] ?? 50_000);
  const rounds = Number(process.argv[3] ?? 7);
  if (!Number.isSafeInteger(n) || n < 100 || !Number.isSafeInteger(rounds) || rounds < 1) {
    throw new Error(`usage: handler-breakdown.ts [records >= 100] [rounds >= 1]; got ${JSON.stringify(process.argv.slice(2))}`);
  }
  const batches = makeBatches(n, 100);
  const variants: Record<string, () => Variant> = {
    'floor': floorVariant,
    'decode (strict + verbatim)': () => steps(1),
    '+ envelope and id': () => steps(2),
    '+ payload hash': () => steps(3),
    '+ sealed envelope JSON': () => steps(4),
    '+ sink write': () => steps(5),
    'handler without EMF': handlerWithoutEmf,
    'handler': () => handlerVariant(),
  };
  const names = Object.keys(variants);
  for (const k of names) await cpuSeconds(variants[k](), batches.slice(0, Math.max(1, batches.length / 10)));
  const seconds: Record<string, number[]> = Object.fromEntries(names.map((k) => [k, []]));
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < names.length; i++) {
      const k = names[(i + r) % names.length];
      seconds[k].push(await cpuSeconds(variants[k](), batches));
    }
  }
  const us = (k: string) => (median(seconds[k]) * 1e6) / n;
  console.log(`handler breakdown: ${n} records, ${rounds} rounds, CPU us per record (medians)`);
  let prev: number | undefined;
  for (const k of names) {
    const v = us(k);
    console.log(`  ${k.padEnd(28)} ${v.toFixed(2).padStart(6)}${prev !== undefined && k !== 'floor' ? `  (${v - prev >= 0 ? '+' : ''}${(v - prev).toFixed(2)})` : ''}`);
    prev = v;
  }
  console.log(`  handler/floor (CPU) ${(us('floor') / us('handler')).toFixed(3)}; without EMF ${(us('floor') / us('handler without EMF')).toFixed(3)}`);
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
