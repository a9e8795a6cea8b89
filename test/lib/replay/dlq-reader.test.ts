import { setTimeout as delay } from 'node:timers/promises';
import { DescribeStreamSummaryCommand, KinesisClient, PutRecordsCommand } from '@aws-sdk/client-kinesis';
import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { encodeDlqMessage } from '../../../lib/core';
import { DlqReader } from '../../../lib/replay/dlq-reader';
import { runReplay } from '../../../lib/replay/engine';
import { parseFilter } from '../../../lib/replay/filter';
import { payloadDeadLetter } from '../../support/dlq';

const STREAM = 'arn:aws:kinesis:us-east-1:000000000000:stream/target';

interface FakeMessage { readonly id: string; readonly body: string; visible: boolean; handle: number; deleted: boolean }

/**
 * An SQS queue in memory behind `send`: receives (10 at most, a few ms each) hide messages, a delete needs the newest
 * receipt handle, and `log` records receives in flight and each delete in order.
 */
class FakeQueue {
  readonly messages: FakeMessage[];
  inFlight = 0;
  maxInFlight = 0;
  readonly deletedOrder: string[] = [];
  /** Message ids handed out again on their next receive, as after a visibility timeout. */
  readonly redeliverOnce = new Set<string>();

  constructor(bodies: string[]) {
    this.messages = bodies.map((body, i) => ({ id: `m${i}`, body, visible: true, handle: 0, deleted: false }));
  }

  client(): SQSClient {
    return { send: (cmd: unknown) => this.send(cmd) } as unknown as SQSClient;
  }

  private async send(cmd: unknown): Promise<unknown> {
    if (cmd instanceof ReceiveMessageCommand) return this.receive();
    if (cmd instanceof DeleteMessageBatchCommand) {
      const failed: Array<{ Id: string }> = [];
      for (const e of cmd.input.Entries ?? []) {
        const [id, h] = e.ReceiptHandle!.split('#');
        const m = this.messages.find((x) => x.id === id)!;
        if (Number(h) !== m.handle) {failed.push({ Id: e.Id! });} else {
          m.deleted = true;
          this.deletedOrder.push(id);
        }
      }
      return { Failed: failed };
    }
    if (cmd instanceof ChangeMessageVisibilityBatchCommand) {
      for (const e of cmd.input.Entries ?? []) {
        const m = this.messages.find((x) => x.id === e.ReceiptHandle!.split('#')[0])!;
        if (e.VisibilityTimeout === 0 && !m.deleted) m.visible = true;
      }
      return { Failed: [] };
    }
    if (cmd instanceof GetQueueAttributesCommand) {
      const live = this.messages.filter((m) => !m.deleted);
      const visible = live.filter((m) => m.visible).length;
      return { Attributes: { ApproximateNumberOfMessages: String(visible), ApproximateNumberOfMessagesNotVisible: String(live.length - visible) } };
    }
    throw new Error(`unexpected command ${(cmd as object).constructor.name}`);
  }

  private async receive(): Promise<unknown> {
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    await delay(3);
    const again = this.messages.filter((m) => this.redeliverOnce.has(m.id) && !m.visible && !m.deleted);
    const out = [...again, ...this.messages.filter((m) => m.visible && !m.deleted)].slice(0, 10);
    for (const m of out) {
      this.redeliverOnce.delete(m.id);
      m.visible = false;
      m.handle++;
    }
    this.inFlight--;
    return { Messages: out.map((m) => ({ MessageId: m.id, ReceiptHandle: `${m.id}#${m.handle}`, Body: m.body })) };
  }
}

function schemaDeadLetter(j: number): string {
  const at = '2026-12-07T00:00:00.000Z';
  const msg = payloadDeadLetter(Buffer.from(JSON.stringify({ orderId: `o${j}` })), { streamArn: STREAM, seq: j + 1, partitionKey: `k${j % 7}`, at });
  return encodeDlqMessage(msg, 262_144).body;
}

afterEach(() => {
  mockClient(KinesisClient).restore();
  vi.restoreAllMocks();
});

