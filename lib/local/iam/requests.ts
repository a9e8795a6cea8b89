/**
 * HTTP request to an emulator -> the AWS calls IAM authorizes: the API call itself and the KMS calls the service
 * makes with the caller's credentials on an encrypted resource (AWS docs: Kinesis PutRecord(s) kms:GenerateDataKey,
 * GetRecords kms:Decrypt; SQS SendMessage kms:GenerateDataKey + kms:Decrypt, ReceiveMessage kms:Decrypt; SNS Publish
 * kms:GenerateDataKey + kms:Decrypt; S3 SSE-KMS PutObject kms:GenerateDataKey, GetObject kms:Decrypt).
 * Protocols: Kinesis JSON 1.1 and DynamoDB/SQS JSON 1.0 (X-Amz-Target), SNS Query, S3 REST (path or virtual host).
 */
import { queueArnOfUrl } from './policies';
import { dynamodbItemSize } from '../gates/limits-item-size';
import { SUBSCRIPTION_HEADER } from '../gates/traffic';
import type { AwsCall, AwsService, KinesisRecordSize, PayloadSizes } from '../gates/types';

/** How an emulator speaks: the error shape of a rejection follows it. */
export type WireProtocol = 'json' | 'query' | 's3';

export interface HttpRequestInfo {
  readonly method: string;
  /** Path and query as the client sent them. */
  readonly url: string;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  /** Raw body (JSON protocols, S3) or the parsed form fields (SNS Query). */
  readonly body: Buffer | Readonly<Record<string, string>> | undefined;
}

/** A call before its principal is known (the gate adds it from the access key). */
export type UnsignedCall = Omit<AwsCall, 'principal'>;

export interface RequestDescription {
  readonly service: AwsService;
  readonly protocol: WireProtocol;
  /** The access key id of the SigV4 signature (header or presigned query), undefined when unsigned. */
  readonly accessKeyId?: string;
  /** The API call first, then the KMS calls it implies. Empty when the call needs no authorization (sts:GetCallerIdentity). */
  readonly calls: readonly UnsignedCall[];
}

export interface RequestContextInfo {
  readonly region: string;
  readonly account: string;
  /** Resource ARN -> KMS key ARN it is encrypted with. */
  readonly encryption: ReadonlyMap<string, string>;
  /** Kinesis shard iterator -> stream name and shard (the emulator's encoding); undefined when it cannot be read. */
  readonly decodeIterator?: (iterator: string) => { streamName: string; shardId: string } | undefined;
}

/** The access key id of a SigV4-signed request (Authorization header, or X-Amz-Credential of a presigned URL). */
export function accessKeyIdOf(req: Pick<HttpRequestInfo, 'headers' | 'url'>): string | undefined {
  const auth = req.headers.authorization;
  const signature = Array.isArray(auth) ? auth[0] : auth;
  const fromHeader = signature ? /Credential=([^/,\s]+)\//.exec(signature)?.[1] : undefined;
  if (fromHeader) return fromHeader;
  const q = req.url.indexOf('?');
  const cred = q < 0 ? null : new URLSearchParams(req.url.slice(q + 1)).get('X-Amz-Credential');
  return cred ? cred.split('/')[0] || undefined : undefined;
}

