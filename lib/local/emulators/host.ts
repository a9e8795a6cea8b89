/**
 * Emulator host: a child process of the local environment that serves kinesalite (Kinesis), dynalite (DynamoDB)
 * and fauxqs (SQS, SNS, S3) on 127.0.0.1. Running them outside the orchestrator's event loop gives them a core
 * of their own and lets the parent notice when they die.
 *
 * - kinesalite's request listener is served by an HTTP/2 server that also accepts HTTP/1.1, because the AWS SDK v3
 *   Kinesis client speaks HTTP/2. kinesalite predates the `StreamARN` request parameter: a JSON request naming its
 *   stream by `StreamARN` only gets the equivalent `StreamName` (the ARN's `stream/<name>`) before kinesalite sees it.
 * - fauxqs is built with `buildApp` and bound to 127.0.0.1 (its `startFauxqs` binds every interface). Its queue
 *   URLs (`http://sqs.<region>.localhost:<port>/...`, which need DNS tricks) are rewritten to
 *   `http://127.0.0.1:<port>/<account>/<name>` in responses, and back in requests, so unchanged SDK clients work.
 *
 * - Every request goes through the gate chain (lib/local/gates: IAM, then service limits and latency) before the
 *   emulator sees it; a rejection is answered in the service's error shape and denials are reported to the parent.
 *
 * Exits when the parent sends `stop`, on SIGTERM/SIGINT, or when the IPC channel closes (the parent died).
 */
/* eslint-disable import/no-extraneous-dependencies */
import { createDecipheriv, randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Server as HttpServer } from 'node:http';
import * as http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';
import { HostLimits, partialBatch } from './host-limits';
import { EMULATOR_LABEL, type EmulatorHostConfig, type EmulatorName, type HostToParent, type ParentToHost } from './protocol';
import { createHostGateChain, readIamGateConfig, type ChainResult, type EmulatorKind, type GateChain, type HttpReply } from '../gates';
import type { AwsCall, EntryFailure } from '../gates/types';
import type { HttpRequestInfo } from '../iam/requests';
import { LOCAL_ACCOUNT } from '../template/types';

interface Closable { name: EmulatorName; close(): Promise<void> }

const closables: Closable[] = [];
let stopping = false;

function send(msg: HostToParent): void {
  if (process.send) process.send(msg);
}

function listenError(name: EmulatorName, port: number, err: NodeJS.ErrnoException): Error {
  if (err.code === 'EADDRINUSE') return new Error(`port ${port} for the ${EMULATOR_LABEL[name]} is already in use on 127.0.0.1`);
  if (err.code === 'EACCES') return new Error(`port ${port} for the ${EMULATOR_LABEL[name]} is not allowed (EACCES)`);
  return new Error(`the ${EMULATOR_LABEL[name]} cannot listen on 127.0.0.1:${port}: ${err.message}`);
}

function listen(server: HttpServer | http2.Http2Server, name: EmulatorName, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => reject(listenError(name, port, err));
    server.once('error', onError);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', onError);
      server.on('error', (err: Error) => fail(name, `the ${EMULATOR_LABEL[name]} failed: ${err.message}`));
      resolve((server.address() as AddressInfo).port);
    });
  });
}

function closeServer(server: HttpServer | http2.Http2Server): Promise<void> {
  return new Promise((resolve) => {
    // Sessions of keep-alive clients would hold close() open: the process exits right after anyway.
    const timer = setTimeout(resolve, 1000);
    timer.unref();
    server.close(() => { clearTimeout(timer); resolve(); });
    if ('closeAllConnections' in server && typeof server.closeAllConnections === 'function') server.closeAllConnections();
  });
}

/** A Kinesis JSON request body with `StreamName` added from `StreamARN` when only the ARN is given (else unchanged). */
export function withStreamName(body: Buffer): Buffer {
  if (!body.includes('"StreamARN"') || body.includes('"StreamName"')) return body;
  try {
    const req = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
    const name = typeof req.StreamARN === 'string' ? /:stream\/([^/]+)$/.exec(req.StreamARN)?.[1] : undefined;
    if (!name) return body;
    delete req.StreamARN;
    return Buffer.from(JSON.stringify({ ...req, StreamName: name }), 'utf8');
  } catch {
    return body; // kinesalite answers malformed JSON itself
  }
}

type Listener = (req: unknown, res: unknown) => void;
interface RequestLike extends EventEmitter { method?: string; url?: string; headers: Record<string, string | string[] | undefined> }
interface ResponseLike { writeHead(status: number, headers: Record<string, string>): void; end(body?: unknown, ...rest: unknown[]): unknown }

