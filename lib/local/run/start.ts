import * as path from 'node:path';
import type { RunContext } from './context';
import { LocalRunError } from './errors';
import { createFunctions, functionByRef } from './functions';
import { functionKeys, PrincipalClients, queueUrlLookup, type LocalServices } from './provision';
import { AsyncInvoker } from '../async-invoke';
import {
  eventSourceKind, KinesisEventSourcePoller, MappingAccessDeniedError, parseKinesisMapping, parseSqsMapping, SqsEventSourcePoller,
  type KinesisMappingConfig, type MappingParseContext,
} from '../esm';
import { startFaultProxy, type FaultProxy } from '../fault-proxy';
import { startDeliveryStreams, type LocalDeliveryStreams } from '../firehose';
import type { LocalFunction } from '../functions';
import { invokeOverheadSampler } from '../gates/latency';
import { mappingAuthorizer } from '../iam';
import { LOCAL_MONITORING_DEFAULTS, LocalMonitoring, sinkTargets, stalledSinkServices } from '../monitoring';
import { startNotifications, type LocalNotifications } from '../notifications';
import { childScript } from '../paths';
import type { ProvisionedStack } from '../provision';
import type { LocalQuality } from '../quality';
import { startSchedules, type LocalSchedules } from '../scheduler';
import { recordingIteratorAge } from '../service-metrics';
import { UnsupportedTemplateError } from '../template/errors';
import type { LocalStack } from '../template/stack';
import { startUnemulatedEndpoint, type UnemulatedEndpoint } from '../unemulated';

export interface KinesisMapping {
  readonly config: KinesisMappingConfig;
  readonly fn: LocalFunction;
  readonly logicalId: string;
}

/** Everything the start phase runs besides the functions and pollers (kept in the context). */
export interface StartedStack {
  readonly proxies: FaultProxy[];
  /** Sink services whose every write fails (--stall-sink). */
  readonly stalled: string[];
  readonly functionFaults: { throttleRate: number; crashRate: number };
  readonly unemulated: UnemulatedEndpoint;
  readonly kinesisMappings: KinesisMapping[];
  readonly monitoring: LocalMonitoring;
  readonly schedules: LocalSchedules;
  readonly notifications: LocalNotifications;
  readonly delivery: LocalDeliveryStreams;
}

interface StartInput {
  readonly stack: LocalStack;
  readonly services: LocalServices;
  readonly provisioned: ProvisionedStack;
  readonly quality: LocalQuality;
}

/**
 * Start phase: sink fault proxies, functions, event source mappings, alarms, schedules, bucket notifications and
 * delivery streams; warms the functions the triggers invoke and starts the pollers.
 */
export async function startStack(ctx: RunContext, i: StartInput): Promise<StartedStack> {
  const { proxies, stalled, sinkEndpoints } = await startSinkFaults(ctx, i);
  const functionFaults = { throttleRate: ctx.opts.throttleRate, crashRate: ctx.opts.crashRate };
  const unemulated = await startUnemulatedEndpoint(ctx.log);
  const overheadRandom = ctx.random.fork('invoke-overhead');
  ctx.life.add('unemulated-services endpoint', () => unemulated.close());
  const functions = createFunctions(i.provisioned, {
    runnerScript: childScript('function-runner', path.join(ctx.runDir, 'bin')),
    runDir: ctx.runDir,
    region: i.stack.region,
    emulators: i.services.emulators,
    metrics: ctx.metrics,
    random: ctx.random,
    life: ctx.life,
    maxEnvironments: ctx.opts.maxEnvironments ?? 4,
    faults: functionFaults,
    taskRootPrefix: 'phoenix-local-functions-',
    sinkEndpoints,
    otherEndpoint: (name) => unemulated.endpointFor(name),
    accessKeyOf: functionKeys(i.services),
    invokeOverheadMs: invokeOverheadSampler(ctx.opts.latency ?? 'none', overheadRandom.next.bind(overheadRandom)),
  });
  for (const fn of functions) {
    ctx.functions.push(fn);
    ctx.life.add(`function ${fn.functionName}`, () => fn.stop());
  }
  const queueUrlForArn = queueUrlLookup(i.provisioned, (m) => new LocalRunError(m));
  const principals = new PrincipalClients(i.services, i.stack.region, ctx.life);
  const kinesisMappings = createPollers(ctx, i, queueUrlForArn, principals);
  const triggers = startTriggers(ctx, i, { queueUrlForArn, stalled, unemulated, principals });
  await warmUp(ctx, i.provisioned);
  for (const p of ctx.pollers) {
    p.poller.start();
    ctx.life.add(`poller ${p.logicalId}`, () => p.poller.stop());
  }
  return { proxies, stalled, functionFaults, unemulated, kinesisMappings, ...triggers };
}

