import { GetQueueAttributesCommand, ReceiveMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { MetricRef } from './alarms';
import type { EventSourcePoller, FunctionInvoker } from './esm';
import type { LocalFunction } from './functions';
import type { MetricSeries, MetricsStore } from './metrics';
import type { LocalQueueInfo } from './provision';

/**
 * The AWS service metrics alarms watch that the functions do not emit themselves, produced locally into the run's
 * metrics store with timestamps, sampled every `intervalMs` (default 1 s):
 *
 * - `AWS/Lambda` `{FunctionName}`: Invocations (throttled ones excluded, as in Lambda), Errors (errors, timeouts and
 *   crashes), Throttles, Duration (each successful invocation) -- from the local functions' counters, one datapoint
 *   per sample with invocations; IteratorAge -- at every invocation by a Kinesis mapping, the age of the batch's
 *   last record (as Lambda computes it), recorded by {@link recordingIteratorAge}.
 * - `AWS/SQS` `{QueueName}`: ApproximateNumberOfMessagesVisible / NotVisible / Delayed from GetQueueAttributes on the
 *   emulator; ApproximateAgeOfOldestMessage (seconds) from the SentTimestamp of up to 10 messages received with
 *   VisibilityTimeout 0 (0 when the queue is empty) -- only for queues no local event source mapping reads, because a
 *   receive would hide messages from it.
 *
 * Any other service metric cannot be produced locally: {@link ServiceMetrics.unavailable} says why, and the alarm on it
 * is INSUFFICIENT_DATA with that reason.
 */

const LAMBDA_METRICS = new Set(['Invocations', 'Errors', 'Throttles', 'Duration', 'IteratorAge']);
const SQS_METRICS = new Set(['ApproximateNumberOfMessagesVisible', 'ApproximateNumberOfMessagesNotVisible', 'ApproximateNumberOfMessagesDelayed', 'ApproximateAgeOfOldestMessage']);

export interface ServiceMetricsSources {
  readonly metrics: MetricsStore;
  readonly functions: readonly LocalFunction[];
  /** Kinesis mappings: their poller and the function they invoke. */
  readonly kinesisPollers: ReadonlyArray<{ poller: EventSourcePoller; fn: string }>;
  readonly queues: readonly LocalQueueInfo[];
  /** Queue URLs read by local SQS event source mappings. */
  readonly consumedQueueUrls: ReadonlySet<string>;
  readonly sqs: SQSClient;
  /** Services a function called that are not emulated locally (by function name). */
  readonly unemulatedCalls: (functionName: string) => string[];
  readonly log?: (line: string) => void;
}

export class ServiceMetrics {
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private readonly lastFn = new Map<string, { invocations: number; throttles: number; failed: number; durations: number }>();
  private sqsFailed = false;
  /** Samples taken. */
  samples = 0;

  constructor(private readonly src: ServiceMetricsSources) {
    for (const f of src.functions) this.lastFn.set(f.functionName, { invocations: 0, throttles: 0, failed: 0, durations: 0 });
  }

  start(intervalMs = 1000): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      if (this.running) return;
      this.running = this.sample().finally(() => { this.running = undefined; });
    }, intervalMs);
  }

  /** Stops sampling after a last sample (waits for one in progress). */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
    await this.sample();
  }

  /** One sample of every source at `now`. */
  async sample(now: number = Date.now()): Promise<void> {
    this.samples++;
    const m = this.src.metrics;
    for (const f of this.src.functions) {
      const s = f.stats;
      const last = this.lastFn.get(f.functionName)!;
      const failed = s.errors + s.timeouts + s.crashes;
      const invocations = (s.invocations - s.throttles) - (last.invocations - last.throttles);
      const throttles = s.throttles - last.throttles;
      const dims = { FunctionName: f.functionName };
      if (invocations > 0 || throttles > 0) {
        m.add({ namespace: 'AWS/Lambda', name: 'Invocations', dimensions: dims, unit: 'Count' }, [invocations], now);
        m.add({ namespace: 'AWS/Lambda', name: 'Errors', dimensions: dims, unit: 'Count' }, [failed - last.failed], now);
        m.add({ namespace: 'AWS/Lambda', name: 'Throttles', dimensions: dims, unit: 'Count' }, [throttles], now);
      }
      // durationsMs is a bounded sample: new entries are those beyond the last length.
      const fresh = s.durationsMs.slice(last.durations);
      if (fresh.length > 0) m.add({ namespace: 'AWS/Lambda', name: 'Duration', dimensions: dims, unit: 'Milliseconds' }, fresh, now);
      this.lastFn.set(f.functionName, { invocations: s.invocations, throttles: s.throttles, failed, durations: s.durationsMs.length });
    }
    if (this.sqsFailed) return;
    try {
      await Promise.all(this.src.queues.map((q) => this.sampleQueue(q, now)));
    } catch (e) {
      this.sqsFailed = true;
      this.src.log?.(`queue metrics could not be sampled (no more AWS/SQS datapoints this run): ${(e as Error).message}`);
    }
  }

  private async sampleQueue(q: LocalQueueInfo, now: number): Promise<void> {
    const sampleAge = !this.src.consumedQueueUrls.has(q.url);
    // The oldest-message receive comes first: fauxqs keeps messages received with VisibilityTimeout 0 counted as in
    // flight until its next receive, so they are added back to the visible count below (they are visible).
    let received: number[] = [];
    if (sampleAge) {
      const r = await this.src.sqs.send(new ReceiveMessageCommand({
        QueueUrl: q.url, MaxNumberOfMessages: 10, VisibilityTimeout: 0, WaitTimeSeconds: 0, MessageSystemAttributeNames: ['SentTimestamp'], AttributeNames: ['All'],
      }));
      received = (r.Messages ?? []).map((x) => Number(x.Attributes?.SentTimestamp));
    }
    const out = await this.src.sqs.send(new GetQueueAttributesCommand({
      QueueUrl: q.url,
      AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible', 'ApproximateNumberOfMessagesDelayed'],
    }));
    const a = out.Attributes ?? {};
    const dims = { QueueName: q.name };
    const add = (name: string, v: number, unit = 'Count'): void => this.src.metrics.add({ namespace: 'AWS/SQS', name, dimensions: dims, unit }, [v], now);
    add('ApproximateNumberOfMessagesVisible', Number(a.ApproximateNumberOfMessages ?? 0) + received.length);
    add('ApproximateNumberOfMessagesNotVisible', Math.max(0, Number(a.ApproximateNumberOfMessagesNotVisible ?? 0) - received.length));
    add('ApproximateNumberOfMessagesDelayed', Number(a.ApproximateNumberOfMessagesDelayed ?? 0));
    if (!sampleAge) return;
    const sent = received.filter((t) => Number.isFinite(t));
    add('ApproximateAgeOfOldestMessage', sent.length > 0 ? Math.max(0, Math.floor((now - Math.min(...sent)) / 1000)) : 0, 'Seconds');
  }

  /** Why a metric an alarm watches cannot be produced locally, or undefined when it can. */
  unavailable(ref: MetricRef, series: MetricSeries | undefined): string | undefined {
    const dimNames = Object.keys(ref.dimensions).sort().join(',');
    if (ref.namespace === 'AWS/Lambda') {
      if (!LAMBDA_METRICS.has(ref.name)) return `the local environment produces AWS/Lambda ${[...LAMBDA_METRICS].join(', ')} only`;
      if (dimNames !== 'FunctionName') return `AWS/Lambda metrics are produced locally per FunctionName only (the alarm's dimensions: ${dimNames || 'none'})`;
      if (!this.src.functions.some((f) => f.functionName === ref.dimensions.FunctionName)) return `${ref.dimensions.FunctionName} is not a function of this stack`;
      if (ref.name === 'IteratorAge' && !this.src.kinesisPollers.some((p) => p.fn === ref.dimensions.FunctionName)) {
        return `no Kinesis event source mapping invokes ${ref.dimensions.FunctionName} locally`;
      }
      return undefined;
    }
    if (ref.namespace === 'AWS/SQS') {
      if (!SQS_METRICS.has(ref.name)) return `the local environment produces AWS/SQS ${[...SQS_METRICS].join(', ')} only`;
      if (dimNames !== 'QueueName') return `AWS/SQS metrics are produced locally per QueueName only (the alarm's dimensions: ${dimNames || 'none'})`;
      const q = this.src.queues.find((x) => x.name === ref.dimensions.QueueName);
      if (!q) return `${ref.dimensions.QueueName} is not a queue of this stack`;
      if (ref.name === 'ApproximateAgeOfOldestMessage' && this.src.consumedQueueUrls.has(q.url)) {
        return `${q.name} is read by a local event source mapping; sampling its oldest message would hide messages from it`;
      }
      return undefined;
    }
    if (ref.namespace.startsWith('AWS/')) return `${ref.namespace} metrics are not produced by the local environment`;
    // A custom metric (EMF): honest unless a function producing it called a service that is not emulated.
    for (const fn of series?.sources ?? []) {
      const services = this.src.unemulatedCalls(fn);
      if (services.length > 0) return `its producer ${fn} called ${services.join(', ')}, which the local environment does not emulate`;
    }
    return undefined;
  }
}

/**
 * The invoker a Kinesis mapping calls, recording `AWS/Lambda` `IteratorAge` `{FunctionName}` at each invocation: now
 * minus the approximate arrival time of the batch's last record, as Lambda computes it.
 */
export function recordingIteratorAge(fn: FunctionInvoker, metrics: MetricsStore, now: () => number = Date.now): FunctionInvoker {
  return {
    functionName: fn.functionName,
    functionArn: fn.functionArn,
    invoke(event: unknown) {
      const records = (event as { Records?: Array<{ kinesis?: { approximateArrivalTimestamp?: number } }> }).Records ?? [];
      const arrival = records[records.length - 1]?.kinesis?.approximateArrivalTimestamp;
      if (typeof arrival === 'number') {
        const t = now();
        metrics.add({ namespace: 'AWS/Lambda', name: 'IteratorAge', dimensions: { FunctionName: fn.functionName }, unit: 'Milliseconds' }, [Math.max(0, t - arrival * 1000)], t);
      }
      return fn.invoke(event);
    },
  };
}
