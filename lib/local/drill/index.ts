/**
 * The Phoenix drill on the local environment: prove that a pipeline can be destroyed and rebuilt from its template
 * and its raw archive alone.
 *
 * 1. Start the emulators, create the stack's resources from the template, run its functions and event source
 *    mappings, put a workload (the clickstream generator) on the pipeline's stream, and archive the stream the way
 *    RawArchive does (Firehose + the framer: archive record v1 lines, GZIP, `raw/YYYY/MM/DD/HH/`).
 * 2. Hash the sink state: canonical and order-independent, sorted by id, over payload and eventTime (not hops, not
 *    the replay mark).
 * 3. Delete the stack as CloudFormation does (functions and pollers stopped first): the account model
 *    (lib/local/cloudformation) applies each resource's DeletionPolicy; what it deletes is deleted on the emulators,
 *    what it retains stays, orphaned, with its data. Then create the stack again: every generated name is new.
 * 4. Replay the old archive bucket (orphaned) into the re-created pipeline as `phoenix replay --from archive --stack`
 *    does (onto its current ingest stream, resolved from the new deployment), let the pipeline process it, hash again.
 *    The two hashes must be equal.
 *
 * The archive bucket is the template's RawArchive bucket when the stack has one (it must be retained: PhoenixMode
 * PRODUCTION), else a drill bucket outside the stack.
 */
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { archiveProtections } from './archive-checks';
import { ArchiveLoop, templateArchive } from './archive-loop';
import { deletionReport, destroyStack } from './destroy';
import { compareNames, deployedNames } from './names';
import { bringUp, type DrillEnv, type DrillPipeline, type PipelineUp, type Running } from './pipeline';
import { sinkHash, stateDifferences } from './sink-hash';
import { DrillError, type DrillOptions, type DrillPhase, type DrillReport } from './types';
import { REPLAY_ENV } from '../../handlers/replay';
import { ARCHIVE_PREFIX } from '../../replay/archive';
import { archiveReplayTarget, type ArchiveFlags, type ArchiveReplayTarget } from '../../replay/archive-target';
import { runReplay, type ReplaySummary } from '../../replay/engine';
import { parseFilter } from '../../replay/filter';
import type { CloudFormationModel, DeployResult, DestroyResult } from '../cloudformation/lifecycle';
import { summarizeDenials } from '../iam';
import { localPipelineOutputs } from '../keep';
import { Lifecycle } from '../lifecycle';
import { MetricsStore } from '../metrics';
import { childScript } from '../paths';
import { produce } from '../producer';
import type { ProvisionedStack } from '../provision';
import { Random } from '../random';
import { createRunDir, localAccountModel } from '../run/context';
import { drainPollers } from '../run/drain';
import { deployStack, PrincipalClients, rebindIam, startServices } from '../run/provision';
import { resolveOutputs } from '../run/report';
import { synthStack } from '../run/synth';
import { readSink } from '../verify';
import { ClickstreamWorkload } from '../workloads';

export { sinkHash } from './sink-hash';
export { DrillError, type DrillOptions, type DrillPhase, type DrillReport } from './types';

type Archive = { bucket: string; prefix: string; fromTemplate: boolean };

const drillFail = (message: string, cause: unknown): Error => new DrillError(message, { cause });

/** Times the drill's phases and reports them to `onPhase`; `check` throws once the drill is interrupted. */
class Phases {
  readonly durations: Record<string, number> = {};
  private t = Date.now();
  constructor(private readonly opts: DrillOptions) {}
  enter(p: DrillPhase): void { this.opts.onPhase?.(p); }
  lap(name: string): void { this.durations[name] = Date.now() - this.t; this.t = Date.now(); }
  check(): void { if (this.opts.signal?.aborted) throw new DrillError('interrupted'); }
}