let chain: GateChain;
let limits: HostLimits | undefined;
let hostConfig: EmulatorHostConfig;

/** Answers a rejected request in the service's error shape. */
function writeReply(res: ResponseLike, reply: HttpReply): void {
  res.writeHead(reply.status, { ...reply.headers, 'content-length': String(Buffer.byteLength(reply.body)) });
  res.end(reply.body);
}

/** Counts the bytes of the response body for the gates' `after` (read limits count bytes returned). */
function measured(res: ResponseLike, done: (bytes: number, body: unknown) => void): void {
  const end = res.end.bind(res);
  res.end = (body?: unknown, ...rest: unknown[]) => {
    done(typeof body === 'string' ? Buffer.byteLength(body) : Buffer.isBuffer(body) ? body.length : 0, body);
    return end(body, ...rest);
  };
}

/** A gate that failed on a request it could not judge (a bug or an unregistered resource): answered as AWS's 500. */
function gateFailure(err: unknown): HttpReply {
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`gate failure: ${message}\n`);
  const headers = { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-errortype': 'InternalFailure' };
  return { status: 500, headers, body: JSON.stringify({ __type: 'InternalFailure', message }) };
}

function checked(name: EmulatorKind, info: HttpRequestInfo): ChainResult | HttpReply {
  try {
    const verdict = chain.check(name, info, Date.now());
    limits?.observe(verdict.calls, info.headers, verdict.kind === 'reject' ? { errorType: verdict.errorType } : { failures: verdict.failures });
    return verdict;
  } catch (err) {
    return gateFailure(err);
  }
}

/**
 * The body the emulator gets and how its answer is rewritten: without the entries of a batch the gates failed, and
 * with them merged back (`answerOnly`: every entry failed, the answer is given without the emulator).
 */
interface PartialPlan { body: Buffer; rewrite?: (text: string) => string; answerOnly?: string }

function partialPlan(operation: string, body: Buffer, failures: readonly EntryFailure[]): PartialPlan {
  if (failures.length === 0) return { body };
  const plan = partialBatch(operation, body, failures);
  if (!plan.forward) return { body, answerOnly: JSON.stringify(plan.answer(undefined)) };
  const rewrite = (text: string): string => {
    const parsed = JSON.parse(text) as Record<string, unknown>;
    return parsed.__type ? text : JSON.stringify(plan.answer(parsed)); // an error answer stays as it is
  };
  return { body: Buffer.from(JSON.stringify(plan.forward), 'utf8'), rewrite };
}

/** Rewrites the emulator's answer (a whole body sent with `end`) before it leaves. */
function rewritten(res: ResponseLike & { setHeader?(n: string, v: string): void }, rewrite: (text: string) => string): void {
  const end = res.end.bind(res);
  res.end = (body?: unknown, ...rest: unknown[]) => {
    if (typeof body !== 'string' && !Buffer.isBuffer(body)) return end(body, ...rest);
    const text = rewrite(body.toString());
    res.setHeader?.('Content-Length', String(Buffer.byteLength(text)));
    return end(text, ...rest);
  };
}

/**
 * A listener that reads the whole request, puts it through the gate chain, and hands it to the emulator's listener
 * (after `transform`) unless a gate rejected it.
 */
function gatedListener(name: 'kinesis' | 'dynamodb', listener: Listener, transform: (body: Buffer) => Buffer = (b) => b): Listener {
  return (rawReq, rawRes) => {
    const req = rawReq as RequestLike;
    const res = rawRes as ResponseLike;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('error', (err: Error) => fail(name, `the ${EMULATOR_LABEL[name]} failed reading a request: ${err.message}`));
    req.on('end', () => {
      const info = { method: req.method ?? 'POST', url: req.url ?? '/', headers: req.headers, body: Buffer.concat(chunks) };
      const verdict = checked(name, info);
      if (!('kind' in verdict)) { writeReply(res, verdict); return; }
      if (verdict.kind === 'reject') { writeReply(res, verdict.reply); return; }
      const plan = partialPlan(verdict.calls[0]?.operation ?? '', info.body, verdict.failures);
      const respond = (): void => {
        if (plan.answerOnly !== undefined) { writeReply(res, { status: 200, headers: { 'content-type': 'application/x-amz-json-1.1' }, body: plan.answerOnly }); return; }
        if (plan.rewrite) rewritten(res, plan.rewrite);
        measured(res, (bytes, body) => {
          chain.after(verdict.calls, bytes, Date.now());
          if (typeof body === 'string' || Buffer.isBuffer(body)) limits?.observeResponse(verdict.calls, info.headers, body.toString(), Date.now());
        });
        const inner = Object.assign(new EventEmitter(), { method: req.method, url: req.url, headers: req.headers });
        listener(inner, res);
        if (plan.body.length > 0) inner.emit('data', transform(plan.body));
        inner.emit('end');
      };
      if (verdict.delayMs > 0) setTimeout(respond, verdict.delayMs);
      else respond();
    });
  };
}

