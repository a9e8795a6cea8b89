import { RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as kinesis from 'aws-cdk-lib/aws-kinesis';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { describe, expect, it } from 'vitest';
import { IngestSink, IngestStage } from '../../constructs';
import { ENV, SINK_KINDS } from '../../constructs/contract';
import { actionsOf, handlerEnv, policyStatements, testStack } from '../support/stacks';

function bindInStage(sink: (stack: Stack) => IngestSink): { t: Template; stage: IngestStage } {
  const stack = testStack();
  const stage = new IngestStage(stack, 'Ingest', { pipelineName: 'orders', sink: sink(stack) });
  return { t: Template.fromStack(stack), stage };
}

/** IAM statements of the processor that concern the sink (not the stream, DLQ, logs or X-Ray). */
function sinkStatements(t: Template): Array<Record<string, any>> {
  return policyStatements(t).filter((s) => !JSON.stringify(s.Resource).match(/IngestDeadLetters|IngestProcessorLogs|IngestStream/) && s.Resource !== '*');
}

describe('IngestSink.dynamoDb()', () => {
  const { t, stage } = bindInStage(() => IngestSink.dynamoDb());

  it('creates a table with partition key pk (STRING) and no sort key', () => {
    t.hasResourceProperties('AWS::DynamoDB::Table', { KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }], AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }] });
  });
  it('billing defaults to PAY_PER_REQUEST', () => t.hasResourceProperties('AWS::DynamoDB::Table', { BillingMode: 'PAY_PER_REQUEST' }));
  it('point-in-time recovery is on', () => {
    t.hasResourceProperties('AWS::DynamoDB::Table', { PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true } });
  });
  it('encryption defaults to the AWS managed key', () => t.hasResourceProperties('AWS::DynamoDB::Table', { SSESpecification: { SSEEnabled: true } }));
  it('removalPolicy defaults to RETAIN (Phoenix SINK policy in PRODUCTION mode)', () => t.hasResource('AWS::DynamoDB::Table', { DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' }));
  it('binds kind dynamodb and the table name', () => {
    expect(handlerEnv(t)[ENV.sinkKind]).toBe('dynamodb');
    expect(handlerEnv(t)[ENV.sinkTarget]).toEqual({ Ref: expect.stringMatching(/^IngestSinkTable/) });
    expect(stage.sinkConfig.table).toBeDefined();
  });
  it('grants dynamodb:PutItem and GetItem (the read of a conditional failure without the stored version) only, on the table', () => {
    expect(sinkStatements(t)).toEqual([{ Action: ['dynamodb:PutItem', 'dynamodb:GetItem'], Effect: 'Allow', Resource: [{ 'Fn::GetAtt': [expect.stringMatching(/^IngestSinkTable/), 'Arn'] }] }]);
  });
  it('removalPolicy DESTROY is honoured', () => {
    bindInStage(() => IngestSink.dynamoDb({ removalPolicy: RemovalPolicy.DESTROY })).t.hasResource('AWS::DynamoDB::Table', { DeletionPolicy: 'Delete' });
  });
  it('writes to a given table and creates none; a customer key is granted', () => {
    const { t: t2 } = bindInStage((stack) => IngestSink.dynamoDb({
      table: dynamodb.Table.fromTableAttributes(stack, 'T', { tableName: 'orders-out', encryptionKey: new kms.Key(stack, 'K') }),
    }));
    t2.resourceCountIs('AWS::DynamoDB::Table', 0);
    expect(handlerEnv(t2)[ENV.sinkTarget]).toBe('orders-out');
    const actions = sinkStatements(t2).flatMap(actionsOf);
    expect(actions).toContain('dynamodb:PutItem');
    expect(actions).toEqual(expect.arrayContaining(['kms:Decrypt', 'kms:Encrypt']));
    expect(actions.filter((a) => a.startsWith('dynamodb:')).sort()).toEqual(['dynamodb:GetItem', 'dynamodb:PutItem']);
  });
  it('a sink instance shared by two stages writes to one table', () => {
    const stack = testStack();
    const sink = IngestSink.dynamoDb();
    new IngestStage(stack, 'A', { pipelineName: 'a', sink });
    new IngestStage(stack, 'B', { pipelineName: 'b', sink });
    Template.fromStack(stack).resourceCountIs('AWS::DynamoDB::Table', 1);
  });
});

describe('IngestSink.s3()', () => {
  it('binds kind s3 and bucket/prefix; grants Get/PutObject on the prefix and ListBucket restricted to it', () => {
    const { t } = bindInStage((stack) => IngestSink.s3(s3.Bucket.fromBucketName(stack, 'B', 'orders-lake'), 'envelopes/'));
    expect(handlerEnv(t)).toMatchObject({ [ENV.sinkKind]: 's3', [ENV.sinkTarget]: 'orders-lake/envelopes/' });
    expect(sinkStatements(t)).toEqual([
      { Action: ['s3:GetObject', 's3:PutObject'], Effect: 'Allow', Resource: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':s3:::orders-lake/envelopes/*']] } },
      { Action: 's3:ListBucket', Effect: 'Allow', Resource: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':s3:::orders-lake']] }, Condition: { StringLike: { 's3:prefix': ['envelopes/*'] } } },
    ]);
  });
  it('without a prefix targets the bucket name', () => {
    const { t } = bindInStage((stack) => IngestSink.s3(s3.Bucket.fromBucketName(stack, 'B', 'orders-lake')));
    expect(handlerEnv(t)[ENV.sinkTarget]).toBe('orders-lake');
  });
  it('grants the bucket key', () => {
    const { t } = bindInStage((stack) => IngestSink.s3(new s3.Bucket(stack, 'B', { encryption: s3.BucketEncryption.KMS })));
    expect(sinkStatements(t).flatMap(actionsOf)).toEqual(expect.arrayContaining(['kms:Decrypt', 'kms:GenerateDataKey*']));
  });
  it.each(['envelopes', '/envelopes/'])('fails when the prefix is %s', (prefix) => {
    const stack = testStack();
    expect(() => IngestSink.s3(s3.Bucket.fromBucketName(stack, 'B', 'bucket-b'), prefix))
      .toThrow(new RegExp(`IngestSink.s3 prefix must be empty or end with '/' and not start with '/' \\(given '${prefix}'\\)`));
  });
});

