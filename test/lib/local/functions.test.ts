import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { CreateQueueCommand, GetQueueAttributesCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { putRecords, startFauxqs, startKinesalite } from './esm/support';
import { liveChildren, tempDir } from './support';
import { KinesisEventSourcePoller } from '../../../lib/local/esm/kinesis';
import { parseKinesisMapping } from '../../../lib/local/esm/parse';
import { FunctionInitError, LocalFunction, stageFunctionCode, type FunctionDefinition, type LocalFunctionOptions } from '../../../lib/local/functions';
import { MetricsStore } from '../../../lib/local/metrics';
import { childScript } from '../../../lib/local/paths';
import { Random } from '../../../lib/local/random';

/** A handler exercising what the local runtime must provide. */
const HANDLER = `
exports.handler = async (event, context) => {
  if (event.action === 'sleep') await new Promise((r) => setTimeout(r, event.ms));
  if (event.action === 'throw') throw new TypeError('bad input');
  if (event.action === 'exit') process.exit(3);
  if (event.action === 'big') return 'x'.repeat(event.bytes);
  if (event.action === 'emf') {
    console.log(JSON.stringify({ _aws: { Timestamp: Date.now(), CloudWatchMetrics: [{ Namespace: 'Test', Dimensions: [['Fn']], Metrics: [{ Name: 'Things', Unit: 'Count' }] }] }, Fn: 'f', Things: 7 }));
  }
  let sdk = 'missing';
  try { require.resolve('@aws-sdk/client-dynamodb'); sdk = 'provided'; } catch (e) { sdk = e.code; }
  let other = 'resolvable';
  try { require.resolve('vitest'); } catch (e) { other = e.code; }
  return {
    requestId: context.awsRequestId, name: context.functionName, arn: context.invokedFunctionArn, memory: context.memoryLimitInMB,
    remaining: context.getRemainingTimeInMillis(), region: process.env.AWS_REGION, table: process.env.TABLE,
    dynamo: process.env.AWS_ENDPOINT_URL_DYNAMODB, key: process.env.AWS_ACCESS_KEY_ID, cwd: process.cwd(), sdk, other,
  };
};
exports.callback = (event, context, cb) => setTimeout(() => cb(null, { via: 'callback', got: event }), 5);
/** A Kinesis consumer that sleeps 3 s on a batch holding the record 'slow'. */
exports.kinesis = async (event) => {
  if (event.Records.some((r) => Buffer.from(r.kinesis.data, 'base64').toString() === 'slow')) await new Promise((r) => setTimeout(r, 3000));
  return null;
};
`;

describe('local function runner', () => {
  let runDir: string;
  let codeDir: string;
  let script: string;
  const fns: LocalFunction[] = [];

  beforeAll(() => {
    runDir = tempDir('fn');
    codeDir = path.join(runDir, 'asset');
    mkdirSync(codeDir, { recursive: true });
    writeFileSync(path.join(codeDir, 'index.js'), HANDLER);
    mkdirSync(path.join(runDir, 'logs'));
    script = childScript('function-runner', path.join(runDir, 'bin'));
  });

  afterAll(async () => {
    await Promise.all(fns.map((f) => f.stop()));
    expect(liveChildren()).toEqual([]);
  });

  function make(
    overrides: Partial<FunctionDefinition> = {},
    faults = { throttleRate: 0, crashRate: 0 },
    maxEnvironments = 2,
    extra: Partial<LocalFunctionOptions> = {},
  ): LocalFunction {
    const def = stageFunctionCode({
      logicalId: `Fn${fns.length}`,
      functionName: `fn-${fns.length}`,
      functionArn: `arn:aws:lambda:us-east-1:000000000000:function:fn-${fns.length}`,
      codeDir,
      handler: 'index.handler',
      runtime: 'nodejs22.x',
      timeoutSeconds: 2,
      memoryMb: 256,
      environment: { TABLE: 'orders', AWS_REGION: 'eu-west-9' },
      ...overrides,
    }, path.join(runDir, 'staged'));
    const fn = new LocalFunction(def, {
      runnerScript: script,
      logDir: path.join(runDir, 'logs'),
      region: 'us-east-1',
      metrics,
      maxEnvironments,
      faults,
      random: new Random(3),
      endpoints: { kinesis: 'http://127.0.0.1:1', dynamodb: 'http://127.0.0.1:2', sqs: 'http://127.0.0.1:3', s3: 'http://127.0.0.1:4' },
      ...extra,
    });
    fns.push(fn);
    return fn;
  }
  const metrics = new MetricsStore();

  it('runs the handler unchanged with the Lambda context, its environment, dummy credentials and only the SDK resolvable', async () => {
    const fn = make();
    await fn.warmUp();
    const r = await fn.invoke({ action: 'echo' });
    expect(r.ok).toBe(true);
    const p = (r as { payload: Record<string, unknown> }).payload;
    expect(p).toMatchObject({
      name: 'fn-0',
      arn: 'arn:aws:lambda:us-east-1:000000000000:function:fn-0',
      memory: '256',
      table: 'orders',
      region: 'us-east-1',
      dynamo: 'http://127.0.0.1:2',
      key: 'LOCALACCESSKEY',
      sdk: 'provided',
      other: 'MODULE_NOT_FOUND',
    });
    expect(p.remaining).toBeGreaterThan(0);
    expect(p.remaining).toBeLessThanOrEqual(2000);
    expect(p.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(p.cwd).toBe(fn.def.codeDir);
    await fn.logsFlushed();
    const log = readFileSync(fn.logFile, 'utf8');
    expect(log).toMatch(new RegExp(`env1\\tSTART RequestId: ${p.requestId as string} Version: \\$LATEST`));
    expect(log).toMatch(new RegExp(`env1\\tREPORT RequestId: ${p.requestId as string}\\tDuration: [0-9.]+ ms\\tBilled Duration: \\d+ ms\\tMemory Size: 256 MB\\tMax Memory Used: \\d+ MB\\tInit Duration`));
  });

  it('reports a thrown error, a timeout (environment killed) and a crash (environment replaced), like Lambda', async () => {
    const fn = make();
    const err = await fn.invoke({ action: 'throw' });
    expect(err).toMatchObject({ ok: false, errorType: 'error', message: 'TypeError: bad input' });
    const timeout = await fn.invoke({ action: 'sleep', ms: 5000 });
    expect(timeout).toMatchObject({ ok: false, errorType: 'timeout', message: 'Task timed out after 2.00 seconds' });
    const crash = await fn.invoke({ action: 'exit' });
    expect(crash).toMatchObject({ ok: false, errorType: 'crash' });
    expect((crash as { message: string }).message).toMatch(/^Runtime.ExitError: exit code 3/);
    expect(await fn.invoke({ action: 'echo' })).toMatchObject({ ok: true });
    expect(fn.stats).toMatchObject({ invocations: 4, succeeded: 1, errors: 1, timeouts: 1, crashes: 1, coldStarts: 3 });
    await fn.logsFlushed();
    expect(readFileSync(fn.logFile, 'utf8')).toMatch(/Task timed out after 2.00 seconds/);
  }, 30_000);

  it('Lambda\'s 6 MB payload limits: a larger event is refused before running, a larger response is a function error', async () => {
    const fn = make();
    const refused = await fn.invoke({ action: 'echo', pad: 'x'.repeat(6 * 1024 * 1024) });
    expect(refused).toMatchObject({
      ok: false, errorType: 'error', message: 'RequestEntityTooLargeException: Request must be smaller than 6291456 bytes for the InvokeFunction operation',
    });
    expect(fn.stats).toMatchObject({ invocations: 0, requestsTooLarge: 1, coldStarts: 0 });
    // The response is the JSON string: two quotes around the characters. 6,291,556 bytes is Lambda's stated limit.
    expect(await fn.invoke({ action: 'big', bytes: 6_291_554 })).toMatchObject({ ok: true });
    const tooLarge = await fn.invoke({ action: 'big', bytes: 6_291_555 });
    expect(tooLarge).toMatchObject({
      ok: false,
      errorType: 'error',
      message: 'Function.ResponseSizeTooLarge: Response payload size (6291557 bytes) exceeded maximum allowed payload size (6291556 bytes).',
    });
    expect(fn.stats).toMatchObject({ invocations: 2, succeeded: 1, errors: 1, responsesTooLarge: 1 });
  }, 30_000);

  it('--latency aws: each invocation waits Lambda\'s invoke overhead before the handler runs', async () => {
    const fn = make();
    await fn.warmUp(1);
    const plain = await fn.invoke({ action: 'echo' });
    const slowed = make({}, undefined, 2, { invokeOverheadMs: () => 300 });
    await slowed.warmUp(1);
    const waited = await slowed.invoke({ action: 'echo' });
    expect(plain.durationMs).toBeLessThan(300);
    expect(waited.durationMs).toBeGreaterThanOrEqual(300);
  }, 30_000);

  it('parses EMF lines into metrics, and supports callback handlers', async () => {
    const fn = make();
    expect(await fn.invoke({ action: 'emf' })).toMatchObject({ ok: true });
    expect(metrics.total('Things', 'Test', { Fn: 'f' })).toBe(7);
    const cb = make({ handler: 'index.callback' });
    expect(await cb.invoke({ x: 1 })).toMatchObject({ ok: true, payload: { via: 'callback', got: { x: 1 } } });
  });

  it('throttles above ReservedConcurrentExecutions and with --throttle-rate; crashes with --crash-rate', async () => {
    const reserved = make({ reservedConcurrency: 1 });
    const [a, b] = await Promise.all([reserved.invoke({ action: 'sleep', ms: 300 }), reserved.invoke({ action: 'echo' })]);
    expect(a.ok).toBe(true);
    expect(b).toMatchObject({ ok: false, errorType: 'throttled', message: 'Rate Exceeded. (ReservedConcurrentExecutions 1)' });
    const always = make({}, { throttleRate: 1, crashRate: 0 });
    expect(await always.invoke({})).toMatchObject({ ok: false, errorType: 'throttled' });
    const crashing = make({}, { throttleRate: 0, crashRate: 1 });
    const c = await crashing.invoke({ action: 'echo' });
    expect(c).toMatchObject({ ok: false, errorType: 'crash', message: 'Runtime.ExitError: killed by --crash-rate fault injection' });
    expect(crashing.stats.injectedCrashes).toBe(1);
  }, 30_000);

  it('a Kinesis mapping treats a real timeout as a failed invocation: bisects, retries, then sends on-failure', async () => {
    const [kinesis, faux] = await Promise.all([startKinesalite(), startFauxqs()]);
    try {
      const streamArn = await kinesis.createStream('timeouts', 1);
      const queueUrl = (await faux.sqs.send(new CreateQueueCommand({ QueueName: 'timeouts-failed' }))).QueueUrl!;
      const attrs = await faux.sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }));
      const seqs = await putRecords(kinesis.client, 'timeouts', ['r0', 'r1', 'slow', 'r3'].map((data) => ({ key: data, data })));
      const fn = make({ handler: 'index.kinesis', timeoutSeconds: 1 });
      await fn.warmUp(1);
      const config = parseKinesisMapping({
        EventSourceArn: streamArn,
        FunctionName: fn.functionName,
        StartingPosition: 'TRIM_HORIZON',
        BatchSize: 4,
        BisectBatchOnFunctionError: true,
        MaximumRetryAttempts: 1,
        DestinationConfig: { OnFailure: { Destination: attrs.Attributes!.QueueArn } },
      }, { uuid: 'timeouts', region: 'us-east-1', accountId: '000000000000', queueUrlForArn: () => queueUrl });
      const poller = new KinesisEventSourcePoller(config, fn, { kinesis: kinesis.client, sqs: faux.sqs, s3: faux.s3 }, {
        pollIntervalMs: 20, retryBackoffMs: 5, retryBackoffCapMs: 20,
      });
      poller.start();
      try {
        expect(await poller.drain({ timeoutMs: 20_000 })).toBe(true);
      } finally {
        await poller.stop();
      }
      // [r0 r1 slow r3] times out, bisects; [r0 r1] succeeds; [slow r3] times out, bisects; [slow] times out twice
      // (MaximumRetryAttempts 1) and goes on-failure; [r3] succeeds.
      expect(fn.stats).toMatchObject({ invocations: 6, succeeded: 2, timeouts: 4 });
      expect(poller.stats).toMatchObject({ bisections: 2, retries: 1, discardedToOnFailure: 1 });
      const received = await faux.sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
      expect(received.Messages).toHaveLength(1);
      // approximateInvokeCount: the four invocations that held the record (two as part of larger batches).
      expect(JSON.parse(received.Messages![0].Body!)).toMatchObject({
        requestContext: { condition: 'RetryAttemptsExhausted', approximateInvokeCount: 4 },
        KinesisBatchInfo: { startSequenceNumber: seqs[2], endSequenceNumber: seqs[2], batchSize: 1 },
      });
    } finally {
      await Promise.all([kinesis.stop(), faux.stop()]);
    }
  }, 60_000);

  it('a handler that cannot load fails warm-up with one line', async () => {
    const fn = make({ handler: 'missing.handler' });
    await expect(fn.warmUp()).rejects.toThrow(FunctionInitError);
    await expect(fn.warmUp()).rejects.toThrow(/^function fn-\d+ failed to initialize: Runtime.ImportModuleError: Cannot find module 'missing'/);
    expect(existsSync(fn.logFile)).toBe(true);
  });
});
