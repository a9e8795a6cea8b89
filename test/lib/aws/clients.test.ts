/**
 * The Kinesis clients the library creates share one HTTP/2 session across calls (KINESIS_CLIENT_OPTIONS), where the
 * SDK's default opens a session per request. Checked against a local HTTP/2 server (127.0.0.1) that answers PutRecord
 * and counts the sessions opened to it; the SDK's default client is the control, so the test fails if the option stops
 * having its effect.
 */
import * as http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { KinesisClient, PutRecordCommand } from '@aws-sdk/client-kinesis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { KINESIS_CLIENT_OPTIONS } from '../../../lib/aws/clients';
import { createClients } from '../../../lib/cli/targets';
import type { Envelope } from '../../../lib/core';
import { createConfiguredSink } from '../../../lib/handlers/ports/factory';
import { createLocalClients } from '../../../lib/local/clients';

const credentials = { accessKeyId: 'test', secretAccessKey: 'test' };
let server: http2.Http2Server;
let endpoint: string;
let sessions = 0;
let requests = 0;
const openSessions = new Set<http2.ServerHttp2Session>();

beforeAll(async () => {
  server = http2.createServer();
  server.on('session', (s) => {
    sessions++;
    openSessions.add(s);
    s.on('close', () => openSessions.delete(s));
  });
  server.on('stream', (stream) => {
    stream.resume();
    stream.on('end', () => {
      requests++;
      stream.respond({ ':status': 200, 'content-type': 'application/x-amz-json-1.1' });
      // One body for PutRecord and for a one-record PutRecords (the sink's call): each parser ignores the other's fields.
      const written = { SequenceNumber: String(49_000 + requests), ShardId: 'shardId-000000000000' };
      stream.end(JSON.stringify({ ...written, FailedRecordCount: 0, Records: [written] }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterEach(() => {
  sessions = 0;
  requests = 0;
});

afterAll(async () => {
  for (const s of openSessions) s.destroy();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

async function putFive(client: KinesisClient): Promise<void> {
  try {
    for (let i = 0; i < 5; i++) {
      await client.send(new PutRecordCommand({ StreamName: 's', PartitionKey: `k${i}`, Data: Buffer.from('{}') }));
    }
  } finally {
    client.destroy();
  }
}

describe('Kinesis client sessions', () => {
  it("the SDK's default client opens a session per request (the control)", async () => {
    await putFive(new KinesisClient({ region: 'us-east-1', credentials, endpoint }));
    expect(requests).toBe(5);
    expect(sessions).toBe(5);
  });

  it('KINESIS_CLIENT_OPTIONS: five sequential requests share one session', async () => {
    await putFive(new KinesisClient({ region: 'us-east-1', credentials, endpoint, ...KINESIS_CLIENT_OPTIONS }));
    expect(requests).toBe(5);
    expect(sessions).toBe(1);
  });

  it("the handlers' Kinesis sink (createConfiguredSink, endpoint from AWS_ENDPOINT_URL_KINESIS) shares one session", async () => {
    const saved = { ...process.env };
    Object.assign(process.env, {
      AWS_ENDPOINT_URL_KINESIS: endpoint, AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test',
    });
    try {
      const sink = await createConfiguredSink({ sinkKind: 'kinesis', sinkTarget: 'next-stage' });
      for (let i = 0; i < 5; i++) {
        const env = { id: `id-${i}` } as Envelope;
        expect(await sink.write(env, { partitionKey: `k${i}`, sequenceNumber: String(i), contentHash: 'h', envelopeJson: '{}' })).toBe('written');
      }
    } finally {
      process.env = saved;
    }
    expect(requests).toBe(5);
    expect(sessions).toBe(1);
  });

  it('the replay tooling and the local environment create their Kinesis clients with the same options', async () => {
    const replay = createClients({ region: 'us-east-1', endpoints: { kinesis: endpoint } as never });
    try {
      await putFive(replay.kinesis);
    } finally {
      replay.destroy();
    }
    expect(sessions).toBe(1);
    sessions = 0;
    const local = createLocalClients({ kinesis: endpoint, dynamodb: endpoint, fauxqs: endpoint }, 'us-east-1');
    try {
      await putFive(local.kinesis);
    } finally {
      local.destroy();
    }
    expect(sessions).toBe(1);
  });
});
