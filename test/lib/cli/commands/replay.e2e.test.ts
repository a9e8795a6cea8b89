/**
 * End to end on emulators (kinesalite + fauxqs): the real ingest handler dead-letters records into an SQS DLQ; the
 * `phoenix` CLI inspects them without consuming them and replays them, including a replay killed with SIGKILL
 * mid-way and rerun; the sink ends with every record exactly once; older versions never overwrite newer ones.
 */
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import type { KinesisStreamRecord } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeDlqMessage, type DlqMessage } from '../../../../lib/core';
import { SqsDlq } from '../../../../lib/handlers/ports/sqs-dlq';
import { archiveListPrefixes, frameFirehoseRecords } from '../../../../lib/replay/archive';
import { MemoryDlq, MemorySink } from '../../../../lib/runtime';
import { cli, ingestHandler, putAll, queueDepth, readStream, sinkState, startReplayPipeline, type ReplayEnv } from '../../../support/replay';

const ROOT = path.resolve(__dirname, '..', '..', '..', '..');
const N_GOOD = 60;
const N_FIXABLE = 50;
const N_BINARY = 3;
const schemaV1 = { type: 'object', properties: { orderId: { type: 'string' }, amount: { type: 'number' } }, required: ['orderId', 'amount'] };

let env: ReplayEnv;
let streamArn: string;
let queueUrl: string;
let sink: MemorySink;
let original: KinesisStreamRecord[];
let dlqBodies: DlqMessage[];

function order(i: number, amount: number | string): Buffer {
  return Buffer.from(JSON.stringify({ orderId: `o-${i}`, amount, note: `order ${i}` }));
}

/** Records of the stream that come after the first `skip` (what replays appended), across shards. */
async function appended(skipSeqs: Set<string>): Promise<KinesisStreamRecord[]> {
  return (await readStream(env.kinesis.client, 'orders', streamArn)).filter((r) => !skipSeqs.has(r.kinesis.sequenceNumber));
}

function writesPerId(s: MemorySink): Map<string, number> {
  const m = new Map<string, number>();
  for (const c of s.calls) if (c.result === 'written') m.set(c.id, (m.get(c.id) ?? 0) + 1);
  return m;
}

beforeAll(async () => {
  ({ env, streamArn, queueUrl } = await startReplayPipeline({ stream: 'orders', shards: 2, queue: 'orders-dlq', bucket: 'orders-overflow' }));
  const recs: Array<{ data: Buffer; partitionKey: string }> = [];
  for (let i = 0; i < N_GOOD; i++) recs.push({ data: order(i, i + 0.5), partitionKey: `p-${i % 7}` });
  // Amounts sent as strings: rejected by schema v1, accepted once the schema is fixed.
  for (let i = N_GOOD; i < N_GOOD + N_FIXABLE; i++) recs.push({ data: order(i, `${i}.25`), partitionKey: `p-${i % 7}` });
  for (let i = 0; i < N_BINARY; i++) recs.push({ data: Buffer.from([0xc3, 0x28, i]), partitionKey: `bin-${i}` });
  await putAll(env.kinesis.client, 'orders', recs);
  original = await readStream(env.kinesis.client, 'orders', streamArn);
  expect(original).toHaveLength(recs.length);
  sink = new MemorySink();
  const v1 = ingestHandler({ sink, schema: schemaV1, dlq: new SqsDlq(env.fauxqs.sqs, queueUrl, { bucket: 'orders-overflow' }) });
  await v1(original);
  expect(sink.items.size).toBe(N_GOOD);
}, 120_000);

afterAll(async () => {
  await env?.stop();
});

