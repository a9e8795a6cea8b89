import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  Envelope,
  EnvelopeContext,
  PermanentError,
  PhoenixError,
  closeHop,
  eventTimeMs,
  hopDurations,
  idNamespaceFor,
  isEnvelope,
  markReplay,
  normalizeEventTime,
  openHop,
  recordId,
  toEnvelope,
} from '../../../lib/core';
import { thrownBy } from '../../support/errors';

const NS = idNamespaceFor('clickstream');
const ARRIVED = Date.UTC(2025, 10, 24, 16, 0, 0, 123);
const CTX: EnvelopeContext = { namespace: NS, keyFields: ['eventId'], source: 'clicks-stream', arrivedAtMs: ARRIVED };

describe('isEnvelope', () => {
  it('requires v 1, a string id and an object payload', () => {
    expect(isEnvelope({ v: 1, id: 'x', payload: {} })).toBe(true);
    expect(isEnvelope({ v: 2, id: 'x', payload: {} })).toBe(false);
    expect(isEnvelope({ v: 1, id: 3, payload: {} })).toBe(false);
    expect(isEnvelope({ v: 1, id: 'x', payload: [] })).toBe(false);
    expect(isEnvelope({ v: 1, id: 'x', payload: null })).toBe(false);
    expect(isEnvelope(null)).toBe(false);
    expect(isEnvelope([])).toBe(false);
  });
});

