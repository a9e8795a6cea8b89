import { mkdirSync, statSync, writeFileSync, existsSync } from 'node:fs';
import * as path from 'node:path';
import { CreateTableCommand, type CreateTableCommandInput, type GlobalSecondaryIndex, type LocalSecondaryIndex } from '@aws-sdk/client-dynamodb';
import { CreateStreamCommand, DescribeStreamSummaryCommand, IncreaseStreamRetentionPeriodCommand } from '@aws-sdk/client-kinesis';
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { CreateQueueCommand, type QueueAttributeName } from '@aws-sdk/client-sqs';
import type { AssemblyStack } from './assembly';
import type { LocalClients } from './clients';
import type { FunctionDefinition } from './functions';
import { UnsupportedTemplateError } from './template/errors';
import type { LocalStack, StackResource } from './template/stack';

/** Default shard count of on-demand streams (kinesalite has no on-demand mode). */
export const DEFAULT_ON_DEMAND_SHARDS = 4;

export interface ProvisionOptions {
  readonly onDemandShards: number;
  /** Where inline (ZipFile) function code is written. */
  readonly runDir: string;
  readonly log: (line: string) => void;
}

export interface LocalStreamInfo { logicalId: string; name: string; arn: string; shards: number; onDemand: boolean }
export interface LocalQueueInfo { logicalId: string; name: string; url: string; arn: string; fifo: boolean; deadLetterTargetArn?: string }
export interface LocalTableInfo { logicalId: string; name: string; arn: string; partitionKey: string; sortKey?: string }
export interface LocalBucketInfo { logicalId: string; name: string; arn: string }
export interface LocalTopicInfo { logicalId: string; name: string; arn: string }
/** An enhanced fan-out consumer (AWS::Kinesis::StreamConsumer) of a stack stream. */
export interface LocalConsumerInfo { logicalId: string; name: string; arn: string; streamArn: string }

/** Everything created, by kind; behaviour resources (mappings, schedules, delivery streams) with resolved properties. */
export interface ProvisionedStack {
  readonly streams: LocalStreamInfo[];
  readonly consumers: LocalConsumerInfo[];
  readonly queues: LocalQueueInfo[];
  readonly tables: LocalTableInfo[];
  readonly buckets: LocalBucketInfo[];
  readonly topics: LocalTopicInfo[];
  readonly functions: FunctionDefinition[];
  /** logicalId -> resolved properties, in creation order. */
  readonly mappings: Array<{ logicalId: string; uuid: string; props: Record<string, unknown> }>;
  readonly schedules: Array<{ logicalId: string; type: string; name: string; arn: string; props: Record<string, unknown> }>;
  readonly deliveryStreams: Array<{ logicalId: string; name: string; arn: string; props: Record<string, unknown> }>;
  readonly invokeConfigs: Array<{ logicalId: string; props: Record<string, unknown> }>;
  /** Custom::S3BucketNotifications resources (emulated by lib/local/notifications.ts). */
  readonly bucketNotifications: Array<{ logicalId: string; props: Record<string, unknown> }>;
  /** Accepted resources (no local behaviour) with their reason, for the start-up report. */
  readonly accepted: Array<{ logicalId: string; type: string; reason: string }>;
  /** Things that exist but do nothing locally (e.g. e-mail subscriptions). */
  readonly notes: string[];
}

function unsupported(r: StackResource, property: string | undefined, detail: string): never {
  throw new UnsupportedTemplateError(r.logicalId, r.type, property, detail);
}

function int(r: StackResource, props: Record<string, unknown>, name: string, def: number | undefined, min: number, max: number): number | undefined {
  const v = props[name];
  if (v === undefined) return def;
  const n = typeof v === 'string' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) unsupported(r, name, `must be an integer between ${min} and ${max}; got ${JSON.stringify(v)}`);
  return n;
}

/**
 * Creates every resource with local behaviour on the emulators, in dependency order, and collects the definitions
 * of functions, event source mappings, schedules and delivery streams for the local environment to run.
 */
