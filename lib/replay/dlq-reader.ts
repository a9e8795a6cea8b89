/**
 * Reads a DLQ (SQS) without consuming it.
 *
 * SQS has no "peek": a message is read by receiving it, which hides it for the visibility timeout. The reader
 * receives with a short visibility timeout (long enough to go through the queue once), remembers every message it
 * holds, and at the end (or on interruption) makes them all visible again at once with ChangeMessageVisibility 0.
 * Nothing is ever deleted except by {@link DlqReader.delete}, which the replay calls only for messages whose record
 * Kinesis accepted. Each receive increments ApproximateReceiveCount; the DLQ has no redrive policy of its own
 * (DlqWithReplay), so that count has no effect. If the process is killed, held messages reappear by themselves when
 * their visibility timeout ends.
 */
import { setTimeout as delay } from 'node:timers/promises';
import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { decodeDlqMessage, describeError, type DlqMessage } from '../core';

export interface DlqEntry {
  readonly messageId: string;
  readonly body: string;
  /** The parsed DLQ message, or undefined when the body is not a DLQ message v1 (`invalid` says why). */
  readonly msg?: DlqMessage;
  readonly invalid?: string;
  readonly receiveCount?: number;
  readonly sentAt?: string;
}

export interface DlqReaderOptions {
  /** Visibility timeout of each receive, seconds (1-43200). */
  readonly visibilityTimeoutSec: number;
  /** Long-poll wait of each receive, seconds (0-20). Default 1. */
  readonly waitTimeSec?: number;
  /** Consecutive receives without a new message before the queue is considered read. Default 2. */
  readonly emptyPolls?: number;
  /**
   * How long to wait for messages held by someone else (in flight, e.g. from an interrupted replay) to become visible
   * again before finishing without them. Default 0.
   */
  readonly inFlightWaitMs?: number;
  /** Upper bound on receive calls (a safety net against a queue refilled as fast as it is read). Default 1,000,000. */
  readonly maxReceives?: number;
  readonly signal?: AbortSignal;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly now?: () => number;
}

function chunks<T>(xs: readonly T[], n: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += n) out.push(xs.slice(i, i + n));
  return out;
}

export class DlqReader {
  /** messageId -> latest receipt handle of the messages this reader holds hidden. */
  private readonly held = new Map<string, string>();
  private readonly seen = new Set<string>();
  /** Messages in flight elsewhere that never became visible while reading (reported, not replayed). */
  inFlightElsewhere = 0;
  receives = 0;

  constructor(private readonly sqs: SQSClient, readonly queueUrl: string, private readonly opts: DlqReaderOptions) {
    const v = opts.visibilityTimeoutSec;
    if (!Number.isInteger(v) || v < 1 || v > 43_200) throw new RangeError(`visibility timeout must be an integer of seconds in 1..43200; got ${v}`);
  }

  /** Visible and in-flight message counts (approximate, as SQS reports them). */
  async counts(): Promise<{ visible: number; notVisible: number }> {
    const res = await this.sqs.send(new GetQueueAttributesCommand({
      QueueUrl: this.queueUrl,
      AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
    }));
    return {
      visible: Number(res.Attributes?.ApproximateNumberOfMessages ?? 0),
      notVisible: Number(res.Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0),
    };
  }

