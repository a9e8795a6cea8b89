/**
 * The Phoenix drill on the local environment: prove that a pipeline can be destroyed and rebuilt from its template
 * and its raw archive alone.
 *
 * 1. Start the emulators, create the stack's resources from the template, run its functions and event source
 *    mappings, put a workload (the clickstream generator) on the pipeline's stream, and archive the stream the way
 *    RawArchive does (Firehose + the framer: archive record v1 lines, GZIP, `raw/YYYY/MM/DD/HH/`).
 * 2. Hash the sink state: canonical and order-independent, sorted by id, over payload and eventTime (not hops, not
 *    the replay mark).
 * 3. Destroy every resource except the archive bucket (streams, queues, tables, other buckets; functions and pollers
 *    stopped), then recreate everything from the template.
 * 4. Replay the archive onto the recreated stream with the replay engine, let the pipeline process it, hash again.
 * The two hashes must be equal.
 *
 * The archive bucket is the template's RawArchive bucket when the stack has one, else a drill bucket. Its delivery
 * stream runs here (archiveLoop), since the local Firehose loop does not run Lambda processors.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';
import { DeleteTableCommand } from '@aws-sdk/client-dynamodb';
import { DeleteStreamCommand, GetRecordsCommand, GetShardIteratorCommand, ListShardsCommand } from '@aws-sdk/client-kinesis';
import { CreateBucketCommand, DeleteBucketCommand, DeleteObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { DeleteQueueCommand } from '@aws-sdk/client-sqs';
import { canonicalJson, contentHash, idNamespaceFor } from '../core';
import { ARCHIVE_PREFIX, frameFirehoseRecords } from './archive';
import { runReplay, type ReplaySummary } from './engine';
import { parseFilter } from './filter';
import { loadConfig, type IngestConfig } from '../handlers/config';
import { compileValidator } from '../handlers/schema';
import { loadAssembly, selectStack, synthesize } from '../local/assembly';
import { createLocalClients, type LocalClients } from '../local/clients';
import { startEmulators, type RunningEmulators } from '../local/emulators';
import { eventSourceKind, KinesisEventSourcePoller, parseKinesisMapping, type EventSourcePoller, type MappingParseContext } from '../local/esm';
import { LocalFunction, stageFunctionCode } from '../local/functions';
import { Lifecycle } from '../local/lifecycle';
import { MetricsStore } from '../local/metrics';
import { childScript } from '../local/paths';
import { produce } from '../local/producer';
import { DEFAULT_ON_DEMAND_SHARDS, provision, type ProvisionedStack } from '../local/provision';
import { Random } from '../local/random';
import { LocalStack } from '../local/template/stack';
import { readSink, type SinkEnvelope } from '../local/verify';
import { ClickstreamWorkload, type PipelineRules } from '../local/workload';
import { PhoenixError } from '../core/errors';

export interface DrillOptions {
  readonly cwd: string;
  readonly app?: string;
  readonly assembly?: string;
  readonly stack?: string;
  readonly records: number;
  readonly seed?: number;
  readonly poisonRate?: number;
  readonly duplicateRate?: number;
  /** Bound on waiting for the pipeline to process everything (default 120 s). */
  readonly drainTimeoutMs?: number;
  readonly runsDir?: string;
  readonly log?: (line: string) => void;
  readonly onPhase?: (phase: DrillPhase) => void;
  readonly signal?: AbortSignal;
}

export type DrillPhase = 'synth' | 'start' | 'produce' | 'drain' | 'hash' | 'destroy' | 'recreate' | 'replay' | 'done';

export interface DrillReport {
  stack: string;
  runDir: string;
  records: number;
  /** Hash of the sink state before the destruction, and after the rebuild from the archive. */
  before: { hash: string; items: number };
  after: { hash: string; items: number };
  equal: boolean;
  /** When they differ: the first ids whose state differs (bounded). */
  differences: Array<{ id: string; before?: string; after?: string }>;
  archive: { bucket: string; prefix: string; objects: number; records: number; fromTemplate: boolean };
  destroyed: { streams: number; queues: number; tables: number; buckets: number };
  replay: ReplaySummary;
  durationsMs: Record<string, number>;
}

export class DrillError extends PhoenixError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('DRILL', message, options);
  }
}

/** One sink item's hashed state: canonical JSON of { eventTime, payload }. */
function itemState(e: SinkEnvelope): string {
  return canonicalJson({ eventTime: e.eventTime ? new Date(Date.parse(e.eventTime)).toISOString() : null, payload: e.payload });
}

