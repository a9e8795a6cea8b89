/**
 * Lambda's asynchronous payload limit: an event over 1 MB is refused to the caller (RequestEntityTooLargeException)
 * before it is queued -- the function is not invoked, not retried, nothing is dead-lettered; an event of exactly the
 * limit is invoked.
 */
import { describe, expect, it } from 'vitest';
import { AsyncInvoker, AsyncPayloadTooLargeError } from '../../../lib/local/async-invoke';
import type { LocalClients } from '../../../lib/local/clients';
import type { LocalFunction } from '../../../lib/local/functions';
import { LAMBDA_ASYNC_PAYLOAD_BYTES } from '../../../lib/local/gates/limits';
import type { ProvisionedStack } from '../../../lib/local/provision';

/** An event whose JSON is exactly `bytes` long: `{"pad":"xxx..."}`. */
function eventOf(bytes: number): { pad: string } {
  return { pad: 'x'.repeat(bytes - '{"pad":""}'.length) };
}

describe('AsyncInvoker payload limit', () => {
  it('refuses an event over 1 MB before queueing it and invokes one of exactly 1 MB', async () => {
    const sent: unknown[] = [];
    const clients = { sqs: { send: async (c: unknown) => { sent.push(c); return {}; } } } as unknown as LocalClients;
    const invoked: number[] = [];
    const fn = {
      functionName: 'f',
      functionArn: 'arn:aws:lambda:us-east-1:000000000000:function:f',
      def: { deadLetterTargetArn: 'arn:aws:sqs:us-east-1:000000000000:dlq' },
      invoke: async (e: unknown) => { invoked.push(JSON.stringify(e).length); return { ok: true, payload: null, durationMs: 1 }; },
    } as unknown as LocalFunction;
    const provisioned = { invokeConfigs: [] } as unknown as ProvisionedStack;
    const invoker = new AsyncInvoker(provisioned, clients, { log: () => undefined, queueUrlForArn: (arn) => arn, retryDelayMs: 1 });

    expect(JSON.stringify(eventOf(LAMBDA_ASYNC_PAYLOAD_BYTES)).length).toBe(1_048_576);
    const refused = invoker.invoke(fn, eventOf(LAMBDA_ASYNC_PAYLOAD_BYTES + 1), 'test');
    await expect(refused).rejects.toThrow(AsyncPayloadTooLargeError);
    await expect(refused).rejects.toThrow('RequestEntityTooLargeException: Request must be smaller than 1048576 bytes for the InvokeFunction operation');
    expect(await invoker.invoke(fn, eventOf(LAMBDA_ASYNC_PAYLOAD_BYTES), 'test')).toBe(true);
    await invoker.settle();
    expect(invoked).toEqual([1_048_576]);
    expect(sent).toEqual([]);
    expect({ tooLarge: invoker.tooLarge, failed: invoker.failed }).toEqual({ tooLarge: 1, failed: 0 });
  });
});