describe('DlqReader', () => {
  it('keeps `concurrency` receives in flight and yields every message once', async () => {
    const q = new FakeQueue(Array.from({ length: 200 }, (_, j) => schemaDeadLetter(j)));
    const reader = new DlqReader(q.client(), 'q', { visibilityTimeoutSec: 60, waitTimeSec: 0, concurrency: 4 });
    const ids: string[] = [];
    for await (const batch of reader.read()) ids.push(...batch.map((e) => e.messageId));
    expect(ids).toHaveLength(200);
    expect(new Set(ids).size).toBe(200);
    expect(q.maxInFlight).toBe(4);
    expect(reader.heldCount).toBe(200);
  });

  it('a message received again yields once and is deleted with its newest receipt handle', async () => {
    const q = new FakeQueue(Array.from({ length: 30 }, (_, j) => schemaDeadLetter(j)));
    const reader = new DlqReader(q.client(), 'q', { visibilityTimeoutSec: 60, waitTimeSec: 0, concurrency: 1 });
    const ids: string[] = [];
    for await (const batch of reader.read()) {
      ids.push(...batch.map((e) => e.messageId));
      if (ids.length === 10) q.redeliverOnce.add('m3');
    }
    expect(ids.filter((id) => id === 'm3')).toHaveLength(1);
    expect(await reader.delete(['m3'])).toEqual([]);
    expect(q.deletedOrder).toEqual(['m3']);
  });

  it('refuses a concurrency outside 1..64', () => {
    expect(() => new DlqReader(new FakeQueue([]).client(), 'q', { visibilityTimeoutSec: 60, concurrency: 0 })).toThrow(/1\.\.64; got 0/);
  });
});

describe('runReplay from a DLQ', () => {
  /** Kinesis accepting every record except those of `refuse` (InternalFailure on every attempt); logs accepted order ids. */
  function kinesisAccepting(q: FakeQueue, refuse: Set<string>): { kinesis: KinesisClient; acceptedBeforeDelete: string[] } {
    const k = mockClient(KinesisClient);
    k.on(DescribeStreamSummaryCommand).resolves({ StreamDescriptionSummary: { StreamStatus: 'ACTIVE' } as never });
    const acceptedBeforeDelete: string[] = [];
    k.on(PutRecordsCommand).callsFake((input: { Records: Array<{ Data: Uint8Array }> }) => ({
      FailedRecordCount: 0,
      Records: input.Records.map((r, i) => {
        const orderId = /"orderId":"(o\d+)"/.exec(Buffer.from(r.Data).toString('utf8'))![1];
        if (refuse.has(orderId)) return { ErrorCode: 'InternalFailure', ErrorMessage: 'test' };
        // accepted: its message must still be in the queue (not deleted before the put was accepted)
        if (!q.messages[Number(orderId.slice(1))].deleted) acceptedBeforeDelete.push(orderId);
        return { SequenceNumber: String(i), ShardId: 'shardId-000000000000' };
      }),
    }));
    return { kinesis: new KinesisClient({ region: 'us-east-1' }), acceptedBeforeDelete };
  }

  it('deletes a dead letter only after its record was accepted; a failed put leaves it in the queue, visible again', async () => {
    vi.spyOn(Math, 'random').mockReturnValue(0); // no backoff wait between the failing entry's attempts
    const q = new FakeQueue(Array.from({ length: 120 }, (_, j) => schemaDeadLetter(j)));
    const m = kinesisAccepting(q, new Set(['o17']));
    const summary = await runReplay({
      source: { kind: 'dlq', queueUrl: 'q' }, filter: parseFilter({}), receivers: 3, clients: { sqs: q.client(), kinesis: m.kinesis },
    });
    expect(summary.replayed).toBe(119);
    expect(summary.failed).toBe(1);
    expect(summary.deleted).toBe(119);
    expect(new Set(m.acceptedBeforeDelete).size).toBe(119);
    expect(new Set(q.deletedOrder)).toEqual(new Set(m.acceptedBeforeDelete.map((o) => `m${o.slice(1)}`)));
    const left = q.messages.filter((x) => !x.deleted);
    expect(left.map((x) => x.id)).toEqual(['m17']);
    expect(left[0].visible).toBe(true);
  });
});
