/**
 * SQS event source mapping, reproducing Lambda's queue pollers:
 * - several long-polling loops (MaximumConcurrency caps them; each invokes one batch at a time);
 * - batches of up to BatchSize messages / 6 MB, gathered for up to MaximumBatchingWindowInSeconds once the first
 *   message arrived (ReceiveMessage returns at most 10 per call);
 * - success deletes the batch; with ReportBatchItemFailures everything except the reported messageIds is deleted
 *   (a malformed report deletes nothing); a function error deletes nothing: the messages reappear after the
 *   queue's visibility timeout and the queue's own RedrivePolicy moves them to its DLQ after maxReceiveCount.
 */
import {
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  type Message,
  type MessageAttributeValue,
} from '@aws-sdk/client-sqs';
import type { EsmClients, EsmStats, EventSourcePoller, FunctionInvoker, InvokeResult, PollerOptions, SqsMappingConfig } from './types';
import { backoffMs, emptyStats, errorMessage, groupsWithinPayload, parseBatchItemFailures, pollerDefaults } from './util';
import { abortableSleep } from '../lifecycle';

const MAX_PAYLOAD_BYTES = 6 * 1024 * 1024;
const RECORD_OVERHEAD_BYTES = 1024;
/** Lambda long-polls with the maximum wait. */
const LONG_POLL_SECONDS = 20;
/** Lambda starts with five pollers per queue. */
const DEFAULT_POLLERS = 5;

export interface SqsEventRecord {
  messageId: string;
  receiptHandle: string;
  body: string;
  attributes: Record<string, string>;
  messageAttributes: Record<string, {
    stringValue?: string;
    binaryValue?: string;
    stringListValues: string[];
    binaryListValues: string[];
    dataType: string;
  }>;
  md5OfBody: string;
  md5OfMessageAttributes?: string;
  eventSource: 'aws:sqs';
  eventSourceARN: string;
  awsRegion: string;
}

export class SqsEventSourcePoller implements EventSourcePoller {
  readonly stats: EsmStats = emptyStats();
  private readonly now: () => number;
  private readonly log: (line: string) => void;
  private readonly pollers: number;
  private readonly retryBaseMs: number;
  private readonly retryCapMs: number;
  private abort = new AbortController();
  private running = false;
  private inFlight = 0;
  private loops: Array<Promise<void>> = [];

  constructor(
    readonly config: SqsMappingConfig,
    private readonly invoker: FunctionInvoker,
    private readonly clients: EsmClients,
    opts: PollerOptions = {},
  ) {
    ({ now: this.now, log: this.log, retryBaseMs: this.retryBaseMs, retryCapMs: this.retryCapMs } = pollerDefaults(opts));
    this.pollers = Math.max(1, Math.min(config.maximumConcurrency ?? Infinity, opts.sqsPollers ?? DEFAULT_POLLERS));
  }

  start(): void {
    if (this.running) return;
    if (!this.config.enabled) {
      this.log(`sqs ${this.config.queueArn} -> ${this.invoker.functionName}: mapping disabled, not polling`);
      return;
    }
    this.running = true;
    this.abort = new AbortController();
    this.loops = Array.from({ length: this.pollers }, (_, i) =>
      this.pollLoop().catch((err) => this.log(`sqs ${this.config.queueArn}: poller ${i} stopped on error: ${errorMessage(err)}`)),
    );
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.abort.abort();
    await Promise.allSettled(this.loops);
    this.loops = [];
  }

  async drain(opts: { timeoutMs: number }): Promise<boolean> {
    const deadline = Date.now() + opts.timeoutMs;
    for (let i = 0; this.running; i++) {
      if (this.inFlight === 0) {
        try {
          const res = await this.clients.sqs.send(new GetQueueAttributesCommand({
            QueueUrl: this.config.queueUrl,
            AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible', 'ApproximateNumberOfMessagesDelayed'],
          }));
          const a = res.Attributes ?? {};
          const pending = Number(a.ApproximateNumberOfMessages ?? 0) + Number(a.ApproximateNumberOfMessagesNotVisible ?? 0) +
            Number(a.ApproximateNumberOfMessagesDelayed ?? 0);
          if (pending === 0 && this.inFlight === 0) return true;
        } catch (err) {
          this.log(`sqs ${this.config.queueArn}: GetQueueAttributes failed during drain: ${errorMessage(err)}`);
        }
      }
      if (Date.now() >= deadline) return false;
      await abortableSleep(Math.min(50, deadline - Date.now()));
    }
    return false;
  }

  private async pollLoop(): Promise<void> {
    let failures = 0;
    while (this.running) {
      let messages: Message[];
      try {
        messages = await this.receiveBatch();
        failures = 0;
      } catch (err) {
        if (!this.running) return;
        this.log(`sqs ${this.config.queueArn}: ReceiveMessage failed: ${errorMessage(err)}`);
        await abortableSleep(backoffMs(failures++, this.retryBaseMs, this.retryCapMs), this.abort.signal);
        continue;
      }
      if (messages.length === 0) continue;
      this.inFlight++;
      try {
        await this.process(messages);
      } finally {
        this.inFlight--;
      }
    }
  }