describe('phoenix dlq (non-destructive)', () => {
  it('stats, list and show read every dead letter and leave them all in the queue', async () => {
    const total = N_FIXABLE + N_BINARY;
    const stats = await cli(['dlq', 'stats', '--queue-url', queueUrl, '--json']);
    expect(stats.stderr).toBe('');
    expect(stats.code).toBe(0);
    const s = JSON.parse(stats.stdout);
    expect(s).toMatchObject({ total, invalid: 0, byReason: { schema: N_FIXABLE, decode: N_BINARY }, byStage: { ingest: total } });
    expect(Object.values(s.byHour as Record<string, number>).reduce((a, b) => a + b, 0)).toBe(total);
    // Released at once: all visible again, none in flight.
    expect(await queueDepth(env.fauxqs.sqs, queueUrl)).toEqual({ visible: total, notVisible: 0 });

    const list = await cli(['dlq', 'list', '--queue-url', queueUrl, '--reason', 'decode', '--json']);
    const lines = list.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(lines).toHaveLength(N_BINARY);
    expect(lines.every((l) => l.reason.class === 'decode' && l.id === null)).toBe(true);
    dlqBodies = [];

    const show = await cli(['dlq', 'show', lines[0].messageId, '--queue-url', queueUrl]);
    expect(show.code).toBe(0);
    expect(show.stdout).toMatch(/payload \(3 bytes, hex\):\n00000000 {2}c3 28 0[0-2]/);
    const id = (await cli(['dlq', 'list', '--queue-url', queueUrl, '--reason', 'schema', '--limit', '1', '--json'])).stdout.trim();
    const rid = JSON.parse(id).id as string;
    const showJson = JSON.parse((await cli(['dlq', 'show', rid, '--queue-url', queueUrl, '--json'])).stdout);
    expect(showJson.payload.encoding).toBe('json');
    expect(JSON.parse(showJson.payload.text)).toMatchObject({ orderId: expect.stringMatching(/^o-/), amount: expect.stringMatching(/\.25$/) });
    // An id no dead letter has: a usage error naming it (exit 2, one line), the queue read whole and released.
    const unknown = await cli(['dlq', 'show', 'no-such-id', '--queue-url', queueUrl]);
    expect(unknown.code).toBe(2);
    expect(unknown.stdout).toBe('');
    expect(unknown.stderr).toBe(`phoenix: no dead letter with message id or record id no-such-id in ${queueUrl}\n`);
    expect(await queueDepth(env.fauxqs.sqs, queueUrl)).toEqual({ visible: total, notVisible: 0 });
  });
});