/** Stream name and shard of a kinesalite shard iterator (its own AES encoding), or undefined when it cannot be read. */
function decodeIterator(iterator: string): { streamName: string; shardId: string } | undefined {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const db = require('kinesalite/db') as { ITERATOR_PWD_KEY: Buffer; ITERATOR_PWD_IV: Buffer };
    const decipher = createDecipheriv('aes-256-cbc', db.ITERATOR_PWD_KEY, db.ITERATOR_PWD_IV);
    const buffer = Buffer.from(iterator, 'base64');
    const pieces = Buffer.concat([decipher.update(buffer.subarray(8)), decipher.final()]).toString('utf8').split('/');
    return pieces.length === 5 ? { streamName: pieces[1], shardId: pieces[2] } : undefined;
  } catch {
    return undefined;
  }
}

async function startKinesis(config: EmulatorHostConfig): Promise<number> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const kinesalite = require('kinesalite') as (opts: Record<string, unknown>) => HttpServer;
  const inner = kinesalite({ createStreamMs: 0, deleteStreamMs: 0, updateStreamMs: 0, shardLimit: config.kinesisShardLimit });
  const listener = gatedListener('kinesis', inner.listeners('request')[0] as Listener, withStreamName);
  // allowHTTP1: Node's h2c server also answers HTTP/1.1 requests (the option is missing from @types/node for createServer).
  const server = http2.createServer({ allowHTTP1: true } as http2.ServerOptions, listener);
  const port = await listen(server, 'kinesis', config.ports.kinesis);
  closables.push({
    name: 'kinesis',
    close: async () => {
      await closeServer(server);
      // kinesalite's close() closes its in-memory store; its own http server never listened, so it reports that.
      await new Promise<void>((resolve) => inner.close(() => resolve()));
    },
  });
  return port;
}

async function startDynamo(config: EmulatorHostConfig): Promise<number> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const dynalite = require('dynalite') as (opts: Record<string, unknown>) => HttpServer;
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  const inner = server.listeners('request')[0] as Listener;
  server.removeAllListeners('request');
  server.on('request', gatedListener('dynamodb', inner));
  const port = await listen(server, 'dynamodb', config.ports.dynamodb);
  closables.push({ name: 'dynamodb', close: () => closeServer(server) });
  return port;
}

interface FastifyLike {
  server: HttpServer;
  addHook(name: string, fn: (...args: any[]) => unknown): void;
  inject(opts: { method: string; url: string; headers?: Headers }): Promise<{ statusCode: number; headers: Headers }>;
  listen(opts: { port: number; host: string }): Promise<string>;
  close(): Promise<void>;
}

type Headers = Record<string, string | string[] | undefined>;
interface FastifyRequestLike { method: string; url: string; originalUrl?: string; headers: Headers; body?: unknown }
interface FastifyReplyLike {
  code(n: number): FastifyReplyLike;
  headers(h: Record<string, string>): FastifyReplyLike;
  send(b: string): FastifyReplyLike;
}

/** The body of a fauxqs request as the gates read it: JSON (SQS) re-serialized, SNS form fields, S3 bytes. */
function fauxqsBody(request: FastifyRequestLike): HttpRequestInfo['body'] {
  const raw = request.body;
  if (Buffer.isBuffer(raw)) return raw;
  const form = String(request.headers['content-type'] ?? '').includes('x-www-form-urlencoded');
  return raw && typeof raw === 'object' && !form ? Buffer.from(JSON.stringify(raw), 'utf8') : (raw as Record<string, string> | undefined);
}

