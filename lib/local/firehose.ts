import { randomUUID } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { GetRecordsCommand, GetShardIteratorCommand, ListShardsCommand } from '@aws-sdk/client-kinesis';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import type { LocalClients } from './clients';
import type { ProvisionedStack } from './provision';
import { UnsupportedTemplateError } from './template/errors';

/**
 * Local Firehose delivery: for each `AWS::KinesisFirehose::DeliveryStream` with a Kinesis stream source and an S3
 * destination, a loop reads every shard of the source (once a second, like Firehose) and writes the concatenated
 * record data to the bucket when the buffer reaches SizeInMBs or IntervalInSeconds (and once more at the end of the
 * run), GZIP-compressed when CompressionFormat is GZIP. Keys follow Firehose: `<prefix><stream>-1-<yyyy-MM-dd-HH-mm-ss>-<uuid>[.gz]`,
 * the prefix evaluating `!{timestamp:...}` and `!{firehose:random-string}` expressions, or getting `YYYY/MM/dd/HH/`
 * appended when it has none.
 */

export interface DeliveryStats { records: number; bytes: number; objects: number; keys: string[] }

export interface LocalDeliveryStreams {
  readonly stats: Record<string, DeliveryStats>;
  /** Reads each source to its current end and writes every buffered record. */
  flush(): Promise<void>;
  stop(): Promise<void>;
}

interface Plan {
  logicalId: string;
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

function pad(n: number, w = 2): string {
  return String(n).padStart(w, '0');
}

/** Evaluates a Firehose S3 prefix at `t` (UTC). */
export function evaluatePrefix(prefix: string, t: Date): string {
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
    throw new Error(`prefix expression !{${ns}:${arg}} is not supported locally`);
  });
  return hasExpr ? out : `${out}${t.getUTCFullYear()}/${pad(t.getUTCMonth() + 1)}/${pad(t.getUTCDate())}/${pad(t.getUTCHours())}/`;
}

