/**
 * One execution environment of a local Lambda function: a child process that loads the function's bundled handler
 * UNCHANGED (LAMBDA_TASK_ROOT + _HANDLER, as the Node.js Lambda runtime does) and runs one invocation at a time.
 *
 * - Log lines: START / END / REPORT around each invocation, like Lambda; the handler's own stdout/stderr is passed
 *   through untouched (EMF metric lines included) and the parent writes it to the function's log file.
 * - Errors: a thrown/rejected handler -> an error result (`errorType` = the error's name); an uncaught exception or
 *   unhandled rejection outside the handler's promise kills the process, which the parent reports as a crash.
 * - Fault injection: `crashAfterMs` makes the environment SIGKILL itself mid-invocation (or right before replying,
 *   after the handler's side effects, if the handler finished first).
 * - The environment exits when the IPC channel closes (the parent stopped or died).
 */
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { ParentToRunner, RunnerToParent } from './protocol';

type Handler = (event: unknown, context: Record<string, unknown>, callback?: (err: unknown, result?: unknown) => void) => unknown;

const send = (m: RunnerToParent): void => { process.send?.(m); };
const taskRoot = process.env.LAMBDA_TASK_ROOT ?? process.cwd();
const handlerSpec = process.env._HANDLER ?? 'index.handler';
const memoryMb = Number(process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE ?? 128);
let handler: Handler | undefined;
let initDurationMs: number | undefined;
let busy = false;

function crash(): never {
  process.kill(process.pid, 'SIGKILL');
  // SIGKILL cannot be caught; this line is never reached.
  throw new Error('unreachable');
}

async function loadHandler(): Promise<Handler> {
  const dot = handlerSpec.lastIndexOf('.');
  if (dot <= 0) throw Object.assign(new Error(`Bad handler ${handlerSpec}: expected <module>.<export>`), { name: 'Runtime.MalformedHandlerName' });
  const moduleName = handlerSpec.slice(0, dot);
  const exportName = handlerSpec.slice(dot + 1);
  const file = ['.js', '.cjs', '.mjs'].map((ext) => path.resolve(taskRoot, moduleName + ext)).find((f) => existsSync(f));
  if (!file) {
    throw Object.assign(new Error(`Cannot find module '${moduleName}' in ${taskRoot} (.js, .cjs or .mjs)`), { name: 'Runtime.ImportModuleError' });
  }
  let mod: Record<string, unknown>;
  try {
    if (file.endsWith('.mjs')) {
      mod = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
    } else {
      try {
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        mod = require(file) as Record<string, unknown>;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ERR_REQUIRE_ESM') throw e;
        mod = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
      }
    }
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const name = err.code === 'MODULE_NOT_FOUND' || err.code === 'ERR_MODULE_NOT_FOUND' ? 'Runtime.ImportModuleError'
      : err instanceof SyntaxError ? 'Runtime.UserCodeSyntaxError' : err.name || 'Error';
    throw Object.assign(new Error(err.message ?? String(e)), { name });
  }
  const fn = mod[exportName] ?? (mod.default as Record<string, unknown> | undefined)?.[exportName];
  if (typeof fn !== 'function') {
    throw Object.assign(new Error(`${handlerSpec} is undefined or not exported`), { name: 'Runtime.HandlerNotFound' });
  }
  return fn as Handler;
}

function contextFor(requestId: string, deadlineMs: number): Record<string, unknown> {
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
    functionVersion: process.env.AWS_LAMBDA_FUNCTION_VERSION ?? '$LATEST',
    invokedFunctionArn: process.env.PHX_LOCAL_FUNCTION_ARN,
    memoryLimitInMB: String(memoryMb),
    awsRequestId: requestId,
    logGroupName: process.env.AWS_LAMBDA_LOG_GROUP_NAME,
    logStreamName: process.env.AWS_LAMBDA_LOG_STREAM_NAME,
    getRemainingTimeInMillis: () => Math.max(0, deadlineMs - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

function runHandler(fn: Handler, event: unknown, context: Record<string, unknown>): Promise<unknown> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const callback = (err: unknown, result?: unknown): void => {
      if (settled) return;
      settled = true;
      if (err !== null && err !== undefined) reject(err); else resolve(result);
    };
    try {
      const out = fn.length >= 3 ? fn(event, context, callback) : fn(event, context);
      if (out && typeof (out as Promise<unknown>).then === 'function') {
        (out as Promise<unknown>).then(
          (v) => { if (!settled) { settled = true; resolve(v); } },
          (e: unknown) => { if (!settled) { settled = true; reject(e); } },
        );
      } else if (fn.length < 3) {
        settled = true;
        resolve(out);
      }
    } catch (e) {
      settled = true;
      reject(e);
    }
  });
}

