import * as fs from 'fs';
import * as path from 'path';
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { App, CfnParameter, Duration, Lazy, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as kinesis from 'aws-cdk-lib/aws-kinesis';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { beforeAll, describe, expect, it } from 'vitest';
import { DlqWithReplay, IngestSink, IngestStage, type IngestStageProps, LogLevel } from '../../constructs';
import { ENV, METRIC, METRICS_NAMESPACE } from '../../constructs/contract';
import { idNamespaceFor, sealEnvelope, toEnvelope } from '../../lib/core';
import { DynamoDbSink } from '../../lib/handlers/ports/dynamodb';
import { actionsOf, grantee, handlerEnv, policyStatements, templateOf, testStack } from '../support/stacks';

const SCHEMA = {
  type: 'object',
  required: ['userId'],
  properties: {
    userId: { type: 'string' },
    seq: { type: 'integer' },
    user: { type: 'object', properties: { id: { type: 'string' }, tags: { type: 'array', items: { type: 'string' } } } },
  },
};

function stage(props: Partial<IngestStageProps> = {}, stack: Stack = testStack()): IngestStage {
  return new IngestStage(stack, 'Ingest', { pipelineName: 'orders', ...props });
}

function template(props: Partial<IngestStageProps> = {}): Template {
  return templateOf((s) => stage(props, s));
}

describe('IngestStage defaults', () => {
  let t: Template;
  let env: Record<string, unknown>;
  beforeAll(() => {
    t = template();
    env = handlerEnv(t);
  });

  it('stageName defaults to ingest', () => expect(env[ENV.stage]).toBe('ingest'));
  it('passes the pipeline name', () => expect(env[ENV.pipeline]).toBe('orders'));
  it('streamMode defaults to ON_DEMAND without a shard count', () => {
    t.hasResourceProperties('AWS::Kinesis::Stream', { StreamModeDetails: { StreamMode: 'ON_DEMAND' }, ShardCount: Match.absent() });
  });
  it('stream encryption defaults to the AWS managed key alias/aws/kinesis', () => {
    t.hasResourceProperties('AWS::Kinesis::Stream', { StreamEncryption: { EncryptionType: 'KMS', KeyId: 'alias/aws/kinesis' } });
  });
  it('retentionPeriod defaults to 7 days', () => t.hasResourceProperties('AWS::Kinesis::Stream', { RetentionPeriodHours: 168 }));
  it('removalPolicy of the stream defaults to DESTROY', () => {
    t.hasResource('AWS::Kinesis::Stream', { DeletionPolicy: 'Delete', UpdateReplacePolicy: 'Delete' });
  });
  it('schema defaults to none (empty PHX_SCHEMA)', () => expect(env[ENV.schema]).toBe(''));
  it('keyFields default to [] (whole payload)', () => expect(env[ENV.keyFields]).toBe('[]'));
  it('maxRecordSizeBytes defaults to what fits a DynamoDB item with the default DynamoDB sink', () => {
    expect(env[ENV.maxRecordBytes]).toBe(String(IngestStage.MAX_DYNAMODB_RECORD_BYTES));
    expect(IngestStage.MAX_DYNAMODB_RECORD_BYTES).toBe(409_600 - 2_048);
  });
  it('recordConcurrency defaults to 100', () => expect(env[ENV.recordConcurrency]).toBe('100'));
  it('retryBudget defaults to 10 s', () => expect(env[ENV.retryBudgetMs]).toBe('10000'));
  it('retryBaseDelay defaults to 50 ms', () => expect(env[ENV.retryBaseMs]).toBe('50'));
  it('retryMaxDelay defaults to 2 s', () => expect(env[ENV.retryCapMs]).toBe('2000'));
  it('retryMaxAttempts defaults to 6', () => expect(env[ENV.retryMaxAttempts]).toBe('6'));
  it('logLevel defaults to INFO', () => expect(env.POWERTOOLS_LOG_LEVEL).toBe('INFO'));
  it('sets the Powertools metrics namespace and service', () => {
    expect(env.POWERTOOLS_METRICS_NAMESPACE).toBe(METRICS_NAMESPACE);
    expect(env.POWERTOOLS_SERVICE_NAME).toBe('orders');
  });
  it('DLQ message size defaults to 262144 bytes', () => expect(env[ENV.dlqMaxMessageBytes]).toBe('262144'));
  it('points PHX_DLQ_URL and PHX_DLQ_OVERFLOW_BUCKET at the created dead letters', () => {
    const queue = Object.keys(t.findResources('AWS::SQS::Queue'))[0];
    expect(env[ENV.dlqUrl]).toEqual({ Ref: queue });
    expect(env[ENV.dlqOverflowBucket]).toEqual({ Ref: expect.stringMatching(/^IngestDeadLettersOverflow/) });
  });
  it('code defaults to the pre-bundled handler asset, index.handler', () => {
    t.hasResourceProperties('AWS::Lambda::Function', { Handler: 'index.handler', Code: { S3Key: Match.stringLikeRegexp('^[0-9a-f]{64}\\.zip$') } });
  });
  it('runtime is Node.js 22 on ARM_64 with active tracing', () => {
    t.hasResourceProperties('AWS::Lambda::Function', { Runtime: 'nodejs22.x', Architectures: ['arm64'], TracingConfig: { Mode: 'Active' } });
  });
  it('memorySize defaults to 512 MiB', () => t.hasResourceProperties('AWS::Lambda::Function', { MemorySize: 512 }));
  it('timeout defaults to 1 minute', () => t.hasResourceProperties('AWS::Lambda::Function', { Timeout: 60 }));
  it('logRetention defaults to three months, in the stage log group', () => {
    t.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 90 });
    t.hasResourceProperties('AWS::Lambda::Function', { LoggingConfig: { LogGroup: { Ref: Match.stringLikeRegexp('^IngestProcessorLogs') } } });
  });
  it('logRemovalPolicy defaults to DESTROY (Phoenix LOGS policy)', () => t.hasResource('AWS::Logs::LogGroup', { DeletionPolicy: 'Delete', UpdateReplacePolicy: 'Delete' }));
  it('log group encryption defaults to the service-managed key', () => t.hasResourceProperties('AWS::Logs::LogGroup', { KmsKeyId: Match.absent() }));
  it('the role has no managed policies (logs granted on the stage log group only)', () => {
    t.hasResourceProperties('AWS::IAM::Role', { ManagedPolicyArns: Match.absent() });
    const logStatements = policyStatements(t).filter((s) => actionsOf(s).some((a) => a.startsWith('logs:')));
    expect(logStatements).toEqual([expect.objectContaining({ Resource: { 'Fn::GetAtt': [expect.stringMatching(/^IngestProcessorLogs/), 'Arn'] } })]);
  });
  it('batchSize defaults to 1000', () => t.hasResourceProperties('AWS::Lambda::EventSourceMapping', { BatchSize: 1000 }));
  it('maxBatchingWindow defaults to 1 second', () => t.hasResourceProperties('AWS::Lambda::EventSourceMapping', { MaximumBatchingWindowInSeconds: 1 }));
  it('bisectBatchOnError defaults to true', () => t.hasResourceProperties('AWS::Lambda::EventSourceMapping', { BisectBatchOnFunctionError: true }));
  it('retryAttempts defaults to 10 (never infinite)', () => t.hasResourceProperties('AWS::Lambda::EventSourceMapping', { MaximumRetryAttempts: 10 }));
  it('maxRecordAge defaults to 24 hours', () => t.hasResourceProperties('AWS::Lambda::EventSourceMapping', { MaximumRecordAgeInSeconds: 86400 }));
  it('parallelizationFactor defaults to 1', () => t.hasResourceProperties('AWS::Lambda::EventSourceMapping', { ParallelizationFactor: 1 }));
  it('enhancedFanOut defaults to on: the mapping reads through the stage\'s stream consumer', () => {
    t.resourceCountIs('AWS::Kinesis::StreamConsumer', 1);
    t.hasResourceProperties('AWS::Lambda::EventSourceMapping', { EventSourceArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^IngestStreamConsumer'), 'ConsumerARN'] } });
  });
  it('enhancedFanOut false: the mapping reads the stream as a standard consumer', () => {
    const off = template({ enhancedFanOut: false });
    off.resourceCountIs('AWS::Kinesis::StreamConsumer', 0);
    off.hasResourceProperties('AWS::Lambda::EventSourceMapping', { EventSourceArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^IngestStream'), 'Arn'] } });
  });
  it('startingPosition defaults to TRIM_HORIZON', () => t.hasResourceProperties('AWS::Lambda::EventSourceMapping', { StartingPosition: 'TRIM_HORIZON' }));
  it('reportBatchItemFailures is always on', () => {
    t.hasResourceProperties('AWS::Lambda::EventSourceMapping', { FunctionResponseTypes: ['ReportBatchItemFailures'] });
  });
  it('on-failure destination is the overflow bucket (keeps the payload)', () => {
    t.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': [Match.stringLikeRegexp('^IngestDeadLettersOverflow'), 'Arn'] } } },
    });
  });
  it('on-failure grants are s3:PutObject under aws/lambda/ and s3:ListBucket only', () => {
    const onFailure = policyStatements(t).filter((s) => JSON.stringify(s.Resource).includes('/aws/lambda/*'));
    expect(onFailure.map(actionsOf)).toEqual([['s3:PutObject']]);
    expect(policyStatements(t).filter((s) => actionsOf(s).includes('s3:ListBucket'))).toHaveLength(1);
    expect(policyStatements(t).flatMap(actionsOf).filter((a) => a.startsWith('s3:Delete'))).toEqual([]);
  });
  it('deadLetters default to a created DlqWithReplay', () => t.resourceCountIs('AWS::SQS::Queue', 1));
  it('sink defaults to a created DynamoDB table', () => {
    expect(env[ENV.sinkKind]).toBe('dynamodb');
    t.resourceCountIs('AWS::DynamoDB::Table', 1);
  });
  it('the function reads the stream it consumes', () => {
    const read = policyStatements(t).find((s) => actionsOf(s).includes('kinesis:GetRecords'));
    expect(read?.Resource).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^IngestStream/), 'Arn'] });
  });
});

