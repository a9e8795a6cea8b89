import { describe, expect, it } from 'vitest';
import { MemoryStore, batchEvent, finalEvent, gzRules, record, windowOf } from './support/profiler';
import { METRICS_NAMESPACE } from '../../../constructs/contract';
import { DriftMethod, QualityMetric, QualityRuleKind, type QualityRule } from '../../../constructs/quality-rules';
import { buildCanaryEnvelope } from '../../../lib/core/canary';
import { XorShift32, deserializeProfile } from '../../../lib/core/profile';
import { profilerConfigFromEnv } from '../../../lib/handlers/profiler';
import { PROFILER_ENV, QUALITY_METRIC, decodeRules, profileKeys } from '../../../lib/handlers/profiler-contract';
import { S3ProfileStore } from '../../../lib/handlers/profiler-s3';
import { CANARY_RECORD, ProfilerError, WindowProfiler, recordPayload, type ProfilerState, type ResultsDocument } from '../../../lib/handlers/profiler-window';
import { MetricsStore } from '../../../lib/local/metrics';
import { twentyColumnRecord } from '../../support/profile-data';

const RULES: QualityRule[] = [
  { name: 'volume', kind: QualityRuleKind.VOLUME, lastWindows: 2, warn: { min: 0.8 }, fail: { min: 0.5 } },
  { name: 'amount-complete', kind: QualityRuleKind.COMPLETENESS, column: 'amount', warn: { min: 0.99 }, fail: { min: 0.9 } },
  { name: 'country-allowed', kind: QualityRuleKind.ALLOWED_VALUES, column: 'country', allowedValues: ['de', 'fr'], fail: { min: 0.95 } },
  { name: 'amount-max', kind: QualityRuleKind.RANGE, column: 'amount', metric: QualityMetric.MAX, fail: { max: 1000 } },
  { name: 'amount-drift', kind: QualityRuleKind.DRIFT, column: 'amount', driftMethod: DriftMethod.PSI, minRows: 50, minBaselineRows: 50 },
];

function setup(rules: QualityRule[] = RULES) {
  const store = new MemoryStore();
  const lines: string[] = [];
  const profiler = new WindowProfiler({ pipeline: 'orders', rules, windowSeconds: 60, historyWindows: 3 }, { store, emit: (l) => lines.push(l) });
  return { store, lines, profiler };
}

const W0 = '2026-03-01T10:00:00Z';
const win = (i: number) => windowOf(new Date(Date.parse(W0) + i * 60_000).toISOString().replace(/\.\d{3}Z$/, 'Z'), 60);

function rows(n: number, amount: (i: number) => number | null = (i) => (i % 100) + 1, country = (i: number): string => (i % 2 ? 'de' : 'fr')) {
  return Array.from({ length: n }, (_, i) => record({ amount: amount(i), country: country(i), id: `r${i}` }));
}

/** Runs one window on one shard: batches of 50, then the final invocation. */
async function runWindow(p: WindowProfiler, i: number, recs: unknown[], shardId = 'shardId-000000000000') {
  let state: Record<string, unknown> = {};
  for (let off = 0; off < recs.length; off += 50) {
    state = (await p.handle(batchEvent(win(i), state, recs.slice(off, off + 50), shardId))).state;
  }
  return p.finish(finalEvent(win(i), state, shardId));
}

