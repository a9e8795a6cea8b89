/**
 * The hostile-record suite: records an attacker controlling one producer (or a broken producer) may put, each class
 * with the outcome the ingest stage must reach under HOSTILE_STAGE_ENV. Run through the handler
 * (test/lib/handlers/hostile/), through `phoenix local run --input`, and mixed into runs by `--hostile-rate`.
 */
import { buildCanaryEnvelope } from '../../core/canary';

/** Where a record must end: written to the sink, dead-lettered with a reason class, or counted as a canary. */
export type HostileOutcome = { readonly sink: true } | { readonly dlq: string } | { readonly canary: true };

/** Kinesis record metadata a class overrides (missing, null or malformed fields Kinesis itself never sends). */
export interface HostileMeta {
  readonly arrival?: unknown;
  readonly sequenceNumber?: unknown;
  readonly partitionKey?: unknown;
  readonly eventID?: unknown;
  readonly eventSourceARN?: unknown;
}

export interface HostileClass {
  readonly name: string;
  /** The record data: bytes (put as they are), or a base64 text given verbatim to the handler (`{ base64 }`). */
  readonly data: Buffer | { readonly base64: unknown };
  readonly meta?: HostileMeta;
  readonly expect: HostileOutcome;
  /** Checks on the stored envelope's payload (sink outcomes): a problem, or undefined when the payload is right. */
  readonly stored?: (payload: Record<string, unknown>) => string | undefined;
  /** The outcome holds only at HOSTILE_NOW_MS with HOSTILE_CANARY_KEY (a relative event time, an authentic canary). */
  readonly suiteClockOnly?: true;
}

/** The clock of the suite (2025-11-24T16:00:00Z) and the canary key the stage under test holds. */
export const HOSTILE_NOW_MS = 1_764_000_000_000;
export const HOSTILE_CANARY_KEY = Buffer.alloc(32, 7);
/** The stage configuration the outcomes hold for (PHX_* variables). */
export const HOSTILE_STAGE_ENV: Readonly<Record<string, string>> = {
  PHX_KEY_FIELDS: '["orderId"]',
  PHX_MAX_FUTURE_SKEW_MS: '300000',
  PHX_REPLAY_MAX_COUNT: '3',
  PHX_MAX_RECORD_BYTES: '262144',
};

const AN_HOUR_AGO = '2025-11-24T15:00:00Z';
const json = (x: unknown): Buffer => Buffer.from(JSON.stringify(x), 'utf8');
const text = (s: string): Buffer => Buffer.from(s, 'utf8');
const order = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({ orderId: 'o-1', amount: 10, eventTime: AN_HOUR_AGO, ...extra });
const sink = { sink: true } as const;
const dlq = (reason: string): HostileOutcome => ({ dlq: reason });

function nested(depth: number): Record<string, unknown> {
  let v: Record<string, unknown> = { orderId: 'deep' };
  for (let i = 0; i < depth; i++) v = { orderId: 'deep', child: v };
  return v;
}

const canary = buildCanaryEnvelope('orders', HOSTILE_NOW_MS - 2_000, HOSTILE_CANARY_KEY);

/** Decode and size: bytes that are not a JSON object, or too large. */
const BYTES: HostileClass[] = [
  { name: 'invalid UTF-8', data: Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]), expect: dlq('decode') },
  { name: 'truncated JSON', data: text('{"orderId":"o-1","amount":1'), expect: dlq('decode') },
  { name: 'JSON array', data: text('[{"orderId":"o-1"}]'), expect: dlq('decode') },
  { name: 'JSON scalar', data: text('42'), expect: dlq('decode') },
  { name: 'JSON null', data: text('null'), expect: dlq('decode') },
  { name: 'deep nesting (100 levels)', data: json(nested(100)), expect: dlq('decode') },
  { name: 'number with 400 digits', data: text(`{"orderId":"o-1","amount":${'9'.repeat(400)}}`), expect: dlq('decode') },
  { name: 'oversize record (300 KB > 256 KB allowed)', data: json(order({ blob: 'x'.repeat(300_000) })), expect: dlq('oversize') },
  { name: 'data that is not base64', data: { base64: '%%%not-base64%%%' }, expect: dlq('decode') },
  { name: 'empty data', data: { base64: '' }, expect: dlq('decode') },
  { name: 'data missing (null)', data: { base64: null }, expect: dlq('decode') },
  { name: 'UTF-16 encoded JSON', data: Buffer.from('{"orderId":"o-1"}', 'utf16le'), expect: dlq('decode') },
  { name: 'trailing garbage after the object', data: text('{"orderId":"o-1"} trailing'), expect: dlq('decode') },
];

