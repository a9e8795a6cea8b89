/**
 * Kinesis traffic as the emulator host sees it, per consumer and per writer: reads, read throttles and iterator age
 * (GetRecords), records written and write throttles (PutRecord/PutRecords). A consumer is named by the request's
 * `x-phoenix-consumer` header (the local environment's own readers: event source mappings, delivery streams), else
 * by its principal (a function reading with its own role).
 */

/** Request header naming the consumer of a GetRecords call. */
export const CONSUMER_HEADER = 'x-phoenix-consumer';
/**
 * Request header of the reads of an enhanced fan-out subscription (the local model of SubscribeToShard's pushed
 * events): the consumer ARN; the host authorizes and limits such a read as `SubscribeToShard` on that consumer.
 */
export const SUBSCRIPTION_HEADER = 'x-phoenix-subscription';

export interface ConsumerTraffic {
  readonly consumer: string;
  readonly stream: string;
  /** `shared`: GetRecords under the shard's shared limits; `efo`: an enhanced fan-out subscription (its own 2 MiB/s). */
  readonly kind: 'shared' | 'efo';
  /** The enhanced fan-out consumer read through (kind `efo`). */
  readonly consumerArn?: string;
  /** Reads: GetRecords calls, or a subscription's deliveries (and its SubscribeToShard per shard). */
  readonly getRecordsCalls: number;
  /** Reads refused with ProvisionedThroughputExceededException (the shard's shared read limits; a subscription is never refused, it waits). */
  readonly throttles: number;
  readonly records: number;
  /** Data bytes of the records read (before base64). */
  readonly bytes: number;
  /** Milliseconds between a read and the arrival of the last record it returned (0 for a read at the tip): max and last read's. */
  readonly iteratorAgeMs: { readonly max: number; readonly final: number };
  /** Records and bytes read per second from the run's first put to the report (the run report adds it). */
  readonly throughput?: { readonly recordsPerSecond: number; readonly bytesPerSecond: number };
}

export interface WriterTraffic {
  readonly writer: string;
  readonly stream: string;
  readonly records: number;
  /** Records refused with ProvisionedThroughputExceededException (PutRecords entries, PutRecord calls). */
  readonly throttled: number;
}

export interface TrafficReport {
  readonly consumers: readonly ConsumerTraffic[];
  readonly writers: readonly WriterTraffic[];
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** `arn:aws:kinesis:<region>:<account>:stream/<name>` -> `<name>`. */
const streamName = (arn: string): string => arn.split(':stream/')[1]?.split('/')[0] ?? arn;

export class TrafficRecorder {
  private readonly consumers = new Map<string, Mutable<ConsumerTraffic> & { lastAge: Map<string, number> }>();
  private readonly writers = new Map<string, Mutable<WriterTraffic>>();

  /** A GetRecords call answered (throttled or not) by the gates. */
  read(consumer: string, streamArn: string, throttled: boolean): void {
    const c = this.consumer(consumer, streamArn);
    c.getRecordsCalls++;
    if (throttled) c.throttles++;
  }

  /**
   * The emulator's GetRecords answer (JSON body): records, data bytes and the age of the last record returned.
   * Returns the data bytes (what the read limits count).
   */
  readResult(consumer: string, streamArn: string, shardId: string, body: string, nowMs: number): number {
    const c = this.consumer(consumer, streamArn);
    let records: Array<{ ApproximateArrivalTimestamp?: number; Data?: string }> = [];
    try {
      const parsed = JSON.parse(body) as { Records?: typeof records };
      if (!Array.isArray(parsed.Records)) return 0; // an error answer or a subscription's iterator: nothing read
      records = parsed.Records;
    } catch {
      return 0;
    }
    const dataBytes = records.reduce((n, r) => n + Buffer.byteLength(r.Data ?? '', 'base64'), 0);
    c.records += records.length;
    c.bytes += dataBytes;
    const last = records[records.length - 1]?.ApproximateArrivalTimestamp;
    const age = last === undefined ? 0 : Math.max(0, Math.round(nowMs - last * 1000));
    c.lastAge.set(shardId, age);
    c.iteratorAgeMs = { max: Math.max(c.iteratorAgeMs.max, age), final: Math.max(...c.lastAge.values()) };
    return dataBytes;
  }

  /** A write of `records` records of which `throttled` were refused. */
  write(writer: string, streamArn: string, records: number, throttled: number): void {
    const key = `${writer}\n${streamArn}`;
    let w = this.writers.get(key);
    if (!w) this.writers.set(key, (w = { writer, stream: streamName(streamArn), records: 0, throttled: 0 }));
    w.records += records - throttled;
    w.throttled += throttled;
  }

  report(): TrafficReport {
    return {
      consumers: [...this.consumers.values()].map(({ lastAge: _, ...c }) => ({ ...c, iteratorAgeMs: { ...c.iteratorAgeMs } })),
      writers: [...this.writers.values()].map((w) => ({ ...w })),
    };
  }

  private consumer(consumer: string, streamArn: string): Mutable<ConsumerTraffic> & { lastAge: Map<string, number> } {
    const key = `${consumer}\n${streamArn}`;
    let c = this.consumers.get(key);
    if (!c) {
      const counts = { getRecordsCalls: 0, throttles: 0, records: 0, bytes: 0 };
      const efo = streamArn.includes('/consumer/');
      const kind = { kind: efo ? 'efo' as const : 'shared' as const, ...(efo ? { consumerArn: streamArn } : {}) };
      c = { consumer, stream: streamName(streamArn), ...kind, ...counts, iteratorAgeMs: { max: 0, final: 0 }, lastAge: new Map() };
      this.consumers.set(key, c);
    }
    return c;
  }
}
