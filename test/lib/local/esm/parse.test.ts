import { describe, expect, it } from 'vitest';
import { eventSourceKind, parseKinesisMapping, parseSqsMapping } from '../../../../lib/local/esm/parse';
import type { MappingParseContext } from '../../../../lib/local/esm/types';

const STREAM = 'arn:aws:kinesis:us-east-1:000000000000:stream/clicks';
const QUEUE = 'arn:aws:sqs:us-east-1:000000000000:work';
const ctx: MappingParseContext = {
  uuid: 'u-1',
  logicalId: 'Esm1',
  region: 'us-east-1',
  accountId: '000000000000',
  queueUrlForArn: (arn) => {
    if (!arn.startsWith('arn:aws:sqs:us-east-1:000000000000:')) throw new Error('unknown queue');
    return `http://127.0.0.1:1/000000000000/${arn.split(':')[5]}`;
  },
};

describe('parseKinesisMapping', () => {
  it('applies the AWS defaults', () => {
    expect(parseKinesisMapping({ EventSourceArn: STREAM, FunctionName: 'fn', StartingPosition: 'LATEST' }, ctx)).toEqual({
      uuid: 'u-1',
      streamName: 'clicks',
      streamArn: STREAM,
      batchSize: 100,
      maximumBatchingWindowInSeconds: 0,
      parallelizationFactor: 1,
      bisectBatchOnFunctionError: false,
      maximumRetryAttempts: -1,
      maximumRecordAgeInSeconds: -1,
      startingPosition: 'LATEST',
      reportBatchItemFailures: false,
      tumblingWindowInSeconds: 0,
      enabled: true,
      region: 'us-east-1',
      accountId: '000000000000',
    });
  });

  it('reads every supported property (numbers and booleans may be strings, as in CloudFormation)', () => {
    const c = parseKinesisMapping({
      EventSourceArn: STREAM,
      StartingPosition: 'AT_TIMESTAMP',
      StartingPositionTimestamp: 1764000000,
      BatchSize: '500',
      MaximumBatchingWindowInSeconds: 5,
      ParallelizationFactor: 4,
      BisectBatchOnFunctionError: 'true',
      MaximumRetryAttempts: 3,
      MaximumRecordAgeInSeconds: 3600,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      TumblingWindowInSeconds: 30,
      DestinationConfig: { OnFailure: { Destination: 'arn:aws:sqs:us-east-1:000000000000:esm-dlq' } },
      Enabled: false,
      Tags: [{ Key: 'a', Value: 'b' }],
    }, ctx);
    expect(c).toMatchObject({
      startingPosition: 'AT_TIMESTAMP',
      startingPositionTimestamp: 1764000000,
      batchSize: 500,
      maximumBatchingWindowInSeconds: 5,
      parallelizationFactor: 4,
      bisectBatchOnFunctionError: true,
      maximumRetryAttempts: 3,
      maximumRecordAgeInSeconds: 3600,
      reportBatchItemFailures: true,
      tumblingWindowInSeconds: 30,
      enabled: false,
      onFailure: { kind: 'sqs', queueArn: 'arn:aws:sqs:us-east-1:000000000000:esm-dlq', queueUrl: 'http://127.0.0.1:1/000000000000/esm-dlq' },
    });
    const s3 = parseKinesisMapping({ EventSourceArn: STREAM, StartingPosition: 'LATEST', DestinationConfig: { OnFailure: { Destination: 'arn:aws:s3:::bkt' } } }, ctx);
    expect(s3.onFailure).toEqual({ kind: 's3', bucket: 'bkt', bucketArn: 'arn:aws:s3:::bkt' });
    const sns = parseKinesisMapping({ EventSourceArn: STREAM, StartingPosition: 'LATEST', DestinationConfig: { OnFailure: { Destination: 'arn:aws:sns:us-east-1:000000000000:t' } } }, ctx);
    expect(sns.onFailure).toEqual({ kind: 'sns', topicArn: 'arn:aws:sns:us-east-1:000000000000:t' });
  });

  it.each([
    [{ FilterCriteria: { Filters: [] } }, /Esm1: FilterCriteria is not supported/],
    [{ SelfManagedEventSource: {} }, /SelfManagedEventSource/],
    [{ ScalingConfig: { MaximumConcurrency: 2 } }, /ScalingConfig/],
    [{ DestinationConfig: { OnSuccess: { Destination: 'arn:aws:sqs:us-east-1:000000000000:x' } } }, /DestinationConfig.OnSuccess/],
    [{ BatchSize: 10_001 }, /BatchSize must be a number between 1 and 10000/],
    [{ BatchSize: 1.5 }, /BatchSize must be an integer/],
    [{ ParallelizationFactor: 11 }, /ParallelizationFactor/],
    [{ MaximumRecordAgeInSeconds: 30 }, /MaximumRecordAgeInSeconds must be -1 or between 60/],
    [{ MaximumRetryAttempts: -2 }, /MaximumRetryAttempts/],
    [{ TumblingWindowInSeconds: 901 }, /TumblingWindowInSeconds/],
    [{ StartingPosition: 'AT_TIMESTAMP' }, /StartingPositionTimestamp is required/],
    [{ StartingPosition: undefined }, /StartingPosition is required/],
    [{ FunctionResponseTypes: ['Other'] }, /FunctionResponseTypes/],
    [{ EventSourceArn: `${STREAM}/consumer/c:1` }, /stream consumer .*\/consumer\/c:1 not found \(consumers of the stack: none\)/],
    [{ EventSourceArn: `${STREAM}/consumer/c` }, /is not a stream consumer ARN/],
    [{ DestinationConfig: { OnFailure: { Destination: 'arn:aws:sqs:eu-west-1:111111111111:elsewhere' } } }, /unknown queue/],
  ])('rejects %j', (props, message) => {
    expect(() => parseKinesisMapping({ EventSourceArn: STREAM, StartingPosition: 'TRIM_HORIZON', ...props }, ctx)).toThrow(message);
  });
});

