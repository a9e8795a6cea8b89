import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Random } from './random';

/** Which requests count as sink writes, and how a fault is answered, per service. */
export type FaultService = 'dynamodb' | 's3';

const DYNAMO_WRITES = new Set(['PutItem', 'UpdateItem', 'DeleteItem', 'BatchWriteItem', 'TransactWriteItems']);

export interface FaultProxyStats {
  /** Requests forwarded to the emulator. */
  forwarded: number;
  /** Write requests seen (forwarded or failed). */
  writes: number;
  /** Write requests answered with an injected error. */
  injected: number;
  /** Injected errors by kind (e.g. `ThrottlingException`, `InternalServerError`, `SlowDown`). */
  byKind: Record<string, number>;
}

export interface FaultProxy {
  readonly service: FaultService;
  readonly endpoint: string;
  readonly stats: FaultProxyStats;
  /** Changes the fraction of writes failed from now on (e.g. 0 when a kept environment's faults end). */
  setRate(rate: number): void;
  close(): Promise<void>;
}

/** The tables a DynamoDB write request names (TableName, or the keys of RequestItems / TransactItems' tables). */
function dynamoTables(body: string): string[] {
  try {
    const req = JSON.parse(body) as {
      TableName?: string; RequestItems?: Record<string, unknown>; TransactItems?: Array<Record<string, { TableName?: string }>>;
    };
    const fromTransact = (req.TransactItems ?? []).flatMap((t) => Object.values(t).map((op) => op.TableName ?? ''));
    return [...(req.TableName ? [req.TableName] : []), ...Object.keys(req.RequestItems ?? {}), ...fromTransact];
  } catch {
    return [];
  }
}

/** The sink write a request is (its operation), or undefined: reads and writes to other tables or buckets pass. */
function sinkWrite(service: FaultService, req: http.IncomingMessage, body: string, targets: ReadonlySet<string>): string | undefined {
  if (service === 'dynamodb') {
    const target = String(req.headers['x-amz-target'] ?? '');
    const op = target.slice(target.indexOf('.') + 1);
    return DYNAMO_WRITES.has(op) && dynamoTables(body).some((t) => targets.has(t)) ? op : undefined;
  }
  // S3 object writes (path-style): PUT object (incl. copies and parts), POST (multipart complete, delete-objects), DELETE.
  const method = req.method ?? 'GET';
  const pathParts = (req.url ?? '/').split('?')[0].split('/').filter((p) => p.length > 0);
  if (!targets.has(decodeURIComponent(pathParts[0] ?? ''))) return undefined;
  if ((method === 'PUT' || method === 'DELETE') && pathParts.length >= 2) return `${method} object`;
  if (method === 'POST') return 'POST';
  return undefined;
}

/** The retryable error for a faulted write: half throttling, half server errors (both retried by the SDK). */
interface FaultResponse { status: number; kind: string; headers: Record<string, string>; body: string }

function faultResponse(service: FaultService, throttle: boolean, cause: string): FaultResponse {
  if (service === 'dynamodb') {
    return throttle
      ? {
        status: 400,
        kind: 'ThrottlingException',
        headers: { 'content-type': 'application/x-amz-json-1.0' },
        body: JSON.stringify({ __type: 'com.amazonaws.dynamodb.v20120810#ThrottlingException', message: `Rate of requests exceeds the allowed throughput. (injected by ${cause})` }),
      }
      : {
        status: 500,
        kind: 'InternalServerError',
        headers: { 'content-type': 'application/x-amz-json-1.0' },
        body: JSON.stringify({ __type: 'com.amazonaws.dynamodb.v20120810#InternalServerError', message: `Internal server error (injected by ${cause})` }),
      };
  }
  const code = throttle ? 'SlowDown' : 'InternalError';
  const message = throttle ? 'Please reduce your request rate.' : 'We encountered an internal error. Please try again.';
  return {
    status: throttle ? 503 : 500,
    kind: code,
    headers: { 'content-type': 'application/xml' },
    body: `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message} (injected by ${cause})</Message><RequestId>LOCALFAULT</RequestId></Error>`,
  };
}

export interface FaultProxyOptions {
  /** Fraction of the sink's writes answered with an injected error. */
  readonly rate: number;
  readonly random: Random;
  /** The option that asked for the faults, named in the error messages. */
  readonly cause: string;
  /** The sink tables (DynamoDB) or buckets (S3) whose writes may fail; every other request passes. */
  readonly targets: ReadonlySet<string>;
}

/**
 * An HTTP proxy on 127.0.0.1 in front of an emulator that answers a fraction `rate` of the WRITE requests to the sink
 * tables or buckets with a retryable error (DynamoDB: ThrottlingException 400 or InternalServerError 500; S3: SlowDown
 * 503 or InternalError 500) without forwarding them. Reads, and writes elsewhere (the stage's canary key and overflow
 * payloads), always pass: a sink outage is not an S3 outage. Counts what it did.
 */
export async function startFaultProxy(service: FaultService, target: string, o: FaultProxyOptions): Promise<FaultProxy> {
  const targetUrl = new URL(target);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  const stats: FaultProxyStats = { forwarded: 0, writes: 0, injected: 0, byKind: {} };
  let current = o.rate;
  const forward = (req: http.IncomingMessage, body: Buffer, res: http.ServerResponse): void => {
    stats.forwarded++;
    const upstream = http.request({
      host: targetUrl.hostname, port: targetUrl.port, method: req.method, path: req.url, headers: req.headers, agent,
    }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    upstream.on('error', (err) => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(`local fault proxy: upstream ${target} failed: ${err.message}`);
    });
    upstream.end(body);
  };
  // The whole body is read first: a DynamoDB write names its table in it.
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.once('end', () => {
      const body = Buffer.concat(chunks);
      const write = sinkWrite(service, req, service === 'dynamodb' ? body.toString('utf8') : '', o.targets);
      if (write) stats.writes++;
      if (!write || !o.random.chance(current)) return forward(req, body, res);
      const f = faultResponse(service, o.random.chance(0.5), o.cause);
      stats.injected++;
      stats.byKind[f.kind] = (stats.byKind[f.kind] ?? 0) + 1;
      res.writeHead(f.status, { ...f.headers, 'content-length': Buffer.byteLength(f.body), 'x-amzn-requestid': 'LOCALFAULT' });
      res.end(f.body);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => { server.off('error', reject); resolve(); });
  });
  const port = (server.address() as AddressInfo).port;
  return {
    service,
    endpoint: `http://127.0.0.1:${port}`,
    stats,
    setRate: (r) => { current = r; },
    close: () => new Promise<void>((resolve) => {
      agent.destroy();
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}
