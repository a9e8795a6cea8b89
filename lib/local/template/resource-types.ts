/**
 * Every CloudFormation resource type the local environment accepts, and what happens to it locally.
 *
 * - `run` types are created on the emulators or run by the local environment. Each lists every property a template
 *   may set: `USED` properties are implemented; any other entry is a one-line reason why the property has no local
 *   effect. A property that is not listed stops the run, naming the logical id, type and property.
 * - `accept` types are legitimately part of a deployed template but have no local behaviour (permissions,
 *   encryption keys, monitoring, ...). Their properties are not read; Ref and Fn::GetAtt of them give plausible
 *   local ids and ARNs.
 *
 * A type that is in neither table stops the run.
 */

/** The property is implemented locally. */
export const USED = 'used';

export interface RunSpec {
  readonly local: 'run';
  /** What the local environment does with a resource of this type. */
  readonly behaviour: string;
  /** Property name -> USED, or the reason the property has no local effect. */
  readonly properties: Readonly<Record<string, string>>;
}

export interface AcceptSpec {
  readonly local: 'accept';
  /** Why the resource has no local behaviour. */
  readonly reason: string;
}

export type TypeSpec = RunSpec | AcceptSpec;

const TAGS = 'tags have no local effect';
const KMS = 'data is not encrypted locally (the emulators keep it in memory)';
const IAM = 'permissions are not enforced locally';

