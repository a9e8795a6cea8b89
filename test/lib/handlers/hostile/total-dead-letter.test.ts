/**
 * The stage's dead-letter path is total: for any record bytes and any Kinesis record metadata (missing, null or
 * malformed fields), the real handler either writes the record or sends a valid DLQ message v1 with a reason; with a
 * reachable DLQ the batch never stalls (no batchItemFailures).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeDlqMessage, REASON_CLASSES_LIST } from './support';
import { harnessPerTest } from '../support/harness';
import { BASE_SEQUENCE, SHARD_ID, STREAM_ARN } from '../support/kinesis';

const harness = harnessPerTest();

// What SQS accepts in a message body (#x9 #xA #xD #x20-#xD7FF #xE000-#xFFFD #x10000-#x10FFFF, well-formed UTF-16).
const SQS_BODY = /^(?:[\t\n\r\u0020-\uD7FF\uE000-\uFFFD]|[\uD800-\uDBFF][\uDC00-\uDFFF])*$/;

const b64 = (s: string | Uint8Array): string => Buffer.from(s as string).toString('base64');

/** Record data: valid JSON objects, envelope look-alikes, raw bytes, text that is not base64, and non-strings. */
const data = fc.oneof(
  fc.object().map((o) => b64(JSON.stringify({ orderId: 'o-1', ...o }))),
  fc.record({
    v: fc.constantFrom(1, '1', 2),
    payload: fc.oneof(fc.object(), fc.anything()),
    id: fc.option(fc.string()),
    eventTime: fc.anything(),
    hops: fc.anything(),
    replay: fc.anything(),
  }, { requiredKeys: [] })
    .map((o) => b64(JSON.stringify(o) ?? 'null')),
  fc.record({
    orderId: fc.string(),
    eventTime: fc.oneof(fc.string(), fc.integer(), fc.double(), fc.date({ noInvalidDate: true }).map((d) => d.toISOString())),
  })
    .map((o) => b64(JSON.stringify(o))),
  fc.uint8Array({ maxLength: 64 }).map((u) => b64(u)),
  fc.string(),
  fc.constantFrom(undefined, null, 42, '', '====', b64('\ufeff{"orderId":"bom"}')),
);

/** A metadata field: the well-formed value, or missing/null/another type/hostile text. */
function meta<T>(good: fc.Arbitrary<T>): fc.Arbitrary<unknown> {
  return fc.oneof(
    { weight: 3, arbitrary: good },
    { weight: 1, arbitrary: fc.constantFrom(undefined, null, Number.NaN, Infinity, -1, true, {}, [], '', '\uffff\ud800'.repeat(3000)) },
    { weight: 1, arbitrary: fc.string({ unit: 'binary' }) },
  );
}

const record = fc.record({
  data,
  arrival: meta(fc.double({ min: 1_500_000_000, max: 1_800_000_000, noNaN: true })),
  seqOffset: fc.nat(1_000_000),
  seq: meta(fc.constant('ok')),
  partitionKey: meta(fc.string({ minLength: 1, maxLength: 256 })),
  eventID: meta(fc.constant('ok')),
  arn: meta(fc.constant(STREAM_ARN)),
});

type Gen = typeof record extends fc.Arbitrary<infer R> ? R : never;

function kinesisRecordOf(g: Gen, i: number): unknown {
  const seq = g.seq === 'ok' ? String(BASE_SEQUENCE + BigInt(i) * 1_000_000n + BigInt(g.seqOffset)) : g.seq;
  return {
    kinesis: { kinesisSchemaVersion: '1.0', partitionKey: g.partitionKey, sequenceNumber: seq, data: g.data, approximateArrivalTimestamp: g.arrival },
    eventSource: 'aws:kinesis',
    eventVersion: '1.0',
    eventID: g.eventID === 'ok' ? `${SHARD_ID}:${seq}` : g.eventID,
    eventName: 'aws:kinesis:record',
    awsRegion: 'us-east-2',
    eventSourceARN: g.arn,
  };
}

describe('dead-letter path is total (property, through the handler)', () => {
  it('every record is written or dead-lettered with a reason; the batch never stalls while the DLQ is reachable', async () => {
    await fc.assert(fc.asyncProperty(fc.array(record, { minLength: 1, maxLength: 8 }), async (gens) => {
      const h = harness({ PHX_KEY_FIELDS: '[]' });
      const records = gens.map(kinesisRecordOf);
      const res = await h.run({ Records: records } as never);
      expect(res.batchItemFailures).toEqual([]);
      expect(h.sink.envelopes.length + h.sqs.sent.length).toBe(records.length);
      for (const [i, sent] of h.sqs.sent.entries()) {
        expect(sent.MessageBody, `DLQ body ${i} holds characters SQS refuses`).toMatch(SQS_BODY);
        const msg = decodeDlqMessage(sent.MessageBody!);
        expect(REASON_CLASSES_LIST).toContain(msg.reason.class);
        expect(msg.reason.message.length).toBeGreaterThan(0);
        expect(msg.payload !== null || msg.payloadRef !== null || gens.some((g) => typeof g.data !== 'string')).toBe(true);
      }
    }), { numRuns: 150 });
  }, 120_000);
});
