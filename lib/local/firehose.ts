import { randomUUID } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { GetShardIteratorCommand, ListShardsCommand, type GetRecordsCommandOutput } from '@aws-sdk/client-kinesis';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import type { LocalClients } from './clients';
import { consumerGetRecords } from './esm/util';
import type { LocalFunction } from './functions';
import { firehoseBufferDelayMs } from './gates/latency';
import { FIREHOSE_RECORD_BYTES } from './gates/limits';
import { invokeCall, type InProcessAuthorizer } from './iam';
import { abortableSleep } from './lifecycle';
import type { ProvisionedStack } from './provision';
import { UnsupportedTemplateError } from './template/errors';

/**
 * Local Firehose delivery: for each `AWS::KinesisFirehose::DeliveryStream` with a Kinesis stream source and an S3
 * destination, a loop reads every shard of the source (once a second, like Firehose) and writes the concatenated
 * record data to the bucket when the buffer reaches SizeInMBs or IntervalInSeconds (and once more at the end of the
 * run), GZIP-compressed when CompressionFormat is GZIP. Keys follow Firehose: `<prefix><stream>-1-<yyyy-MM-dd-HH-mm-ss>-<uuid>[.gz]`,
 * the prefix evaluating `!{timestamp:...}` and `!{firehose:random-string}` expressions, or getting `YYYY/MM/dd/HH/`
 * appended when it has none.
 *
 * Processors: a `Lambda` processor is invoked (synchronously, as Firehose does) with the buffered records in chunks of
 * its BufferSizeInMBs; `Ok` records are delivered with the returned data, `Dropped` ones are not, `ProcessingFailed`
 * ones (and every record of an invocation that failed NumberOfRetries + 1 times, or whose response misses a record)
 * go to the ErrorOutputPrefix (`!{firehose:error-output-type}` = `processing-failed`) as JSON lines. An
 * `AppendDelimiterToRecord` processor appends a newline to each record.
 */

export interface DeliveryStats {
  /** Records read from the source. */
  records: number;
  /** Bytes written to the destination (before compression). */
  bytes: number;
  objects: number;
  keys: string[];
  /** Processor outcomes. */
  processorInvocations: number;
  dropped: number;
  processingFailed: number;
  /** Source records over Firehose's 1,000 KiB record limit: not delivered (see recordTooLarge). */
  tooLarge: number;
}

export interface LocalDeliveryStreams {
  readonly stats: Record<string, DeliveryStats>;
  /** Reads each source to its current end and writes every buffered record. */
  flush(): Promise<void>;
  stop(): Promise<void>;
}

interface Processor {
  functionArn: string;
  bufferBytes: number;
  retries: number;
}

interface Plan {
  logicalId: string;
  arn: string;
  streamArn: string;
  /** The roles Firehose assumes: to read the source stream, to write the bucket and invoke the processor. */
  sourceRoleArn: string;
  destinationRoleArn: string;
  errorPrefix: string;
  processor?: Processor;
  appendDelimiter: boolean;
  name: string;
  streamName: string;
  bucket: string;
  prefix: string;
  intervalMs: number;
  sizeBytes: number;
  gzip: boolean;
  extension: string;
}

const TYPE = 'AWS::KinesisFirehose::DeliveryStream';
/** Rounds of a final flush that may find a source shard's reads throttled (one second apart) before it writes what it has. */
const MAX_THROTTLED_FLUSH_ROUNDS = 300;

function pad(n: number, w = 2): string {
  return String(n).padStart(w, '0');
}

/** Evaluates a Firehose S3 prefix at `t` (UTC); `errorOutputType` is only allowed in error output prefixes. */
export function evaluatePrefix(prefix: string, t: Date, errorOutputType?: string): string {
  const hasExpr = /!\{[^}]+\}/.test(prefix);
  const ts = (fmt: string): string => fmt
    .replace(/yyyy/g, String(t.getUTCFullYear()))
    .replace(/MM/g, pad(t.getUTCMonth() + 1))
    .replace(/dd/g, pad(t.getUTCDate()))
    .replace(/HH/g, pad(t.getUTCHours()))
    .replace(/mm/g, pad(t.getUTCMinutes()))
    .replace(/ss/g, pad(t.getUTCSeconds()));
  const out = prefix.replace(/!\{([^}:]+):([^}]*)\}/g, (_m, ns: string, arg: string) => {
    if (ns === 'timestamp') return ts(arg);
    if (ns === 'firehose' && arg === 'random-string') return randomUUID().replace(/-/g, '').slice(0, 11);
    if (ns === 'firehose' && arg === 'error-output-type' && errorOutputType !== undefined) return errorOutputType;
    throw new Error(`prefix expression !{${ns}:${arg}} is not supported locally`);
  });
  return hasExpr ? out : `${out}${t.getUTCFullYear()}/${pad(t.getUTCMonth() + 1)}/${pad(t.getUTCDate())}/${pad(t.getUTCHours())}/`;
}