export async function provision(
  stack: LocalStack,
  assembly: AssemblyStack,
  clients: LocalClients,
  opts: ProvisionOptions,
): Promise<ProvisionedStack> {
  const out: ProvisionedStack = {
    streams: [],
    consumers: [],
    queues: [],
    tables: [],
    buckets: [],
    topics: [],
    functions: [],
    mappings: [],
    schedules: [],
    deliveryStreams: [],
    invokeConfigs: [],
    bucketNotifications: [],
    accepted: [],
    notes: [],
  };
  for (const r of stack.creationOrder()) {
    if (r.local === 'accept') {
      out.accepted.push({ logicalId: r.logicalId, type: r.type, reason: r.reason ?? '' });
      continue;
    }
    const props = stack.resolvedProperties(r.logicalId);
    const ref = String(stack.ref(r.logicalId, { logicalId: r.logicalId, type: r.type }));
    const att = (name: string): string => String(stack.getAtt(r.logicalId, name, { logicalId: r.logicalId, type: r.type }));
    switch (r.type) {
      case 'AWS::Kinesis::Stream':
        out.streams.push(await createStream(r, props, ref, att('Arn'), clients, opts));
        break;
      case 'AWS::Kinesis::StreamConsumer':
        out.consumers.push(registerConsumer(r, props, att('ConsumerARN'), out.streams));
        break;
      case 'AWS::SQS::Queue':
        out.queues.push(await createQueue(r, props, att('QueueName'), ref, att('Arn'), clients));
        break;
      case 'AWS::DynamoDB::Table':
        out.tables.push(await createTable(r, props, ref, att('Arn'), clients, out.notes));
        break;
      case 'AWS::S3::Bucket':
        await clients.s3.send(new CreateBucketCommand({ Bucket: ref }));
        out.buckets.push({ logicalId: r.logicalId, name: ref, arn: att('Arn') });
        break;
      case 'AWS::SNS::Topic': {
        const attrs: Record<string, string> = {};
        if (props.FifoTopic === true || props.FifoTopic === 'true') attrs.FifoTopic = 'true';
        if (props.ContentBasedDeduplication !== undefined) attrs.ContentBasedDeduplication = String(props.ContentBasedDeduplication);
        const name = att('TopicName');
        const arn = await clients.sns.createTopic(name, attrs);
        out.topics.push({ logicalId: r.logicalId, name, arn });
        for (const [i, sub] of ((props.Subscription as Array<{ Protocol: string; Endpoint: string }> | undefined) ?? []).entries()) {
          await subscribe(r, `Subscription[${i}]`, arn, sub.Protocol, sub.Endpoint, {}, clients, out);
        }
        break;
      }
      case 'AWS::SNS::Subscription': {
        const attrs: Record<string, string> = {};
        for (const k of ['RawMessageDelivery', 'FilterPolicyScope']) if (props[k] !== undefined) attrs[k] = String(props[k]);
        for (const k of ['FilterPolicy', 'RedrivePolicy']) if (props[k] !== undefined) attrs[k] = typeof props[k] === 'string' ? props[k] : JSON.stringify(props[k]);
        if (props.Region !== undefined && props.Region !== stack.region) unsupported(r, 'Region', `cross-region subscriptions are not supported locally (local region ${stack.region})`);
        await subscribe(r, undefined, String(props.TopicArn), String(props.Protocol), String(props.Endpoint ?? ''), attrs, clients, out);
        break;
      }
      case 'AWS::Lambda::Function':
        out.functions.push(functionDefinition(r, props, ref, att('Arn'), assembly, opts));
        break;
      case 'AWS::Lambda::EventSourceMapping':
        out.mappings.push({ logicalId: r.logicalId, uuid: ref, props });
        break;
      case 'AWS::Lambda::EventInvokeConfig':
        out.invokeConfigs.push({ logicalId: r.logicalId, props });
        break;
      case 'AWS::Scheduler::Schedule':
      case 'AWS::Events::Rule':
        out.schedules.push({ logicalId: r.logicalId, type: r.type, name: ref, arn: att('Arn'), props });
        break;
      case 'Custom::S3BucketNotifications':
        out.bucketNotifications.push({ logicalId: r.logicalId, props });
        break;
      case 'AWS::KinesisFirehose::DeliveryStream':
        out.deliveryStreams.push({ logicalId: r.logicalId, name: ref, arn: att('Arn'), props });
        break;
      default:
        unsupported(r, undefined, 'no local implementation (internal error: listed as run type)');
    }
  }
  return out;
}