/** Payloads that are fine, however odd: written whole. */
const ODD_BUT_VALID: HostileClass[] = [
  { name: 'huge string within the size limit (100 KB)', data: json(order({ note: 'n'.repeat(100_000) })), expect: sink },
  {
    name: 'prototype-pollution keys',
    data: text('{"orderId":"o-pp","__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}}}'),
    expect: sink,
    stored: () => (({} as Record<string, unknown>).polluted !== undefined ? 'Object.prototype polluted' : undefined),
  },
  { name: 'UTF-8 byte order mark', data: Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), json(order({ orderId: 'o-bom' }))]), expect: sink },
  {
    name: 'duplicate JSON keys (the last wins)',
    data: text('{"orderId":"o-dup","amount":1,"amount":2}'),
    expect: sink,
    stored: (p) => (p.amount !== 2 ? `amount ${String(p.amount)}` : undefined),
  },
  { name: '250 junk keys', data: json(order({ orderId: 'o-junk', ...Object.fromEntries(Array.from({ length: 250 }, (_, i) => [`k${i}`, i])) })), expect: sink },
  { name: 'correlation id of 10,000 characters (ignored)', data: json(order({ orderId: 'o-cid', correlationId: 'c'.repeat(10_000) })), expect: sink },
  { name: 'U+FFFF and U+FFFE in values and correlation id', data: json(order({ orderId: 'o-\uffff', correlationId: 'c\ufffe', note: '\uffff' })), expect: sink },
  { name: 'NFD key (a different id than its NFC form)', data: json(order({ orderId: 'cafe\u0301' })), expect: sink },
  { name: 'numeric key 1e0 (the id of 1)', data: text(`{"orderId":1e0,"amount":1,"eventTime":"${AN_HOUR_AGO}"}`), expect: sink },
  { name: 'whitespace and escaped characters', data: text(' \n{ "orderId" : "o-\\u0041" , "amount" : 1 }\t'), expect: sink },
];

/** Envelope look-alikes: detection is exact (a member outside the envelope's set makes a payload). */
const ENVELOPES: HostileClass[] = [
  {
    name: 'v:1 with business members and a payload (kept whole)',
    data: json({ v: 1, orderId: 'c1-order', customer: 'c1', amount: 10, payload: { sku: 'A' } }),
    expect: sink,
    stored: (p) => (p.customer !== 'c1' || p.amount !== 10 ? `payload lost members: ${JSON.stringify(p)}` : undefined),
  },
  { name: 'v:1 with a non-object payload (a payload)', data: json({ v: 1, payload: 'text', orderId: 'o-txt' }), expect: sink },
  { name: 'envelope with a foreign id', data: json({ v: 1, id: '00000000-0000-5000-8000-000000000000', payload: order() }), expect: dlq('decode') },
  { name: 'envelope with malformed hops', data: json({ v: 1, payload: order(), hops: [{ stage: '' }] }), expect: dlq('decode') },
  { name: 'envelope with hops not an array', data: json({ v: 1, payload: order(), hops: 'x' }), expect: dlq('decode') },
  { name: 'envelope without natural key', data: json({ v: 1, payload: { amount: 1 } }), expect: dlq('missing-key') },
];

/** Forged control records: canaries and replay marks. */
const CONTROL: HostileClass[] = [
  { name: 'authentic canary (control)', data: json(canary), expect: { canary: true }, suiteClockOnly: true },
  { name: 'forged canary (no mac)', data: json({ ...canary, mac: undefined }), expect: dlq('missing-key') },
  { name: 'forged canary (wrong mac) with a natural key', data: json({ ...canary, id: undefined, payload: { ...canary.payload, orderId: 'o-forged' }, mac: 'ab'.repeat(32) }), expect: sink },
  { name: 'forged canary keeping the canary id (not the id of its payload)', data: json({ ...canary, payload: { ...canary.payload, orderId: 'o-forged' } }), expect: dlq('decode') },
  { name: 'canary with a far-past sentAt (forged latency)', data: json({ ...canary, payload: { ...canary.payload, sentAt: '2000-01-01T00:00:00.000Z' } }), expect: dlq('missing-key') },
  { name: 'replayed authentic canary (never counted)', data: json({ ...canary, replay: { of: 'archive', at: AN_HOUR_AGO, count: 1 } }), expect: dlq('missing-key') },
  { name: 'canary with an extra member (a payload)', data: json({ ...canary, orderId: 'o-extra' }), expect: sink },
  { name: 'replay mark past replayMaxCount', data: json({ v: 1, payload: order({ orderId: 'o-r4' }), replay: { of: 'dlq', at: AN_HOUR_AGO, count: 4 } }), expect: dlq('replay-exhausted') },
  { name: 'replay mark at replayMaxCount', data: json({ v: 1, payload: order({ orderId: 'o-r3' }), replay: { of: 'dlq', at: AN_HOUR_AGO, count: 3 } }), expect: sink },
  { name: 'replay mark with a negative count', data: json({ v: 1, payload: order(), replay: { of: 'dlq', at: AN_HOUR_AGO, count: -1 } }), expect: dlq('decode') },
  { name: 'replay mark of an unknown origin', data: json({ v: 1, payload: order(), replay: { of: 'producer', at: AN_HOUR_AGO } }), expect: dlq('decode') },
];

