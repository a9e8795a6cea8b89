/**
 * Parses the (already resolved) properties of an `AWS::Lambda::EventSourceMapping` into a mapping config,
 * applying AWS defaults and AWS's validation ranges. Anything the local pollers cannot reproduce faithfully
 * is rejected with an error naming the property, rather than silently ignored.
 */
import type { KinesisMappingConfig, MappingParseContext, OnFailureDestination, SqsMappingConfig } from './types';
import { PhoenixError } from '../../core/errors';

/** A mapping property the local pollers cannot reproduce faithfully, or an invalid one; the message names it. */
export class MappingConfigError extends PhoenixError {
  constructor(message: string) {
    super('MAPPING_CONFIG', message);
  }
}

/**
 * Lambda's refusal of a mapping whose execution role cannot read through its stream consumer (CreateEventSourceMapping:
 * InvalidParameterValueException, worded as its refusal of a stream the role cannot read).
 */
export class MappingAccessDeniedError extends PhoenixError {
  readonly errorType = 'InvalidParameterValueException';

  constructor(readonly consumerArn: string, readonly denied: readonly string[]) {
    super('MAPPING_ACCESS_DENIED', `InvalidParameterValueException: Cannot access stream consumer ${consumerArn}. Please ensure the role can perform `
      + `the SubscribeToShard and DescribeStreamConsumer Actions on your stream consumer and DescribeStream on your stream in IAM (denied: ${denied.join('; ')})`);
  }
}

/** Properties that only make sense for other event sources (Kafka, MQ, DocumentDB, self-managed) or features not emulated. */
const UNSUPPORTED_ANYWHERE = [
  'FilterCriteria',
  'SelfManagedEventSource',
  'SelfManagedKafkaEventSourceConfig',
  'AmazonManagedKafkaEventSourceConfig',
  'KafkaConfig',
  'DocumentDBEventSourceConfig',
  'SourceAccessConfigurations',
  'Queues',
  'Topics',
  'ProvisionedPollerConfig',
  'KmsKeyArn',
];

/** Properties with no local effect that are accepted and ignored. */
const IGNORED = ['FunctionName', 'Tags', 'MetricsConfig', 'LoggingConfig'];

const KINESIS_PROPS = [
  'EventSourceArn', 'BatchSize', 'MaximumBatchingWindowInSeconds', 'ParallelizationFactor', 'BisectBatchOnFunctionError',
  'MaximumRetryAttempts', 'MaximumRecordAgeInSeconds', 'StartingPosition', 'StartingPositionTimestamp',
  'FunctionResponseTypes', 'TumblingWindowInSeconds', 'DestinationConfig', 'Enabled',
];
const SQS_PROPS = [
  'EventSourceArn', 'BatchSize', 'MaximumBatchingWindowInSeconds', 'FunctionResponseTypes', 'ScalingConfig', 'Enabled',
];

/** Which poller a mapping needs, from its EventSourceArn. Throws for sources the local environment does not emulate. */
export function eventSourceKind(resolvedProps: Record<string, unknown>, ctx?: { logicalId?: string }): 'kinesis' | 'sqs' {
  const arn = resolvedProps.EventSourceArn;
  const where = describe(ctx);
  if (typeof arn !== 'string' || !arn.startsWith('arn:')) {
    throw new MappingConfigError(`${where}: EventSourceArn must be a resolved ARN string (got ${JSON.stringify(arn)})`);
  }
  const service = arn.split(':')[2];
  if (service === 'kinesis') return 'kinesis';
  if (service === 'sqs') return 'sqs';
  throw new MappingConfigError(`${where}: EventSourceArn service '${service}' is not supported locally (only kinesis and sqs)`);
}