describe('phoenix replay --from dlq', () => {
  it('a replay killed with SIGKILL mid-way and rerun loses nothing and duplicates nothing in the sink', async () => {
    const total = N_FIXABLE + N_BINARY;
    // Keep a copy of the dead letters for the out-of-order test.
    const peek = await cli(['dlq', 'list', '--queue-url', queueUrl, '--json']);
    dlqBodies = peek.stdout.trim().split('\n').map((l) => {
      const { messageId: _m, receiveCount: _r, sentAt: _s, payloadBytes: _p, ...rest } = JSON.parse(l);
      return rest as DlqMessage;
    });
    expect(dlqBodies).toHaveLength(total);

    const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'bin', 'phoenix.ts'), 'replay', '--from', 'dlq',
      '--queue-url', queueUrl, '--rate', '10', '--visibility-timeout', '2', '--json'], { cwd: ROOT, env: env.childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    let childErr = '';
    child.stderr.on('data', (b: Buffer) => { childErr += b.toString(); });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    // Kill it once it has deleted some dead letters but not all (bounded wait).
    let killed = false;
    for (let i = 0; i < 300 && !killed; i++) {
      await new Promise((r) => setTimeout(r, 100));
      const d = await queueDepth(env.fauxqs.sqs, queueUrl);
      if (d.visible + d.notVisible < total) {
        process.kill(child.pid!, 'SIGKILL');
        killed = true;
      }
      if (child.exitCode !== null) break;
    }
    await exited;
    expect(killed, `the replay child finished or failed before it could be killed: ${childErr}`).toBe(true);
    const left = await queueDepth(env.fauxqs.sqs, queueUrl);
    expect(left.visible + left.notVisible).toBeGreaterThan(0);

    // Rerun: waits for the killed run's in-flight messages to reappear, then replays the rest.
    const rerun = await cli(['replay', '--from', 'dlq', '--queue-url', queueUrl, '--wait-in-flight', '20', '--json']);
    // stderr (not a TTY here) carries only the progress lines
    expect(rerun.stderr.split('\n').filter((l) => l !== '' && !l.startsWith('replay: '))).toEqual([]);
    expect(rerun.stderr).toMatch(/^replay: .* replayed, .* records\/s, ETA /m);
    expect(rerun.code).toBe(0);
    const summary = JSON.parse(rerun.stdout);
    expect(summary).toMatchObject({ failed: 0, inFlightElsewhere: 0, dryRun: false });
    expect(summary.deleted).toBe(summary.replayed);
    expect(await queueDepth(env.fauxqs.sqs, queueUrl)).toEqual({ visible: 0, notVisible: 0 });

    // The fixed pipeline (schema accepts string amounts) consumes what the replays appended.
    const replayed = await appended(new Set(original.map((r) => r.kinesis.sequenceNumber)));
    expect(replayed.length).toBeGreaterThanOrEqual(total);
    const dlq2 = new MemoryDlq();
    await ingestHandler({ sink, dlq: dlq2 })(replayed);
    // Nothing lost: every good and every fixable record is in the sink.
    expect(sink.items.size).toBe(N_GOOD + N_FIXABLE);
    // Nothing duplicated: each id was applied exactly once, however often the kill made the replay put it.
    const writes = writesPerId(sink);
    expect([...writes.values()].every((n) => n === 1)).toBe(true);
    const fixed = [...sink.items.values()].map((s) => s.envelope).filter((e) => e.replay);
    expect(fixed).toHaveLength(N_FIXABLE);
    expect(fixed.every((e) => e.replay!.of === 'dlq')).toBe(true);
    // The undecodable records were re-put byte for byte and dead-lettered again, as decode.
    const again = dlq2.messages.map((m) => decodeDlqMessage(m.body));
    expect(new Set(again.map((m) => m.payload))).toEqual(new Set(dlqBodies.filter((m) => m.reason.class === 'decode').map((m) => m.payload)));
    expect(again.every((m) => m.reason.class === 'decode')).toBe(true);
  });

  it('an older version replayed after a newer one never overwrites it; replaying the same set twice changes nothing', async () => {
    const schemaDead = dlqBodies.filter((m) => m.reason.class === 'schema');
    // Newer versions of five of the replayed orders arrive (later eventTime: now, within the stage's future skew).
    const now = new Date().toISOString();
    const newer = schemaDead.slice(0, 5).map((m) => {
      const p = JSON.parse(Buffer.from(m.payload!, 'base64').toString());
      return { data: Buffer.from(JSON.stringify({ ...p, amount: 999, eventTime: now })), partitionKey: m.source.partitionKey! };
    });
    const before = new Set((await readStream(env.kinesis.client, 'orders', streamArn)).map((r) => r.kinesis.sequenceNumber));
    await putAll(env.kinesis.client, 'orders', newer);
    const fixedHandler = ingestHandler({ sink });
    await fixedHandler(await appended(before));
    const state1 = sinkState(sink);
    expect(Object.values(state1).filter((v) => (v.payload as { amount: unknown }).amount === 999)).toHaveLength(5);

    // The old dead letters come back (e.g. restored from a copy) and are replayed, twice.
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < dlqBodies.length; i += 10) {
        await env.fauxqs.sqs.send(new SendMessageBatchCommand({
          QueueUrl: queueUrl,
          Entries: dlqBodies.slice(i, i + 10).map((m, k) => ({ Id: String(k), MessageBody: JSON.stringify(m) })),
        }));
      }
      const seen = new Set((await readStream(env.kinesis.client, 'orders', streamArn)).map((r) => r.kinesis.sequenceNumber));
      const r = await cli(['replay', '--from', 'dlq', '--queue-url', queueUrl, '--json']);
      expect(r.code).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({ replayed: dlqBodies.length, deleted: dlqBodies.length, failed: 0 });
      const calls = sink.calls.length;
      await fixedHandler(await appended(seen));
      const results = sink.calls.slice(calls).map((c) => c.result);
      expect(results.filter((x) => x === 'written')).toEqual([]);
      expect(results.filter((x) => x === 'stale')).toHaveLength(5);
      expect(sinkState(sink)).toEqual(state1);
    }
  });
});