export async function runDrill(opts: DrillOptions): Promise<DrillReport> {
  const log = opts.log ?? (() => undefined);
  const runDir = createRunDir(opts.cwd, opts.runsDir, 'drill-');
  const life = new Lifecycle();
  const ph = new Phases(opts);
  try {
    ph.enter('synth');
    const { assembly, stack } = await synthStack(opts, runDir, life);
    ph.lap('synth');
    ph.check();

    ph.enter('start');
    const model = localAccountModel();
    const firstNames = deployedNames(deployStack(model, stack, drillFail));
    const services = await startServices(stack, runDir, life, { iam: opts.iam });
    const env: DrillEnv = {
      stack,
      assembly,
      services,
      principals: new PrincipalClients(services, stack.region, life),
      runDir,
      life,
      log,
      metrics: new MetricsStore(),
      random: new Random(opts.seed ?? 1),
      runnerScript: childScript('function-runner', path.join(runDir, 'bin')),
    };
    const first = await bringUp(env);
    let running: Running | undefined = first.running;
    life.add('pipeline', async () => { await running?.stop(); });
    const archive = await chooseArchive(env, model, first);
    const archiver = new ArchiveLoop(
      services.clients, first.pipeline.streamName, first.pipeline.streamArn, archive.bucket, archive.prefix, first.pipeline.config.pipeline,
    );
    ph.lap('start');
    ph.check();

    await produceAndArchive(env, opts, ph, first.pipeline, first.running, archiver);

    ph.enter('hash');
    const sinkKind = first.pipeline.config.sinkKind;
    if (sinkKind === 'none') throw new DrillError('the pipeline has no sink (PHX_SINK_KIND=none): there is no state to compare');
    const before = sinkHash(await readSink(services.clients, sinkKind, first.pipeline.config.sinkTarget!));
    ph.lap('hash');

    ph.enter('destroy');
    await first.running.stop();
    running = undefined;
    const { result: deletion, destroyed } = await destroyStack(services.clients, model, stack, first.provisioned);
    const source = archiveAfterDeletion(deletion, archive);
    ph.lap('destroy');
    ph.check();

    ph.enter('recreate');
    const { redeploy, second } = await recreate(env, model, sinkKind);
    const secondNames = deployedNames(redeploy);
    running = second.running;
    ph.lap('recreate');

    ph.enter('replay');
    const target = adoptedArchiveTarget(env, second.pipeline, archive, source);
    const replay = opts.replayVia === 'function'
      ? await replayThroughFunction(second.running, source)
      : await replayArchive(opts, env, target);
    await drain(second.running, opts);
    const after = sinkHash(await readSink(services.clients, sinkKind, second.pipeline.config.sinkTarget!));
    ph.lap('replay');

    ph.enter('done');
    const report: DrillReport = {
      stack: assembly.displayName,
      runDir,
      replayVia: opts.replayVia ?? 'cli',
      records: opts.records,
      before: { hash: before.hash, items: before.states.size },
      after: { hash: after.hash, items: after.states.size },
      equal: before.hash === after.hash,
      differences: stateDifferences(before.states, after.states),
      archive: {
        ...archive,
        bucketAfter: source,
        same: source === archive.bucket,
        objects: archiver.objects,
        records: archiver.records,
        ...archiveProtections(model, source, stack.region),
      },
      adopted: redeploy.imported.map((r) => ({ logicalId: r.logicalId, type: r.type, physicalName: r.physicalId })),
      ...deletionReport(deletion, destroyed),
      ...compareNames(firstNames, secondNames),
      replay,
      accessDenied: summarizeDenials(services.accessDenied),
      durationsMs: ph.durations,
    };
    writeFileSync(path.join(runDir, 'drill.json'), `${JSON.stringify(report, null, 2)}\n`);
    return report;
  } finally {
    await life.stopAll();
  }
}

/**
 * What `phoenix replay --from archive --local <run>` (or `--stack` in AWS) replays and where, resolved the way the CLI
 * does from the re-created stack's outputs: its ArchiveBucket (the adopted archive) onto its current ingest stream.
 * `flags`: the drill's own bucket when the stack has no RawArchive (`--bucket`, `--prefix`).
 */