export function parseKinesisMapping(resolvedProps: Record<string, unknown>, ctx: MappingParseContext): KinesisMappingConfig {
  const { where, p, arn: streamArn, arnParts } = openMapping(resolvedProps, ctx, KINESIS_PROPS);
  const resource = arnParts.slice(5).join(':');
  if (arnParts[2] !== 'kinesis' || !resource.startsWith('stream/')) {
    throw new MappingConfigError(`${where}: EventSourceArn ${streamArn} is not a Kinesis stream ARN`);
  }
  const [streamPath, consumerArn] = consumerOf(resource.slice('stream/'.length), streamArn, ctx, where);
  if (streamPath.length === 0 || streamPath.includes('/')) {
    throw new MappingConfigError(`${where}: EventSourceArn ${streamArn} has no valid stream name`);
  }

  const startingPosition = p.string('StartingPosition', true)!;
  if (startingPosition !== 'TRIM_HORIZON' && startingPosition !== 'LATEST' && startingPosition !== 'AT_TIMESTAMP') {
    throw new MappingConfigError(`${where}: StartingPosition must be TRIM_HORIZON, LATEST or AT_TIMESTAMP (got ${startingPosition})`);
  }
  const startingPositionTimestamp = p.number('StartingPositionTimestamp', undefined, 0, Number.MAX_SAFE_INTEGER);
  if (startingPosition === 'AT_TIMESTAMP' && startingPositionTimestamp === undefined) {
    throw new MappingConfigError(`${where}: StartingPositionTimestamp is required with StartingPosition AT_TIMESTAMP`);
  }
  if (startingPosition !== 'AT_TIMESTAMP' && startingPositionTimestamp !== undefined) {
    throw new MappingConfigError(`${where}: StartingPositionTimestamp is only allowed with StartingPosition AT_TIMESTAMP`);
  }

  const maximumRecordAgeInSeconds = p.integer('MaximumRecordAgeInSeconds', -1, -1, 604_800)!;
  if (maximumRecordAgeInSeconds !== -1 && maximumRecordAgeInSeconds < 60) {
    throw new MappingConfigError(`${where}: MaximumRecordAgeInSeconds must be -1 or between 60 and 604800 (got ${maximumRecordAgeInSeconds})`);
  }

  return {
    uuid: ctx.uuid,
    streamName: streamPath,
    streamArn: consumerArn === undefined ? streamArn : streamArn.slice(0, streamArn.indexOf('/consumer/')),
    ...(consumerArn !== undefined ? { consumerArn } : {}),
    batchSize: p.integer('BatchSize', 100, 1, 10_000)!,
    maximumBatchingWindowInSeconds: p.integer('MaximumBatchingWindowInSeconds', 0, 0, 300)!,
    parallelizationFactor: p.integer('ParallelizationFactor', 1, 1, 10)!,
    bisectBatchOnFunctionError: p.boolean('BisectBatchOnFunctionError', false),
    maximumRetryAttempts: p.integer('MaximumRetryAttempts', -1, -1, 10_000)!,
    maximumRecordAgeInSeconds,
    startingPosition,
    ...(startingPositionTimestamp !== undefined ? { startingPositionTimestamp } : {}),
    reportBatchItemFailures: p.functionResponseTypes(),
    tumblingWindowInSeconds: p.integer('TumblingWindowInSeconds', 0, 0, 900)!,
    ...onFailure(resolvedProps.DestinationConfig, ctx, where),
    enabled: p.boolean('Enabled', true),
    region: ctx.region,
    accountId: ctx.accountId,
  };
}

/**
 * `<stream>` or `<stream>/consumer/<name>:<epoch>` -> the stream name and the consumer ARN (which must be a consumer
 * of the stack, as Lambda requires an existing consumer).
 */
function consumerOf(streamPath: string, arn: string, ctx: MappingParseContext, where: string): [string, string | undefined] {
  const at = streamPath.indexOf('/consumer/');
  if (at < 0) return [streamPath, undefined];
  if (!/^[a-zA-Z0-9_.-]{1,128}:\d+$/.test(streamPath.slice(at + '/consumer/'.length))) {
    throw new MappingConfigError(`${where}: EventSourceArn ${arn} is not a stream consumer ARN (stream/<name>/consumer/<consumer name>:<creation epoch>)`);
  }
  if (!ctx.consumerArns?.includes(arn)) {
    throw new MappingConfigError(`${where}: EventSourceArn: stream consumer ${arn} not found (consumers of the stack: ${ctx.consumerArns?.join(', ') || 'none'})`);
  }
  return [streamPath.slice(0, at), arn];
}