describe('toEnvelope: raw payload', () => {
  it('computes id, defaults correlationId to the id and eventTime to the arrival time', () => {
    const payload = { eventId: 'e-1', page: '/' };
    const env = toEnvelope(payload, CTX);
    expect(env).toEqual({
      v: 1,
      id: recordId(payload, NS, ['eventId']),
      correlationId: recordId(payload, NS, ['eventId']),
      source: 'clicks-stream',
      eventTime: '2025-11-24T16:00:00.123Z',
      hops: [],
      payload,
    });
    expect(isEnvelope(env)).toBe(true);
  });

  it('takes correlationId, then correlation_id', () => {
    expect(toEnvelope({ eventId: 'e', correlationId: 'c1', correlation_id: 'c2' }, CTX).correlationId).toBe('c1');
    expect(toEnvelope({ eventId: 'e', correlation_id: 'c2' }, CTX).correlationId).toBe('c2');
  });

  it('ignores unusable correlation ids (empty, too long, not a string)', () => {
    const id = recordId({ eventId: 'e' }, NS, ['eventId']);
    expect(toEnvelope({ eventId: 'e', correlationId: '' }, CTX).correlationId).toBe(id);
    expect(toEnvelope({ eventId: 'e', correlationId: 'x'.repeat(257) }, CTX).correlationId).toBe(id);
    expect(toEnvelope({ eventId: 'e', correlationId: 'x'.repeat(256) }, CTX).correlationId).toBe('x'.repeat(256));
    expect(toEnvelope({ eventId: 'e', correlationId: 42, correlation_id: 'c2' }, CTX).correlationId).toBe('c2');
  });

  it.each([
    [{ eventTime: '2025-01-31T12:00:00Z' }, '2025-01-31T12:00:00.000Z'],
    [{ eventTime: '2025-01-31T13:30:00.5+01:30' }, '2025-01-31T12:00:00.500Z'],
    [{ eventTime: '2025-01-31T12:00:00.123456789Z' }, '2025-01-31T12:00:00.123Z'],
    [{ eventTime: '2025-01-31t12:00z' }, '2025-01-31T12:00:00.000Z'],
    [{ eventTime: '2025-01-31 12:00:00-0200' }, '2025-01-31T14:00:00.000Z'],
    [{ eventTime: '2025-01-31' }, '2025-01-31T00:00:00.000Z'],
    [{ eventTime: 1738324800000 }, '2025-01-31T12:00:00.000Z'],
    [{ timestamp: 1738324800000 }, '2025-01-31T12:00:00.000Z'],
    [{ timestamp: '2024-02-29T00:00:00Z' }, '2024-02-29T00:00:00.000Z'],
    [{ eventTime: null, timestamp: 0 }, '1970-01-01T00:00:00.000Z'],
    [{ eventTime: '2025-01-31T12:00:00Z', timestamp: 'garbage' }, '2025-01-31T12:00:00.000Z'],
  ])('normalizes the event time of %j', (fields, iso) => {
    expect(toEnvelope({ eventId: 'e', ...fields }, CTX).eventTime).toBe(iso);
  });

  it.each([
    [{ eventTime: 'yesterday' }, 'payload.eventTime'],
    [{ eventTime: '2025-02-30T00:00:00Z' }, 'payload.eventTime'],
    [{ eventTime: '2025-13-01' }, 'payload.eventTime'],
    [{ eventTime: '2025-01-31T12:00:00' }, 'payload.eventTime'],
    [{ eventTime: true }, 'payload.eventTime'],
    [{ timestamp: Number.NaN }, 'payload.timestamp'],
    [{ timestamp: 1e17 }, 'payload.timestamp'],
    [{ timestamp: '1738324800000' }, 'payload.timestamp'],
  ])('rejects the event time of %j as schema', (fields, field) => {
    const e = thrownBy(PermanentError, () => toEnvelope({ eventId: 'e', ...fields }, CTX));
    expect(e.reasonClass).toBe('schema');
    expect(e.message).toContain(`${field} `);
    expect(e.message).toMatch(/is not an event time: use an ISO-8601 string with a zone/);
  });

  it('reads the event time from the configured eventTimeField (dot path), ignoring eventTime/timestamp', () => {
    const ctx = { ...CTX, eventTimeField: 'meta.ts' };
    expect(toEnvelope({ eventId: 'e', eventTime: '2020-01-01T00:00:00Z', meta: { ts: '2025-01-31T12:00:00Z' } }, ctx).eventTime).toBe('2025-01-31T12:00:00.000Z');
    expect(toEnvelope({ eventId: 'e', ts: 1738324800000 }, { ...CTX, eventTimeField: 'ts' }).eventTime).toBe('2025-01-31T12:00:00.000Z');
  });

  it('takes the arrival time when the configured eventTimeField is absent, and rejects a bad value as schema', () => {
    const ctx = { ...CTX, eventTimeField: 'ts' };
    expect(toEnvelope({ eventId: 'e', eventTime: '2020-01-01T00:00:00Z' }, ctx).eventTime).toBe(new Date(CTX.arrivedAtMs).toISOString());
    const e = thrownBy(PermanentError, () => toEnvelope({ eventId: 'e', ts: 'soon' }, ctx));
    expect(e.reasonClass).toBe('schema');
    expect(e.message).toContain('payload.ts ');
  });

  it('an incoming envelope takes its event time from the configured eventTimeField of its payload when present', () => {
    const ctx = { ...CTX, eventTimeField: 'ts' };
    const payload = { eventId: 'e', ts: '2025-01-31T12:00:00Z' };
    const id = toEnvelope(payload, ctx).id;
    const replayed = { v: 1, id, eventTime: '2026-01-01T00:00:00.000Z', payload };
    expect(toEnvelope(replayed, ctx).eventTime).toBe('2025-01-31T12:00:00.000Z');
    expect(toEnvelope({ ...replayed, payload: { eventId: 'e' } }, ctx).eventTime).toBe('2026-01-01T00:00:00.000Z');
  });

  it('propagates missing natural keys', () => {
    expect(thrownBy(PermanentError, () => toEnvelope({ page: '/' }, CTX)).reasonClass).toBe('missing-key');
  });

  it('treats an object with v 1 but no object payload as a raw payload', () => {
    const raw = { v: 1, payload: 'text', eventId: 'e' };
    expect(toEnvelope(raw, CTX).payload).toBe(raw);
  });

  it('validates the context', () => {
    expect(() => toEnvelope({ eventId: 'e' }, { ...CTX, source: '' })).toThrow(/source must be a non-empty string/);
    expect(() => toEnvelope({ eventId: 'e' }, { ...CTX, arrivedAtMs: Number.NaN })).toThrow(/arrivedAtMs must be epoch milliseconds.*got number NaN/);
  });
});