/**
 * Canonical, order-independent hash of a sink: per id the newest version (eventTime, then content hash, as the
 * idempotent sinks decide), sorted by id, sha256 over `id \t canonical({eventTime, payload}) \n`. Hops and replay marks
 * are not hashed.
 */
export function sinkHash(items: readonly SinkEnvelope[]): { hash: string; states: Map<string, string> } {
  const best = new Map<string, SinkEnvelope>();
  for (const e of items) {
    const cur = best.get(e.id);
    if (!cur) { best.set(e.id, e); continue; }
    const a = [cur.eventTime ?? '', contentHash(cur.payload)];
    const b = [e.eventTime ?? '', contentHash(e.payload)];
    if (b[0] > a[0] || (b[0] === a[0] && b[1] > a[1])) best.set(e.id, e);
  }
  const states = new Map<string, string>();
  const h = createHash('sha256');
  for (const id of [...best.keys()].sort()) {
    const s = itemState(best.get(id)!);
    states.set(id, s);
    h.update(`${id}\t${s}\n`);
  }
  return { hash: h.digest('hex'), states };
}

interface Running {
  readonly functions: LocalFunction[];
  readonly pollers: EventSourcePoller[];
  stop(): Promise<void>;
}

interface Pipeline {
  readonly config: IngestConfig;
  readonly rules: PipelineRules;
  readonly streamName: string;
  readonly streamArn: string;
}

function runId(): string {
  return new Date().toISOString().replace(/[-:]/g, '').replace('T', '-').replace(/\..*$/, '') + `-drill-${process.pid}`;
}

/** The RawArchive of the template: a delivery stream from the pipeline's stream whose processor is the archive framer. */
function templateArchive(p: ProvisionedStack, streamArn: string): { bucket: string; prefix: string } | undefined {
  for (const d of p.deliveryStreams) {
    const src = (d.props.KinesisStreamSourceConfiguration as { KinesisStreamARN?: string } | undefined)?.KinesisStreamARN;
    const dest = d.props.ExtendedS3DestinationConfiguration as { BucketARN?: string; Prefix?: string } | undefined;
    if (src !== streamArn || !dest?.BucketARN) continue;
    const bucket = p.buckets.find((b) => b.arn === dest.BucketARN)?.name;
    if (!bucket) continue;
    const prefix = (dest.Prefix ?? ARCHIVE_PREFIX).replace(/!\{.*$/, '') || ARCHIVE_PREFIX;
    return { bucket, prefix };
  }
  return undefined;
}

/** Reads the source stream and writes framed archive objects, as RawArchive's delivery stream does. */
class ArchiveLoop {
  objects = 0;
  records = 0;
  private readonly iterators = new Map<string, string | undefined>();

  constructor(private readonly clients: LocalClients, private readonly stream: string, private readonly streamArn: string,
    private readonly bucket: string, private readonly prefix: string) {}

  /** Reads every shard to its current end and writes what it read as one object per shard. */
  async flush(): Promise<void> {
    const shards = (await this.clients.kinesis.send(new ListShardsCommand({ StreamName: this.stream }))).Shards ?? [];
    for (const s of shards) {
      const id = s.ShardId!;
      if (!this.iterators.has(id)) {
        const res = await this.clients.kinesis.send(new GetShardIteratorCommand({ StreamName: this.stream, ShardId: id, ShardIteratorType: 'TRIM_HORIZON' }));
        this.iterators.set(id, res.ShardIterator);
      }
      type Meta = { shardId: string; partitionKey: string; sequenceNumber: string; approximateArrivalTimestamp: number };
      const recs: Array<{ recordId: string; data: string; kinesisRecordMetadata: Meta }> = [];
      for (let i = 0; i < 10_000; i++) {
        const it = this.iterators.get(id);
        if (!it) break;
        const r = await this.clients.kinesis.send(new GetRecordsCommand({ ShardIterator: it, Limit: 10_000 }));
        this.iterators.set(id, r.NextShardIterator);
        for (const x of r.Records ?? []) {
          recs.push({
            recordId: String(recs.length),
            data: Buffer.from(x.Data!).toString('base64'),
            kinesisRecordMetadata: {
              shardId: id,
              partitionKey: x.PartitionKey!,
              sequenceNumber: x.SequenceNumber!,
              approximateArrivalTimestamp: x.ApproximateArrivalTimestamp!.getTime(),
            },
          });
        }
        if ((r.Records ?? []).length === 0 && (r.MillisBehindLatest ?? 0) === 0) break;
      }
      if (recs.length === 0) continue;
      const framed = frameFirehoseRecords({ sourceKinesisStreamArn: this.streamArn, records: recs });
      const first = new Date(recs[0].kinesisRecordMetadata.approximateArrivalTimestamp).toISOString();
      const hour = `${first.slice(0, 4)}/${first.slice(5, 7)}/${first.slice(8, 10)}/${first.slice(11, 13)}/`;
      const key = `${this.prefix}${hour}drill-${id}-${this.objects}.gz`;
      const body = gzipSync(Buffer.concat(framed.records.map((r) => Buffer.from(r.data, 'base64'))));
      await this.clients.s3.send(new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: body }));
      this.objects++;
      this.records += recs.length;
    }
  }
}