function replayTarget(env: DrillEnv, into: DrillPipeline, flags: ArchiveFlags): ArchiveReplayTarget {
  const descriptions = Object.fromEntries(Object.entries(env.stack.template.Outputs ?? {}).map(([k, o]) => [k, o.Description]));
  const outputs = localPipelineOutputs(env.assembly.stackName, resolveOutputs(env.stack), descriptions, into.streamName);
  return archiveReplayTarget(outputs, flags, `stack ${env.assembly.stackName}`);
}

/**
 * The in-cloud path: invokes the re-created stack's ReplayFunction with `{"from":"archive"}` (with its role: its grants
 * on the adopted archive and the new stream are what is exercised). Its archive must be the adopted one.
 */
async function replayThroughFunction(running: Running, archiveBucket: string): Promise<ReplaySummary> {
  const fn = running.functions.find((f) => f.def.environment[REPLAY_ENV.archiveBucket] !== undefined);
  if (!fn) throw new DrillError(`the stack has no ReplayFunction with an archive (${REPLAY_ENV.archiveBucket}): use the CLI replay`);
  const bucket = fn.def.environment[REPLAY_ENV.archiveBucket];
  if (bucket !== archiveBucket) throw new DrillError(`the re-created ReplayFunction replays ${bucket}, not the adopted archive ${archiveBucket}`);
  const r = await fn.invoke({ from: 'archive' });
  if (!r.ok) throw new DrillError(`the ReplayFunction ${fn.functionName} failed (${r.errorType}): ${r.message}`);
  const replay = r.payload as ReplaySummary;
  if (replay.failed > 0) throw new DrillError(`${replay.failed} archived records were not accepted by Kinesis: ${replay.errors[0] ?? ''}`);
  return replay;
}

/**
 * Creates the stack again as `cdk deploy --import-existing-resources` does (the retained archive, with fixed names, is
 * imported, not created anew) and starts it; its sink must be empty.
 */
async function recreate(env: DrillEnv, model: CloudFormationModel, sinkKind: string): Promise<{ redeploy: DeployResult; second: PipelineUp }> {
  const redeploy = deployStack(model, env.stack, drillFail, true);
  await rebindIam(env.services, env.stack);
  const second = await bringUp(env);
  const afterEmpty = await readSink(env.services.clients, sinkKind, second.pipeline.config.sinkTarget!);
  if (afterEmpty.length > 0) {
    await second.running.stop();
    throw new DrillError(`the recreated sink is not empty (${afterEmpty.length} items): the destruction did not remove it`);
  }
  return { redeploy, second };
}

/**
 * The replay of the re-created stack ({@link replayTarget}); it must read the archive of the destroyed one, `source`
 * (adopted by the re-creation), else the rebuild would replay an empty archive.
 */
function adoptedArchiveTarget(env: DrillEnv, into: DrillPipeline, archive: Archive, source: string): ArchiveReplayTarget {
  const target = replayTarget(env, into, archive.fromTemplate ? {} : { bucket: source, prefix: archive.prefix });
  if (target.source.kind !== 'archive' || target.source.bucket !== source) {
    throw new DrillError(`the re-created stack replays ${target.source.kind === 'archive' ? target.source.bucket : 'no archive'}, not the archive ${source}: `
      + 'the archive was not adopted (its bucket needs a fixed name and DeletionPolicy Retain: RawArchive adoptable)');
  }
  return target;
}

/** Runs the archive replay; every archived record must be accepted. */
async function replayArchive(opts: DrillOptions, env: DrillEnv, target: ArchiveReplayTarget): Promise<ReplaySummary> {
  const { kinesis, s3 } = env.services.clients;
  const replay = await runReplay({ ...target, filter: parseFilter({}), clients: { kinesis, s3 }, signal: opts.signal });
  if (replay.failed > 0) throw new DrillError(`${replay.failed} archived records were not accepted by Kinesis: ${replay.errors[0] ?? ''}`);
  return replay;
}

/**
 * The template's RawArchive bucket, which must outlive the stack (DeletionPolicy Retain: PhoenixMode PRODUCTION), else
 * a drill bucket outside the stack that the drill archives the stream into the same way.
 */