describe('WindowProfiler: window state', () => {
  it('accumulates a profile across invocations; the state is plain JSON another container can continue from', async () => {
    const a = setup();
    const r1 = await a.profiler.handle(batchEvent(win(0), {}, rows(30)));
    const state = JSON.parse(JSON.stringify(r1.state)) as ProfilerState & Record<string, unknown>; // what Lambda carries
    expect(state.v).toBe(1);
    expect(r1.batchItemFailures).toEqual([]);
    // A different container (no cache) continues from the serialized state.
    const b = setup();
    const r2 = await b.profiler.handle(batchEvent(win(0), state as never, rows(20)));
    expect(deserializeProfile((r2.state as unknown as ProfilerState).p).rows).toBe(50);
    expect((r2.state as unknown as ProfilerState).first).toBe(state.first);
  });

  it('a redelivered batch (same incoming state) is not counted twice, even in the container that saw it', async () => {
    const { profiler } = setup();
    const s1 = (await profiler.handle(batchEvent(win(0), {}, rows(10)))).state;
    const batch2 = rows(5);
    const s2 = (await profiler.handle(batchEvent(win(0), s1, batch2))).state as unknown as ProfilerState;
    // Lambda did not get the response: it retries batch 2 with state s1 (not s2).
    const retry = (await profiler.handle(batchEvent(win(0), s1, batch2))).state as unknown as ProfilerState;
    expect(deserializeProfile(s2.p).rows).toBe(15);
    expect(deserializeProfile(retry.p).rows).toBe(15);
  });

  it('counts records that are not JSON objects as unparseable and profiles the payload of envelopes', async () => {
    const { profiler } = setup();
    const recs = [
      record({ v: 1, id: 'x', eventTime: '2026-03-01T10:00:00Z', payload: { amount: 5, country: 'de' } }),
      record('not json', true),
      record([1, 2]),
      record({ amount: 7, country: 'fr' }),
    ];
    const st = (await profiler.handle(batchEvent(win(0), {}, recs))).state as unknown as ProfilerState;
    const p = deserializeProfile(st.p);
    expect(p.rows).toBe(2);
    expect(p.unparseable).toBe(2);
    expect([...p.columns.keys()].sort()).toEqual(['amount', 'country']);
    expect(recordPayload(Buffer.from([0xff, 0xfe]).toString('base64'))).toBeUndefined();
  });

  it('skips synthetic canaries (not data: they would count as rows missing every column)', async () => {
    const { profiler } = setup();
    const canary = buildCanaryEnvelope('orders', Date.parse(W0), Buffer.alloc(32, 7));
    const batch = [...rows(3), record(canary as unknown as Record<string, unknown>)];
    const st = (await profiler.handle(batchEvent(win(0), {}, batch))).state as unknown as ProfilerState;
    const p = deserializeProfile(st.p);
    expect(p.rows).toBe(3);
    expect(p.unparseable).toBe(0);
    expect(p.columns.get('amount')!.count).toBe(3);
    expect(recordPayload(Buffer.from(JSON.stringify(canary)).toString('base64'))).toBe(CANARY_RECORD);
    // A business record with a canary field is data.
    expect(recordPayload(Buffer.from(JSON.stringify({ canary: true, amount: 1 })).toString('base64'))).toEqual({ canary: true, amount: 1 });
  });

  it('keeps the window state of 20-column records under 256 KB whatever the record count', async () => {
    const { profiler } = setup();
    const r = new XorShift32(3);
    let state: Record<string, unknown> = {};
    const sizes: number[] = [];
    for (let batch = 0; batch < 60; batch++) {
      const recs = Array.from({ length: 1000 }, (_, j) => {
        const i = batch * 1000 + j;
        return record(twentyColumnRecord(r, i));
      });
      state = (await profiler.handle(batchEvent(win(0), state, recs))).state;
      if (batch % 20 === 19) sizes.push(Buffer.byteLength(JSON.stringify(state)));
    }
    expect(deserializeProfile((state as unknown as ProfilerState).p).columns.size).toBe(20);
    expect(Math.max(...sizes)).toBeLessThan(256 * 1024);
  });

  it('rejects an event without a tumbling window', async () => {
    const { profiler } = setup();
    await expect(profiler.handle({ Records: [] })).rejects.toThrow(/TumblingWindowInSeconds/);
  });
});