function planOf(d: ProvisionedStack['deliveryStreams'][number], provisioned: ProvisionedStack): Plan {
  const p = d.props;
  const fail = (prop: string, detail: string): never => { throw new UnsupportedTemplateError(d.logicalId, TYPE, prop, detail); };
  const type = String(p.DeliveryStreamType ?? 'DirectPut');
  if (type !== 'KinesisStreamAsSource') fail('DeliveryStreamType', `${type}: only KinesisStreamAsSource delivery streams run locally (there is no local Firehose API to put to)`);
  const source = p.KinesisStreamSourceConfiguration as { KinesisStreamARN?: string; RoleARN?: string } | undefined;
  const stream = provisioned.streams.find((s) => s.arn === source?.KinesisStreamARN);
  if (!stream) fail('KinesisStreamSourceConfiguration', `${source?.KinesisStreamARN} is not a stream of this stack`);
  const destProp = p.ExtendedS3DestinationConfiguration !== undefined ? 'ExtendedS3DestinationConfiguration' : 'S3DestinationConfiguration';
  const dest = p[destProp] as Record<string, unknown> | undefined;
  if (!dest) fail('ExtendedS3DestinationConfiguration', 'an S3 destination is required locally (other destinations are not supported)');
  const allowed = new Set(['BucketARN', 'Prefix', 'ErrorOutputPrefix', 'BufferingHints', 'CompressionFormat', 'RoleARN', 'EncryptionConfiguration',
    'CloudWatchLoggingOptions', 'S3BackupMode', 'ProcessingConfiguration', 'DataFormatConversionConfiguration', 'DynamicPartitioningConfiguration', 'FileExtension', 'CustomTimeZone']);
  for (const k of Object.keys(dest!)) if (!allowed.has(k)) fail(`${destProp}.${k}`, 'is not supported locally');
  for (const k of ['DataFormatConversionConfiguration', 'DynamicPartitioningConfiguration']) {
    if ((dest![k] as { Enabled?: unknown } | undefined)?.Enabled === true || (dest![k] as { Enabled?: unknown } | undefined)?.Enabled === 'true') fail(`${destProp}.${k}`, 'is not supported locally');
  }
  if (dest!.S3BackupMode !== undefined && dest!.S3BackupMode !== 'Disabled') fail(`${destProp}.S3BackupMode`, 'source record backup is not supported locally');
  if (dest!.CustomTimeZone !== undefined && dest!.CustomTimeZone !== 'UTC') fail(`${destProp}.CustomTimeZone`, 'only UTC prefixes are evaluated locally');
  const bucketArn = String(dest!.BucketARN);
  const bucket = provisioned.buckets.find((b) => b.arn === bucketArn)?.name ?? fail(`${destProp}.BucketARN`, `${bucketArn} is not a bucket of this stack`);
  const compression = String(dest!.CompressionFormat ?? 'UNCOMPRESSED');
  if (compression !== 'UNCOMPRESSED' && compression !== 'GZIP') fail(`${destProp}.CompressionFormat`, `${compression} is not supported locally (UNCOMPRESSED and GZIP are)`);
  const hints = (dest!.BufferingHints ?? {}) as { IntervalInSeconds?: number; SizeInMBs?: number };
  const prefix = String(dest!.Prefix ?? '');
  try { evaluatePrefix(prefix, new Date()); } catch (e) { fail(`${destProp}.Prefix`, (e as Error).message); }
  const errorPrefix = String(dest!.ErrorOutputPrefix ?? '');
  try { evaluatePrefix(errorPrefix, new Date(), 'processing-failed'); } catch (e) { fail(`${destProp}.ErrorOutputPrefix`, (e as Error).message); }
  let processor: Processor | undefined;
  let appendDelimiter = false;
  type ProcessorDef = { Type: string; Parameters?: Array<{ ParameterName: string; ParameterValue: string }> };
  const processing = dest!.ProcessingConfiguration as { Enabled?: unknown; Processors?: ProcessorDef[] } | undefined;
  if (processing && (processing.Enabled === true || processing.Enabled === 'true')) {
    (processing.Processors ?? []).forEach((pr, i) => {
      const params = Object.fromEntries((pr.Parameters ?? []).map((x) => [x.ParameterName, x.ParameterValue]));
      if (pr.Type === 'AppendDelimiterToRecord') { appendDelimiter = true; return; }
      if (pr.Type !== 'Lambda') fail(`${destProp}.ProcessingConfiguration.Processors[${i}]`, `processor type ${pr.Type} is not supported locally (Lambda and AppendDelimiterToRecord are)`);
      if (processor) fail(`${destProp}.ProcessingConfiguration.Processors[${i}]`, 'a second Lambda processor is not supported');
      const functionArn = String(params.LambdaArn ?? '');
      if (!provisioned.functions.some((f) => f.functionArn === functionArn || functionArn.startsWith(`${f.functionArn}:`))) {
        fail(`${destProp}.ProcessingConfiguration.Processors[${i}]`, `LambdaArn ${functionArn} is not a function of this stack`);
      }
      processor = {
        functionArn,
        bufferBytes: Math.round(Number(params.BufferSizeInMBs ?? 1) * 1_048_576),
        retries: Number(params.NumberOfRetries ?? 3),
      };
    });
  }
  return {
    logicalId: d.logicalId,
    arn: d.arn,
    streamArn: stream!.arn,
    sourceRoleArn: String(source?.RoleARN ?? ''),
    destinationRoleArn: String(dest!.RoleARN ?? ''),
    errorPrefix,
    processor,
    appendDelimiter,
    name: d.name,
    streamName: stream!.name,
    bucket,
    prefix,
    intervalMs: firehoseBufferDelayMs(hints),
    sizeBytes: Number(hints.SizeInMBs ?? 5) * 1_048_576,
    gzip: compression === 'GZIP',
    extension: dest!.FileExtension !== undefined ? String(dest!.FileExtension) : compression === 'GZIP' ? '.gz' : '',
  };
}

