/**
 * Test-only emulator helpers for the event source mapping tests: kinesalite served over HTTP/2 (with HTTP/1 fallback)
 * and fauxqs (SQS + S3), both on 127.0.0.1 ephemeral ports, stopped by `stop()`.
 * (Production startup lives in lib/local/emulators.ts; this is deliberately minimal.)
 */
import * as http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { CreateStreamCommand, DescribeStreamSummaryCommand, KinesisClient, PutRecordCommand } from '@aws-sdk/client-kinesis';
import { S3Client } from '@aws-sdk/client-s3';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { FunctionInvoker, InvokeResult } from '../../../../lib/local/esm/types';

export const REGION = 'us-east-1';
export const ACCOUNT = '000000000000';
const credentials = { accessKeyId: 'local', secretAccessKey: 'local' };

export interface Kinesalite {
  readonly endpoint: string;
  readonly client: KinesisClient;
  createStream(name: string, shards: number): Promise<string>;
  stop(): Promise<void>;
}

/** Creates a stream and waits until it is ACTIVE (bounded); resolves to its ARN. */
export async function createActiveStream(client: KinesisClient, name: string, shards: number): Promise<string> {
  await client.send(new CreateStreamCommand({ StreamName: name, ShardCount: shards }));
  for (let i = 0; i < 200; i++) {
    const d = await client.send(new DescribeStreamSummaryCommand({ StreamName: name }));
    if (d.StreamDescriptionSummary?.StreamStatus === 'ACTIVE') return d.StreamDescriptionSummary.StreamARN!;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`stream ${name} did not become ACTIVE`);
}

export async function startKinesalite(): Promise<Kinesalite> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const kinesalite = require('kinesalite') as (opts: Record<string, unknown>) => import('node:http').Server;
  const inner = kinesalite({ createStreamMs: 0, deleteStreamMs: 0, updateStreamMs: 0, shardLimit: 100 });
  const listener = inner.listeners('request')[0] as (req: unknown, res: unknown) => void;
  const server = http2.createServer({ allowHTTP1: true } as http2.ServerOptions, listener as never);
  const sessions = new Set<http2.Http2Session>();
  server.on('session', (s) => {
    sessions.add(s);
    s.on('close', () => sessions.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const client = new KinesisClient({ region: REGION, endpoint, credentials });
  return {
    endpoint,
    client,
    createStream: (name, shards) => createActiveStream(client, name, shards),
    async stop() {
      client.destroy();
      for (const s of sessions) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      // Closes kinesalite's in-memory store (its own http server never listened: ignore that error).
      await new Promise<void>((resolve) => inner.close(() => resolve()));
    },
  };
}

export interface Fauxqs {
  readonly endpoint: string;
  readonly sqs: SQSClient;
  readonly s3: S3Client;
  stop(): Promise<void>;
}

export async function startFauxqs(): Promise<Fauxqs> {
  const { buildApp } = await import('fauxqs');
  // startFauxqs() binds 0.0.0.0: build the app and bind it to loopback ourselves.
  const app = buildApp({ logger: false, host: '127.0.0.1', defaultRegion: REGION });
  const address = await app.listen({ port: 0, host: '127.0.0.1' });
  const endpoint = address.replace('localhost', '127.0.0.1');
  const sqs = new SQSClient({ region: REGION, endpoint, credentials, useQueueUrlAsEndpoint: false });
  const s3 = new S3Client({ region: REGION, endpoint, credentials, forcePathStyle: true });
  return {
    endpoint,
    sqs,
    s3,
    async stop() {
      sqs.destroy();
      s3.destroy();
      await app.close();
    },
  };
}

export type Behaviour = (event: any, call: number) => InvokeResult | Promise<InvokeResult>;

/** A fake function: records every event it gets; `behaviour` decides the outcome (default: success, null payload). */
export class FakeFunction implements FunctionInvoker {
  readonly functionName = 'fake-fn';
  readonly functionArn = `arn:aws:lambda:${REGION}:${ACCOUNT}:function:fake-fn`;
  readonly events: any[] = [];
  behaviour: Behaviour;

  constructor(behaviour: Behaviour = () => ok(null)) {
    this.behaviour = behaviour;
  }

  async invoke(event: unknown): Promise<InvokeResult> {
    const copy = JSON.parse(JSON.stringify(event));
    this.events.push(copy);
    return this.behaviour(copy, this.events.length);
  }

  /** Decoded `data` of the records of every invocation, in invocation order. */
  kinesisBatches(): string[][] {
    return this.events
      .filter((e) => Array.isArray(e.Records) && e.Records.length > 0)
      .map((e) => e.Records.map((r: any) => Buffer.from(r.kinesis.data, 'base64').toString()));
  }
}

export function ok(payload: unknown): InvokeResult {
  return { ok: true, payload, durationMs: 1 };
}

export function fail(errorType: 'timeout' | 'crash' | 'error' | 'throttled', message: string = errorType): InvokeResult {
  return { ok: false, errorType, message, durationMs: 1 };
}

export async function putRecords(client: KinesisClient, stream: string, records: Array<{ key: string; data: string }>): Promise<string[]> {
  const seqs: string[] = [];
  for (const r of records) {
    const res = await client.send(new PutRecordCommand({ StreamName: stream, PartitionKey: r.key, Data: Buffer.from(r.data) }));
    seqs.push(res.SequenceNumber!);
  }
  return seqs;
}

/**
 * A function that counts concurrent invocations. Its first invocation waits (at most 3 s) for a second one to start,
 * so only real concurrency lets it through early; `holdMs` keeps every invocation in flight a little longer.
 */
export function concurrencyProbe(holdMs = 0): { fn: FakeFunction; maxInFlight: () => number } {
  let inFlight = 0;
  let max = 0;
  let release!: () => void;
  const second = new Promise<void>((r) => (release = r));
  const fn = new FakeFunction(async (_e, call) => {
    max = Math.max(max, ++inFlight);
    if (inFlight >= 2) release();
    if (call === 1) await Promise.race([second, new Promise((r) => setTimeout(r, 3_000))]);
    if (holdMs > 0) await new Promise((r) => setTimeout(r, holdMs));
    inFlight--;
    return ok(null);
  });
  return { fn, maxInFlight: () => max };
}