function plan(d: ProvisionedStack['deliveryStreams'][number], provisioned: ProvisionedStack): Plan {
  const p = d.props;
  const fail = (prop: string, detail: string): never => { throw new UnsupportedTemplateError(d.logicalId, TYPE, prop, detail); };
  const type = String(p.DeliveryStreamType ?? 'DirectPut');
  if (type !== 'KinesisStreamAsSource') fail('DeliveryStreamType', `${type}: only KinesisStreamAsSource delivery streams run locally (there is no local Firehose API to put to)`);
  const source = p.KinesisStreamSourceConfiguration as { KinesisStreamARN?: string } | undefined;
  const stream = provisioned.streams.find((s) => s.arn === source?.KinesisStreamARN);
  if (!stream) fail('KinesisStreamSourceConfiguration', `${source?.KinesisStreamARN} is not a stream of this stack`);
  const destProp = p.ExtendedS3DestinationConfiguration !== undefined ? 'ExtendedS3DestinationConfiguration' : 'S3DestinationConfiguration';
  const dest = p[destProp] as Record<string, unknown> | undefined;
  if (!dest) fail('ExtendedS3DestinationConfiguration', 'an S3 destination is required locally (other destinations are not supported)');
  const allowed = new Set(['BucketARN', 'Prefix', 'ErrorOutputPrefix', 'BufferingHints', 'CompressionFormat', 'RoleARN', 'EncryptionConfiguration',
    'CloudWatchLoggingOptions', 'S3BackupMode', 'ProcessingConfiguration', 'DataFormatConversionConfiguration', 'DynamicPartitioningConfiguration', 'FileExtension', 'CustomTimeZone']);
  for (const k of Object.keys(dest!)) if (!allowed.has(k)) fail(`${destProp}.${k}`, 'is not supported locally');
  for (const k of ['ProcessingConfiguration', 'DataFormatConversionConfiguration', 'DynamicPartitioningConfiguration']) {
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
  return {
    logicalId: d.logicalId,
    name: d.name,
    streamName: stream!.name,
    bucket,
    prefix,
    intervalMs: Number(hints.IntervalInSeconds ?? 300) * 1000,
    sizeBytes: Number(hints.SizeInMBs ?? 5) * 1_048_576,
    gzip: compression === 'GZIP',
    extension: dest!.FileExtension !== undefined ? String(dest!.FileExtension) : compression === 'GZIP' ? '.gz' : '',
  };
}

export function startDeliveryStreams(
  provisioned: ProvisionedStack,
  clients: LocalClients,
  opts: { log: (line: string) => void; now: () => number },
): LocalDeliveryStreams {
  const plans = provisioned.deliveryStreams.map((d) => plan(d, provisioned));
  const stats: Record<string, DeliveryStats> = {};
  const abort = new AbortController();
  const loops: Promise<void>[] = [];
  const flushers: Array<() => Promise<void>> = [];

  for (const p of plans) {
    const st: DeliveryStats = (stats[p.logicalId] = { records: 0, bytes: 0, objects: 0, keys: [] });
    let buffer: Buffer[] = [];
    let bufferBytes = 0;
    let bufferSince = opts.now();
    const iterators = new Map<string, string | undefined>();
    let writing = Promise.resolve();

    const write = (): Promise<void> => {
      writing = writing.then(async () => {
        if (buffer.length === 0) return;
        const body = Buffer.concat(buffer);
        const count = buffer.length;
        buffer = [];
        bufferBytes = 0;
        bufferSince = opts.now();
        const t = new Date(opts.now());
        const stamp = `${t.getUTCFullYear()}-${pad(t.getUTCMonth() + 1)}-${pad(t.getUTCDate())}-${pad(t.getUTCHours())}-${pad(t.getUTCMinutes())}-${pad(t.getUTCSeconds())}`;
        const key = `${evaluatePrefix(p.prefix, t)}${p.name}-1-${stamp}-${randomUUID()}${p.extension}`;
        await clients.s3.send(new PutObjectCommand({ Bucket: p.bucket, Key: key, Body: p.gzip ? gzipSync(body) : body }));
        st.objects++;
        st.records += count;
        st.bytes += body.length;
        if (st.keys.length < 100) st.keys.push(key);
      });
      return writing;
    };

    /** Reads every shard once; returns true when all shards are caught up. */
    const readOnce = async (): Promise<boolean> => {
      const shards = (await clients.kinesis.send(new ListShardsCommand({ StreamName: p.streamName }))).Shards ?? [];
      let caughtUp = true;
      for (const s of shards) {
        const id = s.ShardId!;
        if (!iterators.has(id)) {
          iterators.set(id, (await clients.kinesis.send(new GetShardIteratorCommand({ StreamName: p.streamName, ShardId: id, ShardIteratorType: 'TRIM_HORIZON' }))).ShardIterator);
        }
        const it = iterators.get(id);
        if (!it) continue;
        const res = await clients.kinesis.send(new GetRecordsCommand({ ShardIterator: it, Limit: 10_000 }), { abortSignal: abort.signal });
        iterators.set(id, res.NextShardIterator);
        for (const r of res.Records ?? []) {
          const data = Buffer.from(r.Data ?? new Uint8Array());
          buffer.push(data);
          bufferBytes += data.length;
          if (bufferBytes >= p.sizeBytes) await write();
        }
        if ((res.Records ?? []).length > 0 || (res.MillisBehindLatest ?? 0) > 0) caughtUp = false;
      }
      if (buffer.length > 0 && opts.now() - bufferSince >= p.intervalMs) await write();
      return caughtUp;
    };

    loops.push((async () => {
      while (!abort.signal.aborted) {
        try {
          await readOnce();
        } catch (e) {
          if (!abort.signal.aborted) opts.log(`${p.logicalId}: delivery from ${p.streamName} failed: ${(e as Error).message}`);
        }
        await new Promise<void>((resolve) => { const t = setTimeout(resolve, 1000); abort.signal.addEventListener('abort', () => { clearTimeout(t); resolve(); }, { once: true }); });
      }
    })());
    flushers.push(async () => {
      for (let i = 0; i < 100 && !(await readOnce()); i++) { /* read to the end */ }
      await write();
    });
  }
  if (plans.length > 0) opts.log(`${plans.length} delivery stream(s) run locally: ${plans.map((p) => `${p.logicalId} ${p.streamName} -> s3://${p.bucket}/${p.prefix}`).join(', ')}`);
  return {
    stats,
    flush: async () => { for (const f of flushers) await f(); },
    stop: async () => { abort.abort(); await Promise.allSettled(loops); },
  };
}
