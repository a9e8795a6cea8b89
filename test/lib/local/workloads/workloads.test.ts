import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { clickEventKeyFields, clickEventSchema } from '../../../../examples/clickstream/schema';
import { telemetryQualityRules } from '../../../../examples/iot-telemetry/quality';
import { IOT_FIRMWARE, IOT_SITES, telemetryKeyFields, telemetrySchema } from '../../../../examples/iot-telemetry/schema';
import { ORDER_STATUSES, orderEventKeyFields, orderEventSchema } from '../../../../examples/orders/schema';
import { main } from '../../../../lib/cli';
import { idNamespaceFor, recordId } from '../../../../lib/core';
import { compileValidator } from '../../../../lib/handlers/schema';
import { account, ProducedLog } from '../../../../lib/local/accounting';
import type { SinkEnvelope } from '../../../../lib/local/verify';
import {
  BUILT_IN_WORKLOADS, createWorkload, POISON_KINDS, workloadProblem,
  type PipelineRules, type Workload, type WorkloadRecord,
} from '../../../../lib/local/workloads';
import { REPO, tempDir } from '../support';

/** The rules the local run reads from each example's ingest function (schema, key fields, namespace, a small limit). */
const EXAMPLES: Record<string, PipelineRules> = {
  'clickstream': { namespace: idNamespaceFor('clickstream'), keyFields: clickEventKeyFields, validate: compileValidator(clickEventSchema), maxRecordBytes: 10_000 },
  'iot-telemetry': { namespace: idNamespaceFor('iot-telemetry'), keyFields: telemetryKeyFields, validate: compileValidator(telemetrySchema), maxRecordBytes: 10_000 },
  'orders': { namespace: idNamespaceFor('orders'), keyFields: orderEventKeyFields, validate: compileValidator(orderEventSchema), maxRecordBytes: 10_000 },
};

function drain(w: Workload): WorkloadRecord[] {
  const out: WorkloadRecord[] = [];
  for (let r = w.next(); r; r = w.next()) out.push(r);
  return out;
}

const opts = { cwd: REPO, records: 1500, seed: 42, poisonRate: 0.1, duplicateRate: 0.1 };
const shape = (r: WorkloadRecord): string => `${r.kind}:${r.poisonKind ?? ''}:${r.id ?? ''}:${r.partitionKey}`;