  /** Yields every message of the queue once, in receive order, in batches of up to 10. */
  async *read(): AsyncGenerator<DlqEntry[]> {
    const sleep = this.opts.sleep ?? delay;
    const now = this.opts.now ?? Date.now;
    const emptyPolls = this.opts.emptyPolls ?? 2;
    const maxReceives = this.opts.maxReceives ?? 1_000_000;
    let empty = 0;
    let waitStarted: number | undefined;
    while (this.receives < maxReceives && !this.opts.signal?.aborted) {
      this.receives++;
      const res = await this.sqs.send(new ReceiveMessageCommand({
        QueueUrl: this.queueUrl,
        MaxNumberOfMessages: 10,
        VisibilityTimeout: this.opts.visibilityTimeoutSec,
        WaitTimeSeconds: this.opts.waitTimeSec ?? 1,
        MessageSystemAttributeNames: ['ApproximateReceiveCount', 'SentTimestamp'],
        AttributeNames: ['All'],
      }), { abortSignal: this.opts.signal });
      const fresh: DlqEntry[] = [];
      for (const m of res.Messages ?? []) {
        if (!m.MessageId || !m.ReceiptHandle) continue;
        this.held.set(m.MessageId, m.ReceiptHandle);
        if (this.seen.has(m.MessageId)) continue;
        this.seen.add(m.MessageId);
        const body = m.Body ?? '';
        let msg: DlqMessage | undefined;
        let invalid: string | undefined;
        try {
          msg = decodeDlqMessage(body);
        } catch (e) {
          invalid = describeError(e);
        }
        const sent = Number(m.Attributes?.SentTimestamp);
        fresh.push({
          messageId: m.MessageId,
          body,
          msg,
          invalid,
          receiveCount: m.Attributes?.ApproximateReceiveCount !== undefined ? Number(m.Attributes.ApproximateReceiveCount) : undefined,
          sentAt: Number.isFinite(sent) && sent > 0 ? new Date(sent).toISOString() : undefined,
        });
      }
      if (fresh.length > 0) {
        empty = 0;
        waitStarted = undefined;
        yield fresh;
        continue;
      }
      if (++empty < emptyPolls) continue;
      const c = await this.counts();
      const elsewhere = Math.max(0, c.notVisible - this.held.size);
      if (c.visible > 0) {
        empty = 0;
        continue;
      }
      if (elsewhere === 0) return;
      waitStarted ??= now();
      if (now() - waitStarted >= (this.opts.inFlightWaitMs ?? 0)) {
        this.inFlightElsewhere = elsewhere;
        return;
      }
      await sleep(1_000);
    }
  }

  /** Number of messages held hidden by this reader. */
  get heldCount(): number {
    return this.held.size;
  }

  /** Deletes messages (their records were accepted). Returns the message ids that could not be deleted. */
  async delete(messageIds: readonly string[]): Promise<string[]> {
    const failed: string[] = [];
    for (const group of chunks(messageIds.filter((id) => this.held.has(id)), 10)) {
      let todo = group;
      for (let attempt = 1; attempt <= 3 && todo.length > 0; attempt++) {
        try {
          const res = await this.sqs.send(new DeleteMessageBatchCommand({
            QueueUrl: this.queueUrl,
            Entries: todo.map((id, i) => ({ Id: String(i), ReceiptHandle: this.held.get(id)! })),
          }));
          const bad = new Set((res.Failed ?? []).map((f) => Number(f.Id)));
          for (const [i, id] of todo.entries()) if (!bad.has(i)) this.held.delete(id);
          todo = todo.filter((_, i) => bad.has(i));
        } catch {
          // a transient SQS error: retried; the ids still in `todo` are reported
          if (attempt === 3) break;
          await (this.opts.sleep ?? delay)(200 * attempt);
        }
      }
      failed.push(...todo);
    }
    return failed;
  }

  /** Makes every held message visible again (ChangeMessageVisibility 0). Best effort: returns how many failed. */
  async releaseAll(): Promise<number> {
    let failed = 0;
    const entries = [...this.held.entries()];
    for (const group of chunks(entries, 10)) {
      try {
        const res = await this.sqs.send(new ChangeMessageVisibilityBatchCommand({
          QueueUrl: this.queueUrl,
          Entries: group.map(([, handle], i) => ({ Id: String(i), ReceiptHandle: handle, VisibilityTimeout: 0 })),
        }));
        failed += res.Failed?.length ?? 0;
      } catch {
        failed += group.length;
      }
    }
    this.held.clear();
    return failed;
  }
}