async function chooseArchive(
  env: DrillEnv, model: CloudFormationModel, first: { provisioned: ProvisionedStack; pipeline: DrillPipeline },
): Promise<Archive> {
  const found = templateArchive(first.provisioned, first.pipeline.streamArn);
  if (found) {
    const bucket = model.find('AWS::S3::Bucket', found.bucket, env.stack.region);
    if (bucket?.deletion !== 'Retain' && bucket?.deletion !== 'RetainExceptOnCreate') {
      throw new DrillError(`the archive bucket ${bucket?.logicalId ?? found.bucket} has DeletionPolicy ${bucket?.deletion ?? 'unknown'}: `
        + 'it would be deleted with the stack and there would be nothing to replay; synthesize the stack in PhoenixMode.PRODUCTION '
        + '(the default; not EPHEMERAL, e.g. -c phoenix:mode=EPHEMERAL) for the drill');
    }
    return { ...found, fromTemplate: true };
  }
  const archive = { bucket: `phoenix-drill-archive-${process.pid}`, prefix: ARCHIVE_PREFIX, fromTemplate: false };
  await env.services.clients.s3.send(new CreateBucketCommand({ Bucket: archive.bucket }));
  model.addExternal('AWS::S3::Bucket', archive.bucket, env.stack.region);
  env.log(`the stack has no RawArchive on ${first.pipeline.streamName}: the drill archives the stream into ${archive.bucket} the same way`);
  return archive;
}

/**
 * The bucket to replay after the stack's deletion: the template's archive bucket, now orphaned (retained, in no stack),
 * or the drill's own bucket. A failed deletion ends the drill with CloudFormation's reasons (the stack cannot be created
 * again while it is DELETE_FAILED).
 */
function archiveAfterDeletion(deletion: DestroyResult, archive: Archive): string {
  if (deletion.failed.length > 0) {
    const reasons = deletion.failed.map((f) => `${f.logicalId} (${f.physicalId}): ${f.reason}`).join('; ');
    throw new DrillError(`the stack's deletion failed (${deletion.status}): ${reasons}`);
  }
  if (!archive.fromTemplate) return archive.bucket;
  const orphaned = deletion.orphaned.find((o) => o.type === 'AWS::S3::Bucket' && o.physicalId === archive.bucket);
  if (!orphaned) throw new DrillError(`the archive bucket ${archive.bucket} was not retained by the stack's deletion`);
  return orphaned.physicalId;
}

/** Produce and drain phases: the clickstream workload on the pipeline's stream, processed and archived. */
async function produceAndArchive(
  env: DrillEnv, opts: DrillOptions, ph: Phases, pipeline: DrillPipeline, running: Running, archiver: ArchiveLoop,
): Promise<void> {
  ph.enter('produce');
  const workload = new ClickstreamWorkload(
    { records: opts.records, seed: opts.seed ?? 1, poisonRate: opts.poisonRate ?? 0.02, duplicateRate: opts.duplicateRate ?? 0.02 },
    pipeline.rules,
  );
  for (const n of workload.notes) env.log(n);
  const stats = { put: 0, failed: 0, retriedEntries: 0, throttledEntries: 0, putRecordsCalls: 0 };
  await produce(env.services.clients.kinesis, workload, { streamName: pipeline.streamName, rate: 0, signal: opts.signal }, stats);
  if (stats.failed > 0) throw new DrillError(`${stats.failed} workload records could not be put on ${pipeline.streamName}`);
  ph.lap('produce');
  ph.enter('drain');
  await drain(running, opts);
  await archiver.flush();
  ph.lap('drain');
  ph.check();
}

async function drain(running: Running, opts: DrillOptions): Promise<void> {
  const drainMs = opts.drainTimeoutMs ?? 120_000;
  if (!(await drainPollers(running.pollers, Date.now() + drainMs, { failFast: true }))) {
    throw new DrillError(`the pipeline did not finish processing within ${Math.round(drainMs / 1000)} s`);
  }
}
