import { randomUUID } from 'node:crypto';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import type { LocalClients } from './clients';
import type { LocalFunction } from './functions';
import { LAMBDA_ASYNC_PAYLOAD_BYTES } from './gates/limits';
import type { ProvisionedStack } from './provision';
import { PhoenixError } from '../core/errors';

/** Lambda's refusal of an asynchronous Invoke whose event is over 1 MB: the caller gets it, nothing is queued. */
export class AsyncPayloadTooLargeError extends PhoenixError {
  constructor(readonly bytes: number) {
    super('LAMBDA_ASYNC_PAYLOAD_TOO_LARGE', `RequestEntityTooLargeException: Request must be smaller than ${LAMBDA_ASYNC_PAYLOAD_BYTES} bytes for the InvokeFunction operation`);
  }
}

/**
 * Asynchronous invocation (the way schedules and S3 notifications invoke Lambda): a failed invocation is retried
 * (EventInvokeConfig MaximumRetryAttempts, default 2; AWS waits about 1 and 2 minutes, locally 1 and 2 seconds), then the
 * event goes to the function's DeadLetterConfig queue/topic and an invocation record to the EventInvokeConfig
 * on-failure destination (SQS or SNS). An event over Lambda's asynchronous payload limit (1 MB) is refused to the caller
 * (AsyncPayloadTooLargeError) before it is queued: no attempt, no retry, no dead letter.
 */
export class AsyncInvoker {
  private stopped = false;
  private readonly inFlight = new Set<Promise<boolean>>();
  /** Invocations that exhausted their retries. */
  failed = 0;
  /** Events refused for their size (never queued). */
  tooLarge = 0;

  constructor(
    private readonly provisioned: ProvisionedStack,
    private readonly clients: LocalClients,
    private readonly opts: {
      log: (line: string) => void;
      queueUrlForArn: (arn: string) => string;
      retryDelayMs?: number;
      /** Clients signed with a function's role: Lambda sends its dead letters and destinations with it (default the operator's). */
      clientsOfFunction?: (functionName: string) => LocalClients;
    },
  ) {}

  /** Sends a message body to an SQS queue or SNS topic ARN, signed as `clients` (default the operator's). */
  async sendTo(arn: string, body: string, clients: LocalClients = this.clients): Promise<void> {
    const service = arn.split(':')[2];
    if (service === 'sqs') await clients.sqs.send(new SendMessageCommand({ QueueUrl: this.opts.queueUrlForArn(arn), MessageBody: body }));
    else if (service === 'sns') await clients.sns.publish({ TopicArn: arn, Message: body });
    else throw new Error(`destination ${arn}: only SQS and SNS destinations are supported locally`);
  }

  private invokeConfigFor(fn: LocalFunction): Record<string, unknown> | undefined {
    return this.provisioned.invokeConfigs.find((c) => {
      const name = String(c.props.FunctionName);
      return name === fn.functionName || name === fn.functionArn;
    })?.props;
  }

  /**
   * Invokes `fn` asynchronously; resolves true when an attempt succeeded. `source` names the trigger in log lines.
   * Rejects with AsyncPayloadTooLargeError when Lambda would refuse the event.
   */
  invoke(fn: LocalFunction, event: unknown, source: string): Promise<boolean> {
    const bytes = Buffer.byteLength(JSON.stringify(event));
    if (bytes > LAMBDA_ASYNC_PAYLOAD_BYTES) {
      this.tooLarge++;
      return Promise.reject(new AsyncPayloadTooLargeError(bytes));
    }
    const p = this.run(fn, event, source).finally(() => this.inFlight.delete(p));
    this.inFlight.add(p);
    return p;
  }

  private async run(fn: LocalFunction, event: unknown, source: string): Promise<boolean> {
    const cfg = this.invokeConfigFor(fn);
    const retries = Number(cfg?.MaximumRetryAttempts ?? 2);
    const delay = this.opts.retryDelayMs ?? 1000;
    let last: Awaited<ReturnType<LocalFunction['invoke']>> | undefined;
    for (let attempt = 0; attempt <= retries && !this.stopped; attempt++) {
      if (attempt > 0) await new Promise((r) => setTimeout(r, attempt * delay));
      last = await fn.invoke(event);
      // Throttled asynchronous invocations are retried by Lambda without using the retry attempts (up to 6 h); bounded here.
      for (let t = 0; !last.ok && last.errorType === 'throttled' && t < 20 && !this.stopped; t++) {
        await new Promise((r) => setTimeout(r, Math.min(2000, 50 * 2 ** t)));
        last = await fn.invoke(event);
      }
      if (last.ok) return true;
    }
    if (this.stopped || !last || last.ok) return false;
    this.failed++;
    this.opts.log(`${source}: asynchronous invocation of ${fn.functionName} failed after ${retries + 1} attempt(s): ${last.message}`);
    // Lambda sends to the dead-letter queue and the on-failure destination with the function's execution role.
    const asFunction = this.opts.clientsOfFunction?.(fn.functionName) ?? this.clients;
    try {
      if (fn.def.deadLetterTargetArn) await this.sendTo(fn.def.deadLetterTargetArn, JSON.stringify(event), asFunction);
      const onFailure = (cfg?.DestinationConfig as { OnFailure?: { Destination?: string } } | undefined)?.OnFailure?.Destination;
      if (onFailure) {
        await this.sendTo(onFailure, JSON.stringify({
          version: '1.0',
          timestamp: new Date().toISOString(),
          requestContext: { requestId: randomUUID(), functionArn: `${fn.functionArn}:$LATEST`, condition: 'RetriesExhausted', approximateInvokeCount: retries + 1 },
          requestPayload: event,
          responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
          responsePayload: { errorType: last.errorType, errorMessage: last.message },
        }), asFunction);
      }
    } catch (e) {
      this.opts.log(`${source}: the dead-letter destination of ${fn.functionName} failed too: ${(e as Error).message}`);
    }
    return false;
  }

  /** Waits for every invocation started so far (and those they lead to) to settle. */
  async settle(): Promise<void> {
    for (let i = 0; i < 100 && this.inFlight.size > 0; i++) await Promise.allSettled([...this.inFlight]);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.allSettled([...this.inFlight]);
  }
}