describe('toEnvelope: existing envelope', () => {
  const payload = { eventId: 'e-9', correlationId: 'from-payload' };
  const id = recordId(payload, NS, ['eventId']);
  const incoming = {
    v: 1,
    id,
    correlationId: 'corr-1',
    source: 'web',
    eventTime: '2025-01-31T12:00:00.000Z',
    hops: [{ stage: 'ingest', in: 1, out: 5, attempt: 1 }],
    replay: { of: 'dlq', at: '2025-02-01T00:00:00.000Z' },
    payload,
  };

  it('keeps id, correlationId, source, eventTime, hops and replay', () => {
    const env = toEnvelope(incoming, CTX);
    expect(env).toEqual(incoming);
    expect(env.hops).not.toBe(incoming.hops);
  });

  it('fills what the envelope lacks', () => {
    const env = toEnvelope({ v: 1, payload: { eventId: 'e-9', timestamp: 0 } }, CTX);
    expect(env).toEqual({
      v: 1,
      id,
      correlationId: id,
      source: 'clicks-stream',
      eventTime: '1970-01-01T00:00:00.000Z',
      hops: [],
      payload: { eventId: 'e-9', timestamp: 0 },
    });
  });

  it('falls back to the payload correlation id', () => {
    expect(toEnvelope({ ...incoming, correlationId: undefined }, CTX).correlationId).toBe('from-payload');
  });

  it('rejects an id that is not the id of its payload', () => {
    const e = thrownBy(PermanentError, () => toEnvelope({ ...incoming, id: '00000000-0000-5000-8000-000000000000' }, CTX));
    expect(e.reasonClass).toBe('decode');
    expect(e.message).toMatch(/envelope id "00000000-0000-5000-8000-000000000000" is not the id of its payload \(.*\) for key fields \["eventId"\]/);
    expect(thrownBy(PermanentError, () => toEnvelope({ ...incoming, id: 5 }, CTX)).reasonClass).toBe('decode');
  });

  it.each([
    [{ hops: 'x' }, /hops must be an array/],
    [{ hops: [{ stage: '', in: 1, attempt: 1 }] }, /hops\[0\] must be/],
    [{ hops: [{ stage: 's', in: 1, attempt: 0 }] }, /hops\[0\]/],
    [{ hops: [{ stage: 's', in: 1, out: 'x', attempt: 1 }] }, /hops\[0\]/],
    [{ replay: { of: 'tape', at: '2025-01-01T00:00:00Z' } }, /replay must be/],
  ])('rejects a malformed envelope %j', (patch, message) => {
    const e = thrownBy(PermanentError, () => toEnvelope({ ...incoming, ...patch }, CTX));
    expect(e.reasonClass).toBe('decode');
    expect(e.message).toMatch(message);
  });

  it('rejects an unparseable envelope eventTime as schema', () => {
    expect(thrownBy(PermanentError, () => toEnvelope({ ...incoming, eventTime: 'soon' }, CTX)).reasonClass).toBe('schema');
  });
});