describe('built-in workloads', () => {
  it('are exactly clickstream, iot-telemetry and orders', () => {
    expect(Object.keys(BUILT_IN_WORKLOADS)).toEqual(['clickstream', 'iot-telemetry', 'orders']);
  });

  for (const name of Object.keys(EXAMPLES)) {
    it(`${name}: reproducible per seed, valid per the example's schema and key, every poison kind, real duplicates`, async () => {
      const rules = EXAMPLES[name];
      const a = drain(await createWorkload({ ...opts, workload: name }, rules));
      const b = drain(await createWorkload({ ...opts, workload: name }, rules));
      expect(a.map(shape)).toEqual(b.map(shape));
      expect(a).toHaveLength(1500);
      expect(new Set(a.filter((r) => r.kind === 'poison').map((r) => r.poisonKind))).toEqual(new Set(POISON_KINDS));
      for (const v of a.filter((r) => r.kind === 'valid')) {
        const payload = JSON.parse(v.data.toString('utf8'));
        expect(rules.validate!(payload)).toBeNull();
        expect(v.id).toBe(recordId(payload, rules.namespace, rules.keyFields));
        // the partition key is a key field (the session, the device, the order): one key's records stay in order
        expect(rules.keyFields.map((f) => String(payload[f]))).toContain(v.partitionKey);
      }
      const dups = a.filter((r) => r.kind === 'duplicate');
      expect(dups.length).toBeGreaterThan(100);
      for (const d of dups) expect(a.some((r) => r.kind === 'valid' && r.index < d.index && r.data.equals(d.data))).toBe(true);
      // a poison record never carries the id of a valid one, and the schema rejects each schema violation
      const validIds = new Set(a.filter((r) => r.kind === 'valid').map((r) => r.id));
      for (const p of a.filter((r) => r.poisonKind === 'schema-violation')) {
        const payload = JSON.parse(p.data.toString('utf8'));
        expect(rules.validate!(payload)).not.toBeNull();
        expect(validIds.has(recordId(payload, rules.namespace, rules.keyFields))).toBe(false);
      }
    });
  }

  it('iot-telemetry: a fleet at the example\'s sites on released firmware, temperatures inside the warn bounds, some null readings', async () => {
    const recs = drain(await createWorkload({ ...opts, records: 5000, poisonRate: 0, duplicateRate: 0, workload: 'iot-telemetry' }, EXAMPLES['iot-telemetry']));
    const readings = recs.map((r) => r.payload!);
    expect(new Set(readings.map((p) => p.site))).toEqual(new Set(IOT_SITES));
    expect(new Set(readings.map((p) => p.firmware))).toEqual(new Set(IOT_FIRMWARE));
    const devices = new Set(readings.map((p) => p.deviceId));
    expect(devices.size).toBeGreaterThan(100);
    const temps = readings.map((p) => p.temperature).filter((t): t is number => typeof t === 'number');
    const bound = (name: string) => telemetryQualityRules.find((r) => r.name === name)!.warn!;
    expect(Math.min(...temps)).toBeGreaterThan(bound('temperature-min').min!);
    expect(Math.max(...temps)).toBeLessThan(bound('temperature-max').max!);
    expect(readings.length - temps.length).toBeGreaterThan(0);
    expect((readings.length - temps.length) / readings.length).toBeLessThan(0.01);
    // per device, the message counter only goes up
    const last = new Map<string, number>();
    for (const p of readings) {
      expect(p.seq as number).toBeGreaterThan(last.get(p.deviceId as string) ?? -1);
      last.set(p.deviceId as string, p.seq as number);
    }
  });

  it('orders: several versions per order with increasing eventTime; some put after a newer one; the log expects the newest', async () => {
    const recs = drain(await createWorkload({ ...opts, records: 2000, poisonRate: 0.02, duplicateRate: 0.02, workload: 'orders' }, EXAMPLES.orders));
    const versions = new Map<string, WorkloadRecord[]>();
    for (const r of recs.filter((x) => x.kind === 'valid')) versions.set(r.id!, [...(versions.get(r.id!) ?? []), r]);
    expect(versions.size).toBeGreaterThan(100);
    expect([...versions.values()].filter((v) => v.length >= 3).length).toBeGreaterThan(50);
    let late = 0;
    for (const vs of versions.values()) {
      for (const v of vs) expect(v.version).toBe(Date.parse(v.payload!.eventTime as string));
      expect(new Set(vs.map((v) => v.version)).size).toBe(vs.length);
      for (let i = 1; i < vs.length; i++) if (vs[i].version! < Math.max(...vs.slice(0, i).map((v) => v.version!))) late++;
    }
    expect(late).toBeGreaterThan(20);
    expect(new Set(recs.filter((r) => r.kind === 'valid').map((r) => r.payload!.status))).toEqual(new Set(ORDER_STATUSES));

    const log = new ProducedLog();
    recs.forEach((r, i) => log.record(r, 1_000 + i));
    for (const [id, vs] of versions) {
      const newest = vs.reduce((a, b) => (b.version! > a.version! ? b : a));
      expect(log.valid.get(id)!.hash).toBe(newest.hash);
    }
    // a sink with the newest version of every order is exact; one older version in it is a mismatch
    const envelope = (r: WorkloadRecord): SinkEnvelope => ({ id: r.id!, payload: r.payload, hops: [], location: 'test' } as unknown as SinkEnvelope);
    const newestOf = [...versions.values()].map((vs) => vs.reduce((a, b) => (b.version! > a.version! ? b : a)));
    expect(account(log, newestOf.map(envelope), []).duplicatesInSink).toBe(0);
    const stale = newestOf.findIndex((r) => versions.get(r.id!)!.length > 1);
    const withStale = [...newestOf];
    withStale[stale] = versions.get(newestOf[stale].id!)!.find((v) => v !== newestOf[stale])!;
    expect(account(log, withStale.map(envelope), []).versionMismatches).toBe(1);
    expect(log.newerVersionsPut).toBeGreaterThan(versions.size);
  });

  it('refuses a generator whose events the function rejects, naming the way out', async () => {
    await expect(createWorkload({ ...opts, workload: 'iot-telemetry' }, EXAMPLES.orders))
      .rejects.toThrow(/^the built-in iot-telemetry workload does not match the function's schema \(.+\); pass --input FILE or another --workload/);
  });
});

describe('--workload selection', () => {
  it('an unknown name gives one line with the allowed names', async () => {
    const expected = 'unknown --workload "iot": allowed clickstream, iot-telemetry, orders, or the path of a module (.js, .cjs, .mjs, .ts, .cts, .mts) exporting createWorkload';
    expect(workloadProblem('iot')).toBe(expected);
    expect(workloadProblem('toString')).toBe(expected.replace('"iot"', '"toString"'));
    await expect(createWorkload({ ...opts, workload: 'iot' }, EXAMPLES.orders)).rejects.toThrow(expected);
    expect(workloadProblem('orders')).toBeUndefined();
    expect(workloadProblem('./mine.js')).toBeUndefined();
  });

  it('the CLI refuses a bad --workload before starting anything: exit code 2 and one line', async () => {
    const err: string[] = [];
    const spy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => { err.push(String(chunk)); return true; });
    try {
      expect(await main(['node', 'phoenix', 'local', 'run', '--workload', 'iot'])).toBe(2);
      expect(await main(['node', 'phoenix', 'local', 'run', '--workload', './absent-workload.js'])).toBe(2);
      expect(await main(['node', 'phoenix', 'local', 'run', '--workload', 'orders', '--input', 'package.json'])).toBe(2);
    } finally {
      spy.mockRestore();
      process.exitCode = undefined;
    }
    expect(err).toEqual([
      `phoenix: ${workloadProblem('iot')}\n`,
      'phoenix: --workload ./absent-workload.js does not exist\n',
      'phoenix: --input and --workload exclude each other\n',
    ]);
  });

  it('--input and --workload exclude each other', async () => {
    await expect(createWorkload({ ...opts, workload: 'orders', input: 'x.txt' }, EXAMPLES.orders)).rejects.toThrow('--input and --workload exclude each other');
  });
});