describe('WindowProfiler: shard parts, merge and evaluation', () => {
  it('writes the shard part on the final invocation and evaluates the previous window, not the current one', async () => {
    const { store, profiler } = setup();
    const o0 = await runWindow(profiler, 0, rows(100));
    expect(o0.shardKey).toMatch(/^profiles\/2026-03-01T10:00:00Z\/shards\/shardId-000000000000-\d+\.json$/);
    expect(o0.evaluated).toBeUndefined();
    expect(o0.note).toBe('no earlier window to evaluate');
    const o1 = await runWindow(profiler, 1, rows(100));
    expect(o1.evaluated?.window).toBe(W0);
    expect(o1.evaluated?.rows).toBe(100);
    expect(store.objects.has(profileKeys.merged(W0))).toBe(true);
    expect(store.objects.has(profileKeys.merged(win(1).start))).toBe(false);
    const merged = deserializeProfile(store.objects.get(profileKeys.merged(W0))!);
    expect([merged.windowStart, merged.windowEnd]).toEqual([Date.parse(W0), Date.parse(W0) + 60_000]);
  });

  it('merges the parts of all shards; repeated final invocations and other shards do not publish again', async () => {
    const { store, lines, profiler } = setup();
    await runWindow(profiler, 0, rows(100), 'shardId-000000000000');
    await runWindow(profiler, 0, rows(60), 'shardId-000000000001');
    const first = await runWindow(profiler, 1, rows(10), 'shardId-000000000000');
    expect(first.evaluated).toMatchObject({ window: W0, parts: 2, rows: 160, published: true });
    const emfAfterFirst = lines.filter((l) => l.includes('"_aws"')).length;
    expect(emfAfterFirst).toBeGreaterThan(0);
    const second = await runWindow(profiler, 1, rows(10), 'shardId-000000000001');
    expect(second.evaluated).toMatchObject({ window: W0, parts: 2, rows: 160, published: false });
    // The same final invocation delivered twice (at-least-once).
    const again = await profiler.finish(finalEvent(win(1), {}, 'shardId-000000000001'));
    expect(again.evaluated?.published).toBe(false);
    expect(lines.filter((l) => l.includes('"_aws"')).length).toBe(emfAfterFirst);
    expect(store.keys().filter((k) => k.includes('/evaluations/'))).toHaveLength(1);
  });

  it('a late shard part re-merges the window and publishes it again (convergent)', async () => {
    const { store, profiler } = setup();
    await runWindow(profiler, 0, rows(100), 'shardId-000000000000');
    await runWindow(profiler, 1, rows(100), 'shardId-000000000000'); // evaluates W0 with one part
    // Shard 1 was lagging: it closes W0, then W1; closing W1 evaluates the latest earlier window, W0, now with both parts.
    await runWindow(profiler, 0, rows(40), 'shardId-000000000001');
    const late = await runWindow(profiler, 1, rows(10), 'shardId-000000000001');
    expect(late.evaluated).toMatchObject({ window: W0, parts: 2, rows: 140, published: true });
    const doc = JSON.parse(store.objects.get(profileKeys.results(W0))!) as ResultsDocument;
    expect(doc.rows).toBe(140);
    expect(store.keys().filter((k) => k.startsWith(`profiles/${W0}/evaluations/`))).toHaveLength(2);
  });

  it('evaluates rules against the merged profiles of earlier windows, oldest first, and publishes EMF the local metrics store reads', async () => {
    const { store, lines, profiler } = setup();
    for (let i = 0; i < 4; i++) await runWindow(profiler, i, rows(200));
    // Window 4: a volume drop, a null burst, values outside the allowed list and a shifted distribution.
    await runWindow(profiler, 4, rows(90, (i) => (i % 3 === 0 ? null : 900 + i), () => 'xx'));
    lines.length = 0;
    const o = await runWindow(profiler, 5, rows(200));
    expect(o.evaluated?.window).toBe(win(4).start);
    expect(o.evaluated?.historyWindows).toBe(3);
    const status = Object.fromEntries(o.evaluated!.results.map((r) => [r.rule, r.status]));
    expect(status).toEqual({ 'volume': 'fail', 'amount-complete': 'fail', 'country-allowed': 'fail', 'amount-max': 'pass', 'amount-drift': 'fail' });
    const doc = JSON.parse(store.objects.get(profileKeys.results(win(4).start))!) as ResultsDocument;
    expect(doc.history).toEqual([win(1).start, win(2).start, win(3).start]);

    const metrics = new MetricsStore();
    for (const l of lines) metrics.ingestLine(l);
    const series = metrics.all().filter((s) => s.namespace === METRICS_NAMESPACE);
    const get = (name: string, dims: Record<string, string>) =>
      series.find((s) => s.name === name && JSON.stringify(s.dimensions) === JSON.stringify(dims));
    expect(get(QUALITY_METRIC.ruleStatus, { Pipeline: 'orders', Rule: 'volume' })?.max).toBe(2);
    expect(get(QUALITY_METRIC.ruleStatus, { Pipeline: 'orders', Rule: 'amount-max' })?.max).toBe(0);
    expect(get(QUALITY_METRIC.ruleObserved, { Pipeline: 'orders', Rule: 'volume' })?.max).toBeCloseTo(90 / 200, 6);
    expect(get(QUALITY_METRIC.rowsPerWindow, { Pipeline: 'orders' })?.max).toBe(90);
    expect(get(QUALITY_METRIC.failures, { Pipeline: 'orders' })?.max).toBe(4);
    expect(get(QUALITY_METRIC.warnings, { Pipeline: 'orders' })?.max).toBe(0);
    expect(get(QUALITY_METRIC.columnCompleteness, { Pipeline: 'orders', Column: 'amount' })?.max).toBeCloseTo(60 / 90, 6);
    expect(lines.some((l) => l.includes('"quality rule fail"') && l.includes('"rule":"volume"'))).toBe(true);
  });

  it('clean windows pass every rule and raise no warning', async () => {
    const { profiler } = setup();
    let last;
    for (let i = 0; i < 6; i++) last = await runWindow(profiler, i, rows(200 + (i % 2) * 10));
    const res = last!.evaluated!.results;
    expect(res.filter((r) => r.status === 'warn' || r.status === 'fail')).toEqual([]);
    expect(res.filter((r) => r.status === 'pass').length).toBe(RULES.length);
  });

  it('after a pause, the latest earlier window with data is evaluated; windows beyond the history are ignored', async () => {
    const { profiler } = setup();
    await runWindow(profiler, 0, rows(100));
    const o = await runWindow(profiler, 3, rows(100)); // windows 1 and 2 had no records
    expect(o.evaluated?.window).toBe(W0);
    const far = await runWindow(profiler, 20, rows(10)); // window 3 is 17 windows back: outside 3 + 1 windows
    expect(far.evaluated).toBeUndefined();
  });
});

