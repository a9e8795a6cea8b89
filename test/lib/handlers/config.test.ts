import { PutItemCommand } from '@aws-sdk/client-dynamodb';
import { PutRecordCommand, KinesisClient } from '@aws-sdk/client-kinesis';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { fakeDynamoDb, fakeS3, fakeSqs } from './support/fake-aws';
import { BASE_ENV } from './support/harness';
import { captureStdout, FakeClock, kinesisEvent, lambdaContext } from './support/kinesis';
import { idNamespaceFor, recordId } from '../../../lib/core';
import { ConfigError } from '../../../lib/core/errors';
import { loadConfig } from '../../../lib/handlers/config';
import { compileValidator } from '../../../lib/handlers/schema';
import { createIngestHandler } from '../../../lib/runtime';
import { thrownBy } from '../../support/errors';

beforeAll(() => {
  process.env.AWS_REGION ??= 'us-east-2';
});
const restorers: Array<() => void> = [];
afterEach(() => {
  while (restorers.length) restorers.pop()!();
});

describe('configuration at cold start', () => {
  it('applies the documented defaults', () => {
    const c = loadConfig({ PHX_PIPELINE: 'p' });
    expect(c).toMatchObject({
      pipeline: 'p',
      stage: 'ingest',
      keyFields: [],
      schema: undefined,
      maxRecordBytes: 1_048_576,
      sinkKind: 'none',
      dlqMaxMessageBytes: 262_144,
      recordConcurrency: 1,
      retry: { budgetMs: 10_000, baseMs: 50, capMs: 2_000, maxAttempts: 6 },
    });
  });

  it('reads PHX_EVENT_TIME_FIELD (unset by default)', () => {
    expect(loadConfig({ PHX_PIPELINE: 'p', PHX_EVENT_TIME_FIELD: 'meta.ts' }).eventTimeField).toBe('meta.ts');
    expect(loadConfig({ PHX_PIPELINE: 'p' }).eventTimeField).toBeUndefined();
  });

  const cases: Array<[string, Record<string, string>, RegExp]> = [
    ['PHX_PIPELINE', { PHX_PIPELINE: '' }, /PHX_PIPELINE=<unset>|PHX_PIPELINE=""; allowed: a non-empty pipeline name/],
    ['PHX_RECORD_CONCURRENCY', { PHX_RECORD_CONCURRENCY: 'abc' }, /PHX_RECORD_CONCURRENCY="abc"; allowed: an integer from 1 to 100/],
    ['PHX_RECORD_CONCURRENCY', { PHX_RECORD_CONCURRENCY: '0' }, /PHX_RECORD_CONCURRENCY="0"/],
    ['PHX_MAX_RECORD_BYTES', { PHX_MAX_RECORD_BYTES: '1.5' }, /PHX_MAX_RECORD_BYTES="1.5"; allowed: an integer/],
    ['PHX_KEY_FIELDS', { PHX_KEY_FIELDS: 'user.id' }, /PHX_KEY_FIELDS="user.id"; allowed: a JSON array of non-empty dot-path strings/],
    ['PHX_KEY_FIELDS', { PHX_KEY_FIELDS: '[1]' }, /PHX_KEY_FIELDS="\[1\]"/],
    ['PHX_SINK_KIND', { PHX_SINK_KIND: 'redis' }, /PHX_SINK_KIND="redis"; allowed: dynamodb \| s3 \| kinesis \| none/],
    ['PHX_SINK_TARGET', { PHX_SINK_KIND: 'dynamodb' }, /PHX_SINK_TARGET=<unset>; allowed: the dynamodb target/],
    ['PHX_ID_NAMESPACE', { PHX_ID_NAMESPACE: 'not-a-uuid' }, /PHX_ID_NAMESPACE="not-a-uuid"; allowed: a UUID/],
    ['PHX_SCHEMA', { PHX_SCHEMA: '{"type":' }, /PHX_SCHEMA="\{\\"type\\":"; allowed: a JSON Schema/],
    ['PHX_DLQ_URL', { PHX_DLQ_URL: 'orders-dlq' }, /PHX_DLQ_URL="orders-dlq"; allowed: an SQS queue URL/],
    ['PHX_RETRY_CAP_MS', { PHX_RETRY_BASE_MS: '500', PHX_RETRY_CAP_MS: '100' }, /PHX_RETRY_CAP_MS="100"; allowed: an integer >= PHX_RETRY_BASE_MS \(500\)/],
    ['PHX_EVENT_TIME_FIELD', { PHX_EVENT_TIME_FIELD: 'a..b' }, /PHX_EVENT_TIME_FIELD="a..b"; allowed: a dot path such as ts or event.time/],
    ['PHX_DLQ_MAX_MESSAGE_BYTES', { PHX_DLQ_MAX_MESSAGE_BYTES: '2000000' }, /PHX_DLQ_MAX_MESSAGE_BYTES="2000000"; allowed: an integer from 4096 to 1048576/],
  ];
  it.each(cases)('rejects a bad %s naming the variable, its value and what is allowed', (variable, env, message) => {
    const err = thrownBy(ConfigError, () => loadConfig({ PHX_PIPELINE: 'p', ...env }));
    expect(err.variable).toBe(variable);
    expect(err.message).toMatch(message);
  });

  it('rejects an invalid JSON Schema at cold start (ajv strict mode), naming PHX_SCHEMA', () => {
    const err = thrownBy(ConfigError, () => createIngestHandler({ env: { ...BASE_ENV, PHX_SCHEMA: '{"type":"nope"}' }, sink: { write: async () => 'written' } }));
    expect(err.variable).toBe('PHX_SCHEMA');
    expect(err.message).toMatch(/PHX_SCHEMA="\{\\"type\\":\\"nope\\"\}"; allowed: a valid JSON Schema .* ajv: .*type/);
    const unknownKeyword = thrownBy(ConfigError, () => compileValidator({ type: 'object', requird: ['a'] }));
    expect(unknownKeyword.message).toMatch(/unknown keyword: "requird"/);
  });

  it('requires the DLQ queue and overflow bucket unless a DLQ port is given', () => {
    const { PHX_DLQ_URL: _u, ...noUrl } = BASE_ENV;
    expect(thrownBy(ConfigError, () => createIngestHandler({ env: noUrl })).variable).toBe('PHX_DLQ_URL');
    const { PHX_DLQ_OVERFLOW_BUCKET: _b, ...noBucket } = BASE_ENV;
    expect(thrownBy(ConfigError, () => createIngestHandler({ env: noBucket })).variable).toBe('PHX_DLQ_OVERFLOW_BUCKET');
  });

  it('lets options override the environment', () => {
    const c = loadConfig({ PHX_PIPELINE: 'p', PHX_KEY_FIELDS: '["a"]', PHX_RECORD_CONCURRENCY: '2' }, { keyFields: ['b'], recordConcurrency: 4, pipeline: 'q' });
    expect(c).toMatchObject({ pipeline: 'q', keyFields: ['b'], recordConcurrency: 4 });
  });
});