function errorFields(e: unknown): { errorType: string; errorMessage: string } {
  if (e instanceof Error) return { errorType: e.name || 'Error', errorMessage: e.message };
  if (typeof e === 'string') return { errorType: 'string', errorMessage: e };
  return { errorType: 'Error', errorMessage: JSON.stringify(e) ?? String(e) };
}

async function invoke(m: Extract<ParentToRunner, { type: 'invoke' }>): Promise<void> {
  busy = true;
  const started = Date.now();
  let crashTimer: NodeJS.Timeout | undefined;
  if (m.crashAfterMs !== undefined) crashTimer = setTimeout(crash, Math.max(0, m.crashAfterMs));
  process.stdout.write(`START RequestId: ${m.requestId} Version: $LATEST\n`);
  let reply: RunnerToParent;
  try {
    const event: unknown = JSON.parse(m.eventJson);
    const result = await runHandler(handler!, event, contextFor(m.requestId, m.deadlineMs));
    let payloadJson: string;
    try {
      payloadJson = JSON.stringify(result === undefined ? null : result);
    } catch (e) {
      throw Object.assign(new Error(`Unable to stringify response body: ${(e as Error).message}`), { name: 'Runtime.MarshalError' });
    }
    reply = { type: 'result', requestId: m.requestId, ok: true, payloadJson };
  } catch (e) {
    const f = errorFields(e);
    process.stderr.write(`${new Date().toISOString()}\t${m.requestId}\tERROR\tInvoke Error \t${JSON.stringify({ errorType: f.errorType, errorMessage: f.errorMessage, stack: e instanceof Error ? e.stack?.split('\n') : undefined })}\n`);
    reply = { type: 'result', requestId: m.requestId, ok: false, ...f };
  }
  // Injected crash that the handler outran: die after the side effects, before the response (the response is lost).
  if (crashTimer) crash();
  const duration = Date.now() - started;
  const maxMemMb = Math.round(process.memoryUsage().rss / 1048576);
  process.stdout.write(`END RequestId: ${m.requestId}\n`);
  process.stdout.write(`REPORT RequestId: ${m.requestId}\tDuration: ${duration.toFixed(2)} ms\tBilled Duration: ${Math.max(1, Math.ceil(duration))} ms\t`
    + `Memory Size: ${memoryMb} MB\tMax Memory Used: ${maxMemMb} MB${initDurationMs !== undefined ? `\tInit Duration: ${initDurationMs.toFixed(2)} ms` : ''}\n`);
  initDurationMs = undefined;
  busy = false;
  send(reply);
}

async function main(): Promise<void> {
  process.on('disconnect', () => process.exit(0));
  // Ctrl-C in a terminal reaches the whole process group: the parent decides when environments stop (SIGKILL, or
  // the IPC channel closing), so that an interrupt ends the run in order instead of looking like crashes.
  process.on('SIGINT', () => undefined);
  process.on('message', (m: ParentToRunner) => {
    if (m?.type !== 'invoke') return;
    if (busy) {
      send({ type: 'result', requestId: m.requestId, ok: false, errorType: 'Runtime.Busy', errorMessage: 'environment is busy (one invocation at a time)' });
      return;
    }
    void invoke(m);
  });
  process.chdir(taskRoot);
  const started = Date.now();
  try {
    handler = await loadHandler();
  } catch (e) {
    const f = errorFields(e);
    process.stderr.write(`INIT_REPORT Init Duration: ${Date.now() - started} ms\tPhase: init\tStatus: error\tError Type: ${f.errorType}\n${f.errorMessage}\n`);
    send({ type: 'init-error', ...f });
    return;
  }
  initDurationMs = Date.now() - started;
  send({ type: 'ready', initMs: initDurationMs });
}

void main();