export const RUN_TYPES: Readonly<Record<string, RunSpec>> = {
  'AWS::Kinesis::Stream': {
    local: 'run',
    behaviour: 'kinesalite stream; on-demand streams get a fixed shard count (--on-demand-shards, default 4) because kinesalite has no on-demand mode',
    properties: {
      Name: USED,
      ShardCount: USED,
      StreamModeDetails: USED,
      RetentionPeriodHours: USED,
      StreamEncryption: KMS,
      DesiredShardLevelMetrics: 'enhanced shard-level metrics are CloudWatch-only',
      Tags: TAGS,
    },
  },
  'AWS::Kinesis::StreamConsumer': {
    local: 'run',
    behaviour: 'enhanced fan-out consumer of a stack stream: an event source mapping on its ARN reads through it (push delivery modelled as its own 2 MiB/s per shard, out of the shared GetRecords limits; lib/local/esm/kinesis.ts)',
    properties: {
      StreamARN: USED,
      ConsumerName: USED,
      Tags: TAGS,
    },
  },
  'AWS::SQS::Queue': {
    local: 'run',
    behaviour: 'fauxqs queue (redrive policy, visibility timeout, FIFO)',
    properties: {
      QueueName: USED,
      FifoQueue: USED,
      ContentBasedDeduplication: USED,
      DeduplicationScope: 'high-throughput FIFO partitioning has no local effect',
      FifoThroughputLimit: 'high-throughput FIFO partitioning has no local effect',
      VisibilityTimeout: USED,
      MessageRetentionPeriod: USED,
      DelaySeconds: USED,
      MaximumMessageSize: USED,
      ReceiveMessageWaitTimeSeconds: USED,
      RedrivePolicy: USED,
      RedriveAllowPolicy: IAM,
      KmsMasterKeyId: KMS,
      KmsDataKeyReusePeriodSeconds: KMS,
      SqsManagedSseEnabled: KMS,
      Tags: TAGS,
    },
  },
  'AWS::DynamoDB::Table': {
    local: 'run',
    behaviour: 'dynalite table with the same key schema, attribute definitions and secondary indexes',
    properties: {
      TableName: USED,
      KeySchema: USED,
      AttributeDefinitions: USED,
      BillingMode: USED,
      ProvisionedThroughput: USED,
      GlobalSecondaryIndexes: USED,
      LocalSecondaryIndexes: USED,
      StreamSpecification: USED,
      TimeToLiveSpecification: 'items do not expire locally (dynalite has no TTL; a local run is minutes long)',
      PointInTimeRecoverySpecification: 'backups have no local effect',
      SSESpecification: KMS,
      DeletionProtectionEnabled: 'the local table is deleted with the emulator at the end of the run',
      ContributorInsightsSpecification: 'CloudWatch-only',
      TableClass: 'storage class has no local effect',
      OnDemandThroughput: 'request-rate caps are not enforced locally',
      WarmThroughput: 'pre-warming has no local effect',
      ResourcePolicy: IAM,
      Tags: TAGS,
    },
  },
  'AWS::S3::Bucket': {
    local: 'run',
    behaviour: 'fauxqs bucket (path-style at http://127.0.0.1:PORT)',
    properties: {
      BucketName: USED,
      BucketEncryption: KMS,
      PublicAccessBlockConfiguration: IAM,
      OwnershipControls: IAM,
      AccessControl: IAM,
      VersioningConfiguration: 'objects are not versioned locally; the pipeline\'s S3 writes are conditional on the current object',
      ObjectLockEnabled: 'no retention is set on objects: Object Lock without one has no local effect',
      LifecycleConfiguration: 'lifecycle rules act on days; a local run is minutes long',
      LoggingConfiguration: 'server access logs are not written locally',
      CorsConfiguration: 'no browsers call the local bucket',
      IntelligentTieringConfigurations: 'storage classes have no local effect',
      MetricsConfigurations: 'CloudWatch-only',
      InventoryConfigurations: 'inventory reports are daily',
      AnalyticsConfigurations: 'storage class analysis has no local effect',
      Tags: TAGS,
    },
  },
  'AWS::Lambda::Function': {
    local: 'run',
    behaviour: 'its asset runs unchanged in a Node.js child process per execution environment, with its environment, timeout and memory',
    properties: {
      Code: USED,
      Handler: USED,
      Runtime: USED,
      Environment: USED,
      Timeout: USED,
      MemorySize: USED,
      FunctionName: USED,
      ReservedConcurrentExecutions: USED,
      Role: IAM,
      Architectures: 'the local Node.js runs on this machine\'s architecture',
      Description: 'documentation only',
      TracingConfig: 'X-Ray traces are not collected locally (hops in the envelope trace records)',
      LoggingConfig: 'logs go to .phoenix/runs/<ts>/logs/<function>.log',
      DeadLetterConfig: USED,
      KmsKeyArn: KMS,
      VpcConfig: 'the local function reaches the emulators on 127.0.0.1; there is no VPC',
      EphemeralStorage: '/tmp is the machine\'s temporary directory',
      RuntimeManagementConfig: 'the local Node.js version is used',
      SnapStart: 'cold starts are local process starts',
      RecursiveLoop: 'recursion detection is not emulated',
      Tags: TAGS,
    },
  },
  'AWS::Lambda::EventSourceMapping': {
    local: 'run',
    behaviour: 'a local poller (Kinesis or SQS) with the mapping\'s batching, retry, bisect, partial-failure and on-failure semantics',
    properties: {
      EventSourceArn: USED,
      FunctionName: USED,
      BatchSize: USED,
      MaximumBatchingWindowInSeconds: USED,
      ParallelizationFactor: USED,
      BisectBatchOnFunctionError: USED,
      MaximumRetryAttempts: USED,
      MaximumRecordAgeInSeconds: USED,
      StartingPosition: USED,
      StartingPositionTimestamp: USED,
      FunctionResponseTypes: USED,
      TumblingWindowInSeconds: USED,
      DestinationConfig: USED,
      Enabled: USED,
      ScalingConfig: USED,
      FilterCriteria: USED,
      KmsKeyArn: KMS,
      MetricsConfig: 'ESM metrics are CloudWatch-only',
      Tags: TAGS,
    },
  },
  'AWS::Lambda::EventInvokeConfig': {
    local: 'run',
    behaviour: 'retry attempts and on-failure/on-success destinations of asynchronous (scheduled) invocations',
    properties: {
      FunctionName: USED,
      Qualifier: USED,
      MaximumRetryAttempts: USED,
      MaximumEventAgeInSeconds: USED,
      DestinationConfig: USED,
    },
  },
  'AWS::Scheduler::Schedule': {
    local: 'run',
    behaviour: 'rate() and at() schedules invoke their target locally (cron() schedules too, evaluated in UTC)',
    properties: {
      Name: USED,
      ScheduleExpression: USED,
      ScheduleExpressionTimezone: USED,
      State: USED,
      Target: USED,
      FlexibleTimeWindow: 'invocations happen at the scheduled time (no jitter)',
      StartDate: USED,
      EndDate: USED,
      GroupName: 'schedule groups only organize schedules',
      Description: 'documentation only',
      KmsKeyArn: KMS,
    },
  },
  'AWS::Events::Rule': {
    local: 'run',
    behaviour: 'scheduled rules invoke their targets locally; event-pattern rules are not supported',
    properties: {
      Name: USED,
      ScheduleExpression: USED,
      State: USED,
      Targets: USED,
      Description: 'documentation only',
      EventBusName: USED,
      EventPattern: USED,
      RoleArn: IAM,
    },
  },
  'AWS::KinesisFirehose::DeliveryStream': {
    local: 'run',
    behaviour: 'a local delivery loop reads the source stream and writes buffered (optionally GZIP) objects to the destination bucket',
    properties: {
      DeliveryStreamName: USED,
      DeliveryStreamType: USED,
      KinesisStreamSourceConfiguration: USED,
      ExtendedS3DestinationConfiguration: USED,
      S3DestinationConfiguration: USED,
      DeliveryStreamEncryptionConfigurationInput: KMS,
      Tags: TAGS,
    },
  },
  'Custom::S3BucketNotifications': {
    local: 'run',
    behaviour: 'bucket notifications emulated by the local environment (new and deleted objects found by listing the bucket); '
      + 'its provider function only runs during deployment',
    properties: {
      ServiceToken: USED,
      BucketName: USED,
      NotificationConfiguration: USED,
      Managed: 'the local bucket has no other notification configuration to keep',
      SkipDestinationValidation: 'destinations are checked when the notifications start',
    },
  },
  'AWS::SNS::Topic': {
    local: 'run',
    behaviour: 'fauxqs topic',
    properties: {
      TopicName: USED,
      FifoTopic: USED,
      ContentBasedDeduplication: USED,
      DisplayName: 'display names are for e-mail and SMS',
      KmsMasterKeyId: KMS,
      Subscription: USED,
      Tags: TAGS,
      TracingConfig: 'X-Ray traces are not collected locally',
      SignatureVersion: 'messages are not signed locally',
      DeliveryStatusLogging: 'CloudWatch-only',
      ArchivePolicy: 'FIFO archives are not emulated',
      DataProtectionPolicy: 'data protection is not emulated',
    },
  },
  'AWS::SNS::Subscription': {
    local: 'run',
    behaviour: 'SQS subscriptions deliver through fauxqs; e-mail, SMS and HTTP endpoints receive nothing locally (noted at start)',
    properties: {
      TopicArn: USED,
      Protocol: USED,
      Endpoint: USED,
      RawMessageDelivery: USED,
      FilterPolicy: USED,
      FilterPolicyScope: USED,
      RedrivePolicy: USED,
      Region: USED,
      DeliveryPolicy: 'delivery retries are not emulated',
      SubscriptionRoleArn: IAM,
      ReplayPolicy: 'FIFO replay is not emulated',
    },
  },
};