describe('parseSqsMapping', () => {
  it('applies the AWS defaults and reads ScalingConfig', () => {
    expect(parseSqsMapping({ EventSourceArn: QUEUE, FunctionName: 'fn' }, ctx)).toEqual({
      uuid: 'u-1',
      queueUrl: 'http://127.0.0.1:1/000000000000/work',
      queueArn: QUEUE,
      batchSize: 10,
      maximumBatchingWindowInSeconds: 0,
      reportBatchItemFailures: false,
      enabled: true,
      region: 'us-east-1',
    });
    expect(parseSqsMapping({ EventSourceArn: QUEUE, ScalingConfig: { MaximumConcurrency: 5 } }, ctx).maximumConcurrency).toBe(5);
  });

  it.each([
    [{ BatchSize: 11 }, /requires MaximumBatchingWindowInSeconds/],
    [{ EventSourceArn: `${QUEUE}.fifo`, BatchSize: 11, MaximumBatchingWindowInSeconds: 1 }, /BatchSize must be a number between 1 and 10 /],
    [{ ScalingConfig: { MaximumConcurrency: 1 } }, /MaximumConcurrency/],
    [{ StartingPosition: 'LATEST' }, /StartingPosition is not supported for this event source/],
    [{ DestinationConfig: {} }, /DestinationConfig is not supported/],
    [{ FilterCriteria: {} }, /FilterCriteria/],
  ])('rejects %j', (props, message) => {
    expect(() => parseSqsMapping({ EventSourceArn: QUEUE, ...props }, ctx)).toThrow(message);
  });
});

describe('eventSourceKind', () => {
  it('tells Kinesis from SQS and rejects the rest', () => {
    expect(eventSourceKind({ EventSourceArn: STREAM })).toBe('kinesis');
    expect(eventSourceKind({ EventSourceArn: QUEUE })).toBe('sqs');
    expect(() => eventSourceKind({ EventSourceArn: 'arn:aws:dynamodb:us-east-1:0:table/t/stream/x' }, { logicalId: 'E' })).toThrow(/E: .*dynamodb/);
    expect(() => eventSourceKind({ EventSourceArn: { 'Fn::GetAtt': ['S', 'Arn'] } })).toThrow(/resolved ARN/);
  });
});