describe('workload modules (--workload <path>)', () => {
  const rules = EXAMPLES.orders;
  const order = (orderId: string, version: number, eventTime: string) => ({
    orderId, version, eventTime, status: 'created', customerId: 'c-1', currency: 'EUR', items: [{ sku: 'A', quantity: 1, unitPrice: 2 }], total: 2,
  });

  it('a CommonJS module built with the kit: records are checked, renumbered and expected where they belong', async () => {
    const dir = tempDir('wl-cjs');
    const file = path.join(dir, 'orders-replay.js');
    writeFileSync(file, `
      exports.createWorkload = (options, rules, kit) => {
        const base = ${JSON.stringify(order('o-1', 1, '2026-11-26T10:00:00.000Z'))};
        const v1 = kit.valid(base, 'o-1', Date.parse(base.eventTime));
        const v2 = kit.valid({ ...base, version: 2, status: 'paid', eventTime: '2026-11-26T10:00:01.000Z' }, 'o-1', Date.parse('2026-11-26T10:00:01.000Z'));
        const records = [v2, v1, kit.duplicate(v2), kit.poison('{"orderId":', 'o-1', 'non-json')];
        let i = 0;
        return { total: records.length, notes: ['replays a day of orders, seed ' + options.seed], next: () => records[i++] };
      };`);
    const w = await createWorkload({ ...opts, workload: file }, rules);
    expect(w.notes).toEqual([`workload from the module ${file}`, 'replays a day of orders, seed 42']);
    const recs = drain(w);
    expect(recs.map((r) => [r.index, r.kind])).toEqual([[0, 'valid'], [1, 'valid'], [2, 'duplicate'], [3, 'poison']]);
    const log = new ProducedLog();
    recs.forEach((r) => log.record(r, 1));
    expect(log.valid.get(recs[0].id!)!.hash).toBe(recs[0].hash);
    expect(log.byHash.get(recs[3].hash)).toEqual({ kind: 'poison', poisonKind: 'non-json' });
  });

  it('a TypeScript module (loaded with tsx) and an ES module', async () => {
    const dir = tempDir('wl-ts');
    const first = JSON.stringify(order('o-x', 1, '2026-11-26T10:00:00.000Z'));
    const ts = `import type { Buffer } from 'node:buffer';
      interface Kit { valid(payload: Record<string, unknown>, partitionKey: string): { data: Buffer } }
      export function createWorkload(options: { records: number }, _rules: unknown, kit: Kit) {
        let n = 0;
        return { total: options.records, notes: [] as string[], next: () => (n < options.records ? kit.valid({ ...${first}, orderId: 'o-' + n++ }, 'pk') : undefined) };
      }\n`;
    writeFileSync(path.join(dir, 'mine.ts'), ts);
    writeFileSync(path.join(dir, 'mine.mjs'), `export function createWorkload(options, _rules, kit) {
        let n = 0;
        return { total: options.records, notes: [], next: () => (n < options.records ? kit.valid({ ...${first}, orderId: 'o-' + n++ }, 'pk') : undefined) };
      }\n`);
    for (const f of ['mine.ts', 'mine.mjs']) {
      const recs = drain(await createWorkload({ ...opts, records: 3, cwd: dir, workload: `./${f}` }, rules));
      expect(recs.map((r) => r.payload!.orderId)).toEqual(['o-0', 'o-1', 'o-2']);
    }
  });

  it('clear one-line errors: no file, no export, a valid record the schema rejects, a wrong id', async () => {
    const dir = tempDir('wl-bad');
    await expect(createWorkload({ ...opts, cwd: dir, workload: './absent.js' }, rules)).rejects.toThrow(/^--workload \.\/absent\.js: no such file/);
    writeFileSync(path.join(dir, 'none.js'), 'exports.make = () => null;');
    await expect(createWorkload({ ...opts, cwd: dir, workload: './none.js' }, rules))
      .rejects.toThrow('--workload ./none.js: the module exports no createWorkload function (it exports: make)');
    writeFileSync(path.join(dir, 'invalid.js'), `exports.createWorkload = () => {
      const data = Buffer.from('{"orderId":"o-1"}');
      const recs = [{ kind: 'valid', data, partitionKey: 'o-1', payload: { orderId: 'o-1' } }];
      return { total: 1, notes: [], next: () => recs.shift() };
    };`);
    const w = await createWorkload({ ...opts, cwd: dir, workload: './invalid.js' }, rules);
    expect(() => w.next()).toThrow(/^--workload \.\/invalid\.js: record 0: it is marked valid but the function's schema rejects it \(/);
    writeFileSync(path.join(dir, 'wrong-id.js'), `exports.createWorkload = () => {
      const payload = ${JSON.stringify(order('o-1', 1, '2026-11-26T10:00:00.000Z'))};
      const recs = [{ kind: 'valid', data: Buffer.from(JSON.stringify(payload)), partitionKey: 'o-1', payload, id: 'x' }];
      return { total: 1, notes: [], next: () => recs.shift() };
    };`);
    const w2 = await createWorkload({ ...opts, cwd: dir, workload: './wrong-id.js' }, rules);
    expect(() => w2.next()).toThrow(`--workload ./wrong-id.js: record 0: id x is not the id the pipeline computes (${recordId(order('o-1', 1, ''), rules.namespace, rules.keyFields)})`);
  });
});