interface SourceRecord {
  data: Buffer;
  sequenceNumber: string;
  partitionKey: string;
  shardId: string;
  arrivedAt: number;
}

type ProcessorResponse = Array<{ recordId?: string; result?: string; data?: string }>;
type FailedRecord = { r: SourceRecord; code: string; message: string; attempts: number };

interface DeliveryOptions {
  readonly log: (line: string) => void;
  readonly now: () => number;
  /** Clients signed as a role Firehose assumes (the operator's with IAM off). */
  readonly clientsOfRole: (roleArn: string) => LocalClients;
  /** IAM on: the destination role must be allowed to invoke the processor. */
  readonly authz?: InProcessAuthorizer;
}

export function startDeliveryStreams(
  provisioned: ProvisionedStack,
  functions: readonly LocalFunction[],
  opts: DeliveryOptions,
): LocalDeliveryStreams {
  const plans = provisioned.deliveryStreams.map((d) => planOf(d, provisioned));
  const abort = new AbortController();
  const streams = plans.map((p) => new DeliveryStream(p, functions, opts, abort.signal));
  const loops = streams.map((d) => d.run());
  if (plans.length > 0) {
    opts.log(`${plans.length} delivery stream(s) run locally: ${plans.map((p) => `${p.logicalId} ${p.streamName} -> ${p.processor ? `${p.processor.functionArn.split(':').pop()} -> ` : ''}s3://${p.bucket}/${p.prefix}`).join(', ')}`);
  }
  return {
    stats: Object.fromEntries(streams.map((d) => [d.plan.logicalId, d.stats])),
    flush: async () => { for (const d of streams) await d.flush(); },
    stop: async () => { abort.abort(); await Promise.allSettled(loops); },
  };
}

/** One delivery stream: reads its source shards into a buffer and writes the buffer as objects (through its processor). */
class DeliveryStream {
  readonly stats: DeliveryStats = {
    records: 0, bytes: 0, objects: 0, keys: [], processorInvocations: 0, dropped: 0, processingFailed: 0, tooLarge: 0,
  };
  private buffer: SourceRecord[] = [];
  private bufferBytes = 0;
  private bufferSince: number;
  private readonly iterators = new Map<string, string | undefined>();
  /** Per shard, the sequence number of the last record read (where an expired iterator resumes). */
  private readonly lastSequence = new Map<string, string>();
  /** Reads and writes are serialized: the polling loop and the final flush share the shard iterators and the buffer. */
  private chain: Promise<unknown> = Promise.resolve();
  private readonly processorFn?: LocalFunction;
  /** Source reads with the source role, bucket writes with the destination role. */
  private readonly source: LocalClients;
  private readonly destination: LocalClients;

  constructor(
    readonly plan: Plan,
    functions: readonly LocalFunction[],
    private readonly opts: DeliveryOptions,
    private readonly signal: AbortSignal,
  ) {
    this.source = opts.clientsOfRole(plan.sourceRoleArn);
    this.destination = opts.clientsOfRole(plan.destinationRoleArn);
    this.bufferSince = opts.now();
    const arn = plan.processor?.functionArn;
    this.processorFn = arn ? functions.find((f) => arn === f.functionArn || arn.startsWith(`${f.functionArn}:`)) : undefined;
  }

  /** The polling loop: reads every shard once a second until stopped. */
  async run(): Promise<void> {
    while (!this.signal.aborted) {
      try {
        await this.serialized(() => this.readOnce());
      } catch (e) {
        if (!this.signal.aborted) this.opts.log(`${this.plan.logicalId}: delivery from ${this.plan.streamName} failed: ${(e as Error).message}`);
      }
      await abortableSleep(1000, this.signal);
    }
  }

  /** Reads the source to its current end and writes what is buffered (waiting out read throttling, boundedly). */
  flush(): Promise<void> {
    return this.serialized(async () => {
      let reads = 0;
      let throttledRounds = 0;
      while (reads < 100 && throttledRounds < MAX_THROTTLED_FLUSH_ROUNDS && !this.signal.aborted) {
        const state = await this.readOnce();
        if (state === 'caught-up') break;
        if (state === 'throttled') {
          throttledRounds++;
          await abortableSleep(1000, this.signal);
        } else {reads++;}
      }
      await this.write();
    });
  }

  private serialized<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.chain.then(fn, fn);
    this.chain = next.catch(() => undefined);
    return next;
  }

  /**
   * GetRecords on a shard as this delivery stream's consumer; an iterator that expired (unused for 5 minutes, e.g.
   * while a slow loop read other shards) is renewed after the last record read, as Firehose resumes from its checkpoint.
   */
  private async getRecords(shardId: string, iterator: string): Promise<GetRecordsCommandOutput> {
    const kinesis = this.source.kinesis;
    const consumer = `firehose:${this.plan.name}`;
    try {
      return await kinesis.send(consumerGetRecords({ ShardIterator: iterator, Limit: 10_000 }, consumer), { abortSignal: this.signal });
    } catch (e) {
      if ((e as Error).name !== 'ExpiredIteratorException') throw e;
      const last = this.lastSequence.get(shardId);
      const renewed = await kinesis.send(new GetShardIteratorCommand({
        StreamName: this.plan.streamName, ShardId: shardId, ...(last ? { ShardIteratorType: 'AFTER_SEQUENCE_NUMBER', StartingSequenceNumber: last } : { ShardIteratorType: 'TRIM_HORIZON' }),
      }));
      return kinesis.send(consumerGetRecords({ ShardIterator: renewed.ShardIterator, Limit: 10_000 }, consumer), { abortSignal: this.signal });
    }
  }

  /** Reads every shard once: all caught up, some behind, or some refused by the shard's read limits (read again later). */
  private async readOnce(): Promise<'caught-up' | 'behind' | 'throttled'> {
    const { plan: p, source: clients, opts } = this;
    const shards = (await clients.kinesis.send(new ListShardsCommand({ StreamName: p.streamName }))).Shards ?? [];
    let state: 'caught-up' | 'behind' | 'throttled' = 'caught-up';
    for (const s of shards) {
      const id = s.ShardId!;
      if (!this.iterators.has(id)) {
        const res = await clients.kinesis.send(new GetShardIteratorCommand({ StreamName: p.streamName, ShardId: id, ShardIteratorType: 'TRIM_HORIZON' }));
        this.iterators.set(id, res.ShardIterator);
      }
      const it = this.iterators.get(id);
      if (!it) continue;
      const res = await this.getRecords(id, it)
        .catch((e: Error) => { if (e.name === 'ProvisionedThroughputExceededException') return undefined; throw e; });
      if (!res) { state = 'throttled'; continue; }
      this.iterators.set(id, res.NextShardIterator);
      for (const r of res.Records ?? []) {
        this.lastSequence.set(id, r.SequenceNumber ?? '');
        const data = Buffer.from(r.Data ?? new Uint8Array());
        if (data.length > FIREHOSE_RECORD_BYTES) { this.recordTooLarge(id, r.SequenceNumber ?? '', data.length); continue; }
        this.buffer.push({ data, sequenceNumber: r.SequenceNumber ?? '', partitionKey: r.PartitionKey ?? '', shardId: id, arrivedAt: r.ApproximateArrivalTimestamp?.getTime() ?? opts.now() });
        this.bufferBytes += data.length;
        if (this.bufferBytes >= p.sizeBytes) await this.write();
      }
      if (state === 'caught-up' && ((res.Records ?? []).length > 0 || (res.MillisBehindLatest ?? 0) > 0)) state = 'behind';
    }
    if (this.buffer.length > 0 && opts.now() - this.bufferSince >= p.intervalMs) await this.write();
    return state;
  }

  /**
   * A source record above Firehose's record limit (1,000 KiB of data, API reference `Record`). AWS does not document
   * what a Kinesis-source delivery stream does with one; locally it is not delivered, counted and logged (an assumption,
   * docs/local-environment.md).
   */
  private recordTooLarge(shardId: string, sequenceNumber: string, bytes: number): void {
    this.stats.tooLarge++;
    const limit = `Firehose's ${FIREHOSE_RECORD_BYTES}-byte record limit`;
    this.opts.log(`${this.plan.logicalId}: record ${sequenceNumber} of ${shardId} is ${bytes} bytes, above ${limit}: not delivered`);
  }

  /** Writes the buffer as one object (after the processors). */
  private async write(): Promise<void> {
    if (this.buffer.length === 0) return;
    const { plan: p, stats: st } = this;
    const records = this.buffer;
    this.buffer = [];
    this.bufferBytes = 0;
    this.bufferSince = this.opts.now();
    st.records += records.length;
    let parts = await this.process(records);
    if (p.appendDelimiter) parts = parts.map((b) => Buffer.concat([b, Buffer.from('\n')]));
    if (parts.length === 0) return;
    const body = Buffer.concat(parts);
    const key = await this.putObject(evaluatePrefix(p.prefix, new Date(this.opts.now())), body, p.gzip, p.extension);
    st.objects++;
    st.bytes += body.length;
    if (st.keys.length < 100) st.keys.push(key);
  }

  private async putObject(prefix: string, body: Buffer, gzip: boolean, extension: string): Promise<string> {
    const t = new Date(this.opts.now());
    const stamp = `${t.getUTCFullYear()}-${pad(t.getUTCMonth() + 1)}-${pad(t.getUTCDate())}-${pad(t.getUTCHours())}-${pad(t.getUTCMinutes())}-${pad(t.getUTCSeconds())}`;
    const key = `${prefix}${this.plan.name}-1-${stamp}-${randomUUID()}${extension}`;
    await this.destination.s3.send(new PutObjectCommand({ Bucket: this.plan.bucket, Key: key, Body: gzip ? gzipSync(body) : body }));
    return key;
  }

  /** Runs the Lambda processor over the records; returns the delivered data and writes failures to the error output. */
  private async process(records: SourceRecord[]): Promise<Buffer[]> {
    const processor = this.plan.processor;
    if (!processor || !this.processorFn) return records.map((r) => r.data);
    const out: Buffer[] = [];
    const failed: FailedRecord[] = [];
    for (let start = 0; start < records.length;) {
      // Chunks of BufferSizeInMBs (at least one record), within Lambda's 6 MB synchronous payload.
      let end = start;
      let size = 0;
      while (end < records.length && (end === start || size + records[end].data.length * 1.4 < Math.min(processor.bufferBytes, 5_500_000))) {
        size += records[end].data.length * 1.4;
        end++;
      }
      await this.processChunk(records.slice(start, end), out, failed);
      start = end;
    }
    if (failed.length > 0) await this.writeFailures(failed);
    return out;
  }

  /** One processor invocation (with its retries) over a chunk: delivered data into `out`, failures into `failed`. */
  private async processChunk(chunk: SourceRecord[], out: Buffer[], failed: FailedRecord[]): Promise<void> {
    const { plan: p, stats: st } = this;
    const ids = chunk.map((_, i) => `${Date.now()}${String(i).padStart(6, '0')}`);
    const event = {
      invocationId: randomUUID(),
      deliveryStreamArn: p.arn,
      sourceKinesisStreamArn: p.streamArn,
      region: 'us-east-1',
      records: chunk.map((r, i) => ({
        recordId: ids[i],
        approximateArrivalTimestamp: r.arrivedAt,
        data: r.data.toString('base64'),
        kinesisRecordMetadata: {
          sequenceNumber: r.sequenceNumber,
          subsequenceNumber: 0,
          partitionKey: r.partitionKey,
          shardId: r.shardId,
          approximateArrivalTimestamp: r.arrivedAt,
        },
      })),
    };
    const denied = this.opts.authz?.authorize(invokeCall(p.processor!.functionArn, { kind: 'role', arn: p.destinationRoleArn }));
    if (denied?.kind === 'reject') {
      for (const r of chunk) failed.push({ r, code: 'Lambda.InvokeAccessDenied', message: denied.message, attempts: 1 });
      return;
    }
    let response: ProcessorResponse | undefined;
    let lastError = '';
    let attempts = 0;
    for (; attempts <= p.processor!.retries && !response; attempts++) {
      st.processorInvocations++;
      const res = await this.processorFn!.invoke(event);
      if (!res.ok) { lastError = `${res.errorType}: ${res.message}`; continue; }
      const recs = (res.payload as { records?: unknown } | null)?.records;
      if (!Array.isArray(recs)) { lastError = 'the processor response has no records array'; continue; }
      response = recs as ProcessorResponse;
    }
    if (!response) {
      for (const r of chunk) failed.push({ r, code: 'Lambda.FunctionError', message: lastError, attempts });
      return;
    }
    const byId = new Map(response.map((x) => [String(x.recordId), x]));
    chunk.forEach((r, i) => {
      const x = byId.get(ids[i]);
      if (!x) { failed.push({ r, code: 'Lambda.MissingRecordId', message: `record ${ids[i]} is missing from the response`, attempts }); return; }
      if (x.result === 'Ok' && typeof x.data === 'string') out.push(Buffer.from(x.data, 'base64'));
      else if (x.result === 'Dropped') st.dropped++;
      else failed.push({ r, code: 'Lambda.ProcessingFailed', message: `result ${String(x.result)}`, attempts });
    });
  }

  /** Failed records as JSON lines under the error prefix (`processing-failed`), as Firehose writes them. */
  private async writeFailures(failed: FailedRecord[]): Promise<void> {
    const { plan: p, opts } = this;
    this.stats.processingFailed += failed.length;
    const lines = failed.map((f) => JSON.stringify({
      attemptsMade: f.attempts,
      arrivalTimestamp: f.r.arrivedAt,
      errorCode: f.code,
      errorMessage: f.message,
      attemptEndingTimestamp: opts.now(),
      rawData: f.r.data.toString('base64'),
      lambdaArn: p.processor!.functionArn,
    }));
    await this.putObject(evaluatePrefix(p.errorPrefix, new Date(opts.now()), 'processing-failed'), Buffer.from(`${lines.join('\n')}\n`), false, '');
    opts.log(`${p.logicalId}: ${failed.length} record(s) failed the processor ${p.processor!.functionArn.split(':').pop()} (written under ${p.errorPrefix || 'the error prefix'})`);
  }
}