describe('schema validation', () => {
  it('supports formats and draft 2020-12', () => {
    const v = compileValidator({ type: 'object', properties: { at: { type: 'string', format: 'date-time' } } });
    expect(v({ at: '2026-01-01T00:00:00Z' })).toBeNull();
    expect(v({ at: 'yesterday' })).toBe('/at must match format "date-time"');
    const v2020 = compileValidator({
      $schema: 'https://json-schema.org/draft/2020-12/schema',
      type: 'object',
      properties: { tags: { type: 'array', prefixItems: [{ type: 'string' }] } },
    });
    expect(v2020({ tags: ['a'] })).toBeNull();
    expect(v2020({ tags: [1] })).toBe('/tags/0 must be string');
  });

  it('lists at most 5 errors and counts the rest', () => {
    const props = Object.fromEntries(Array.from({ length: 8 }, (_, i) => [`f${i}`, { type: 'number' }]));
    const v = compileValidator({ type: 'object', properties: props });
    const bad = Object.fromEntries(Array.from({ length: 8 }, (_, i) => [`f${i}`, 'x']));
    expect(v(bad)).toMatch(/^\/f0 must be number; .*\/f4 must be number \(\+3 more\)$/);
  });
});

describe('wiring from the environment alone (the ingest asset)', () => {
  async function runWith(env: Record<string, string>, records: unknown[]) {
    const clock = new FakeClock();
    const out = captureStdout();
    restorers.push(out.restore);
    const handler = createIngestHandler({ env: { ...BASE_ENV, ...env }, clock });
    return handler(kinesisEvent(records as Array<Record<string, unknown>>), lambdaContext(clock));
  }

  it('PHX_SINK_KIND=dynamodb writes to the table and dead-letters to the SQS queue', async () => {
    const ddb = fakeDynamoDb();
    const sqs = fakeSqs();
    restorers.push(() => ddb.mock.restore(), () => sqs.mock.restore());
    const res = await runWith({}, [{ orderId: 'o-1' }, 'bad']);
    expect(res.batchItemFailures).toEqual([]);
    const id = recordId({ orderId: 'o-1' }, idNamespaceFor('orders'), ['orderId']);
    expect(ddb.mock.commandCalls(PutItemCommand)[0].args[0].input.Item!.pk.S).toBe(id);
    expect(sqs.sent).toHaveLength(1);
    expect(sqs.sent[0].QueueUrl).toBe(BASE_ENV.PHX_DLQ_URL);
  });

  it('honours PHX_ID_NAMESPACE', async () => {
    const ddb = fakeDynamoDb();
    restorers.push(() => ddb.mock.restore());
    const ns = '1b671a64-40d5-491e-99b0-da01ff1f3341';
    await runWith({ PHX_ID_NAMESPACE: ns }, [{ orderId: 'o-1' }]);
    expect([...ddb.table.keys()]).toEqual([recordId({ orderId: 'o-1' }, ns, ['orderId'])]);
  });

  it('PHX_SINK_KIND=s3 writes objects under the target prefix', async () => {
    const s3 = fakeS3();
    restorers.push(() => s3.mock.restore());
    await runWith({ PHX_SINK_KIND: 's3', PHX_SINK_TARGET: 'lake/orders/' }, [{ orderId: 'o-1' }]);
    expect([...s3.objects.keys()][0]).toMatch(/^lake\/orders\/[0-9a-f-]{36}\.json$/);
  });

  it('PHX_SINK_KIND=kinesis forwards envelopes with the source partition key', async () => {
    const mock = mockClient(KinesisClient);
    restorers.push(() => mock.restore());
    mock.on(PutRecordCommand).resolves({ SequenceNumber: '1', ShardId: 's' });
    await runWith({ PHX_SINK_KIND: 'kinesis', PHX_SINK_TARGET: 'next' }, [{ orderId: 'o-1' }]);
    const input = mock.commandCalls(PutRecordCommand)[0].args[0].input;
    expect(input).toMatchObject({ StreamName: 'next', PartitionKey: '1' });
    expect(JSON.parse(Buffer.from(input.Data!).toString()).payload).toEqual({ orderId: 'o-1' });
  });

  it('PHX_SINK_KIND=none validates and dead-letters only', async () => {
    const sqs = fakeSqs();
    restorers.push(() => sqs.mock.restore());
    const res = await runWith({ PHX_SINK_KIND: 'none', PHX_SINK_TARGET: '' }, [{ orderId: 'o-1' }, { nokey: 1 }]);
    expect(res.batchItemFailures).toEqual([]);
    expect(sqs.sent.map((m) => JSON.parse(m.MessageBody!).reason.class)).toEqual(['missing-key']);
  });

  it('lib/handlers/ingest.ts exports the handler built from process.env', async () => {
    vi.resetModules();
    const saved = { ...process.env };
    Object.assign(process.env, BASE_ENV);
    try {
      const mod = await import('../../../lib/handlers/ingest.js');
      expect(typeof mod.handler).toBe('function');
    } finally {
      for (const k of Object.keys(BASE_ENV)) if (!(k in saved)) delete process.env[k];
    }
  });
});
