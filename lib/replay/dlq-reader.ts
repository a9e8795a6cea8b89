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
import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  type Message,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { decodeDlqMessage, describeError, type DlqMessage } from '../core';
import { clockOf, type ReplayClock } from './clock';

export interface DlqEntry {
  readonly messageId: string;
  readonly body: string;
  /** The parsed DLQ message, or undefined when the body is not a DLQ message v1 (`invalid` says why). */
  readonly msg?: DlqMessage;
  readonly invalid?: string;
  readonly receiveCount?: number;
  readonly sentAt?: string;
}

export interface DlqReaderOptions extends ReplayClock {
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
  /** ReceiveMessage calls in flight. Default 4. */
  readonly concurrency?: number;
  readonly signal?: AbortSignal;
}

function chunks<T>(xs: readonly T[], n: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += n) out.push(xs.slice(i, i + n));
  return out;
}

function toEntry(messageId: string, m: Message): DlqEntry {
  const body = m.Body ?? '';
  let msg: DlqMessage | undefined;
  let invalid: string | undefined;
  try {
    msg = decodeDlqMessage(body);
  } catch (e) {
    invalid = describeError(e);
  }
  const sent = Number(m.Attributes?.SentTimestamp);
  return {
    messageId,
    body,
    msg,
    invalid,
    receiveCount: m.Attributes?.ApproximateReceiveCount !== undefined ? Number(m.Attributes.ApproximateReceiveCount) : undefined,
    sentAt: Number.isFinite(sent) && sent > 0 ? new Date(sent).toISOString() : undefined,
  };
}

export class DlqReader {
  /** messageId -> latest receipt handle (and when it was received or last renewed) of the messages held hidden. */
  private readonly held = new Map<string, { handle: string; at: number }>();
  private lastRenewScan = 0;
  private readonly seen = new Set<string>();
  /** Messages in flight elsewhere that never became visible while reading (reported, not replayed). */
  inFlightElsewhere = 0;
  receives = 0;

  private readonly clock: Required<ReplayClock>;