export function parseSqsMapping(resolvedProps: Record<string, unknown>, ctx: MappingParseContext): SqsMappingConfig {
  const { where, p, arn: queueArn, arnParts } = openMapping(resolvedProps, ctx, SQS_PROPS);
  if (arnParts.length !== 6 || arnParts[2] !== 'sqs' || arnParts[5] === '') {
    throw new MappingConfigError(`${where}: EventSourceArn ${queueArn} is not an SQS queue ARN`);
  }
  const fifo = arnParts[5].endsWith('.fifo');
  const batchSize = p.integer('BatchSize', 10, 1, fifo ? 10 : 10_000)!;
  const maximumBatchingWindowInSeconds = p.integer('MaximumBatchingWindowInSeconds', 0, 0, 300)!;
  if (batchSize > 10 && maximumBatchingWindowInSeconds < 1) {
    throw new MappingConfigError(`${where}: BatchSize above 10 requires MaximumBatchingWindowInSeconds of at least 1 (AWS rejects it)`);
  }
  if (fifo && maximumBatchingWindowInSeconds > 0) {
    throw new MappingConfigError(`${where}: MaximumBatchingWindowInSeconds is not supported for FIFO queues`);
  }

  let maximumConcurrency: number | undefined;
  const scaling = resolvedProps.ScalingConfig;
  if (scaling !== undefined) {
    if (!isRecord(scaling)) throw new MappingConfigError(`${where}: ScalingConfig must be an object`);
    for (const key of Object.keys(scaling)) {
      if (key !== 'MaximumConcurrency') throw new MappingConfigError(`${where}: ScalingConfig.${key} is not supported`);
    }
    maximumConcurrency = new Props(scaling, `${where}: ScalingConfig`).integer('MaximumConcurrency', undefined, 2, 1000);
  }

  let queueUrl: string;
  try {
    queueUrl = ctx.queueUrlForArn(queueArn);
  } catch (err) {
    throw new MappingConfigError(`${where}: EventSourceArn ${queueArn}: ${(err as Error).message}`);
  }

  return {
    uuid: ctx.uuid,
    queueUrl,
    queueArn,
    batchSize,
    maximumBatchingWindowInSeconds,
    reportBatchItemFailures: p.functionResponseTypes(),
    ...(maximumConcurrency !== undefined ? { maximumConcurrency } : {}),
    enabled: p.boolean('Enabled', true),
    region: ctx.region,
  };
}

function onFailure(destinationConfig: unknown, ctx: MappingParseContext, where: string): { onFailure?: OnFailureDestination } {
  if (destinationConfig === undefined) return {};
  if (!isRecord(destinationConfig)) throw new MappingConfigError(`${where}: DestinationConfig must be an object`);
  for (const key of Object.keys(destinationConfig)) {
    if (key !== 'OnFailure') throw new MappingConfigError(`${where}: DestinationConfig.${key} is not supported locally`);
  }
  const target = destinationConfig.OnFailure;
  if (target === undefined) return {};
  if (!isRecord(target)) throw new MappingConfigError(`${where}: DestinationConfig.OnFailure must be an object`);
  for (const key of Object.keys(target)) {
    if (key !== 'Destination') throw new MappingConfigError(`${where}: DestinationConfig.OnFailure.${key} is not supported locally`);
  }
  const arn = target.Destination;
  if (typeof arn !== 'string' || !arn.startsWith('arn:')) {
    throw new MappingConfigError(`${where}: DestinationConfig.OnFailure.Destination must be a resolved ARN (got ${JSON.stringify(arn)})`);
  }
  const parts = arn.split(':');
  switch (parts[2]) {
    case 'sqs': {
      let queueUrl: string;
      try {
        queueUrl = ctx.queueUrlForArn(arn);
      } catch (err) {
        throw new MappingConfigError(`${where}: DestinationConfig.OnFailure.Destination ${arn}: ${(err as Error).message}`);
      }
      return { onFailure: { kind: 'sqs', queueUrl, queueArn: arn } };
    }
    case 's3': {
      const bucket = parts.slice(5).join(':');
      if (!bucket || bucket.includes('/')) throw new MappingConfigError(`${where}: DestinationConfig.OnFailure.Destination ${arn} is not a bucket ARN`);
      return { onFailure: { kind: 's3', bucket, bucketArn: arn } };
    }
    case 'sns':
      return { onFailure: { kind: 'sns', topicArn: arn } };
    default:
      throw new MappingConfigError(`${where}: DestinationConfig.OnFailure.Destination ${arn}: only SQS, SNS and S3 destinations exist`);
  }
}