describe('hops', () => {
  const base: Envelope = toEnvelope({ eventId: 'h' }, CTX);

  it('opens and closes hops without modifying the input', () => {
    const opened = openHop(base, 'ingest', 1000, 1);
    expect(base.hops).toEqual([]);
    expect(opened.hops).toEqual([{ stage: 'ingest', in: 1000, attempt: 1 }]);
    const closed = closeHop(opened, 'ingest', 1012);
    expect(opened.hops[0].out).toBeUndefined();
    expect(closed.hops).toEqual([{ stage: 'ingest', in: 1000, out: 1012, attempt: 1 }]);
    expect(hopDurations(closed)).toEqual([{ stage: 'ingest', ms: 12, attempt: 1 }]);
  });

  it('closes the last open hop of the stage only', () => {
    let env = openHop(base, 'ingest', 0, 1);
    env = closeHop(env, 'ingest', 5);
    env = openHop(env, 'enrich', 10, 1);
    env = openHop(env, 'ingest', 20, 2);
    env = closeHop(env, 'ingest', 29);
    expect(env.hops).toEqual([
      { stage: 'ingest', in: 0, out: 5, attempt: 1 },
      { stage: 'enrich', in: 10, attempt: 1 },
      { stage: 'ingest', in: 20, out: 29, attempt: 2 },
    ]);
    expect(hopDurations(env)).toEqual([
      { stage: 'ingest', ms: 5, attempt: 1 },
      { stage: 'ingest', ms: 9, attempt: 2 },
    ]);
  });

  it('throws when no hop of the stage is open', () => {
    expect(() => closeHop(base, 'ingest', 1)).toThrow(PhoenixError);
    const closed = closeHop(openHop(base, 'ingest', 0, 1), 'ingest', 1);
    expect(() => closeHop(closed, 'ingest', 2)).toThrow(/has no open hop of stage 'ingest' \(hops: ingest\)/);
  });

  it('reports a clock that went back as 0 ms', () => {
    expect(hopDurations(closeHop(openHop(base, 's', 100, 1), 's', 90))).toEqual([{ stage: 's', ms: 0, attempt: 1 }]);
  });

  it('validates its arguments', () => {
    expect(() => openHop(base, '', 0, 1)).toThrow(/stage must be a non-empty string/);
    expect(() => openHop(base, 's', Number.POSITIVE_INFINITY, 1)).toThrow(/nowMs must be a finite number/);
    expect(() => openHop(base, 's', 0, 0)).toThrow(/attempt must be an integer >= 1; got number 0/);
    expect(() => closeHop(base, 's', Number.NaN)).toThrow(/nowMs/);
  });
});

describe('markReplay', () => {
  const base = toEnvelope({ eventId: 'r' }, CTX);

  it('adds the replay mark to a copy', () => {
    const at = new Date(Date.UTC(2025, 5, 1));
    expect(markReplay(base, 'archive', at)).toEqual({ ...base, replay: { of: 'archive', at: '2025-06-01T00:00:00.000Z' } });
    expect(base.replay).toBeUndefined();
  });

  it('rejects invalid input', () => {
    expect(() => markReplay(base, 'tape' as never, new Date())).toThrow(/of must be 'dlq' or 'archive'; got "tape"/);
    expect(() => markReplay(base, 'dlq', new Date(Number.NaN))).toThrow(/at must be a valid Date/);
  });
});

describe('normalizeEventTime', () => {
  it('keeps a 4-digit year so that ISO strings compare in time order', () => {
    expect(normalizeEventTime('0000-01-01T00:00:00Z')).toBe('0000-01-01T00:00:00.000Z');
    expect(normalizeEventTime('9999-12-31T23:59:59.999Z')).toBe('9999-12-31T23:59:59.999Z');
    expect(normalizeEventTime(Date.UTC(10000, 0, 1))).toBeUndefined();
    expect(normalizeEventTime(-62167219200001)).toBeUndefined();
  });
});

describe('eventTimeMs', () => {
  it('equals Date.parse for every normalized time, years 0000-9999 (property)', () => {
    const min = Date.parse('0000-01-01T00:00:00.000Z');
    const max = Date.UTC(9999, 11, 31, 23, 59, 59, 999);
    fc.assert(fc.property(fc.integer({ min, max }), (ms) => {
      const iso = new Date(ms).toISOString();
      expect(eventTimeMs(iso)).toBe(ms);
      expect(eventTimeMs(iso)).toBe(Date.parse(iso));
    }), { numRuns: 2000 });
  });

  it.each([
    '2024-02-29T12:00:00.000Z', '2023-02-29T12:00:00.000Z', '1900-02-29T00:00:00.000Z', '2000-02-29T00:00:00.000Z', '0000-02-29T00:00:00.000Z',
    '2025-04-31T00:00:00.000Z', '2025-13-01T00:00:00.000Z', '2025-00-10T00:00:00.000Z', '2025-01-00T00:00:00.000Z',
    '2025-01-01T24:00:00.000Z', '2025-01-01T23:60:00.000Z', '2025-01-01T23:59:60.000Z', '2025-01-01T23:59:59.99xZ',
    '2025-01-01T23:59:59.999+', '2025-01-01 23:59:59.999Z', '2025-01-01T23:59:59Z', '+02025-01-01T00:00:00.000Z', '', 'not a time',
  ])('equals Date.parse for %j', (x) => {
    expect(Object.is(eventTimeMs(x), Date.parse(x))).toBe(true);
  });
});
