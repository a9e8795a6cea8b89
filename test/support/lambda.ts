import type { Context } from 'aws-lambda';

/** Options of a fake Lambda context; `remainingMs` is read on every call so a test clock can drive it. */
export interface LambdaContextOptions {
  readonly functionName?: string;
  readonly memoryMb?: number;
  readonly remainingMs?: () => number;
}

/** A Lambda context as the runtime passes it, for handlers invoked in tests and benches. */
export function lambdaContext(options: LambdaContextOptions = {}): Context {
  const name = options.functionName ?? 'phoenix-ingest';
  const remaining = options.remainingMs ?? (() => 60_000);
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: name,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:us-east-2:123456789012:function:${name}`,
    memoryLimitInMB: String(options.memoryMb ?? 256),
    awsRequestId: 'c6af9ac6-7b61-11e6-9a41-93e812345678',
    logGroupName: `/aws/lambda/${name}`,
    logStreamName: '2026/01/01/[$LATEST]abcdef',
    getRemainingTimeInMillis: remaining,
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}