describe('IngestStage options', () => {
  it('creates a provisioned stream with shardCount', () => {
    template({ streamMode: kinesis.StreamMode.PROVISIONED, shardCount: 4 })
      .hasResourceProperties('AWS::Kinesis::Stream', { StreamModeDetails: { StreamMode: 'PROVISIONED' }, ShardCount: 4 });
  });
  it('provisioned streams default to one shard', () => {
    template({ streamMode: kinesis.StreamMode.PROVISIONED }).hasResourceProperties('AWS::Kinesis::Stream', { ShardCount: 1 });
  });
  it('encrypts the stream with a customer key and grants the function decrypt', () => {
    const t = templateOf((s) => stage({ encryptionKey: new kms.Key(s, 'Key') }, s));
    t.hasResourceProperties('AWS::Kinesis::Stream', { StreamEncryption: { EncryptionType: 'KMS', KeyId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^Key'), 'Arn'] } } });
    expect(policyStatements(t).some((s) => actionsOf(s).includes('kms:Decrypt'))).toBe(true);
  });
  it('passes every event source mapping option', () => {
    template({
      batchSize: 500,
      maxBatchingWindow: Duration.seconds(0),
      bisectBatchOnError: false,
      retryAttempts: 0,
      maxRecordAge: Duration.minutes(5),
      parallelizationFactor: 10,
      startingPosition: lambda.StartingPosition.LATEST,
    }).hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      BatchSize: 500,
      MaximumBatchingWindowInSeconds: 0,
      BisectBatchOnFunctionError: false,
      MaximumRetryAttempts: 0,
      MaximumRecordAgeInSeconds: 300,
      ParallelizationFactor: 10,
      StartingPosition: 'LATEST',
    });
  });
  it('passes AT_TIMESTAMP with its timestamp', () => {
    template({ startingPosition: lambda.StartingPosition.AT_TIMESTAMP, startingPositionTimestamp: 1_764_000_000 })
      .hasResourceProperties('AWS::Lambda::EventSourceMapping', { StartingPosition: 'AT_TIMESTAMP', StartingPositionTimestamp: 1_764_000_000 });
  });
  it('passes schema (minified), keyFields and record options to the handler', () => {
    const env = handlerEnv(template({
      schema: SCHEMA,
      keyFields: ['userId', 'user.id'],
      maxRecordSizeBytes: 2048,
      recordConcurrency: 8,
      retryBudget: Duration.seconds(10),
      retryBaseDelay: Duration.millis(50),
      retryMaxDelay: Duration.seconds(2),
      retryMaxAttempts: 3,
      logLevel: LogLevel.DEBUG,
      stageName: 'enrich',
    }));
    expect(JSON.parse(env[ENV.schema] as string)).toEqual(SCHEMA);
    expect(env[ENV.schema]).not.toMatch(/\s/);
    expect(env).toMatchObject({
      [ENV.keyFields]: '["userId","user.id"]',
      [ENV.maxRecordBytes]: '2048',
      [ENV.recordConcurrency]: '8',
      [ENV.retryBudgetMs]: '10000',
      [ENV.retryBaseMs]: '50',
      [ENV.retryCapMs]: '2000',
      [ENV.retryMaxAttempts]: '3',
      POWERTOOLS_LOG_LEVEL: 'DEBUG',
      [ENV.stage]: 'enrich',
    });
  });
  it('with a schema, ships a validator compiled at synth next to the default handler (no ajv in the function)', () => {
    const stack = testStack();
    const st = stage({ schema: SCHEMA }, stack);
    const env = handlerEnv(Template.fromStack(stack));
    expect(env[ENV.schemaModule]).toBe('schema-validator.js');
    // the function's code asset (CDK names the asset child of a Function 'Code')
    const asset = st.processor.node.findChild('Code') as unknown as { assetPath: string };
    const asm = App.of(stack)!.synth();
    const dir = path.join(asm.directory, asset.assetPath);
    const validator = fs.readFileSync(path.join(dir, 'schema-validator.js'), 'utf8');
    expect(fs.readFileSync(path.join(dir, 'index.js'), 'utf8')).not.toMatch(/ajv\.js\.org|new Ajv|class Ajv/);
    // the generated module validates: load it and check a good and a bad payload
    const mod = { exports: {} as Record<string, unknown> };
    new Function('module', 'exports', 'require', validator)(mod, mod.exports, require);
    const validate = mod.exports as unknown as (x: unknown) => boolean;
    expect(validate({ userId: 'u1', seq: 3 })).toBe(true);
    expect(validate({ seq: 3 })).toBe(false);
    expect(validate({ userId: 'u1', seq: 'three' })).toBe(false);
  });
  it('with custom code and a schema, sets no validator module (the team\'s runtime compiles PHX_SCHEMA)', () => {
    const env = handlerEnv(template({ schema: SCHEMA, code: lambda.Code.fromInline('exports.handler = async () => ({})') }));
    expect(env[ENV.schemaModule]).toBeUndefined();
    expect(JSON.parse(env[ENV.schema] as string)).toEqual(SCHEMA);
  });
  it('passes eventTimeField to the handler only when set', () => {
    expect(handlerEnv(template({ schema: SCHEMA, eventTimeField: 'user.id' }))[ENV.eventTimeField]).toBe('user.id');
    expect(handlerEnv(template())[ENV.eventTimeField]).toBeUndefined();
  });
  it('fails when eventTimeField is not declared in the schema', () => {
    expect(() => stage({ schema: SCHEMA, eventTimeField: 'ts' })).toThrow(/eventTimeField 'ts' is not a property of the schema \(declared properties: userId, seq, user\)/);
  });
  it('fails when eventTimeField is not a dot path', () => {
    expect(() => stage({ eventTimeField: 'a..b' })).toThrow(/eventTimeField must be a non-empty dot path such as 'event.time' \(given 'a..b'\)/);
  });
  it('fails when the schema does not compile (ajv at synth)', () => {
    expect(() => stage({ schema: { type: 'object', properties: { a: { type: 'string', pattern: '(' } } } })).toThrow(/schema/);
  });
  it('the default retryBudget is half of a timeout shorter than 20 s', () => {
    expect(handlerEnv(template({ timeout: Duration.seconds(6) }))[ENV.retryBudgetMs]).toBe('3000');
    expect(handlerEnv(template({ timeout: Duration.minutes(5) }))[ENV.retryBudgetMs]).toBe('10000');
  });
  it('sets memory, timeout, log retention, log key and log removal policy', () => {
    const t = templateOf((s) => stage({
      memorySize: 1024,
      timeout: Duration.minutes(5),
      logRetention: logs.RetentionDays.ONE_YEAR,
      logRemovalPolicy: RemovalPolicy.RETAIN,
      logEncryptionKey: new kms.Key(s, 'LogKey'),
    }, s));
    t.hasResourceProperties('AWS::Lambda::Function', { MemorySize: 1024, Timeout: 300 });
    t.hasResource('AWS::Logs::LogGroup', {
      DeletionPolicy: 'Retain',
      Properties: { RetentionInDays: 365, KmsKeyId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^LogKey'), 'Arn'] } },
    });
  });
  it('keeps a created stream with removalPolicy RETAIN', () => {
    template({ removalPolicy: RemovalPolicy.RETAIN }).hasResource('AWS::Kinesis::Stream', { DeletionPolicy: 'Retain' });
  });
  it('passes created dead letter props', () => {
    template({ deadLetterProps: { maxMessageBytes: 1_048_576 } }).hasResourceProperties('AWS::SQS::Queue', { MaximumMessageSize: 1_048_576 });
  });
  it('uses given dead letters (shared) and creates none', () => {
    const stack = testStack();
    const shared = new DlqWithReplay(stack, 'Shared', { maxMessageBytes: 131_072 });
    const s = stage({ deadLetters: shared }, stack);
    const t = Template.fromStack(stack);
    t.resourceCountIs('AWS::SQS::Queue', 1);
    expect(s.deadLetters).toBe(shared);
    expect(handlerEnv(t)[ENV.dlqMaxMessageBytes]).toBe('131072');
    expect(handlerEnv(t)[ENV.dlqUrl]).toEqual({ Ref: expect.stringMatching(/^SharedQueue/) });
  });
});

describe('IngestStage event-time and replay rules', () => {
  it('sends maxFutureSkew, minEventTime and replayMaxCount to the handler only when given (its defaults are the documented ones)', () => {
    const none = handlerEnv(template());
    expect(none[ENV.maxFutureSkewMs]).toBeUndefined();
    expect(none[ENV.minEventTimeMs]).toBeUndefined();
    expect(none[ENV.replayMaxCount]).toBeUndefined();
    const given = handlerEnv(template({ maxFutureSkew: Duration.minutes(1), minEventTime: new Date('2000-01-01T00:00:00Z'), replayMaxCount: 0 }));
    expect(given[ENV.maxFutureSkewMs]).toBe('60000');
    expect(given[ENV.minEventTimeMs]).toBe(String(Date.UTC(2000, 0, 1)));
    expect(given[ENV.replayMaxCount]).toBe('0');
  });
});

describe('IngestStage with enhancedFanOut', () => {
  let t: Template;
  beforeAll(() => {
    t = template({ enhancedFanOut: true, stageName: 'enrich' });
  });
  it('registers one stream consumer named after the stream and the stage', () => {
    t.resourceCountIs('AWS::Kinesis::StreamConsumer', 1);
    t.hasResourceProperties('AWS::Kinesis::StreamConsumer', {
      StreamARN: { 'Fn::GetAtt': [Match.stringLikeRegexp('^IngestStream'), 'Arn'] },
      ConsumerName: { 'Fn::Join': ['', [{ Ref: Match.stringLikeRegexp('^IngestStream') }, '-enrich']] },
    });
  });
  it('points the event source mapping at the consumer', () => {
    t.hasResourceProperties('AWS::Lambda::EventSourceMapping', { EventSourceArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^IngestStreamConsumer'), 'ConsumerARN'] } });
  });
  it('grants the function SubscribeToShard and DescribeStreamConsumer on the consumer', () => {
    const onConsumer = policyStatements(t).filter((st) => JSON.stringify(st.Resource).includes('ConsumerARN'));
    expect(onConsumer.flatMap(actionsOf)).toEqual(expect.arrayContaining(['kinesis:SubscribeToShard', 'kinesis:DescribeStreamConsumer']));
  });
});

describe('IngestStage with an imported stream', () => {
  const arn = 'arn:aws:kinesis:eu-west-1:123456789012:stream/orders-in';
  let t: Template;
  let s: IngestStage;
  beforeAll(() => {
    const stack = testStack();
    s = stage({ stream: kinesis.Stream.fromStreamArn(stack, 'Imported', arn) }, stack);
    t = Template.fromStack(stack);
  });

  it('creates no stream', () => t.resourceCountIs('AWS::Kinesis::Stream', 0));
  it('maps the imported stream through a consumer registered on it', () => {
    t.hasResourceProperties('AWS::Kinesis::StreamConsumer', { StreamARN: arn });
    t.hasResourceProperties('AWS::Lambda::EventSourceMapping', { EventSourceArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^IngestStreamConsumer'), 'ConsumerARN'] } });
  });
  it('grants reading the imported stream', () => {
    expect(policyStatements(t).find((st) => actionsOf(st).includes('kinesis:GetRecords'))?.Resource).toBe(arn);
  });
  it('exposes it', () => expect(s.stream.streamArn).toBe(arn));
  it('fails when stream is combined with options of a created stream', () => {
    const stack = testStack();
    const stream = kinesis.Stream.fromStreamArn(stack, 'Imported', arn);
    expect(() => stage({ stream, retentionPeriod: Duration.days(2), shardCount: 2 }, stack))
      .toThrow(/shardCount, retentionPeriod describe a created stream and cannot be combined with stream \(given shardCount, retentionPeriod and stream\)/);
  });
  it('allows maxRecordAge up to 7 days (retention unknown)', () => {
    const stack = testStack();
    stage({ stream: kinesis.Stream.fromStreamArn(stack, 'Imported', arn), maxRecordAge: Duration.days(7) }, stack);
    Template.fromStack(stack).hasResourceProperties('AWS::Lambda::EventSourceMapping', { MaximumRecordAgeInSeconds: 604800 });
  });
});

describe('IngestStage with custom code', () => {
  it('runs the team function with the same environment and grants', () => {
    const t = template({ code: lambda.Code.fromInline('exports.main = async () => ({ batchItemFailures: [] })'), handler: 'index.main' });
    t.hasResourceProperties('AWS::Lambda::Function', { Handler: 'index.main', Code: { ZipFile: Match.stringLikeRegexp('exports.main') }, Runtime: 'nodejs22.x' });
    const env = handlerEnv(t);
    expect(Object.keys(env).sort()).toEqual(Object.keys(handlerEnv(template())).sort());
    expect(policyStatements(t).flatMap(actionsOf)).toEqual(expect.arrayContaining(['dynamodb:PutItem', 'sqs:SendMessage', 'kinesis:GetRecords', 's3:PutObject']));
  });
  it('handler defaults to index.handler with code', () => {
    template({ code: lambda.Code.fromInline('exports.handler = async () => ({})') })
      .hasResourceProperties('AWS::Lambda::Function', { Handler: 'index.handler' });
  });
});

describe('IngestStage with tokens', () => {
  it('accepts CfnParameter values for validated numbers and durations', () => {
    const stack = testStack();
    const batch = new CfnParameter(stack, 'BatchSize', { type: 'Number', default: 200 });
    const window = new CfnParameter(stack, 'Window', { type: 'Number', default: 5 });
    stage({
      batchSize: batch.valueAsNumber,
      maxBatchingWindow: Duration.seconds(window.valueAsNumber),
      parallelizationFactor: Lazy.number({ produce: () => 3 }),
      recordConcurrency: Lazy.number({ produce: () => 4 }),
    }, stack);
    const t = Template.fromStack(stack);
    t.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      BatchSize: { Ref: 'BatchSize' }, MaximumBatchingWindowInSeconds: { Ref: 'Window' }, ParallelizationFactor: 3,
    });
    expect(handlerEnv(t)[ENV.recordConcurrency]).toBe('4');
  });
  it('accepts a token pipeline name', () => {
    const stack = testStack();
    const name = new CfnParameter(stack, 'Pipeline', { type: 'String', default: 'orders' });
    stage({ pipelineName: name.valueAsString }, stack);
    expect(handlerEnv(Template.fromStack(stack))[ENV.pipeline]).toEqual({ Ref: 'Pipeline' });
  });
});

describe('IngestStage grants and metrics', () => {
  it('grantWrite grants PutRecord(s) on the stream', () => {
    const stack = testStack();
    const producer = grantee(stack, 'Producer');
    const s = stage({}, stack);
    expect(s.grantWrite(producer).success).toBe(true);
    Template.fromStack(stack).hasResourceProperties('AWS::IAM::Policy', {
      Roles: [{ Ref: Match.stringLikeRegexp('^Producer') }],
      PolicyDocument: { Statement: [{ Action: ['kinesis:ListShards', 'kinesis:PutRecord', 'kinesis:PutRecords'], Effect: 'Allow', Resource: { 'Fn::GetAtt': [Match.stringLikeRegexp('^IngestStream'), 'Arn'] } }] },
    });
  });
  it('grantWrite grants the customer key too', () => {
    const stack = testStack();
    const s = stage({ encryptionKey: new kms.Key(stack, 'Key') }, stack);
    const producer = grantee(stack, 'Producer');
    s.grantWrite(producer);
    const producerPolicy = Object.values(Template.fromStack(stack).findResources('AWS::IAM::Policy'))
      .find((p) => JSON.stringify(p.Properties.Roles).includes('Producer'))!;
    expect(JSON.stringify(producerPolicy)).toContain('kms:GenerateDataKey*');
  });
  it('grantRead grants GetRecords on the stream', () => {
    const stack = testStack();
    const reader = grantee(stack, 'Reader');
    const s = stage({}, stack);
    s.grantRead(reader);
    const policy = Object.values(Template.fromStack(stack).findResources('AWS::IAM::Policy'))
      .find((p) => JSON.stringify(p.Properties.Roles).includes('Reader'))!;
    expect(policy.Properties.PolicyDocument.Statement[0].Action).toEqual(expect.arrayContaining(['kinesis:GetRecords', 'kinesis:GetShardIterator']));
    expect(JSON.stringify(policy)).not.toContain('kinesis:PutRecord');
  });

  it.each([
    ['metricRecordsIn', METRIC.recordsIn, 'Sum'],
    ['metricRecordsWritten', METRIC.recordsWritten, 'Sum'],
    ['metricRecordsDeadLettered', METRIC.recordsDeadLettered, 'Sum'],
    ['metricProcessingLatency', METRIC.processingLatencyMs, 'p99'],
  ] as const)('%s uses the contract namespace, name and dimensions (statistic %s)', (method, name, statistic) => {
    const s = stage({ stageName: 'ingest' });
    const m = s[method]();
    expect(m.namespace).toBe('PhoenixPipelines');
    expect(m.metricName).toBe(name);
    expect(m.dimensions).toEqual({ Deployment: 'Test-eu-west-1', Pipeline: 'orders', Stage: 'ingest' });
    expect(m.statistic).toBe(statistic);
    expect(m.period.toSeconds()).toBe(300);
  });
  it('metric options override the defaults', () => {
    const m = stage().metricRecordsIn({ statistic: 'Average', period: Duration.minutes(1) });
    expect([m.statistic, m.period.toSeconds()]).toEqual(['Average', 60]);
  });
  it('metricIteratorAge is AWS/Lambda IteratorAge Maximum of the processor', () => {
    const stack = testStack();
    const s = stage({}, stack);
    const m = s.metricIteratorAge();
    expect([m.namespace, m.metricName, m.statistic]).toEqual(['AWS/Lambda', 'IteratorAge', 'Maximum']);
    expect(stack.resolve(m.dimensions)).toEqual({ FunctionName: { Ref: stack.getLogicalId(s.processor.node.defaultChild as lambda.CfnFunction) } });
  });
  it('metrics can back alarms', () => {
    const stack = testStack();
    stage({}, stack).metricRecordsDeadLettered().createAlarm(stack, 'A', { threshold: 1, evaluationPeriods: 1 });
    Template.fromStack(stack).hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'PhoenixPipelines',
      MetricName: 'RecordsDeadLettered',
      Statistic: 'Sum',
      Dimensions: Match.arrayWith([{ Name: 'Pipeline', Value: 'orders' }, { Name: 'Stage', Value: 'ingest' }]),
    });
    expect(cloudwatch.Stats.SUM).toBe('Sum');
  });
  it('exposes the event source mapping id', () => {
    const stack = testStack();
    const s = stage({}, stack);
    const mapping = s.eventSourceMapping.node.defaultChild as lambda.CfnEventSourceMapping;
    expect(stack.resolve(s.eventSourceMappingId)).toEqual({ Ref: stack.getLogicalId(mapping) });
  });
});

describe('IngestStage sinks', () => {
  it('IngestSink.none() sets kind none, an empty target and grants no sink access', () => {
    const t = template({ sink: IngestSink.none() });
    expect(handlerEnv(t)).toMatchObject({ [ENV.sinkKind]: 'none', [ENV.sinkTarget]: '' });
    t.resourceCountIs('AWS::DynamoDB::Table', 0);
    expect(policyStatements(t).flatMap(actionsOf).filter((a) => a.startsWith('dynamodb:') || a === 'kinesis:PutRecord')).toEqual([]);
  });
});

describe('IngestStage validation', () => {
  const cases: Array<[string, Partial<IngestStageProps>, RegExp]> = [
    ['pipelineName has invalid characters', { pipelineName: 'my pipeline' }, /pipelineName must be 1-64 characters .* \(given 'my pipeline'\)/],
    ['pipelineName is longer than 64 characters', { pipelineName: 'p'.repeat(65) }, /pipelineName must be 1-64 characters .*given 'p{65}'/],
    ['pipelineName is empty', { pipelineName: '' }, /pipelineName must be 1-64 characters .*given ''/],
    ['stageName has invalid characters', { stageName: 'in/gest' }, /stageName must be .*given 'in\/gest'/],
    ['batchSize is above 10000', { batchSize: 20_000 }, /^IngestStage at Test\/Ingest: batchSize must be an integer between 1 and 10000 \(given 20000\)/],
    ['batchSize is 0', { batchSize: 0 }, /batchSize .*between 1 and 10000 \(given 0\)/],
    ['batchSize is not an integer', { batchSize: 1.5 }, /batchSize .*\(given 1.5\)/],
    ['maxBatchingWindow is above 300 s', { maxBatchingWindow: Duration.minutes(6) }, /maxBatchingWindow must be .*between 0 and 300 seconds \(given 6 minutes\)/],
    ['maxBatchingWindow is not whole seconds', { maxBatchingWindow: Duration.millis(1500) }, /maxBatchingWindow .*given 1 second 500 millis/],
    ['retryAttempts is infinite (-1)', { retryAttempts: -1 }, /retryAttempts must be an integer between 0 and 10000 \(given -1\)/],
    ['retryAttempts is above 10000', { retryAttempts: 10_001 }, /retryAttempts .*\(given 10001\)/],
    ['maxRecordAge is below 60 s', { maxRecordAge: Duration.seconds(59) }, /maxRecordAge must be .*between 60 and 604800 seconds \(given 59 seconds\)/],
    ['maxRecordAge is above 7 days', { maxRecordAge: Duration.days(8), retentionPeriod: Duration.days(10) }, /maxRecordAge .*\(given 8 days\)/],
    ['maxRecordAge exceeds the stream retention', { maxRecordAge: Duration.days(2), retentionPeriod: Duration.days(1) }, /maxRecordAge must be at least 1 hour below the stream retentionPeriod, .* \(given 2 days, retentionPeriod 1 day: allowed up to 23 hours\)/],
    ['maxRecordAge equal to the stream retention', { maxRecordAge: Duration.days(1), retentionPeriod: Duration.days(1) }, /maxRecordAge must be at least 1 hour below the stream retentionPeriod, .* \(given 1 day, retentionPeriod 1 day: allowed up to 23 hours\)/],
    ['maxRecordAge within the margin of the stream retention', { maxRecordAge: Duration.minutes(1410), retentionPeriod: Duration.days(1) }, /allowed up to 23 hours/],
    ['parallelizationFactor is above 10', { parallelizationFactor: 11 }, /parallelizationFactor must be an integer between 1 and 10 \(given 11\)/],
    ['maxRecordSizeBytes is above 10 MiB', { maxRecordSizeBytes: 10_485_761 }, /maxRecordSizeBytes .*between 1 and 10485760 \(given 10485761\)/],
    ['recordConcurrency is above 100', { recordConcurrency: 101 }, /recordConcurrency must be an integer between 1 and 100 \(given 101\)/],
    ['recordConcurrency is 0', { recordConcurrency: 0 }, /recordConcurrency .*\(given 0\)/],
    ['maxFutureSkew is above 366 days', { maxFutureSkew: Duration.days(367) }, /maxFutureSkew must be between 0 and 31,?622,?400,?000 milliseconds \(given 367 days\)/],
    ['minEventTime is not a date', { minEventTime: new Date('nope') }, /minEventTime must be a valid date of years 0000-9999 \(given Invalid Date\)/],
    ['replayMaxCount is above 1000', { replayMaxCount: 1_001 }, /replayMaxCount must be an integer between 0 and 1,?000 \(given 1,?001\)/],
    ['memorySize is below 128 MiB', { memorySize: 64 }, /memorySize must be an integer between 128 and 10240 MiB \(given 64 MiB\)/],
    ['timeout is above 15 minutes', { timeout: Duration.minutes(16) }, /timeout must be .*between 1 and 900 seconds \(given 16 minutes\)/],
    ['retryBaseDelay is 0', { retryBaseDelay: Duration.millis(0) }, /retryBaseDelay must be between 1 and 60000 milliseconds \(given 0 millis\)/],
    ['retryMaxDelay is above 5 minutes', { retryMaxDelay: Duration.minutes(6) }, /retryMaxDelay must be between 1 and 300000 milliseconds \(given 6 minutes\)/],
    ['retryMaxDelay is below retryBaseDelay', { retryBaseDelay: Duration.seconds(2), retryMaxDelay: Duration.seconds(1) }, /retryMaxDelay must be at least retryBaseDelay \(given 1 second, retryBaseDelay 2 seconds\)/],
    ['retryMaxAttempts is 0', { retryMaxAttempts: 0 }, /retryMaxAttempts must be an integer between 1 and 100 \(given 0\)/],
    ['retryBudget is not shorter than the timeout', { retryBudget: Duration.minutes(1), timeout: Duration.minutes(1) }, /retryBudget must be shorter than timeout.*\(given 1 minute, timeout 1 minute\)/],
    ['logLevel is unknown', { logLevel: 'VERBOSE' as LogLevel }, /logLevel must be one of TRACE, DEBUG, INFO, WARN, ERROR, CRITICAL, SILENT \(given 'VERBOSE'\)/],
    ['handler is set without code', { handler: 'index.main' }, /handler can only be set together with code \(given handler 'index.main' and no code\)/],
    ['AT_TIMESTAMP has no timestamp', { startingPosition: lambda.StartingPosition.AT_TIMESTAMP }, /startingPositionTimestamp is required with StartingPosition.AT_TIMESTAMP.*given startingPosition AT_TIMESTAMP, startingPositionTimestamp unset/],
    ['a timestamp is given without AT_TIMESTAMP', { startingPositionTimestamp: 1 }, /startingPositionTimestamp .*not allowed otherwise \(given startingPosition TRIM_HORIZON, startingPositionTimestamp 1\)/],
    ['shardCount is set with ON_DEMAND', { shardCount: 2 }, /shardCount requires streamMode PROVISIONED \(given shardCount 2 with ON_DEMAND\)/],
    ['shardCount is 0', { streamMode: kinesis.StreamMode.PROVISIONED, shardCount: 0 }, /shardCount must be an integer between 1 and 10000 \(given 0\)/],
    ['retentionPeriod is below 24 hours', { retentionPeriod: Duration.hours(12), maxRecordAge: Duration.hours(1) }, /retentionPeriod must be a whole number of hours between 24 and 8760 \(given 12 hours\)/],
    ['retentionPeriod is above 365 days', { retentionPeriod: Duration.days(366) }, /retentionPeriod .*\(given 366 days\)/],
    ['schema is not an object', { schema: ['type'] as any }, /schema must be a JSON Schema object \(given array/],
    ['schema does not describe objects', { schema: { type: 'string' } }, /top-level "type" must be "object" \(given 'string'\)/],
    ['schema has an unknown type in a property', { schema: { type: 'object', properties: { a: { type: 'text' } } } }, /schema at #\/properties\/a\/type must be one of object, array, string, number, integer, boolean, null \(given 'text'\)/],
    ['schema properties is not an object', { schema: { type: 'object', properties: ['a'] } }, /schema at #\/properties must be an object of subschemas \(given array/],
    ['schema required is not a list of names', { schema: { type: 'object', required: 'a' } }, /schema at #\/required must be an array of property names \(given 'a'\)/],
    ['schema has an invalid pattern', { schema: { type: 'object', properties: { a: { type: 'string', pattern: '([' } } } }, /schema at #\/properties\/a\/pattern is not a valid regular expression \(given '\(\['\)/],
    ['schema has an empty enum', { schema: { type: 'object', properties: { a: { enum: [] } } } }, /schema at #\/properties\/a\/enum must be a non-empty array/],
    ['schema has an empty anyOf', { schema: { type: 'object', anyOf: [] } }, /schema at #\/anyOf must be a non-empty array of subschemas/],
    ['a subschema is not a schema', { schema: { type: 'object', properties: { a: 3 } } }, /schema at #\/properties\/a must be a schema object or boolean \(given number 3\)/],
    ['a schema value is not JSON', { schema: { type: 'object', default: () => 1 } }, /schema at #\/default must be a JSON value \(given function\)/],
    ['a keyField is not declared in the schema', { schema: SCHEMA, keyFields: ['userID'] }, /keyFields entry 'userID' is not a property of the schema \(declared properties: userId, seq, user\)/],
    ['a nested keyField is not declared', { schema: SCHEMA, keyFields: ['user.name'] }, /keyFields entry 'user.name' is not a property of 'user' \(declared properties: id, tags\)/],
    ['a keyField goes below a scalar', { schema: SCHEMA, keyFields: ['seq.value'] }, /keyFields entry 'seq.value' is not a property of 'seq' \(declared properties: none/],
    ['a keyField repeats', { keyFields: ['a', 'a'] }, /keyFields must not repeat a field \(given 'a' twice\)/],
    ['a keyField has an empty segment', { keyFields: ['user..id'] }, /keyFields entries must be non-empty dot paths .*\(given 'user..id'\)/],
    ['the schema makes the environment exceed 4 KB', {
      schema: { type: 'object', properties: Object.fromEntries(Array.from({ length: 120 }, (_, i) => [`field${i}`, { type: 'string' }])) },
    }, /environment variables take \d+ bytes \(at most 4096 bytes allowed by Lambda.*PHX_SCHEMA alone is \d+ bytes/],
  ];
  it.each(cases)('fails when %s', (_name, props, message) => {
    expect(() => stage(props)).toThrow(message);
  });

  it('fails when deadLetters and deadLetterProps are both given', () => {
    const stack = testStack();
    const dlq = new DlqWithReplay(stack, 'Dlq');
    expect(() => stage({ deadLetters: dlq, deadLetterProps: { maxMessageBytes: 2048 } }, stack))
      .toThrow(/deadLetterProps describe created dead letters and cannot be combined with deadLetters \(given both\)/);
  });

  it('accepts a schema just under the environment limit', () => {
    const schema = { type: 'object', properties: Object.fromEntries(Array.from({ length: 60 }, (_, i) => [`f${i}`, { type: 'string' }])) };
    expect(() => stage({ schema })).not.toThrow();
  });
});

describe('IngestStage record size against the sink', () => {
  /** DynamoDB's size of an item: attribute names and string values in UTF-8. */
  function itemBytes(item: Record<string, AttributeValue>): number {
    return Object.entries(item).reduce((n, [k, v]) => n + Buffer.byteLength(k) + Buffer.byteLength(v.S ?? ''), 0);
  }

  it('the envelope overhead of a DynamoDB item, measured through the sink with the longest names, is within the 2,048 bytes reserved', async () => {
    const payload = { correlationId: 'c'.repeat(256), eventTime: '2026-01-01T00:00:00.123456789Z', k: 'v' };
    const ctx = { namespace: idNamespaceFor('p'.repeat(64)), keyFields: ['k'], source: 's'.repeat(128), arrivedAtMs: Date.parse('2026-01-01T00:00:01Z') };
    const replay = { of: 'archive' as const, at: '2026-01-01T00:00:00.123456789Z', count: 1_000_000 };
    const env = sealEnvelope({ ...toEnvelope(payload, ctx), replay }, payload, 'x'.repeat(64), 9_999_999_999_999, 9_999_999_999_999, 10_000);
    let item: Record<string, AttributeValue> = {};
    const client = { send: async (c: { input: { Item: Record<string, AttributeValue> } }) => { item = c.input.Item; return {}; } };
    await new DynamoDbSink(client as never, 'table').write(env, { partitionKey: 'k', sequenceNumber: '1', contentHash: 'h'.repeat(64) });
    const overhead = itemBytes(item) - Buffer.byteLength(JSON.stringify(payload));
    expect(overhead).toBeGreaterThan(1_000);
    expect(overhead).toBeLessThanOrEqual(409_600 - IngestStage.MAX_DYNAMODB_RECORD_BYTES);
  });

  it('refuses a maxRecordSizeBytes above a DynamoDB item, naming the value and the maximum', () => {
    expect(() => stage({ maxRecordSizeBytes: 1_048_576 })).toThrow(
      `maxRecordSizeBytes must be at most ${IngestStage.MAX_DYNAMODB_RECORD_BYTES} with a DynamoDB sink, a 400 KB item less 2048 bytes of envelope (given 1048576); records up to 10 MiB need the S3 sink (IngestSink.s3)`);
    const max = IngestStage.MAX_DYNAMODB_RECORD_BYTES;
    expect(handlerEnv(template({ maxRecordSizeBytes: max }))[ENV.maxRecordBytes]).toBe(String(max));
  });

  it('the S3 sink is the large-record path: 1 MiB by default, up to 10 MiB', () => {
    const limit = (props: Partial<IngestStageProps>) => {
      const stack = testStack();
      stage({ sink: IngestSink.s3(new s3.Bucket(stack, 'Lake')), ...props }, stack);
      return handlerEnv(Template.fromStack(stack))[ENV.maxRecordBytes];
    };
    expect(limit({})).toBe('1048576');
    expect(limit({ maxRecordSizeBytes: 10_485_760 })).toBe('10485760');
  });
});
