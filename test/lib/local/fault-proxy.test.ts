/**
 * The sink fault proxy fails writes to the sink's tables and buckets only: the stage's other writes (its canary key,
 * overflow payloads in another bucket) and every read pass, as in a real outage of one table or bucket.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFaultProxy, type FaultProxy } from '../../../lib/local/fault-proxy';
import { Random } from '../../../lib/local/random';

let upstream: http.Server;
let seen: string[];
let endpoint: string;

beforeAll(async () => {
  seen = [];
  upstream = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => { body += c.toString(); });
    req.on('end', () => {
      seen.push(`${req.method} ${req.url} ${body}`);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{}');
    });
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', () => resolve()));
  endpoint = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
});
afterAll(async () => {
  upstream.closeAllConnections();
  await new Promise<void>((resolve) => upstream.close(() => resolve()));
});

async function send(proxy: FaultProxy, method: string, urlPath: string, body = '', target?: string): Promise<number> {
  const r = await fetch(`${proxy.endpoint}${urlPath}`, {
    method, body: method === 'GET' ? undefined : body, headers: target ? { 'x-amz-target': `DynamoDB_20120810.${target}` } : {},
  });
  await r.text();
  return r.status;
}

async function withProxy(service: 'dynamodb' | 's3', targets: string[], fn: (p: FaultProxy) => Promise<void>): Promise<void> {
  const proxy = await startFaultProxy(service, endpoint, { rate: 1, random: new Random(7), cause: '--sink-failure-rate', targets: new Set(targets) });
  try {
    await fn(proxy);
  } finally {
    await proxy.close();
  }
}

describe('sink fault proxy', () => {
  it('DynamoDB: writes naming a sink table fail, writes to other tables and reads pass with their body', async () => {
    await withProxy('dynamodb', ['sink'], async (p) => {
      expect(await send(p, 'POST', '/', JSON.stringify({ TableName: 'sink', Item: {} }), 'PutItem')).toBeGreaterThanOrEqual(400);
      expect(await send(p, 'POST', '/', JSON.stringify({ RequestItems: { sink: [] } }), 'BatchWriteItem')).toBeGreaterThanOrEqual(400);
      expect(await send(p, 'POST', '/', JSON.stringify({ TransactItems: [{ Put: { TableName: 'sink' } }] }), 'TransactWriteItems')).toBeGreaterThanOrEqual(400);
      seen.length = 0;
      expect(await send(p, 'POST', '/', JSON.stringify({ TableName: 'other', Item: {} }), 'PutItem')).toBe(200);
      expect(await send(p, 'POST', '/', JSON.stringify({ TableName: 'sink', Key: {} }), 'GetItem')).toBe(200);
      expect(seen).toEqual([`POST / ${JSON.stringify({ TableName: 'other', Item: {} })}`, `POST / ${JSON.stringify({ TableName: 'sink', Key: {} })}`]);
      expect(p.stats).toMatchObject({ writes: 3, injected: 3, forwarded: 2 });
    });
  });

  it('S3: object writes to a sink bucket fail; writes to another bucket (the canary key, overflow) and reads pass', async () => {
    await withProxy('s3', ['sink-bucket'], async (p) => {
      expect(await send(p, 'PUT', '/sink-bucket/a/b.json', 'x')).toBeGreaterThanOrEqual(500);
      expect(await send(p, 'DELETE', '/sink-bucket/a/b.json')).toBeGreaterThanOrEqual(500);
      expect(await send(p, 'PUT', '/overflow/canary/key', 'k')).toBe(200);
      expect(await send(p, 'GET', '/sink-bucket/a/b.json')).toBe(200);
      expect(p.stats).toMatchObject({ writes: 2, injected: 2, forwarded: 2 });
      expect(Object.keys(p.stats.byKind).every((k) => k === 'SlowDown' || k === 'InternalError')).toBe(true);
    });
  });
});
