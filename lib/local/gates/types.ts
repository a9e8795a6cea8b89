/**
 * Request gates: checks that sit in front of the emulators and make a local AWS call fail where AWS would fail it
 * (IAM and resource policies, service limits) or take as long as AWS would take it (latency model).
 * Every emulated call is first described as an {@link AwsCall}; each gate of the chain then allows, rejects or delays it.
 */

/** AWS services the local environment answers (over HTTP through the emulator host, or in-process). */
export type AwsService = 'kinesis' | 'dynamodb' | 'sqs' | 'sns' | 's3' | 'firehose' | 'lambda' | 'kms' | 'cloudwatch' | 'logs' | 'scheduler';

/** Who makes a call: an IAM role (a function's role, Firehose's delivery role, a scheduler role) or a service principal. */
export interface CallPrincipal {
  /** Role ARN, or the service principal's name (`cloudwatch.amazonaws.com`). */
  readonly arn: string;
  readonly kind: 'role' | 'service';
  /** Role principals: the session name AWS shows in `assumed-role/<role>/<session>` (a function's name; default the role name). */
  readonly session?: string;
  /** For a service acting on behalf of a resource: the `aws:SourceArn` and `aws:SourceAccount` of the request. */
  readonly sourceArn?: string;
  readonly sourceAccount?: string;
}

/** One Kinesis record of a write, for per-shard write limits. */
export interface KinesisRecordSize {
  readonly partitionKey: string;
  readonly explicitHashKey?: string;
  /** Data bytes plus partition key bytes (what a shard's 1 MiB/s counts). */
  readonly bytes: number;
}

/** One AWS API call as IAM and the service limits see it. */
export interface AwsCall {
  readonly service: AwsService;
  /** The API operation, which is also the IAM action name without the service prefix (`PutRecords`, `SendMessage`). */
  readonly operation: string;
  /** IAM action, `<prefix>:<operation>` (`kinesis:PutRecords`, `s3:PutObject`). */
  readonly action: string;
  /** ARNs the action applies to (IAM evaluates each). */
  readonly resources: readonly string[];
  readonly principal: CallPrincipal;
  /** Size of the request body in bytes. */
  readonly requestBytes: number;
  /** Kinesis writes: the records, for the per-shard write limits. */
  readonly kinesisRecords?: readonly KinesisRecordSize[];
  /** Kinesis reads: the shard read (GetRecords) or subscribed to (SubscribeToShard). */
  readonly shardId?: string;
  /** KMS calls a service makes with the caller's credentials on an encrypted resource: that service (`sqs`). */
  readonly via?: AwsService;
  /** Extra IAM condition keys of the request (e.g. `s3:x-amz-server-side-encryption`). */
  readonly context?: Readonly<Record<string, string>>;
  /** Payload sizes the request size alone does not give (service size limits). */
  readonly sizes?: PayloadSizes;
}

/** Sizes the call builder computes from the request body. */
export interface PayloadSizes {
  /** DynamoDB: size of each item written (PutItem: one; BatchWriteItem: each PutRequest), per `dynamodbItemSize`. */
  readonly dynamodbItems?: readonly number[];
  /** SQS: size of each message (body plus message attributes: names, types and values), in request order. */
  readonly sqsMessages?: readonly number[];
  /** Firehose: data size of each record (before base64), in request order. */
  readonly firehoseRecords?: readonly number[];
}

/** One failed entry of a batch call that goes on for its other entries. */
export interface EntryFailure {
  /** 0-based index of the entry in the request. */
  readonly index: number;
  readonly errorCode: string;
  readonly errorMessage: string;
}

/** What a gate decides before the emulator answers. */
export type GateVerdict =
  | { readonly kind: 'allow' }
  /** Delay the call by `ms` milliseconds, then go on (latency model). */
  | { readonly kind: 'delay'; readonly ms: number }
  /** Fail the call as AWS would: HTTP status, the service's error type (`AccessDeniedException`) and message. */
  | { readonly kind: 'reject'; readonly status: number; readonly errorType: string; readonly message: string }
  /**
   * The call goes on, but the listed entries of a batch (PutRecords, SendMessageBatch) fail with the given code and
   * are not sent to the emulator; the response reports them as the service does.
   */
  | { readonly kind: 'partial'; readonly failures: readonly EntryFailure[] };

/** A check in front of the emulators. `after` sees the response size (read limits count bytes returned). */
export interface RequestGate {
  readonly name: string;
  before(call: AwsCall, nowMs: number): GateVerdict;
  after?(call: AwsCall, responseBytes: number, nowMs: number): void;
}