/** Event times: RFC 3339 as JSON Schema's date-time, within maxFutureSkew and the minimum. */
const EVENT_TIMES: HostileClass[] = [
  { name: 'event time 9999-12-31 (would pin the key)', data: json(order({ eventTime: '9999-12-31T23:59:59Z' })), expect: dlq('event-time') },
  { name: 'event time in year 0000', data: json(order({ eventTime: '0000-01-01T00:00:00Z' })), expect: dlq('event-time') },
  { name: 'event time an hour ahead', data: json(order({ eventTime: '2025-11-24T17:00:00Z' })), expect: dlq('event-time'), suiteClockOnly: true },
  { name: 'event time 4 minutes ahead (within the skew)', data: json(order({ orderId: 'o-skew', eventTime: '2025-11-24T16:04:00Z' })), expect: sink },
  { name: 'epoch ms -1 (before the minimum)', data: json(order({ eventTime: -1 })), expect: dlq('event-time') },
  { name: 'leap second', data: json(order({ orderId: 'o-leap', eventTime: '2016-12-31T23:59:60Z' })), expect: sink },
  { name: '10 fraction digits', data: json(order({ orderId: 'o-frac', eventTime: '2025-11-24T15:00:00.1234567891Z' })), expect: sink },
  { name: 'date without a time', data: json(order({ eventTime: '2025-11-24' })), expect: dlq('schema') },
  { name: 'time without a zone', data: json(order({ eventTime: '2025-11-24T15:00:00' })), expect: dlq('schema') },
  { name: 'event time a boolean', data: json(order({ eventTime: true })), expect: dlq('schema') },
  { name: 'epoch ms beyond year 9999', data: json(order({ eventTime: 1e15 })), expect: dlq('schema') },
  { name: 'epoch ms beyond the exact integers', data: json(order({ eventTime: 1e17 })), expect: dlq('decode') },
];

/** Kinesis metadata a test harness (or a broken event source) may give: the record is still processed. */
const METADATA: HostileClass[] = [
  { name: 'no approximateArrivalTimestamp', data: json(order({ orderId: 'o-m1' })), meta: { arrival: undefined }, expect: sink },
  { name: 'null approximateArrivalTimestamp', data: json(order({ orderId: 'o-m2' })), meta: { arrival: null }, expect: sink },
  { name: 'approximateArrivalTimestamp a string', data: json(order({ orderId: 'o-m3' })), meta: { arrival: 'yesterday' }, expect: sink },
  { name: 'no arrival time and no event time', data: json({ orderId: 'o-m4' }), meta: { arrival: undefined }, expect: sink },
  { name: 'bad record without arrival time (the DLQ message is still built)', data: text('not json'), meta: { arrival: undefined }, expect: dlq('decode') },
  { name: 'no sequenceNumber', data: text('not json'), meta: { sequenceNumber: undefined }, expect: dlq('decode') },
  { name: 'sequenceNumber of 5,000 lone surrogates', data: text('not json'), meta: { sequenceNumber: '\ud800'.repeat(5000) }, expect: dlq('decode') },
  { name: 'partitionKey null', data: text('not json'), meta: { partitionKey: null }, expect: dlq('decode') },
  { name: 'eventID and eventSourceARN numbers', data: json(order({ orderId: 'o-m5' })), meta: { eventID: 7, eventSourceARN: 7 }, expect: sink },
];

/** Every class of the suite. */
export const HOSTILE_CLASSES: readonly HostileClass[] = [...BYTES, ...ODD_BUT_VALID, ...ENVELOPES, ...CONTROL, ...EVENT_TIMES, ...METADATA];