async function subscribe(r: StackResource, property: string | undefined, topicArn: string, protocol: string, endpoint: string,
  attrs: Record<string, string>, clients: LocalClients, out: ProvisionedStack): Promise<void> {
  switch (protocol) {
    case 'sqs':
      await clients.sns.subscribe(topicArn, 'sqs', endpoint, attrs);
      return;
    case 'email':
    case 'email-json':
    case 'sms':
    case 'http':
    case 'https':
      out.notes.push(`${r.logicalId}: ${protocol} subscription to ${topicArn} receives nothing locally`);
      return;
    default:
      unsupported(r, property ?? 'Protocol', `SNS subscriptions with protocol ${protocol} are not supported locally (sqs is; e-mail, SMS and HTTP are accepted and receive nothing)`);
  }
}

async function createStream(
  r: StackResource, props: Record<string, unknown>, name: string, arn: string, clients: LocalClients, opts: ProvisionOptions,
): Promise<LocalStreamInfo> {
  const mode = (props.StreamModeDetails as { StreamMode?: string } | undefined)?.StreamMode ?? 'PROVISIONED';
  if (mode !== 'ON_DEMAND' && mode !== 'PROVISIONED') unsupported(r, 'StreamModeDetails', `unknown StreamMode ${mode}`);
  const onDemand = mode === 'ON_DEMAND';
  if (onDemand && props.ShardCount !== undefined) unsupported(r, 'ShardCount', 'is not allowed with StreamMode ON_DEMAND (CloudFormation rejects it)');
  const shards = onDemand ? opts.onDemandShards : int(r, props, 'ShardCount', 1, 1, 500)!;
  const retention = int(r, props, 'RetentionPeriodHours', 24, 24, 8760)!;
  await clients.kinesis.send(new CreateStreamCommand({ StreamName: name, ShardCount: shards }));
  await waitFor(async () => (await clients.kinesis.send(new DescribeStreamSummaryCommand({ StreamName: name }))).StreamDescriptionSummary?.StreamStatus === 'ACTIVE',
    `stream ${name} did not become ACTIVE`);
  if (retention > 24) {
    await clients.kinesis.send(new IncreaseStreamRetentionPeriodCommand({ StreamName: name, RetentionPeriodHours: retention }));
    await waitFor(async () => (await clients.kinesis.send(new DescribeStreamSummaryCommand({ StreamName: name }))).StreamDescriptionSummary?.StreamStatus === 'ACTIVE',
      `stream ${name} did not become ACTIVE after the retention update`);
  }
  if (onDemand) opts.log(`${r.logicalId}: on-demand stream ${name} runs locally with ${shards} shards (kinesalite has no on-demand mode)`);
  return { logicalId: r.logicalId, name, arn, shards, onDemand };
}

/**
 * A consumer lives in the local environment's registry only (kinesalite has no RegisterStreamConsumer); its stream
 * must be a stream of this stack (created before it: the consumer refers to it).
 */
function registerConsumer(r: StackResource, props: Record<string, unknown>, arn: string, streams: readonly LocalStreamInfo[]): LocalConsumerInfo {
  const streamArn = String(props.StreamARN);
  if (!streams.some((s) => s.arn === streamArn)) {
    unsupported(r, 'StreamARN', `${streamArn} is not a stream of this stack (streams: ${streams.map((s) => s.arn).join(', ') || 'none'})`);
  }
  return { logicalId: r.logicalId, name: String(props.ConsumerName), arn, streamArn };
}

async function waitFor(check: () => Promise<boolean>, message: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let i = 0; Date.now() < deadline; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, Math.min(500, 20 * 2 ** i)));
  }
  throw new Error(`${message} within ${timeoutMs} ms`);
}

const QUEUE_ATTRIBUTES: Record<string, QueueAttributeName> = {
  VisibilityTimeout: 'VisibilityTimeout',
  MessageRetentionPeriod: 'MessageRetentionPeriod',
  DelaySeconds: 'DelaySeconds',
  MaximumMessageSize: 'MaximumMessageSize',
  ReceiveMessageWaitTimeSeconds: 'ReceiveMessageWaitTimeSeconds',
  ContentBasedDeduplication: 'ContentBasedDeduplication',
};