/** Fault proxies in front of the sink services (--sink-failure-rate, --stall-sink). */
async function startSinkFaults(ctx: RunContext, i: StartInput): Promise<{
  proxies: FaultProxy[]; stalled: string[]; sinkEndpoints: { dynamodb: string; s3: string };
}> {
  const { opts } = ctx;
  const endpoints = i.services.emulators.endpoints;
  const proxies: FaultProxy[] = [];
  const sinkEndpoints = { dynamodb: endpoints.dynamodb, s3: endpoints.fauxqs };
  const stalled = opts.stallSink ? stalledSinkServices(i.provisioned) : [];
  if (opts.stallSink && stalled.length === 0) throw new LocalRunError('--stall-sink: no pipeline of the stack writes to a DynamoDB or S3 sink (PHX_SINK_KIND dynamodb or s3): nothing to stall');
  if (opts.sinkFailureRate === 0 && stalled.length === 0) return { proxies, stalled, sinkEndpoints };
  for (const service of ['dynamodb', 's3'] as const) {
    const stall = stalled.includes(service);
    if (!stall && opts.sinkFailureRate === 0) continue;
    const proxy = await startFaultProxy(service, service === 'dynamodb' ? endpoints.dynamodb : endpoints.fauxqs, {
      rate: stall ? 1 : opts.sinkFailureRate,
      random: ctx.random.fork(`sink-faults:${service}`),
      cause: stall ? '--stall-sink' : '--sink-failure-rate',
      targets: sinkTargets(i.provisioned, service),
    });
    ctx.life.add(`fault proxy ${service}`, () => proxy.close());
    proxies.push(proxy);
    sinkEndpoints[service] = proxy.endpoint;
  }
  return { proxies, stalled, sinkEndpoints };
}

/**
 * One poller per event source mapping (in the context); returns the Kinesis mappings. A mapping reads its source and
 * writes its on-failure destination with its function's role, as Lambda does.
 */
function createPollers(ctx: RunContext, i: StartInput, queueUrlForArn: (arn: string) => string, principals: PrincipalClients): KinesisMapping[] {
  const { stack, provisioned, quality } = i;
  const kinesisMappings: KinesisMapping[] = [];
  for (const m of provisioned.mappings) {
    const fn = mappedFunction(ctx.functions, m.props.FunctionName, m.logicalId);
    const { kinesis, sqs, s3, sns } = principals.ofFunction(fn.functionName);
    const esmClients = { kinesis, sqs, s3, sns };
    const consumerArns = provisioned.consumers.map((c) => c.arn);
    const ctxParse: MappingParseContext = {
      uuid: m.uuid, region: stack.region, accountId: stack.accountId, logicalId: m.logicalId, queueUrlForArn, consumerArns,
    };
    try {
      if (eventSourceKind(m.props, ctxParse) === 'kinesis') {
        const config = quality.mapping(parseKinesisMapping(m.props, ctxParse), m.logicalId, fn);
        kinesisMappings.push({ config, fn, logicalId: m.logicalId });
        const pollerOpts = { log: ctx.log, ...mappingAuthorizer(i.services.authz, fn.functionName) };
        const poller = new KinesisEventSourcePoller(config, recordingIteratorAge(fn, ctx.metrics), esmClients, pollerOpts);
        quality.track(m.logicalId, poller);
        const windowSeconds = config.tumblingWindowInSeconds;
        ctx.pollers.push({ logicalId: m.logicalId, poller, source: config.streamName, fn: fn.functionName, windowSeconds, enabled: config.enabled });
      } else {
        const config = parseSqsMapping(m.props, ctxParse);
        const poller = new SqsEventSourcePoller(config, fn, esmClients, { log: ctx.log });
        ctx.pollers.push({ logicalId: m.logicalId, poller, source: config.queueUrl, fn: fn.functionName, windowSeconds: 0, enabled: config.enabled });
      }
    } catch (e) {
      if (e instanceof UnsupportedTemplateError || e instanceof MappingAccessDeniedError) throw e;
      const msg = (e as Error).message.replace(/^EventSourceMapping [^:]+: /, '');
      throw new UnsupportedTemplateError(m.logicalId, 'AWS::Lambda::EventSourceMapping', undefined, msg);
    }
  }
  return kinesisMappings;
}

function mappedFunction(functions: readonly LocalFunction[], ref: unknown, logicalId: string): LocalFunction {
  const fn = functionByRef(functions, ref);
  if (!fn) throw new UnsupportedTemplateError(logicalId, 'AWS::Lambda::EventSourceMapping', 'FunctionName', `function ${String(ref)} is not a function of this stack`);
  return fn;
}