function header(req: HttpRequestInfo, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function jsonBody(req: HttpRequestInfo): Record<string, unknown> {
  if (!Buffer.isBuffer(req.body) || req.body.length === 0) return {};
  try {
    const parsed = JSON.parse(req.body.toString('utf8')) as unknown;
    return parsed && typeof parsed === 'object' ? (parsed as Record<string, unknown>) : {};
  } catch {
    return {}; // the emulator answers malformed JSON itself
  }
}

const bytesOf = (req: HttpRequestInfo): number => (Buffer.isBuffer(req.body) ? req.body.length : Number(header(req, 'content-length') ?? 0));

function call(service: AwsService, operation: string, resources: string[], req: HttpRequestInfo, extra: Partial<UnsignedCall> = {}): UnsignedCall {
  return { service, operation, action: `${service}:${operation}`, resources, requestBytes: bytesOf(req), ...extra };
}

/** The KMS calls a service makes with the caller's credentials when `resource` is encrypted. */
function kmsCalls(ctx: RequestContextInfo, service: AwsService, resource: string, operations: string[]): UnsignedCall[] {
  const keyArn = ctx.encryption.get(resource);
  if (!keyArn) return [];
  const context = { 'kms:ViaService': `${service}.${ctx.region}.amazonaws.com` };
  return operations.map((op) => ({ service: 'kms', via: service, operation: op, action: `kms:${op}`, resources: [keyArn], requestBytes: 0, context }));
}

function kinesisRecords(body: Record<string, unknown>, operation: string): KinesisRecordSize[] | undefined {
  const one = (r: Record<string, unknown>): KinesisRecordSize => ({
    partitionKey: String(r.PartitionKey ?? ''),
    explicitHashKey: typeof r.ExplicitHashKey === 'string' ? r.ExplicitHashKey : undefined,
    bytes: Buffer.byteLength(String(r.Data ?? ''), 'base64') + Buffer.byteLength(String(r.PartitionKey ?? ''), 'utf8'),
  });
  if (operation === 'PutRecord') return [one(body)];
  if (operation === 'PutRecords' && Array.isArray(body.Records)) return (body.Records as Record<string, unknown>[]).map(one);
  return undefined;
}

function describeKinesis(req: HttpRequestInfo, operation: string, ctx: RequestContextInfo): UnsignedCall[] {
  const body = jsonBody(req);
  const streamArn = (name: string): string => `arn:aws:kinesis:${ctx.region}:${ctx.account}:stream/${name}`;
  let resource = typeof body.StreamARN === 'string' ? body.StreamARN : typeof body.StreamName === 'string' ? streamArn(body.StreamName) : '*';
  let shardId = typeof body.ShardId === 'string' ? body.ShardId : undefined;
  if (typeof body.ConsumerARN === 'string') resource = body.ConsumerARN;
  if (operation === 'GetRecords' && typeof body.ShardIterator === 'string') {
    const it = ctx.decodeIterator?.(body.ShardIterator);
    // An iterator the emulator cannot read reads nothing: it answers it with its own error.
    if (!it) return [];
    [resource, shardId] = [streamArn(it.streamName), it.shardId];
  }
  const kms = operation === 'PutRecord' || operation === 'PutRecords' ? ['GenerateDataKey'] : operation === 'GetRecords' ? ['Decrypt'] : [];
  const consumer = subscriptionOf(req, operation, resource);
  // A read of an enhanced fan-out subscription is SubscribeToShard on the consumer (IAM, its own read budget).
  const main = consumer
    ? call('kinesis', 'SubscribeToShard', [consumer], req, { shardId })
    : call('kinesis', operation, [resource], req, { kinesisRecords: kinesisRecords(body, operation), shardId });
  return [main, ...kmsCalls(ctx, 'kinesis', resource, kms)];
}

/**
 * The consumer ARN of a subscription read (GetShardIterator: the subscription's starting position; GetRecords: its
 * pushed events) when the header names a consumer of the stream read; undefined for any other call.
 */
function subscriptionOf(req: HttpRequestInfo, operation: string, streamArn: string): string | undefined {
  const consumer = header(req, SUBSCRIPTION_HEADER);
  if (consumer === undefined || (operation !== 'GetRecords' && operation !== 'GetShardIterator')) return undefined;
  return consumer.startsWith(`${streamArn}/consumer/`) ? consumer : undefined;
}

function describeDynamo(req: HttpRequestInfo, operation: string, ctx: RequestContextInfo): UnsignedCall[] {
  const body = jsonBody(req);
  const tableArn = (name: string): string => `arn:aws:dynamodb:${ctx.region}:${ctx.account}:table/${name}`;
  const tables = new Set<string>();
  if (typeof body.TableName === 'string') tables.add(tableArn(typeof body.IndexName === 'string' ? `${body.TableName}/index/${body.IndexName}` : body.TableName));
  if (body.RequestItems && typeof body.RequestItems === 'object') for (const t of Object.keys(body.RequestItems)) tables.add(tableArn(t));
  if (Array.isArray(body.TransactItems)) {
    for (const item of body.TransactItems as Array<Record<string, { TableName?: string }>>) {
      for (const part of Object.values(item)) if (part?.TableName) tables.add(tableArn(part.TableName));
    }
  }
  return [call('dynamodb', operation, tables.size ? [...tables] : ['*'], req, { sizes: { dynamodbItems: dynamodbItems(body) } })];
}

type Item = Parameters<typeof dynamodbItemSize>[0];

/** Sizes of the items a write carries (PutItem, BatchWriteItem puts, TransactWriteItems puts), for the 400 KB limit. */
function dynamodbItems(body: Record<string, unknown>): number[] {
  const items: Item[] = [];
  if (body.Item && typeof body.Item === 'object') items.push(body.Item as Item);
  for (const writes of Object.values((body.RequestItems ?? {}) as Record<string, Array<{ PutRequest?: { Item?: Item } }>>)) {
    if (Array.isArray(writes)) for (const w of writes) if (w?.PutRequest?.Item) items.push(w.PutRequest.Item);
  }
  const transact = Array.isArray(body.TransactItems) ? body.TransactItems as Array<{ Put?: { Item?: Item } }> : [];
  for (const t of transact) if (t?.Put?.Item) items.push(t.Put.Item);
  try {
    return items.map(dynamodbItemSize);
  } catch {
    return []; // a malformed item: dynalite answers it with its own validation error
  }
}

/** An SQS message's size: body plus each attribute's name, data type and value. */
function sqsMessageSize(m: { MessageBody?: unknown; MessageAttributes?: unknown }): number {
  const attrs = (m.MessageAttributes ?? {}) as Record<string, { DataType?: string; StringValue?: string; BinaryValue?: string }>;
  return Buffer.byteLength(String(m.MessageBody ?? ''), 'utf8') + Object.entries(attrs).reduce((n, [name, a]) => n + Buffer.byteLength(name)
    + Buffer.byteLength(a?.DataType ?? '') + Buffer.byteLength(a?.StringValue ?? '') + (a?.BinaryValue ? Buffer.byteLength(a.BinaryValue, 'base64') : 0), 0);
}

function sqsSizes(body: Record<string, unknown>, operation: string): PayloadSizes | undefined {
  if (operation === 'SendMessage') return { sqsMessages: [sqsMessageSize(body)] };
  if (operation !== 'SendMessageBatch' || !Array.isArray(body.Entries)) return undefined;
  return { sqsMessages: (body.Entries as Array<Record<string, unknown>>).map(sqsMessageSize) };
}

function describeSqs(req: HttpRequestInfo, operation: string, ctx: RequestContextInfo): UnsignedCall[] {
  const body = jsonBody(req);
  const queueArn = typeof body.QueueUrl === 'string'
    ? queueArnOfUrl(body.QueueUrl, ctx.region, ctx.account)
    : typeof body.QueueName === 'string' ? `arn:aws:sqs:${ctx.region}:${ctx.account}:${body.QueueName}` : '*';
  const kms = operation.startsWith('SendMessage') ? ['GenerateDataKey', 'Decrypt'] : operation === 'ReceiveMessage' ? ['Decrypt'] : [];
  return [call('sqs', operation, [queueArn], req, { sizes: sqsSizes(body, operation) }), ...kmsCalls(ctx, 'sqs', queueArn, kms)];
}

function describeSns(req: HttpRequestInfo, ctx: RequestContextInfo): UnsignedCall[] {
  const form = (Buffer.isBuffer(req.body) ? Object.fromEntries(new URLSearchParams(req.body.toString('utf8'))) : req.body ?? {}) as Record<string, string>;
  const operation = form.Action ?? 'Unknown';
  if (operation === 'GetCallerIdentity') return []; // sts:GetCallerIdentity needs no permission
  const topicArn = form.TopicArn ?? form.TargetArn ?? form.ResourceArn
    ?? (form.Name ? `arn:aws:sns:${ctx.region}:${ctx.account}:${form.Name}` : form.SubscriptionArn?.split(':').slice(0, 6).join(':')) ?? '*';
  const kms = operation === 'Publish' || operation === 'PublishBatch' ? ['GenerateDataKey', 'Decrypt'] : [];
  return [call('sns', operation, [topicArn], req), ...kmsCalls(ctx, 'sns', topicArn, kms)];
}

/** Describes a request to an emulator; `emulator` says which one received it. */
export function describeRequest(emulator: 'kinesis' | 'dynamodb' | 'fauxqs', req: HttpRequestInfo, ctx: RequestContextInfo): RequestDescription {
  const accessKeyId = accessKeyIdOf(req);
  const target = header(req, 'x-amz-target') ?? '';
  const operation = target.slice(target.indexOf('.') + 1) || 'Unknown';
  if (emulator === 'kinesis') return { service: 'kinesis', protocol: 'json', accessKeyId, calls: describeKinesis(req, operation, ctx) };
  if (emulator === 'dynamodb') return { service: 'dynamodb', protocol: 'json', accessKeyId, calls: describeDynamo(req, operation, ctx) };
  const contentType = header(req, 'content-type') ?? '';
  if (req.method === 'POST' && contentType.includes('application/x-amz-json-1.0')) {
    return { service: 'sqs', protocol: 'json', accessKeyId, calls: describeSqs(req, operation, ctx) };
  }
  if (req.method === 'POST' && contentType.includes('application/x-www-form-urlencoded')) {
    return { service: 'sns', protocol: 'query', accessKeyId, calls: describeSns(req, ctx) };
  }
  return { service: 's3', protocol: 's3', accessKeyId, calls: describeS3(req, ctx) };
}

const BUCKET_SUBRESOURCES: Record<string, string> = {
  'notification': 'BucketNotification',
  'policy': 'BucketPolicy',
  'versioning': 'BucketVersioning',
  'tagging': 'BucketTagging',
  'encryption': 'EncryptionConfiguration',
  'lifecycle': 'LifecycleConfiguration',
  'cors': 'BucketCORS',
  'acl': 'BucketAcl',
  'public-access-block': 'BucketPublicAccessBlock',
  'ownershipControls': 'BucketOwnershipControls',
  'logging': 'BucketLogging',
};

/** Bucket and key of an S3 request, path style or virtual-hosted (`<bucket>.<host>`). */
function s3Target(req: HttpRequestInfo): { bucket: string; key: string; query: URLSearchParams } {
  const url = new URL(req.url, 'http://local');
  const host = (header(req, 'host') ?? '').split(':')[0];
  const virtual = host.includes('.') && !/^\d+\.\d+\.\d+\.\d+$/.test(host) ? host.slice(0, host.indexOf('.')) : undefined;
  const parts = url.pathname.split('/').slice(1).map(decodeURIComponent);
  const [bucket, key] = virtual ? [virtual, parts.join('/')] : [parts[0] ?? '', parts.slice(1).join('/')];
  return { bucket, key, query: url.searchParams };
}

function s3BucketOperation(method: string, query: URLSearchParams): { operation: string; action: string } {
  const sub = Object.keys(BUCKET_SUBRESOURCES).find((k) => query.has(k));
  if (sub) {
    const verb = method === 'PUT' ? 'Put' : method === 'DELETE' ? 'Delete' : 'Get';
    const name = `${verb}${BUCKET_SUBRESOURCES[sub]}`;
    return { operation: name, action: `s3:${name}` };
  }
  if (query.has('location')) return { operation: 'GetBucketLocation', action: 's3:GetBucketLocation' };
  if (query.has('versions')) return { operation: 'ListObjectVersions', action: 's3:ListBucketVersions' };
  if (query.has('uploads')) return { operation: 'ListMultipartUploads', action: 's3:ListBucketMultipartUploads' };
  const byMethod: Record<string, [string, string]> = {
    GET: [query.get('list-type') === '2' ? 'ListObjectsV2' : 'ListObjects', 's3:ListBucket'],
    HEAD: ['HeadBucket', 's3:ListBucket'],
    PUT: ['CreateBucket', 's3:CreateBucket'],
    DELETE: ['DeleteBucket', 's3:DeleteBucket'],
    POST: query.has('delete') ? ['DeleteObjects', 's3:DeleteObject'] : ['Unknown', 's3:Unknown'],
  };
  const [operation, action] = byMethod[method] ?? ['Unknown', 's3:Unknown'];
  return { operation, action };
}

function s3ObjectOperation(req: HttpRequestInfo, query: URLSearchParams): { operation: string; action: string } {
  const m = req.method;
  if (query.has('uploadId')) {
    if (m === 'DELETE') return { operation: 'AbortMultipartUpload', action: 's3:AbortMultipartUpload' };
    if (m === 'GET') return { operation: 'ListParts', action: 's3:ListMultipartUploadParts' };
    return { operation: m === 'PUT' ? 'UploadPart' : 'CompleteMultipartUpload', action: 's3:PutObject' };
  }
  if (m === 'POST' && query.has('uploads')) return { operation: 'CreateMultipartUpload', action: 's3:PutObject' };
  if (query.has('tagging')) return { operation: `${m === 'PUT' ? 'Put' : m === 'DELETE' ? 'Delete' : 'Get'}ObjectTagging`, action: `s3:${m === 'PUT' ? 'Put' : m === 'DELETE' ? 'Delete' : 'Get'}ObjectTagging` };
  const byMethod: Record<string, [string, string]> = {
    GET: ['GetObject', 's3:GetObject'],
    HEAD: ['HeadObject', 's3:GetObject'],
    DELETE: ['DeleteObject', 's3:DeleteObject'],
    PUT: [header(req, 'x-amz-copy-source') ? 'CopyObject' : 'PutObject', 's3:PutObject'],
  };
  const [operation, action] = byMethod[m] ?? ['Unknown', 's3:Unknown'];
  return { operation, action };
}

/** S3 condition keys of the request (`s3:prefix`, `s3:delimiter`, `s3:max-keys`, `s3:x-amz-server-side-encryption`). */
function s3Context(req: HttpRequestInfo, query: URLSearchParams): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of ['prefix', 'delimiter', 'max-keys']) if (query.has(k)) out[`s3:${k}`] = query.get(k)!;
  const sse = header(req, 'x-amz-server-side-encryption');
  if (sse) out['s3:x-amz-server-side-encryption'] = sse;
  const keyId = header(req, 'x-amz-server-side-encryption-aws-kms-key-id');
  if (keyId) out['s3:x-amz-server-side-encryption-aws-kms-key-id'] = keyId;
  return out;
}

function describeS3(req: HttpRequestInfo, ctx: RequestContextInfo): UnsignedCall[] {
  const { bucket, key, query } = s3Target(req);
  const context = s3Context(req, query);
  if (!bucket) return [{ ...call('s3', 'ListBuckets', ['*'], req), action: 's3:ListAllMyBuckets' }];
  const bucketArn = `arn:aws:s3:::${bucket}`;
  const op = key ? s3ObjectOperation(req, query) : s3BucketOperation(req.method, query);
  const resource = key ? `${bucketArn}/${key}` : op.operation === 'DeleteObjects' ? `${bucketArn}/*` : bucketArn;
  const main: UnsignedCall = { ...call('s3', op.operation, [resource], req, { context }), action: op.action };
  const kms = ['PutObject', 'CreateMultipartUpload', 'CopyObject'].includes(op.operation) ? ['GenerateDataKey'] : op.operation === 'GetObject' ? ['Decrypt'] : [];
  const requested = context['s3:x-amz-server-side-encryption-aws-kms-key-id'];
  const keyed: RequestContextInfo = requested && kms.length ? { ...ctx, encryption: new Map([[bucketArn, requested]]) } : ctx;
  return [main, ...kmsCalls(keyed, 's3', bucketArn, kms)];
}