async function createQueue(
  r: StackResource, props: Record<string, unknown>, name: string, url: string, arn: string, clients: LocalClients,
): Promise<LocalQueueInfo> {
  const fifo = props.FifoQueue === true || props.FifoQueue === 'true';
  if (fifo !== name.endsWith('.fifo')) unsupported(r, 'QueueName', `a ${fifo ? 'FIFO' : 'standard'} queue name must ${fifo ? '' : 'not '}end with .fifo (${name})`);
  const attributes: Partial<Record<QueueAttributeName, string>> = {};
  if (fifo) attributes.FifoQueue = 'true';
  for (const [prop, attr] of Object.entries(QUEUE_ATTRIBUTES)) {
    if (props[prop] !== undefined) attributes[attr] = String(props[prop]);
  }
  let deadLetterTargetArn: string | undefined;
  if (props.RedrivePolicy !== undefined) {
    const policy = (typeof props.RedrivePolicy === 'string' ? JSON.parse(props.RedrivePolicy) : props.RedrivePolicy) as { deadLetterTargetArn?: string; maxReceiveCount?: number | string };
    if (!policy.deadLetterTargetArn || policy.maxReceiveCount === undefined) unsupported(r, 'RedrivePolicy', 'needs deadLetterTargetArn and maxReceiveCount');
    deadLetterTargetArn = policy.deadLetterTargetArn;
    attributes.RedrivePolicy = JSON.stringify({ deadLetterTargetArn: policy.deadLetterTargetArn, maxReceiveCount: String(policy.maxReceiveCount) });
  }
  const res = await clients.sqs.send(new CreateQueueCommand({ QueueName: name, Attributes: attributes }));
  if (res.QueueUrl !== url) throw new Error(`${r.logicalId}: the emulator returned queue URL ${res.QueueUrl}, expected ${url}`);
  return { logicalId: r.logicalId, name, url, arn, fifo, deadLetterTargetArn };
}

async function createTable(
  r: StackResource, props: Record<string, unknown>, name: string, arn: string, clients: LocalClients, notes: string[],
): Promise<LocalTableInfo> {
  const keySchema = props.KeySchema as CreateTableCommandInput['KeySchema'];
  if (!Array.isArray(keySchema) || keySchema.length === 0) unsupported(r, 'KeySchema', 'is required');
  const billing = (props.BillingMode as string | undefined) ?? 'PROVISIONED';
  const throughput = (p: unknown): { ReadCapacityUnits: number; WriteCapacityUnits: number } | undefined => {
    if (billing === 'PAY_PER_REQUEST') return undefined;
    const t = p as { ReadCapacityUnits?: number | string; WriteCapacityUnits?: number | string } | undefined;
    if (!t) unsupported(r, 'ProvisionedThroughput', 'is required with BillingMode PROVISIONED');
    return { ReadCapacityUnits: Number(t.ReadCapacityUnits), WriteCapacityUnits: Number(t.WriteCapacityUnits) };
  };
  const gsis = (props.GlobalSecondaryIndexes as Array<Record<string, unknown>> | undefined)?.map((g): GlobalSecondaryIndex => ({
    IndexName: g.IndexName as string,
    KeySchema: g.KeySchema as GlobalSecondaryIndex['KeySchema'],
    Projection: g.Projection as GlobalSecondaryIndex['Projection'],
    ProvisionedThroughput: throughput(g.ProvisionedThroughput),
  }));
  const lsis = (props.LocalSecondaryIndexes as Array<Record<string, unknown>> | undefined)?.map((l): LocalSecondaryIndex => ({
    IndexName: l.IndexName as string,
    KeySchema: l.KeySchema as LocalSecondaryIndex['KeySchema'],
    Projection: l.Projection as LocalSecondaryIndex['Projection'],
  }));
  if (props.StreamSpecification !== undefined) {
    notes.push(`${r.logicalId}: DynamoDB Streams are not emulated (dynalite); the table is created without a stream`);
  }
  await clients.dynamodb.send(new CreateTableCommand({
    TableName: name,
    KeySchema: keySchema,
    AttributeDefinitions: props.AttributeDefinitions as CreateTableCommandInput['AttributeDefinitions'],
    BillingMode: billing as CreateTableCommandInput['BillingMode'],
    ProvisionedThroughput: throughput(props.ProvisionedThroughput),
    GlobalSecondaryIndexes: gsis && gsis.length > 0 ? gsis : undefined,
    LocalSecondaryIndexes: lsis && lsis.length > 0 ? lsis : undefined,
  }));
  const hash = keySchema!.find((k) => k.KeyType === 'HASH')?.AttributeName ?? '';
  const range = keySchema!.find((k) => k.KeyType === 'RANGE')?.AttributeName;
  return { logicalId: r.logicalId, name, arn, partitionKey: hash, sortKey: range };
}