  constructor(private readonly sqs: SQSClient, readonly queueUrl: string, private readonly opts: DlqReaderOptions) {
    this.clock = clockOf(opts);
    const v = opts.visibilityTimeoutSec;
    if (!Number.isInteger(v) || v < 1 || v > 43_200) throw new RangeError(`visibility timeout must be an integer of seconds in 1..43200; got ${v}`);
    const c = opts.concurrency;
    if (c !== undefined && (!Number.isInteger(c) || c < 1 || c > 64)) throw new RangeError(`receive concurrency must be an integer in 1..64; got ${c}`);
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

  /**
   * Yields every message of the queue once, in batches of up to 10, from `concurrency` receives in flight (a standard
   * queue has no order, so several receivers lose none). A message received again (its visibility timeout ran out)
   * is not yielded twice: its newest receipt handle replaces the old one.
   */
  async *read(): AsyncGenerator<DlqEntry[]> {
    const { sleep, now } = this.clock;
    const emptyPolls = this.opts.emptyPolls ?? 2;
    const maxReceives = this.opts.maxReceives ?? 1_000_000;
    const slots = new Map<number, Promise<{ slot: number; messages: Message[] }>>();
    let empty = 0;
    let done = false;
    let waitStarted: number | undefined;
    const start = (slot: number): void => {
      if (done || this.receives >= maxReceives || this.opts.signal?.aborted) return;
      this.receives++;
      const p = this.receive().then((messages) => ({ slot, messages }));
      p.catch(() => undefined); // raced below; a rejection is thrown from there
      slots.set(slot, p);
    };
    const fill = (): void => {
      for (let i = 0; i < this.concurrency; i++) if (!slots.has(i)) start(i);
    };
    fill();
    try {
      while (slots.size > 0) {
        const { slot, messages } = await Promise.race(slots.values());
        slots.delete(slot);
        await this.renewIfDue(now());
        const fresh = this.accept(messages);
        if (fresh.length > 0) {
          empty = 0;
          waitStarted = undefined;
          fill();
          yield fresh;
          continue;
        }
        if (done) continue;
        if (++empty < emptyPolls * this.concurrency) {
          start(slot);
          continue;
        }
        // This receiver rests; the last one to come back empty checks the queue's counts.
        if (slots.size > 0) continue;
        const c = await this.counts();
        const elsewhere = Math.max(0, c.notVisible - this.held.size);
        if (c.visible > 0) {
          empty = 0;
        } else if (elsewhere === 0) {
          done = true;
        } else {
          waitStarted ??= now();
          if (now() - waitStarted >= (this.opts.inFlightWaitMs ?? 0)) {
            this.inFlightElsewhere = elsewhere;
            done = true;
          } else {
            await sleep(1_000);
          }
        }
        fill();
      }
    } finally {
      // Stopped early (limit, abort): what the receives still in flight hid is held, so releaseAll shows it again.
      for (const p of slots.values()) {
        const r = await p.catch(() => undefined);
        for (const m of r?.messages ?? []) if (m.MessageId && m.ReceiptHandle) this.held.set(m.MessageId, { handle: m.ReceiptHandle, at: 0 });
      }
    }
  }

  private get concurrency(): number {
    return this.opts.concurrency ?? 4;
  }

  private async receive(): Promise<Message[]> {
    const res = await this.sqs.send(new ReceiveMessageCommand({
      QueueUrl: this.queueUrl,
      MaxNumberOfMessages: 10,
      VisibilityTimeout: this.opts.visibilityTimeoutSec,
      WaitTimeSeconds: this.opts.waitTimeSec ?? 1,
      MessageSystemAttributeNames: ['ApproximateReceiveCount', 'SentTimestamp'],
      AttributeNames: ['All'],
    }), { abortSignal: this.opts.signal });
    return res.Messages ?? [];
  }

  /** Holds the received messages (newest receipt handle) and returns those not seen before. */
  private accept(messages: readonly Message[]): DlqEntry[] {
    const fresh: DlqEntry[] = [];
    const t = this.clock.now();
    for (const m of messages) {
      if (!m.MessageId || !m.ReceiptHandle) continue;
      this.held.set(m.MessageId, { handle: m.ReceiptHandle, at: t });
      if (this.seen.has(m.MessageId)) continue;
      this.seen.add(m.MessageId);
      fresh.push(toEntry(m.MessageId, m));
    }
    return fresh;
  }

  /**
   * Keeps held messages hidden: those held for more than half the visibility timeout get a new one, so that none
   * reappears (and is received again) while its put is pending. Best effort: a message that does reappear is
   * recognized by its id and not yielded again.
   */
  private async renewIfDue(t: number): Promise<void> {
    const halfMs = (this.opts.visibilityTimeoutSec * 1000) / 2;
    if (t - this.lastRenewScan < halfMs / 4) return;
    this.lastRenewScan = t;
    const due = [...this.held.entries()].filter(([, h]) => t - h.at >= halfMs);
    for (const group of chunks(due, 10)) {
      const res = await this.sqs.send(new ChangeMessageVisibilityBatchCommand({
        QueueUrl: this.queueUrl,
        Entries: group.map(([, h], i) => ({ Id: String(i), ReceiptHandle: h.handle, VisibilityTimeout: this.opts.visibilityTimeoutSec })),
      })).catch(() => undefined);
      const bad = new Set((res?.Failed ?? []).map((f) => Number(f.Id)));
      group.forEach(([, h], i) => { if (res && !bad.has(i)) h.at = t; });
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
            Entries: todo.map((id, i) => ({ Id: String(i), ReceiptHandle: this.held.get(id)!.handle })),
          }));
          const bad = new Set((res.Failed ?? []).map((f) => Number(f.Id)));
          for (const [i, id] of todo.entries()) if (!bad.has(i)) this.held.delete(id);
          todo = todo.filter((_, i) => bad.has(i));
        } catch {
          // a transient SQS error: retried; the ids still in `todo` are reported
          if (attempt === 3) break;
          await this.clock.sleep(200 * attempt);
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
          Entries: group.map(([, h], i) => ({ Id: String(i), ReceiptHandle: h.handle, VisibilityTimeout: 0 })),
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