/** Asynchronous invocations, alarms and service metrics, schedules, bucket notifications, delivery streams. */
function startTriggers(
  ctx: RunContext,
  i: StartInput,
  o: { queueUrlForArn: (arn: string) => string; stalled: string[]; unemulated: UnemulatedEndpoint; principals: PrincipalClients },
): Pick<StartedStack, 'monitoring' | 'schedules' | 'notifications' | 'delivery'> {
  const { opts, log, life, functions, pollers } = ctx;
  const { stack, provisioned } = i;
  const { clients, authz } = i.services;
  const asyncInvoker = new AsyncInvoker(provisioned, clients, {
    log, queueUrlForArn: o.queueUrlForArn, clientsOfFunction: (name) => o.principals.ofFunction(name),
  });
  life.add('asynchronous invocations', () => asyncInvoker.stop());
  // Alarms are created with the resources: service metrics sampled and alarms evaluated from now on.
  const timeScale = opts.timeScale ?? LOCAL_MONITORING_DEFAULTS.timeScale;
  if (!(timeScale >= 1 && timeScale <= 3600)) throw new LocalRunError(`timeScale must be between 1 and 3600 (given ${timeScale})`);
  const monitoring = new LocalMonitoring({
    stack,
    provisioned,
    metrics: ctx.metrics,
    functions,
    kinesisPollers: pollers.filter((p) => p.poller instanceof KinesisEventSourcePoller).map((p) => ({ poller: p.poller, fn: p.fn })),
    consumedQueueUrls: new Set(pollers.filter((p) => p.poller instanceof SqsEventSourcePoller).map((p) => p.source)),
    sqs: clients.sqs,
    snsOfAlarm: (alarmArn) => o.principals.ofAlarm(alarmArn).sns,
    unemulatedCalls: (fn) => Object.keys(o.unemulated.byFunction[fn] ?? {}),
    timeScale,
    evaluateEveryMs: opts.alarmEvaluationIntervalMs ?? LOCAL_MONITORING_DEFAULTS.evaluateEveryMs,
    log,
  });
  monitoring.start();
  life.add('alarms and service metrics', () => monitoring.stop());
  const schedules = startSchedules(provisioned, functions, asyncInvoker, {
    log,
    authz,
    queueUrlForArn: o.queueUrlForArn,
    timeScale,
    fireAtStart: opts.fireSchedulesAtStart ?? LOCAL_MONITORING_DEFAULTS.fireSchedulesAtStart,
    clientsOfRole: (arn) => o.principals.ofRole(arn),
    clientsOfRule: (arn) => o.principals.ofRule(arn),
  });
  life.add('schedules', () => schedules.stop());
  const notifications = startNotifications(provisioned, functions, clients, asyncInvoker, {
    log, region: stack.region, account: stack.accountId, authz, clientsOfBucket: (bucket) => o.principals.ofBucketNotifications(bucket),
  });
  life.add('bucket notifications', () => notifications.stop());
  const delivery = startDeliveryStreams(provisioned, functions, { log, now: Date.now, clientsOfRole: (arn) => o.principals.ofRole(arn), authz });
  life.add('delivery streams', () => delivery.stop());
  return { monitoring, schedules, notifications, delivery };
}

/**
 * Warms the concurrency the triggers will use: shards x parallelization factor of Kinesis mappings, SQS pollers,
 * one environment for functions invoked by schedules, notifications or delivery streams. A function nothing invokes
 * locally is not started (noted).
 */
async function warmUp(ctx: RunContext, provisioned: ProvisionedStack): Promise<void> {
  const concurrencyHint = new Map<LocalFunction, number>();
  for (const m of provisioned.mappings) {
    const fn = mappedFunction(ctx.functions, m.props.FunctionName, m.logicalId);
    const stream = provisioned.streams.find((x) => x.arn === m.props.EventSourceArn);
    const sqsConcurrency = (m.props.ScalingConfig as { MaximumConcurrency?: number } | undefined)?.MaximumConcurrency ?? 2;
    const n = stream ? stream.shards * Number(m.props.ParallelizationFactor ?? 1) : Number(sqsConcurrency);
    concurrencyHint.set(fn, (concurrencyHint.get(fn) ?? 0) + n);
  }
  const triggerProps = [provisioned.schedules, provisioned.bucketNotifications, provisioned.deliveryStreams].map((l) => l.map((x) => x.props));
  const triggers = JSON.stringify(triggerProps);
  for (const fn of ctx.functions) if (!concurrencyHint.has(fn) && triggers.includes(`"${fn.functionArn}`)) concurrencyHint.set(fn, 1);
  const idle = ctx.functions.filter((f) => !concurrencyHint.has(f));
  if (idle.length > 0) ctx.log(`not started (nothing invokes them locally): ${idle.map((f) => f.def.logicalId).join(', ')}`);
  await ctx.guard(Promise.all([...concurrencyHint].map(([f, n]) => f.warmUp(n))));
}