/** The gate chain on fauxqs' requests, once its content-type parsers have read the body (SQS JSON, SNS form, S3 bytes). */
function gateFauxqs(app: FastifyLike): void {
  const forwarded = new WeakMap<object, { calls: readonly AwsCall[]; rewrite?: (text: string) => string }>();
  app.addHook('preHandler', async (request: FastifyRequestLike, reply: FastifyReplyLike) => {
    if (request.headers[INTERNAL_HEADER] === INTERNAL_TOKEN) return undefined;
    const verdict = checked('fauxqs', { method: request.method, url: request.originalUrl ?? request.url, headers: request.headers, body: fauxqsBody(request) });
    const rejection = !('kind' in verdict) ? verdict : verdict.kind === 'reject' ? verdict.reply : undefined;
    if (rejection) return reply.code(rejection.status).headers(rejection.headers).send(rejection.body);
    const v = verdict as Extract<ChainResult, { kind: 'forward' }>;
    let rewrite: ((text: string) => string) | undefined;
    if (v.failures.length > 0) {
      const body = request.body as Record<string, unknown>;
      const plan = partialBatch(v.calls[0].operation, { ...body }, v.failures);
      if (!plan.forward) return reply.code(200).headers({ 'content-type': 'application/x-amz-json-1.0' }).send(JSON.stringify(plan.answer(undefined)));
      Object.assign(body, plan.forward);
      rewrite = (text) => JSON.stringify(plan.answer(JSON.parse(text) as Record<string, unknown>));
    }
    forwarded.set(request, { calls: v.calls, rewrite });
    if (v.delayMs > 0) await new Promise((r) => setTimeout(r, v.delayMs));
    return undefined;
  });
  app.addHook('onSend', async (request: object, reply: { statusCode: number }, payload: unknown) => {
    const f = forwarded.get(request);
    if (!f) return payload;
    chain.after(f.calls, typeof payload === 'string' ? Buffer.byteLength(payload) : Buffer.isBuffer(payload) ? payload.length : 0, Date.now());
    return f.rewrite && typeof payload === 'string' && reply.statusCode === 200 ? f.rewrite(payload) : payload;
  });
}

/** Marks the host's own requests to fauxqs (the conditional-PUT check's HEAD): not gated, never seen by a client. */
const INTERNAL_HEADER = 'x-phoenix-internal';
const INTERNAL_TOKEN = randomBytes(16).toString('hex');

