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

function isWrite(service: FaultService, req: http.IncomingMessage): string | undefined {
  if (service === 'dynamodb') {
    const target = String(req.headers['x-amz-target'] ?? '');
    const op = target.slice(target.indexOf('.') + 1);
    return DYNAMO_WRITES.has(op) ? op : undefined;
  }
  // S3 object writes: PUT object (incl. copies and parts), POST (multipart complete, delete-objects), DELETE.
  const method = req.method ?? 'GET';
  const pathParts = (req.url ?? '/').split('?')[0].split('/').filter((p) => p.length > 0);
  if ((method === 'PUT' || method === 'DELETE') && pathParts.length >= 2) return `${method} object`;
  if (method === 'POST' && pathParts.length >= 1) return 'POST';
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

/**
 * An HTTP proxy on 127.0.0.1 in front of an emulator that answers a fraction `rate` of the sink's WRITE requests with
 * a retryable error (DynamoDB: ThrottlingException 400 or InternalServerError 500; S3: SlowDown 503 or InternalError
 * 500) without forwarding them. Reads always pass. Counts what it did. `cause` names the option that asked for the
 * faults in the error messages (rate 1 with `--stall-sink`: every write fails for the whole run).
 */
export async function startFaultProxy(service: FaultService, target: string, rate: number, random: Random, cause = '--sink-failure-rate'): Promise<FaultProxy> {
  const targetUrl = new URL(target);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  const stats: FaultProxyStats = { forwarded: 0, writes: 0, injected: 0, byKind: {} };
  let current = rate;
  const server = http.createServer((req, res) => {
    const write = isWrite(service, req);
    if (write) stats.writes++;
    if (write && random.chance(current)) {
      const f = faultResponse(service, random.chance(0.5), cause);
      stats.injected++;
      stats.byKind[f.kind] = (stats.byKind[f.kind] ?? 0) + 1;
      // Read the request body before answering so the client's connection stays usable.
      req.resume();
      req.once('end', () => {
        res.writeHead(f.status, { ...f.headers, 'content-length': Buffer.byteLength(f.body), 'x-amzn-requestid': 'LOCALFAULT' });
        res.end(f.body);
      });
      return;
    }
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
    req.pipe(upstream);
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