export async function runDrill(opts: DrillOptions): Promise<DrillReport> {
  const log = opts.log ?? (() => undefined);
  const phase = (p: DrillPhase): void => opts.onPhase?.(p);
  const runDir = path.join(opts.runsDir ?? path.join(opts.cwd, '.phoenix', 'runs'), runId());
  mkdirSync(path.join(runDir, 'logs'), { recursive: true });
  const life = new Lifecycle();
  const durations: Record<string, number> = {};
  let t = Date.now();
  const lap = (name: string): void => { durations[name] = Date.now() - t; t = Date.now(); };
  const check = (): void => { if (opts.signal?.aborted) throw new DrillError('interrupted'); };
  const drainMs = opts.drainTimeoutMs ?? 120_000;
  try {
    phase('synth');
    const assemblyDir = opts.assembly
      ? path.resolve(opts.cwd, opts.assembly)
      : await synthesize({
        app: opts.app,
        cwd: opts.cwd,
        outDir: path.join(runDir, 'cdk.out'),
        onOutput: (s) => writeFileSync(path.join(runDir, 'logs', 'synth.log'), s, { flag: 'a' }),
        track: (pid) => life.track(pid),
      });
    const assembly = selectStack(loadAssembly(assemblyDir), opts.stack);
    lap('synth');
    check();

    phase('start');
    const stack = new LocalStack(assembly.stackName, assembly.template);
    stack.creationOrder();
    const emulators: RunningEmulators = await startEmulators({ runDir, region: stack.region });
    life.add('emulators', () => emulators.stop());
    const untrack = life.track(emulators.pid);
    life.add('emulator pid', () => untrack());
    stack.bindEndpoints({ sqs: emulators.endpoints.fauxqs });
    const clients = createLocalClients(emulators.endpoints, stack.region);
    life.add('clients', () => clients.destroy());
    const metrics = new MetricsStore();
    const random = new Random(opts.seed ?? 1);
    const runnerScript = childScript('function-runner', path.join(runDir, 'bin'));

    let archive: { bucket: string; prefix: string; fromTemplate: boolean } | undefined;
    /** Creates the resources (the retained archive bucket is kept when it already exists) and starts the pipeline. */
    const bringUp = async (): Promise<{ provisioned: ProvisionedStack; running: Running; pipeline: Pipeline }> => {
      const keep = archive?.bucket;
      const s3 = clients.s3;
      const guarded: LocalClients = {
        ...clients,
        s3: new Proxy(s3, {
          get(target, prop, receiver) {
            if (prop !== 'send') return Reflect.get(target, prop, receiver);
            return (cmd: unknown, ...rest: unknown[]) => {
              // The archive bucket survived the destruction: its "creation" from the template finds it in place.
              if (keep && cmd instanceof CreateBucketCommand && cmd.input.Bucket === keep) return Promise.resolve({});
              return (target.send as (c: unknown, ...r: unknown[]) => Promise<unknown>)(cmd, ...rest);
            };
          },
        }),
      };
      const provisioned = await provision(stack, assembly, guarded, { onDemandShards: DEFAULT_ON_DEMAND_SHARDS, runDir, log });
      // Task roots outside the project, as lib/local does: only the AWS SDK is resolvable above them, as in Lambda.
      const taskRoots = mkdtempSync(path.join(os.tmpdir(), 'phoenix-drill-functions-'));
      life.add('function code', () => rmSync(taskRoots, { recursive: true, force: true }));
      const functions: LocalFunction[] = provisioned.functions.map((def) => new LocalFunction(stageFunctionCode(def, taskRoots), {
        runnerScript,
        logDir: path.join(runDir, 'logs'),
        region: stack.region,
        endpoints: {
          kinesis: emulators.endpoints.kinesis,
          dynamodb: emulators.endpoints.dynamodb,
          sqs: emulators.endpoints.fauxqs,
          s3: emulators.endpoints.fauxqs,
          sns: emulators.endpoints.fauxqs,
        },
        metrics,
        maxEnvironments: 2,
        faults: { throttleRate: 0, crashRate: 0 },
        random,
        track: (pid) => life.track(pid),
      }));
      const stopFns = async (): Promise<void> => { await Promise.all(functions.map((f) => f.stop())); };
      try {
        await Promise.all(functions.map((f) => f.warmUp()));
      } catch (e) {
        await stopFns();
        throw e;
      }
      const pollers: EventSourcePoller[] = [];
      const windowed: EventSourcePoller[] = [];
      let pipeline: Pipeline | undefined;
      const queueUrlForArn = (arn: string): string => {
        const q = provisioned.queues.find((x) => x.arn === arn);
        if (!q) throw new DrillError(`queue ${arn} is not a queue of this stack`);
        return q.url;
      };
      for (const m of provisioned.mappings) {
        const ctx: MappingParseContext = { uuid: m.uuid, region: stack.region, accountId: stack.accountId, logicalId: m.logicalId, queueUrlForArn };
        if (eventSourceKind(m.props, ctx) !== 'kinesis') continue;
        const config = parseKinesisMapping(m.props, ctx);
        const ref = String(m.props.FunctionName);
        const name = ref.startsWith('arn:') ? ref.split(':')[6] : ref;
        const fn = functions.find((f) => f.functionName === name || f.functionArn === ref);
        if (!fn) continue;
        const esmClients = { kinesis: clients.kinesis, sqs: clients.sqs, s3: clients.s3, sns: clients.sns };
        const poller = new KinesisEventSourcePoller(config, fn, esmClients, { log });
        // A tumbling-window mapping (the data-quality profiler) aggregates until its window closes and never writes the
        // sink: it runs, but the drill does not wait for its open window (as `phoenix local run`).
        if (config.tumblingWindowInSeconds > 0) windowed.push(poller);
        else pollers.push(poller);
        // The pipeline stage is the function with a sink (PHX_SINK_KIND); the profiler and normalizer have none.
        if (fn.def.environment.PHX_SINK_KIND !== undefined && !pipeline) {
          const cfg = loadConfig(fn.def.environment);
          pipeline = {
            config: cfg,
            rules: {
              namespace: cfg.idNamespace ?? idNamespaceFor(cfg.pipeline),
              keyFields: cfg.keyFields,
              validate: cfg.schema ? compileValidator(cfg.schema) : undefined,
              maxRecordBytes: cfg.maxRecordBytes,
            },
            streamName: config.streamName,
            streamArn: config.streamArn,
          };
        }
      }
      if (!pipeline) {
        await stopFns();
        throw new DrillError('the stack has no Kinesis event source mapping into a pipeline function (PHX_PIPELINE): nothing to drill');
      }
      for (const p of [...pollers, ...windowed]) p.start();
      const running: Running = {
        functions,
        pollers,
        stop: async () => {
          await Promise.all([...pollers, ...windowed].map((p) => p.stop()));
          await stopFns();
        },
      };
      return { provisioned, running, pipeline };
    };

    const drain = async (running: Running): Promise<void> => {
      const deadline = Date.now() + drainMs;
      for (let round = 0; round < 2; round++) {
        for (const p of running.pollers) {
          if (!(await p.drain({ timeoutMs: Math.max(0, deadline - Date.now()) }))) {
            throw new DrillError(`the pipeline did not finish processing within ${Math.round(drainMs / 1000)} s`);
          }
        }
      }
    };

    const first = await bringUp();
    let running: Running | undefined = first.running;
    life.add('pipeline', async () => { await running?.stop(); });
    const found = templateArchive(first.provisioned, first.pipeline.streamArn);
    if (found) {
      archive = { ...found, fromTemplate: true };
    } else {
      archive = { bucket: `phoenix-drill-archive-${process.pid}`, prefix: ARCHIVE_PREFIX, fromTemplate: false };
      await clients.s3.send(new CreateBucketCommand({ Bucket: archive.bucket }));
      log(`the stack has no RawArchive on ${first.pipeline.streamName}: the drill archives the stream into ${archive.bucket} the same way`);
    }
    const archiver = new ArchiveLoop(clients, first.pipeline.streamName, first.pipeline.streamArn, archive.bucket, archive.prefix);
    lap('start');
    check();

    phase('produce');
    const workload = new ClickstreamWorkload(
      { records: opts.records, seed: opts.seed ?? 1, poisonRate: opts.poisonRate ?? 0.02, duplicateRate: opts.duplicateRate ?? 0.02 },
      first.pipeline.rules,
    );
    for (const n of workload.notes) log(n);
    const stats = { put: 0, failed: 0, retriedEntries: 0, putRecordsCalls: 0 };
    await produce(clients.kinesis, workload, { streamName: first.pipeline.streamName, rate: 0, signal: opts.signal }, stats);
    if (stats.failed > 0) throw new DrillError(`${stats.failed} workload records could not be put on ${first.pipeline.streamName}`);
    lap('produce');
    phase('drain');
    await drain(first.running);
    await archiver.flush();
    lap('drain');
    check();

    phase('hash');
    const sinkKind = first.pipeline.config.sinkKind;
    if (sinkKind === 'none') throw new DrillError('the pipeline has no sink (PHX_SINK_KIND=none): there is no state to compare');
    const beforeItems = await readSink(clients, sinkKind, first.pipeline.config.sinkTarget!);
    const before = sinkHash(beforeItems);
    lap('hash');

    phase('destroy');
    await first.running.stop();
    running = undefined;
    const destroyed = { streams: 0, queues: 0, tables: 0, buckets: 0 };
    for (const s of first.provisioned.streams) {
      await clients.kinesis.send(new DeleteStreamCommand({ StreamName: s.name, EnforceConsumerDeletion: true }));
      destroyed.streams++;
    }
    for (const q of first.provisioned.queues) {
      await clients.sqs.send(new DeleteQueueCommand({ QueueUrl: q.url }));
      destroyed.queues++;
    }
    for (const tb of first.provisioned.tables) {
      await clients.dynamodb.send(new DeleteTableCommand({ TableName: tb.name }));
      destroyed.tables++;
    }
    for (const b of first.provisioned.buckets) {
      if (b.name === archive.bucket) continue;
      await emptyBucket(clients, b.name);
      await clients.s3.send(new DeleteBucketCommand({ Bucket: b.name }));
      destroyed.buckets++;
    }
    await waitStreamsGone(clients, first.provisioned.streams.map((s) => s.name));
    lap('destroy');
    check();

    phase('recreate');
    const second = await bringUp();
    running = second.running;
    const afterEmpty = await readSink(clients, sinkKind, second.pipeline.config.sinkTarget!);
    if (afterEmpty.length > 0) throw new DrillError(`the recreated sink is not empty (${afterEmpty.length} items): the destruction did not remove it`);
    lap('recreate');

    phase('replay');
    const replay = await runReplay({
      source: { kind: 'archive', bucket: archive.bucket, prefix: archive.prefix },
      filter: parseFilter({}),
      targetStream: second.pipeline.streamName,
      clients: { kinesis: clients.kinesis, s3: clients.s3 },
      signal: opts.signal,
    });
    if (replay.failed > 0) throw new DrillError(`${replay.failed} archived records were not accepted by Kinesis: ${replay.errors[0] ?? ''}`);
    await drain(second.running);
    const afterItems = await readSink(clients, sinkKind, second.pipeline.config.sinkTarget!);
    const after = sinkHash(afterItems);
    lap('replay');

    const differences: DrillReport['differences'] = [];
    for (const id of new Set([...before.states.keys(), ...after.states.keys()])) {
      if (before.states.get(id) !== after.states.get(id)) {
        differences.push({ id, before: before.states.get(id), after: after.states.get(id) });
        if (differences.length >= 20) break;
      }
    }
    phase('done');
    const report: DrillReport = {
      stack: assembly.displayName,
      runDir,
      records: opts.records,
      before: { hash: before.hash, items: before.states.size },
      after: { hash: after.hash, items: after.states.size },
      equal: before.hash === after.hash,
      differences,
      archive: {
        bucket: archive.bucket, prefix: archive.prefix, objects: archiver.objects, records: archiver.records, fromTemplate: archive.fromTemplate,
      },
      destroyed,
      replay,
      durationsMs: durations,
    };
    writeFileSync(path.join(runDir, 'drill.json'), `${JSON.stringify(report, null, 2)}\n`);
    return report;
  } finally {
    await life.stopAll();
  }
}

async function emptyBucket(clients: LocalClients, bucket: string): Promise<void> {
  let token: string | undefined;
  for (let i = 0; i < 10_000; i++) {
    const r = await clients.s3.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }));
    for (const o of r.Contents ?? []) await clients.s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: o.Key! }));
    if (!r.IsTruncated) return;
    token = r.NextContinuationToken;
  }
}

async function waitStreamsGone(clients: LocalClients, names: string[]): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const left = [];
    for (const n of names) {
      try {
        await clients.kinesis.send(new ListShardsCommand({ StreamName: n }));
        left.push(n);
      } catch {
        // gone
      }
    }
    if (left.length === 0) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new DrillError(`streams ${names.join(', ')} were not deleted`);
}