const unquote = (etag: string): string => etag.replace(/^W\//, '').replace(/^"|"$/g, '');

function s3Error(reply: FastifyReplyLike, status: number, code: string, message: string): FastifyReplyLike {
  return reply.code(status).headers({ 'content-type': 'application/xml' })
    .send(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${message}</Message></Error>`);
}

/**
 * S3's conditional PutObject (If-None-Match: *, If-Match: <etag>), which fauxqs ignores: checked against a HEAD of the
 * object, one conditional PUT per object at a time (S3 decides them atomically), answered as S3 does (412
 * PreconditionFailed; 404 NoSuchKey for If-Match on a missing object).
 */
function conditionalPuts(app: FastifyLike): void {
  const locks = new Map<string, Promise<void>>();
  const released = new WeakMap<object, () => void>();
  app.addHook('preHandler', async (request: FastifyRequestLike, reply: FastifyReplyLike) => {
    const ifNoneMatch = request.headers['if-none-match'];
    const ifMatch = request.headers['if-match'];
    if (request.method !== 'PUT' || (ifNoneMatch === undefined && ifMatch === undefined)) return undefined;
    const url = (request.originalUrl ?? request.url).split('?')[0];
    const previous = locks.get(url) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((r) => { release = r; });
    locks.set(url, previous.then(() => mine));
    await previous;
    released.set(request, () => { release(); if (locks.get(url) === mine) locks.delete(url); });
    const head = await app.inject({ method: 'HEAD', url, headers: { [INTERNAL_HEADER]: INTERNAL_TOKEN } });
    const etag = head.statusCode === 200 ? unquote(String(head.headers.etag ?? '')) : undefined;
    if (ifMatch !== undefined && etag === undefined) return s3Error(reply, 404, 'NoSuchKey', 'The specified key does not exist.');
    const held = (ifNoneMatch === undefined || etag === undefined) && (ifMatch === undefined || unquote(String(ifMatch)) === etag);
    return held ? undefined : s3Error(reply, 412, 'PreconditionFailed', 'At least one of the pre-conditions you specified did not hold');
  });
  app.addHook('onResponse', async (request: object) => released.get(request)?.());
}

async function startFauxqs(config: EmulatorHostConfig): Promise<number> {
  const mod = (await import(pathToFileURL(config.fauxqsEntry).href)) as { buildApp(o: Record<string, unknown>): FastifyLike };
  const app = mod.buildApp({ logger: false, defaultRegion: config.region });
  let port = 0;
  const canonicalPrefix = (): string => `http://sqs.${config.region}.localhost:${port}/`;
  const localPrefix = (): string => `http://127.0.0.1:${port}/`;
  gateFauxqs(app);
  conditionalPuts(app);
  // Requests: queue URLs as handed out (127.0.0.1) -> fauxqs' internal form.
  app.addHook('preHandler', async (request: { body?: unknown }) => {
    const body = request.body as Record<string, unknown> | undefined;
    if (body && typeof body === 'object' && typeof body.QueueUrl === 'string' && body.QueueUrl.startsWith(localPrefix())) {
      body.QueueUrl = canonicalPrefix() + body.QueueUrl.slice(localPrefix().length);
    }
  });
  // Responses: fauxqs' internal queue URLs -> 127.0.0.1.
  app.addHook('onSend', async (_request: unknown, reply: { getHeader(n: string): unknown }, payload: unknown) => {
    const sqsJson = String(reply.getHeader('content-type') ?? '').includes('application/x-amz-json-1.0');
    if (sqsJson && typeof payload === 'string' && payload.includes(canonicalPrefix())) {
      return payload.split(canonicalPrefix()).join(localPrefix());
    }
    return payload;
  });
  try {
    await app.listen({ port: config.ports.fauxqs, host: '127.0.0.1' });
  } catch (err) {
    throw listenError('fauxqs', config.ports.fauxqs, err as NodeJS.ErrnoException);
  }
  port = (app.server.address() as AddressInfo).port;
  app.server.on('error', (err: Error) => fail('fauxqs', `the ${EMULATOR_LABEL.fauxqs} failed: ${err.message}`));
  closables.push({ name: 'fauxqs', close: () => app.close() });
  return port;
}

async function stopAll(code: number): Promise<never> {
  if (!stopping) {
    stopping = true;
    const timer = setTimeout(() => process.exit(code), 3000);
    timer.unref();
    await Promise.allSettled(closables.reverse().map((c) => c.close()));
  }
  process.exit(code);
}

function fail(emulator: EmulatorName | undefined, message: string): void {
  send({ type: 'error', emulator, message });
  void stopAll(1);
}

/** The gate chain for an IAM configuration (undefined: IAM off), with the service-limit gates when enabled. */
function hostGateChain(config: EmulatorHostConfig, iam: ReturnType<typeof readIamGateConfig> | undefined): GateChain {
  return createHostGateChain({
    region: config.region,
    account: LOCAL_ACCOUNT,
    iam,
    onDenied: (denial) => send({ type: 'accessDenied', denial }),
    decodeIterator,
    gates: limits?.gates,
  });
}

function replyTo(id: number, act: () => void): void {
  try {
    act();
    send({ type: 'reply', id });
  } catch (err) {
    send({ type: 'reply', id, error: err instanceof Error ? err.message : String(err) });
  }
}

function onParentMessage(m: ParentToHost): void {
  if (!m) return;
  if (m.type === 'stop') { void stopAll(0); return; }
  if (m.type === 'iam') { replyTo(m.id, () => { chain = hostGateChain(hostConfig, readIamGateConfig(m.configFile)); }); return; }
  if (!limits) { send({ type: 'reply', id: m.id, error: 'service limits are not enabled in this emulator host' }); return; }
  try {
    if (m.type === 'limits') limits.register(m.registration);
    send({ type: 'reply', id: m.id, traffic: m.type === 'traffic' ? limits.traffic.report() : undefined });
  } catch (err) {
    send({ type: 'reply', id: m.id, error: err instanceof Error ? err.message : String(err) });
  }
}

async function main(): Promise<void> {
  const raw = process.env.PHX_EMULATOR_HOST_CONFIG;
  if (!raw) throw new Error('PHX_EMULATOR_HOST_CONFIG is not set');
  const config = JSON.parse(raw) as EmulatorHostConfig;
  process.on('disconnect', () => void stopAll(0));
  process.on('SIGTERM', () => void stopAll(0));
  // Ctrl-C reaches the whole process group: the parent stops the emulators last, after the functions and pollers.
  process.on('SIGINT', () => undefined);
  process.on('message', (m: ParentToHost) => onParentMessage(m));
  process.on('uncaughtException', (err) => fail(undefined, `an emulator crashed: ${err.message}`));
  limits = config.limits ? new HostLimits(config.limits, LOCAL_ACCOUNT) : undefined;
  hostConfig = config;
  chain = hostGateChain(config, config.iamConfigFile ? readIamGateConfig(config.iamConfigFile) : undefined);
  const kinesis = await startKinesis(config);
  const dynamodb = await startDynamo(config);
  const fauxqs = await startFauxqs(config);
  send({ type: 'ready', ports: { kinesis, dynamodb, fauxqs } });
}

main().catch((err: unknown) => fail(undefined, err instanceof Error ? err.message : String(err)));