describe('phoenix replay --from archive', () => {
  it('rebuilds the same sink state from the archive on a recreated stream, within a time range, and --dry-run puts nothing', async () => {
    // The archive as the RawArchive delivery stream writes it: framed lines, GZIP, raw/YYYY/MM/DD/HH/ by arrival.
    await env.createBucket('orders-archive');
    const all = await readStream(env.kinesis.client, 'orders', streamArn);
    const firstN = all.filter((r) => original.some((o) => o.kinesis.sequenceNumber === r.kinesis.sequenceNumber));
    const t = new Date(firstN[0].kinesis.approximateArrivalTimestamp * 1000);
    const hourPrefix = archiveListPrefixes('raw/', t.getTime(), t.getTime())[0] + String(t.getUTCHours()).padStart(2, '0') + '/';
    for (let i = 0; i < firstN.length; i += 40) {
      const framed = frameFirehoseRecords({
        sourceKinesisStreamArn: streamArn,
        records: firstN.slice(i, i + 40).map((r, k) => ({
          recordId: String(k),
          data: r.kinesis.data,
          kinesisRecordMetadata: { shardId: r.eventID.split(':')[0], partitionKey: r.kinesis.partitionKey, sequenceNumber: r.kinesis.sequenceNumber, approximateArrivalTimestamp: Math.round(r.kinesis.approximateArrivalTimestamp * 1000) },
        })),
      });
      const body = gzipSync(Buffer.concat(framed.records.map((x) => Buffer.from(x.data, 'base64'))));
      // Firehose delivers at least once: the first object is delivered twice.
      for (const suffix of i === 0 ? ['a', 'b'] : ['a']) {
        await env.fauxqs.s3.send(new PutObjectCommand({ Bucket: 'orders-archive', Key: `${hourPrefix}orders-archive-1-${i}-${suffix}.gz`, Body: body }));
      }
    }
    await env.createStream('orders-rebuilt', 2);

    const dry = await cli(['replay', '--from', 'archive', '--bucket', 'orders-archive', '--target-stream', 'orders-rebuilt', '--dry-run', '--json']);
    expect(JSON.parse(dry.stdout)).toMatchObject({ dryRun: true, replayed: firstN.length, skipped: { duplicates: Math.min(40, firstN.length) } });
    expect(await readStream(env.kinesis.client, 'orders-rebuilt', 'arn:aws:kinesis:us-east-1:000000000000:stream/orders-rebuilt')).toHaveLength(0);

    const missing = await cli(['replay', '--from', 'archive', '--bucket', 'orders-archive', '--target-stream', 'no-such-stream']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toBe('phoenix: target stream no-such-stream does not exist\n');

    const outside = await cli(['replay', '--from', 'archive', '--bucket', 'orders-archive', '--target-stream', 'orders-rebuilt', '--until', new Date(t.getTime() - 3 * 3_600_000).toISOString(), '--json']);
    expect(JSON.parse(outside.stdout).replayed).toBe(0);

    const r = await cli(['replay', '--from', 'archive', '--bucket', 'orders-archive', '--target-stream', 'orders-rebuilt', '--since', new Date(t.getTime() - 60_000).toISOString(), '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ replayed: firstN.length, failed: 0, raw: N_BINARY });

    // The rebuilt pipeline (fixed schema, fresh sink) ends in the same state as the original one did for these records.
    const rebuilt = new MemorySink();
    const expected = new MemorySink();
    await ingestHandler({ sink: expected })(firstN);
    await ingestHandler({ sink: rebuilt })(await readStream(env.kinesis.client, 'orders-rebuilt', 'arn:aws:kinesis:us-east-1:000000000000:stream/orders-rebuilt'));
    expect(sinkState(rebuilt)).toEqual(sinkState(expected));
    expect(rebuilt.items.size).toBe(N_GOOD + N_FIXABLE);
  });
});