function functionDefinition(
  r: StackResource, props: Record<string, unknown>, name: string, arn: string, assembly: AssemblyStack, opts: ProvisionOptions,
): FunctionDefinition {
  const runtime = String(props.Runtime ?? '');
  const code = (props.Code ?? {}) as { S3Bucket?: string; S3Key?: string; ZipFile?: string; ImageUri?: string };
  if (code.ImageUri) unsupported(r, 'Code', 'container image functions are not supported locally (Node.js zip or asset functions are)');
  if (!/^nodejs\d+\.x$/.test(runtime)) unsupported(r, 'Runtime', `${runtime || 'no runtime'}: only Node.js functions run locally`);
  const handler = String(props.Handler ?? '');
  if (!/^[^.]+(\.[^.]+)+$/.test(handler)) unsupported(r, 'Handler', `${JSON.stringify(handler)} is not <module>.<export>`);
  let codeDir: string;
  if (code.ZipFile !== undefined) {
    codeDir = path.join(opts.runDir, 'functions', r.logicalId);
    mkdirSync(codeDir, { recursive: true });
    writeFileSync(path.join(codeDir, `${handler.slice(0, handler.lastIndexOf('.'))}.js`), code.ZipFile);
  } else {
    codeDir = assetDirectory(r, code.S3Key, assembly);
  }
  const env = (props.Environment as { Variables?: Record<string, unknown> } | undefined)?.Variables ?? {};
  const environment: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined || v === null) continue;
    environment[k] = typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : unsupported(r, `Environment.Variables.${k}`, 'must resolve to a string');
  }
  const size = Object.entries(environment).reduce((n, [k, v]) => n + Buffer.byteLength(k) + Buffer.byteLength(v), 0);
  if (size > 4096) unsupported(r, 'Environment', `variables take ${size} bytes; Lambda allows 4 KB in total (the deployment would fail)`);
  const dlc = props.DeadLetterConfig as { TargetArn?: string } | undefined;
  return {
    logicalId: r.logicalId,
    functionName: name,
    functionArn: arn,
    codeDir,
    handler,
    runtime,
    timeoutSeconds: int(r, props, 'Timeout', 3, 1, 900)!,
    memoryMb: int(r, props, 'MemorySize', 128, 128, 10_240)!,
    environment,
    reservedConcurrency: int(r, props, 'ReservedConcurrentExecutions', undefined, 0, 10_000),
    deadLetterTargetArn: dlc?.TargetArn,
  };
}

/** The directory of a function's code in the cloud assembly, from Code.S3Key (asset object key) or the asset metadata. */
function assetDirectory(r: StackResource, s3Key: string | undefined, assembly: AssemblyStack): string {
  let source = s3Key ? assembly.assetsByObjectKey.get(s3Key) : undefined;
  const metaPath = r.resource.Metadata?.['aws:asset:path'];
  if (!source && typeof metaPath === 'string') source = { path: path.join(assembly.assemblyDir, metaPath), packaging: 'zip' };
  if (!source) {
    unsupported(r, 'Code', `S3Key ${JSON.stringify(s3Key)} is not an asset of the cloud assembly (code that is only in S3 cannot run locally)`);
  }
  if (!existsSync(source.path)) unsupported(r, 'Code', `asset ${source.path} is missing from the cloud assembly`);
  if (!statSync(source.path).isDirectory()) {
    unsupported(r, 'Code', `asset ${source.path} is a pre-built archive; only directory assets run locally`);
  }
  return source.path;
}