describe('IngestSink.kinesis()', () => {
  it('binds kind kinesis and the stream ARN; grants PutRecord(s) and the stream key', () => {
    const { t, stage } = bindInStage((stack) => IngestSink.kinesis(new kinesis.Stream(stack, 'Next', { encryption: kinesis.StreamEncryption.KMS })));
    expect(handlerEnv(t)[ENV.sinkKind]).toBe('kinesis');
    expect(handlerEnv(t)[ENV.sinkTarget]).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^Next/), 'Arn'] });
    const statements = sinkStatements(t);
    expect(statements.find((s) => actionsOf(s).includes('kinesis:PutRecords'))).toMatchObject({
      Action: ['kinesis:ListShards', 'kinesis:PutRecord', 'kinesis:PutRecords'], Resource: { 'Fn::GetAtt': [expect.stringMatching(/^Next/), 'Arn'] },
    });
    expect(statements.flatMap(actionsOf)).toEqual(expect.arrayContaining(['kms:Encrypt', 'kms:GenerateDataKey*']));
    expect(statements.flatMap(actionsOf)).not.toContain('kinesis:GetRecords');
    expect(stage.sinkConfig.stream).toBeDefined();
  });
  it('chains two stages: the first writes to the second one\'s stream', () => {
    const stack = testStack();
    const enrich = new IngestStage(stack, 'Enrich', { pipelineName: 'orders', stageName: 'enrich', sink: IngestSink.none() });
    new IngestStage(stack, 'Ingest', { pipelineName: 'orders', sink: IngestSink.kinesis(enrich.stream) });
    const t = Template.fromStack(stack);
    t.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ PHX_STAGE: 'ingest', PHX_SINK_KIND: 'kinesis', PHX_SINK_TARGET: { 'Fn::GetAtt': [Match.stringLikeRegexp('^EnrichStream'), 'Arn'] } }) },
    });
  });
});

describe('IngestSink kinds', () => {
  it('every factory binds a kind the handler understands', () => {
    const stack = testStack();
    const kinds = [
      IngestSink.dynamoDb(), IngestSink.s3(s3.Bucket.fromBucketName(stack, 'B', 'bucket-b')),
      IngestSink.kinesis(kinesis.Stream.fromStreamArn(stack, 'S', 'arn:aws:kinesis:eu-west-1:123456789012:stream/s')), IngestSink.none(),
    ].map((sink, i) => new IngestStage(stack, `Stage${i}`, { pipelineName: 'p', sink }).sinkConfig.kind);
    expect(kinds).toEqual([...SINK_KINDS]);
  });
});
