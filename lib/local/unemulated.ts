import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * The endpoint of every AWS service the local environment does not emulate (functions get it as AWS_ENDPOINT_URL;
 * the per-service AWS_ENDPOINT_URL_<SERVICE> of the emulated ones win). A function calling, say, CloudFormation
 * gets a clear error instead of reaching the real AWS with dummy credentials. Calls are counted per service.
 */
export interface UnemulatedEndpoint {
  readonly endpoint: string;
  /** Service (from the request's SigV4 credential scope) -> calls. */
  readonly calls: Record<string, number>;
  /** Function -> services it called (from the endpoint path `/_fn/<function>` given by {@link endpointFor}). */
  readonly byFunction: Record<string, Record<string, number>>;
  /** The endpoint for one function: calls through it are counted per function too. */
  endpointFor(functionName: string): string;
  close(): Promise<void>;
}

const FUNCTION_PREFIX = /^\/_fn\/([^/?]+)/;

function serviceOf(req: http.IncomingMessage): string {
  const auth = String(req.headers.authorization ?? '');
  const scope = /Credential=[^/]+\/\d{8}\/[^/]+\/([^/]+)\/aws4_request/.exec(auth);
  if (scope) return scope[1];
  const target = String(req.headers['x-amz-target'] ?? '');
  return target ? target.split('.')[0] : 'unknown';
}

export async function startUnemulatedEndpoint(log: (line: string) => void): Promise<UnemulatedEndpoint> {
  const calls: Record<string, number> = {};
  const byFunction: Record<string, Record<string, number>> = {};
  const server = http.createServer((req, res) => {
    const service = serviceOf(req);
    const fn = FUNCTION_PREFIX.exec(req.url ?? '');
    const caller = fn ? decodeURIComponent(fn[1]) : undefined;
    if (calls[service] === undefined) log(`a function${caller ? ` (${caller})` : ''} called ${service}, which is not emulated locally (answered with an error)`);
    calls[service] = (calls[service] ?? 0) + 1;
    if (caller) {
      const own = (byFunction[caller] ??= {});
      own[service] = (own[service] ?? 0) + 1;
    }
    req.resume();
    req.once('end', () => {
      const message = `${service} is not emulated by the phoenix local environment`;
      const body = JSON.stringify({ __type: 'UnsupportedOperation', message, Message: message });
      // 400: a client error the SDKs do not retry.
      res.writeHead(400, { 'content-type': 'application/json', 'x-amzn-errortype': 'UnsupportedOperation', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => { server.off('error', reject); resolve(); });
  });
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    endpoint,
    calls,
    byFunction,
    endpointFor: (functionName) => `${endpoint}/_fn/${encodeURIComponent(functionName)}`,
    close: () => new Promise<void>((resolve) => { server.close(() => resolve()); server.closeAllConnections(); }),
  };
}
