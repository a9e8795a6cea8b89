/**
 * End to end on emulators: kinesalite (2 shards) -> the local Kinesis event source mapping with 2-second tumbling
 * windows -> the profiler (in process, configured from the environment the construct sets) -> fauxqs S3.
 * Clean windows build a baseline; then a null burst, a volume drop and a shifted distribution are injected in
 * separate windows, each followed by a clean one. The right rule fails in each anomalous window, nothing else fires.
 * Also: the bundled handler (assets/lib/handlers/profiler/index.js) reaches S3 through AWS_ENDPOINT_URL_S3.
 */
import { randomUUID } from 'node:crypto';
import { PutRecordsCommand } from '@aws-sdk/client-kinesis';
import { CreateBucketCommand, ListObjectsV2Command, GetObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DriftMethod, QualityRuleKind, type QualityRule } from '../../../../constructs/quality-rules';
import { XorShift32, deserializeProfile } from '../../../../lib/core/profile';
import { profilerConfigFromEnv } from '../../../../lib/handlers/profiler';
import { PROFILER_ENV, QUALITY_METRIC } from '../../../../lib/handlers/profiler-contract';
import { S3ProfileStore } from '../../../../lib/handlers/profiler-s3';
import { WindowProfiler, type ResultsDocument } from '../../../../lib/handlers/profiler-window';
import { KinesisEventSourcePoller } from '../../../../lib/local/esm/kinesis';
import { parseKinesisMapping } from '../../../../lib/local/esm/parse';
import type { FunctionInvoker, InvokeResult } from '../../../../lib/local/esm/types';
import { MetricsStore } from '../../../../lib/local/metrics';
import { ensureHandlerBundle } from '../../../support/bundle';
import { ACCOUNT, REGION, startFauxqs, startKinesalite, type Fauxqs, type Kinesalite } from '../esm/support';

const WINDOW_SECONDS = 2;
const CLEAN_ROWS = 400;

const RULES: QualityRule[] = [
  { name: 'volume', kind: QualityRuleKind.VOLUME, lastWindows: 3, warn: { min: 0.6 }, fail: { min: 0.3 } },
  { name: 'amount-complete', kind: QualityRuleKind.COMPLETENESS, column: 'amount', warn: { min: 0.97 }, fail: { min: 0.9 } },
  { name: 'country-allowed', kind: QualityRuleKind.ALLOWED_VALUES, column: 'country', allowedValues: ['de', 'fr', 'it'], fail: { min: 0.99 } },
  { name: 'amount-drift', kind: QualityRuleKind.DRIFT, column: 'amount', driftMethod: DriftMethod.PSI, lastWindows: 3, minRows: 150, minBaselineRows: 500 },
];

type Phase = 'clean' | 'nulls' | 'drop' | 'shift';
/**
 * One phase per window: a baseline, then each anomaly followed by a clean window. The shift comes last: the window
 * after it is only there to close (and so evaluate) it; evaluated, it would rightly show drift back against a
 * baseline that contains the shifted window.
 */
const PHASES: Phase[] = ['clean', 'clean', 'clean', 'clean', 'nulls', 'clean', 'drop', 'clean', 'shift', 'clean'];

let kinesis: Kinesalite;
let faux: Fauxqs;

beforeAll(async () => {
  [kinesis, faux] = await Promise.all([startKinesalite(), startFauxqs()]);
});
afterAll(async () => {
  await Promise.all([kinesis?.stop(), faux?.stop()]);
});

function records(phase: Phase, rng: XorShift32, index: number): Array<{ PartitionKey: string; Data: Uint8Array }> {
  const n = phase === 'drop' ? 60 : CLEAN_ROWS;
  return Array.from({ length: n }, (_, i) => {
    const amount = phase === 'nulls' && i % 2 === 0 ? null : Math.round((phase === 'shift' ? 160 : 100) + 20 * rng.normal());
    const rec = { id: `w${index}-${i}`, phase, amount, country: ['de', 'fr', 'it'][rng.nextU32() % 3], ts: Date.now() };
    return { PartitionKey: `k${rng.nextU32() % 64}`, Data: Buffer.from(JSON.stringify(rec)) };
  });
}

/** Waits until `ms` after the next window boundary (arrival times decide the window). */
async function nextWindowStart(offsetMs: number): Promise<void> {
  const size = WINDOW_SECONDS * 1000;
  const wait = size - (Date.now() % size) + offsetMs;
  await new Promise((r) => setTimeout(r, wait));
}