describe('WindowProfiler: window length from the event', () => {
  it('uses the event\'s window length (a mapping shortened locally) and evaluates the last window on a stateless final invocation', async () => {
    const { store, profiler } = setup(); // configured for 60-s windows
    const w = (i: number) => windowOf(new Date(Date.parse(W0) + i * 2000).toISOString().replace(/\.\d{3}Z$/, 'Z'), 2);
    for (let i = 0; i < 3; i++) {
      const st = (await profiler.handle(batchEvent(w(i), {}, rows(100)))).state;
      await profiler.finish(finalEvent(w(i), st));
    }
    // No records in window 3: a final invocation without state closes the run and evaluates window 2.
    const flush = await profiler.finish(finalEvent(w(3), {}, 'local-flush'));
    expect(flush.shardKey).toBeUndefined();
    expect(flush.evaluated).toMatchObject({ window: w(2).start, historyWindows: 2, rows: 100 });
    const merged = deserializeProfile(store.objects.get(profileKeys.merged(w(2).start))!);
    expect(merged.windowEnd! - merged.windowStart!).toBe(2000);
  });
});

describe('S3ProfileStore', () => {
  const client = (fail: unknown) => ({ send: async () => { throw fail; } }) as never;

  it('a conditional put that finds the object returns false; other errors propagate; a missing key reads as undefined', async () => {
    const precondition = Object.assign(new Error('At least one of the pre-conditions you specified did not hold'), { name: 'PreconditionFailed', $metadata: { httpStatusCode: 412 } });
    expect(await new S3ProfileStore(client(precondition), 'b').put('k', 'x', { ifNoneMatch: true })).toBe(false);
    await expect(new S3ProfileStore(client(precondition), 'b').put('k', 'x')).rejects.toThrow(/pre-conditions/);
    const denied = Object.assign(new Error('Access Denied'), { name: 'AccessDenied', $metadata: { httpStatusCode: 403 } });
    await expect(new S3ProfileStore(client(denied), 'b').put('k', 'x', { ifNoneMatch: true })).rejects.toThrow(/Access Denied/);
    const missing = Object.assign(new Error('no such key'), { name: 'NoSuchKey', $metadata: { httpStatusCode: 404 } });
    expect(await new S3ProfileStore(client(missing), 'b').get('k')).toBeUndefined();
    await expect(new S3ProfileStore(client(denied), 'b').get('k')).rejects.toThrow(/Access Denied/);
  });
});

describe('profiler configuration', () => {
  const env = (over: Record<string, string | undefined> = {}) => ({
    PHX_PIPELINE: 'orders',
    [PROFILER_ENV.bucket]: 'b',
    [PROFILER_ENV.rules]: JSON.stringify(RULES),
    [PROFILER_ENV.windowSeconds]: '60',
    [PROFILER_ENV.historyWindows]: '10',
    ...over,
  });

  it('reads the environment; rules may be gzip-compressed', () => {
    const c = profilerConfigFromEnv(env({ [PROFILER_ENV.rules]: gzRules(RULES), [PROFILER_ENV.eventTimeField]: 'ts' }));
    expect(c).toMatchObject({ pipeline: 'orders', bucket: 'b', windowSeconds: 60, historyWindows: 10, eventTimeField: 'ts' });
    expect(c.rules).toEqual(RULES);
    expect(decodeRules(JSON.stringify(RULES))).toEqual(RULES);
  });

  it('fails with the variable, the value and what is allowed', () => {
    expect(() => profilerConfigFromEnv(env({ [PROFILER_ENV.bucket]: undefined }))).toThrow(/PHX_PROFILE_BUCKET must be set/);
    expect(() => profilerConfigFromEnv(env({ [PROFILER_ENV.windowSeconds]: '901' }))).toThrow(/between 1 and 900 \(given '901'\)/);
    expect(() => profilerConfigFromEnv(env({ [PROFILER_ENV.rules]: '{}' }))).toThrow(ProfilerError);
    expect(() => profilerConfigFromEnv(env({ [PROFILER_ENV.rules]: JSON.stringify([{ name: 'x', kind: 'nope' }]) }))).toThrow(/unknown kind/);
  });
});
