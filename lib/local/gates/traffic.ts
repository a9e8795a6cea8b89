/**
 * Kinesis traffic as the emulator host sees it, per consumer and per writer: reads, read throttles and iterator age
 * (GetRecords), records written and write throttles (PutRecord/PutRecords). A consumer is named by the request's
 * `x-phoenix-consumer` header (the local environment's own readers: event source mappings, delivery streams), else
 * by its principal (a function reading with its own role).
 */

/** Request header naming the consumer of a GetRecords call. */
export const CONSUMER_HEADER = 'x-phoenix-consumer';

export interface ConsumerTraffic {
  readonly consumer: string;
  readonly stream: string;
  readonly getRecordsCalls: number;
  /** GetRecords calls refused with ProvisionedThroughputExceededException (the shard's shared read limits). */
  readonly throttles: number;
  readonly records: number;
  readonly bytes: number;
  /** Milliseconds between a read and the arrival of the last record it returned (0 for a read at the tip): max and last read's. */
  readonly iteratorAgeMs: { readonly max: number; readonly final: number };
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

  /** The emulator's GetRecords answer (JSON body): records, bytes and the age of the last record returned. */
  readResult(consumer: string, streamArn: string, shardId: string, body: string, nowMs: number): void {
    const c = this.consumer(consumer, streamArn);
    let records: Array<{ ApproximateArrivalTimestamp?: number }> = [];
    try {
      records = (JSON.parse(body) as { Records?: typeof records }).Records ?? [];
    } catch {
      return; // an error answer: nothing read
    }
    c.records += records.length;
    c.bytes += Buffer.byteLength(body);
    const last = records[records.length - 1]?.ApproximateArrivalTimestamp;
    const age = last === undefined ? 0 : Math.max(0, Math.round(nowMs - last * 1000));
    c.lastAge.set(shardId, age);
    c.iteratorAgeMs = { max: Math.max(c.iteratorAgeMs.max, age), final: Math.max(...c.lastAge.values()) };
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
      c = { consumer, stream: streamName(streamArn), ...counts, iteratorAgeMs: { max: 0, final: 0 }, lastAge: new Map() };
      this.consumers.set(key, c);
    }
    return c;
  }
}
