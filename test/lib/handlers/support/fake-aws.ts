/**
 * AWS SDK clients mocked with aws-sdk-client-mock, backed by small in-memory models of the service semantics the
 * adapters rely on (DynamoDB condition expression and ALL_OLD, S3 conditional writes, SQS messages).
 */
import {
  ConditionalCheckFailedException,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  type AttributeValue,
  type PutItemCommandInput,
} from '@aws-sdk/client-dynamodb';
import { HeadObjectCommand, PutObjectCommand, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { SendMessageCommand, SQSClient, type SendMessageCommandInput } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { DYNAMODB_CONDITION } from '../../../../lib/handlers/ports/dynamodb';

type Item = Record<string, AttributeValue>;

/** The condition of the DynamoDB sink, evaluated on the stored item. */
export function conditionHolds(stored: Item | undefined, input: PutItemCommandInput): boolean {
  if (input.ConditionExpression !== DYNAMODB_CONDITION) throw new Error(`unexpected condition ${input.ConditionExpression}`);
  if (stored === undefined) return true;
  const et = input.ExpressionAttributeValues![':et'].S!;
  const h = input.ExpressionAttributeValues![':h'].S!;
  const oldEt = stored.eventTime.S!;
  const oldH = stored.contentHash.S!;
  return oldEt < et || (oldEt === et && oldH < h);
}

export interface FakeDynamo {
  readonly table: Map<string, Item>;
  readonly mock: ReturnType<typeof mockClient>;
  /** Every PutItem input, in order. */
  readonly puts: PutItemCommandInput[];
  /** Errors thrown by the next PutItem calls, in order, before the model is applied. */
  readonly failNext: unknown[];
  /** When false, conditional failures carry no Item (emulators ignoring ReturnValuesOnConditionCheckFailure). */
  returnOld: boolean;
}

export function fakeDynamoDb(): FakeDynamo {
  const mock = mockClient(DynamoDBClient);
  const fake: FakeDynamo = { table: new Map(), mock, puts: [], failNext: [], returnOld: true };
  mock.on(PutItemCommand).callsFake((input: PutItemCommandInput) => {
    fake.puts.push(input);
    if (fake.failNext.length > 0) throw fake.failNext.shift();
    const pk = input.Item!.pk.S!;
    const stored = fake.table.get(pk);
    if (!conditionHolds(stored, input)) {
      throw new ConditionalCheckFailedException({
        message: 'The conditional request failed',
        $metadata: { httpStatusCode: 400 },
        ...(fake.returnOld && input.ReturnValuesOnConditionCheckFailure === 'ALL_OLD' ? { Item: stored } : {}),
      });
    }
    fake.table.set(pk, input.Item!);
    return {};
  });
  mock.on(GetItemCommand).callsFake((input) => ({ Item: fake.table.get(input.Key.pk.S) }));
  return fake;
}

export interface FakeSqs {
  readonly mock: ReturnType<typeof mockClient>;
  readonly sent: SendMessageCommandInput[];
  readonly failNext: unknown[];
}

export function fakeSqs(): FakeSqs {
  const mock = mockClient(SQSClient);
  const fake: FakeSqs = { mock, sent: [], failNext: [] };
  mock.on(SendMessageCommand).callsFake((input: SendMessageCommandInput) => {
    if (fake.failNext.length > 0) throw fake.failNext.shift();
    fake.sent.push(input);
    return { MessageId: `m-${fake.sent.length}` };
  });
  return fake;
}

interface S3Object {
  body: string;
  etag: string;
  metadata: Record<string, string>;
}

export interface FakeS3 {
  readonly mock: ReturnType<typeof mockClient>;
  readonly objects: Map<string, S3Object>;
  readonly puts: Array<Record<string, unknown>>;
  /** Called before each PutObject is applied (to simulate a concurrent writer). */
  beforePut?: () => void;
}

function s3Error(name: string, status: number): S3ServiceException {
  return new S3ServiceException({ name, $fault: 'client', message: name, $metadata: { httpStatusCode: status } });
}

export function fakeS3(): FakeS3 {
  const mock = mockClient(S3Client);
  const fake: FakeS3 = { mock, objects: new Map(), puts: [] };
  let etags = 0;
  mock.on(HeadObjectCommand).callsFake((input) => {
    const o = fake.objects.get(`${input.Bucket}/${input.Key}`);
    if (!o) throw s3Error('NotFound', 404);
    return { ETag: o.etag, Metadata: { ...o.metadata } };
  });
  mock.on(PutObjectCommand).callsFake((input) => {
    fake.puts.push(input);
    fake.beforePut?.();
    const k = `${input.Bucket}/${input.Key}`;
    const existing = fake.objects.get(k);
    if (input.IfNoneMatch === '*' && existing) throw s3Error('PreconditionFailed', 412);
    if (input.IfMatch !== undefined && (!existing || existing.etag !== input.IfMatch)) throw s3Error('PreconditionFailed', 412);
    fake.objects.set(k, { body: String(input.Body), etag: `"e${++etags}"`, metadata: { ...(input.Metadata ?? {}) } });
    return { ETag: `"e${etags}"` };
  });
  return fake;
}

/** Put an object directly into the fake (e.g. a newer version written by another writer). */
export function putFakeObject(fake: FakeS3, key: string, body: string, metadata: Record<string, string>): void {
  fake.objects.set(key, { body, etag: `"x${fake.objects.size}-${Date.now()}"`, metadata });
}