  /** One batch: a long poll for the first messages, then (with a batching window) more until full or the window ends. */
  private async receiveBatch(): Promise<Message[]> {
    const windowMs = this.config.maximumBatchingWindowInSeconds * 1000;
    const messages: Message[] = [];
    let bytes = 0;
    let deadline = Infinity;
    for (let i = 0; i < 10_000 && this.running; i++) {
      const remaining = deadline - Date.now();
      const wait = messages.length === 0 ? LONG_POLL_SECONDS : Math.min(LONG_POLL_SECONDS, Math.ceil(remaining / 1000));
      let received: Message[];
      try {
        const res = await this.clients.sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: this.config.queueUrl,
            MaxNumberOfMessages: Math.min(10, this.config.batchSize - messages.length),
            WaitTimeSeconds: wait,
            AttributeNames: ['All'],
            MessageSystemAttributeNames: ['All'],
            MessageAttributeNames: ['All'],
          }),
          { abortSignal: this.abort.signal },
        );
        received = res.Messages ?? [];
      } catch (err) {
        // Messages already received stay invisible until their visibility timeout: hand them on rather than lose a turn.
        if (messages.length > 0 && this.running) break;
        throw err;
      }
      if (received.length > 0 && messages.length === 0) deadline = Date.now() + windowMs;
      for (const m of received) {
        messages.push(m);
        bytes += Buffer.byteLength(m.Body ?? '') + RECORD_OVERHEAD_BYTES;
      }
      if (messages.length >= this.config.batchSize || bytes >= MAX_PAYLOAD_BYTES || Date.now() >= deadline) break;
      if (messages.length > 0 && windowMs === 0) break;
    }
    return messages;
  }

  /** A received batch, invoked in as many events as keep each within the 6 MB payload (Lambda never sends more). */
  private async process(messages: Message[]): Promise<void> {
    for (const records of groupsWithinPayload(messages.map((m) => this.toRecord(m)), MAX_PAYLOAD_BYTES)) await this.invokeBatch(records);
  }

  private async invokeBatch(records: SqsEventRecord[]): Promise<void> {
    this.stats.batches++;
    this.stats.invocations++;
    const oldest = Math.min(...records.map((r) => Number(r.attributes.SentTimestamp ?? this.now())));
    this.stats.iteratorAgeMs = Math.max(0, this.now() - oldest);
    let result: InvokeResult;
    try {
      result = await this.invoker.invoke({ Records: records });
    } catch (err) {
      result = { ok: false, errorType: 'crash', message: `invoker failed: ${errorMessage(err)}`, durationMs: 0 };
    }
    if (!result.ok) {
      if (result.errorType !== 'throttled') this.stats.functionErrors++;
      this.log(`sqs ${this.config.queueArn}: batch of ${records.length} failed (${result.errorType}: ${result.message}); ` +
        'messages return after the visibility timeout');
      return;
    }
    this.stats.recordsDelivered += records.length;
    let toDelete = records;
    if (this.config.reportBatchItemFailures) {
      const failures = parseBatchItemFailures(result.payload, new Set(records.map((r) => r.messageId)));
      if (failures.kind !== 'success') this.stats.partialFailures++;
      if (failures.kind === 'malformed') {
        this.log(`sqs ${this.config.queueArn}: ${failures.reason}: the whole batch failed`);
        return;
      }
      if (failures.kind === 'partial') {
        const failed = new Set(failures.itemIdentifiers);
        toDelete = records.filter((r) => !failed.has(r.messageId));
      }
    }
    await this.delete(toDelete);
  }

  private async delete(records: SqsEventRecord[]): Promise<void> {
    for (let i = 0; i < records.length; i += 10) {
      const chunk = records.slice(i, i + 10);
      try {
        const res = await this.clients.sqs.send(new DeleteMessageBatchCommand({
          QueueUrl: this.config.queueUrl,
          Entries: chunk.map((r, j) => ({ Id: String(j), ReceiptHandle: r.receiptHandle })),
        }));
        for (const f of res.Failed ?? []) {
          this.log(`sqs ${this.config.queueArn}: delete of ${chunk[Number(f.Id)].messageId} failed (${f.Code}: ${f.Message}); it will be redelivered`);
        }
      } catch (err) {
        this.log(`sqs ${this.config.queueArn}: DeleteMessageBatch failed (${errorMessage(err)}); ${chunk.length} message(s) will be redelivered`);
      }
    }
  }

  private toRecord(m: Message): SqsEventRecord {
    const messageAttributes: SqsEventRecord['messageAttributes'] = {};
    for (const [name, v] of Object.entries(m.MessageAttributes ?? {}) as Array<[string, MessageAttributeValue]>) {
      messageAttributes[name] = {
        ...(v.StringValue !== undefined ? { stringValue: v.StringValue } : {}),
        ...(v.BinaryValue !== undefined ? { binaryValue: Buffer.from(v.BinaryValue).toString('base64') } : {}),
        stringListValues: v.StringListValues ?? [],
        binaryListValues: (v.BinaryListValues ?? []).map((b) => Buffer.from(b).toString('base64')),
        dataType: v.DataType ?? 'String',
      };
    }
    return {
      messageId: m.MessageId!,
      receiptHandle: m.ReceiptHandle!,
      body: m.Body ?? '',
      attributes: { ...(m.Attributes ?? {}) } as Record<string, string>,
      messageAttributes,
      md5OfBody: m.MD5OfBody ?? '',
      ...(m.MD5OfMessageAttributes ? { md5OfMessageAttributes: m.MD5OfMessageAttributes } : {}),
      eventSource: 'aws:sqs',
      eventSourceARN: this.config.queueArn,
      awsRegion: this.config.region,
    };
  }
}