const accept = (reason: string): AcceptSpec => ({ local: 'accept', reason });

export const ACCEPTED_TYPES: Readonly<Record<string, AcceptSpec>> = {
  'AWS::IAM::Role': accept(IAM),
  'AWS::IAM::Policy': accept(IAM),
  'AWS::IAM::ManagedPolicy': accept(IAM),
  'AWS::IAM::InstanceProfile': accept(IAM),
  'AWS::KMS::Key': accept(KMS),
  'AWS::KMS::Alias': accept(KMS),
  'AWS::Logs::LogGroup': accept('function logs are written to .phoenix/runs/<ts>/logs/<function>.log'),
  'AWS::Logs::MetricFilter': accept('logs are local files; metrics come from the handlers\' EMF lines'),
  'AWS::Logs::SubscriptionFilter': accept('logs are local files'),
  'AWS::Logs::LogStream': accept('logs are local files'),
  'AWS::Logs::QueryDefinition': accept('saved Logs Insights queries; logs are local files'),
  'AWS::CloudWatch::Alarm': accept('no CloudWatch locally: evaluated by the run (lib/local/alarms.ts) over the EMF and sampled service metrics; states in the summary'),
  'AWS::CloudWatch::CompositeAlarm': accept('no CloudWatch locally: its rule is evaluated by the run over the local alarm states'),
  'AWS::CloudWatch::Dashboard': accept('no CloudWatch locally'),
  'AWS::S3::BucketPolicy': accept(IAM),
  'AWS::SQS::QueuePolicy': accept(IAM),
  'AWS::SNS::TopicPolicy': accept(IAM),
  'AWS::Lambda::Permission': accept(IAM),
  'AWS::Lambda::Url': accept('function URLs are not served locally'),
  'AWS::Scheduler::ScheduleGroup': accept('schedule groups only organize schedules'),
  'AWS::CDK::Metadata': accept('CDK usage metadata'),
  'Custom::S3AutoDeleteObjects': accept('empties the bucket on stack deletion; the local bucket disappears with the emulator'),
  'Custom::LogRetention': accept('log retention applies to CloudWatch log groups'),
  'Custom::CDKBucketDeployment': accept('deploy-time file copies are not replayed locally'),
  'Custom::AWSCDKOpenIdConnectProvider': accept(IAM),
  'AWS::CloudFormation::WaitConditionHandle': accept('deployment ordering only'),
};

/**
 * Custom resource types the local environment handles without their provider function (accepted ones, and
 * Custom::S3BucketNotifications, which it emulates itself): the function named by their ServiceToken only runs during
 * deployment and is accepted with them.
 */
export function isLocallyHandledCustomResource(type: string): boolean {
  return type.startsWith('Custom::') && (Object.prototype.hasOwnProperty.call(ACCEPTED_TYPES, type) || Object.prototype.hasOwnProperty.call(RUN_TYPES, type));
}

export function typeSpec(type: string): TypeSpec | undefined {
  if (Object.prototype.hasOwnProperty.call(RUN_TYPES, type)) return RUN_TYPES[type];
  if (Object.prototype.hasOwnProperty.call(ACCEPTED_TYPES, type)) return ACCEPTED_TYPES[type];
  return undefined;
}