/** Checks the properties against `allowed`; the typed accessors and the EventSourceArn split at ':'. */
function openMapping(resolvedProps: Record<string, unknown>, ctx: MappingParseContext, allowed: string[]): {
  where: string; p: Props; arn: string; arnParts: string[];
} {
  const where = describe(ctx);
  checkProperties(resolvedProps, allowed, where);
  const p = new Props(resolvedProps, where);
  const arn = p.string('EventSourceArn', true)!;
  return { where, p, arn, arnParts: arn.split(':') };
}

function checkProperties(props: Record<string, unknown>, allowed: string[], where: string): void {
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || allowed.includes(key) || IGNORED.includes(key)) continue;
    if (UNSUPPORTED_ANYWHERE.includes(key)) throw new MappingConfigError(`${where}: ${key} is not supported by the local event source mappings`);
    throw new MappingConfigError(`${where}: property ${key} is not supported for this event source`);
  }
}

function describe(ctx?: { logicalId?: string; uuid?: string }): string {
  return `EventSourceMapping ${ctx?.logicalId ?? ctx?.uuid ?? '(unnamed)'}`;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Typed accessors; CloudFormation accepts numbers and booleans as strings too. */
class Props {
  constructor(private readonly props: Record<string, unknown>, private readonly where: string) {}

  string(name: string, required: boolean): string | undefined {
    const v = this.props[name];
    if (v === undefined) {
      if (required) throw new MappingConfigError(`${this.where}: ${name} is required`);
      return undefined;
    }
    if (typeof v !== 'string') throw new MappingConfigError(`${this.where}: ${name} must be a string (got ${JSON.stringify(v)})`);
    return v;
  }

  number(name: string, dflt: number | undefined, min: number, max: number): number | undefined {
    const v = this.props[name];
    if (v === undefined) return dflt;
    const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
    if (!Number.isFinite(n) || n < min || n > max) {
      throw new MappingConfigError(`${this.where}: ${name} must be a number between ${min} and ${max} (got ${JSON.stringify(v)})`);
    }
    return n;
  }

  integer(name: string, dflt: number | undefined, min: number, max: number): number | undefined {
    const n = this.number(name, dflt, min, max);
    if (n !== undefined && !Number.isInteger(n)) throw new MappingConfigError(`${this.where}: ${name} must be an integer (got ${n})`);
    return n;
  }

  boolean(name: string, dflt: boolean): boolean {
    const v = this.props[name];
    if (v === undefined) return dflt;
    if (v === true || v === 'true') return true;
    if (v === false || v === 'false') return false;
    throw new MappingConfigError(`${this.where}: ${name} must be a boolean (got ${JSON.stringify(v)})`);
  }

  functionResponseTypes(): boolean {
    const v = this.props.FunctionResponseTypes;
    if (v === undefined) return false;
    if (!Array.isArray(v)) throw new MappingConfigError(`${this.where}: FunctionResponseTypes must be a list`);
    for (const t of v) {
      if (t !== 'ReportBatchItemFailures') throw new MappingConfigError(`${this.where}: FunctionResponseTypes value ${JSON.stringify(t)} is not supported`);
    }
    return v.length > 0;
  }
}