async function readJson<T>(bucket: string, key: string): Promise<T> {
  const res = await faux.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return JSON.parse(await res.Body!.transformToString()) as T;
}

describe('profiler on the local Kinesis event source mapping with tumbling windows', () => {
  it('raises the right rule in each anomalous window and nothing in clean windows', { timeout: 90_000 }, async () => {
    const stream = `s-${randomUUID().slice(0, 8)}`;
    const streamArn = await kinesis.createStream(stream, 2);
    const bucket = `quality-${randomUUID().slice(0, 8)}`;
    await faux.s3.send(new CreateBucketCommand({ Bucket: bucket }));

    const lines: string[] = [];
    const config = profilerConfigFromEnv({
      PHX_PIPELINE: 'orders',
      [PROFILER_ENV.bucket]: bucket,
      [PROFILER_ENV.rules]: JSON.stringify(RULES),
      [PROFILER_ENV.windowSeconds]: String(WINDOW_SECONDS),
      [PROFILER_ENV.historyWindows]: '3',
      [PROFILER_ENV.eventTimeField]: 'ts',
    });
    const profiler = new WindowProfiler(config, { store: new S3ProfileStore(faux.s3, bucket), emit: (l) => lines.push(l) });
    const invoker: FunctionInvoker = {
      functionName: 'profiler',
      functionArn: `arn:aws:lambda:${REGION}:${ACCOUNT}:function:profiler`,
      async invoke(event: unknown): Promise<InvokeResult> {
        const t0 = Date.now();
        try {
          // JSON round trips, as between Lambda and the function.
          const payload = await profiler.handle(JSON.parse(JSON.stringify(event)));
          return { ok: true, payload: JSON.parse(JSON.stringify(payload)), durationMs: Date.now() - t0 };
        } catch (e) {
          return { ok: false, errorType: 'error', message: (e as Error).message, durationMs: Date.now() - t0 };
        }
      },
    };
    const mapping = parseKinesisMapping(
      {
        EventSourceArn: streamArn,
        FunctionName: 'profiler',
        StartingPosition: 'TRIM_HORIZON',
        BatchSize: 1000,
        TumblingWindowInSeconds: WINDOW_SECONDS,
        FunctionResponseTypes: ['ReportBatchItemFailures'],
        MaximumRetryAttempts: 10,
        BisectBatchOnFunctionError: true,
      },
      { uuid: randomUUID(), region: REGION, accountId: ACCOUNT, queueUrlForArn: () => { throw new Error('no queues'); } },
    );
    const poller = new KinesisEventSourcePoller(mapping, invoker, { kinesis: kinesis.client, sqs: faux.sqs, s3: faux.s3 }, {
      pollIntervalMs: 50, retryBackoffMs: 20, retryBackoffCapMs: 200,
    });
    poller.start();
    try {
      const rng = new XorShift32(42);
      for (let i = 0; i < PHASES.length; i++) {
        await nextWindowStart(100);
        const res = await kinesis.client.send(new PutRecordsCommand({ StreamName: stream, Records: records(PHASES[i], rng, i) }));
        expect(res.FailedRecordCount ?? 0).toBe(0);
      }
      // The last window closes once its end has passed and the shards were read past it; it evaluates the one before.
      const expectEvaluated = PHASES.length - 1;
      for (let i = 0; i < 100; i++) {
        const listed = await faux.s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'profiles/' }));
        if ((listed.Contents ?? []).filter((o) => o.Key!.endsWith('/results.json')).length >= expectEvaluated) break;
        await new Promise((r) => setTimeout(r, 100));
      }
    } finally {
      await poller.stop();
    }
    expect(poller.stats.functionErrors).toBe(0);

    const listed = await faux.s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'profiles/' }));
    const keys = (listed.Contents ?? []).map((o) => o.Key!);
    const windows = [...new Set(keys.map((k) => k.split('/')[1]))].sort();
    // Each window holds exactly one phase (else a phase spilled over a window boundary: the test says so, it does not guess).
    const phaseOf = new Map<string, Phase>();
    for (const w of windows.filter((x) => keys.includes(`profiles/${x}/merged.json`))) {
      const merged = deserializeProfile(await readJson(bucket, `profiles/${w}/merged.json`));
      const phases = merged.columns.get('phase')!.freq!.top().map((t) => t.value);
      expect(phases, `window ${w} mixes phases`).toHaveLength(1);
      phaseOf.set(w, phases[0] as Phase);
      expect(merged.windowEnd! - merged.windowStart!).toBe(WINDOW_SECONDS * 1000);
    }
    expect(keys.filter((k) => k.includes('/shards/')).length).toBeGreaterThanOrEqual(PHASES.length * 2 - 1); // both shards, every window

    const raised = new Map<Phase, Array<[string, string]>>(); // phase -> [rule, status] of warn/fail results
    const evaluatedPhases: Phase[] = [];
    for (const w of [...phaseOf.keys()].sort()) {
      const doc = await readJson<ResultsDocument>(bucket, `profiles/${w}/results.json`);
      expect(doc.parts.length, `window ${w} merged both shards`).toBe(2);
      const phase = phaseOf.get(w)!;
      evaluatedPhases.push(phase);
      const bad = doc.results.filter((r) => r.status === 'warn' || r.status === 'fail').map((r) => [r.rule, r.status] as [string, string]);
      raised.set(phase, [...(raised.get(phase) ?? []), ...bad]);
      if (phase !== 'clean') {
        // The anomaly windows come after the baseline: every rule was evaluated or skipped for a stated reason.
        expect(doc.history.length).toBe(3);
      }
    }
    expect(evaluatedPhases).toEqual(PHASES.slice(0, -1));
    expect(raised.get('clean')).toEqual([]);
    expect(raised.get('nulls')).toEqual([['amount-complete', 'fail']]);
    expect(raised.get('drop')).toEqual([['volume', 'fail']]);
    expect(raised.get('shift')).toEqual([['amount-drift', 'fail']]);

    // The EMF metrics say the same: at most one failure per window, never a warning. Every window is published at
    // least once; fauxqs ignores If-None-Match, so the two shards closing a window at the same moment may both
    // publish the same values (on S3 the evaluation marker lets only one of them; Maximum statistics are unaffected).
    const metrics = new MetricsStore();
    for (const l of lines) metrics.ingestLine(l);
    const failures = metrics.all().find((s) => s.name === QUALITY_METRIC.failures)!;
    expect(failures.count).toBeGreaterThanOrEqual(PHASES.length - 1);
    expect(failures.max).toBe(1);
    expect(metrics.all().find((s) => s.name === QUALITY_METRIC.rowsPerWindow)!.min).toBe(60);
    expect(metrics.all().find((s) => s.name === QUALITY_METRIC.warnings)!.sum).toBe(0);
    expect(metrics.all().find((s) => s.name === QUALITY_METRIC.ruleStatus && s.dimensions.Rule === 'amount-drift')!.max).toBe(2);
  });

  it('the bundled handler writes through AWS_ENDPOINT_URL_S3 (what the local environment sets)', async () => {
    const bundle = ensureHandlerBundle('profiler');
    const bucket = `quality-${randomUUID().slice(0, 8)}`;
    await faux.s3.send(new CreateBucketCommand({ Bucket: bucket }));
    const saved = { ...process.env };
    Object.assign(process.env, {
      PHX_PIPELINE: 'orders',
      [PROFILER_ENV.bucket]: bucket,
      [PROFILER_ENV.rules]: JSON.stringify(RULES),
      [PROFILER_ENV.windowSeconds]: '60',
      [PROFILER_ENV.historyWindows]: '3',
      AWS_ENDPOINT_URL_S3: faux.endpoint,
      AWS_REGION: REGION,
      AWS_ACCESS_KEY_ID: 'local',
      AWS_SECRET_ACCESS_KEY: 'local',
    });
    const writes: string[] = [];
    const write = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((chunk: string) => { writes.push(String(chunk)); return true; }) as typeof process.stdout.write;
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { handler } = require(bundle) as { handler: (e: unknown) => Promise<{ state: Record<string, unknown> }> };
      const window = { start: '2026-03-01T10:00:00Z', end: '2026-03-01T10:01:00Z' };
      const data = Buffer.from(JSON.stringify({ amount: 1, country: 'de' })).toString('base64');
      const r1 = await handler({ Records: [{ kinesis: { data, sequenceNumber: '1' } }], window, state: {}, shardId: 'shardId-000000000000', isFinalInvokeForWindow: false });
      await handler({ Records: [], window, state: r1.state, shardId: 'shardId-000000000000', isFinalInvokeForWindow: true });
    } finally {
      process.stdout.write = write;
      for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
      Object.assign(process.env, saved);
    }
    const listed = await faux.s3.send(new ListObjectsV2Command({ Bucket: bucket }));
    expect((listed.Contents ?? []).map((o) => o.Key)).toEqual(['profiles/2026-03-01T10:00:00Z/shards/shardId-000000000000-1.json']);
    expect(writes.some((w) => w.includes('"window closed"'))).toBe(true);
  });
});
