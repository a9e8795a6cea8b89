import { createHash } from 'node:crypto';
import { CfnOutput, Duration, RemovalPolicy, Size, Stack, Token, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kinesis from 'aws-cdk-lib/aws-kinesis';
import * as firehose from 'aws-cdk-lib/aws-kinesisfirehose';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { ENV } from '../contract';
import { routeAlarms } from '../monitoring/private/alarm-coverage';
import { Phoenix, StatefulKind } from '../phoenix';
import { handlerAssetCode, handlerAssetDir } from '../private/asset';
import { expiringAfter, loggedBucket, useBucketPolicyForAccessLogs } from '../private/buckets';
import { validationError } from '../private/errors';
import { pipelineFunction, REPLAY_TOOL_REASONS } from '../private/function';
import { acknowledgeServiceEncryption, logGroupSettings } from '../private/helper-log-groups';
import { acknowledge, wildcardResourceFinding } from '../private/nag';
import { countAgainstResourceBudget } from '../private/resource-budget';
import { topLevelStack } from '../private/stacks';
import { checkSeconds } from '../private/validate';

/** The fixed names of an adoptable archive's buckets (see {@link RawArchive.bucketNames}). */
export interface ArchiveBucketNames {
  /** The archive bucket. */
  readonly bucket: string;
  /** The archive's server access-log bucket (when the archive creates it). */
  readonly accessLogs: string;
}

/**
 * Properties of a {@link RawArchive}.
 */
export interface RawArchiveProps {
  /** The stream to archive (the ingest stream: what producers put, before any processing). */
  readonly stream: kinesis.IStream;

  /**
   * Pipeline name, used in the stack output descriptions (`(pipeline <name>)`) so that `phoenix replay --stack`
   * finds the archive of the right pipeline.
   *
   * @default - outputs without a pipeline name
   */
  readonly pipelineName?: string;

  /**
   * Key prefix of the archived objects (ending in `/`); objects go under `<prefix>YYYY/MM/DD/HH/` (UTC arrival hour).
   *
   * @default 'raw/'
   */
  readonly prefix?: string;

  /**
   * Removal policy of the archive bucket and, when created, its access-log bucket. The archive is what a Phoenix
   * rebuild replays from: keep it in production. With `RemovalPolicy.DESTROY` the buckets are emptied on deletion
   * (`autoDeleteObjects`).
   *
   * @default - `Phoenix.removalPolicyFor(this, StatefulKind.ARCHIVE)`: RemovalPolicy.RETAIN in PhoenixMode.PRODUCTION
   * (the default mode), RemovalPolicy.DESTROY in PhoenixMode.EPHEMERAL
   */
  readonly removalPolicy?: RemovalPolicy;

  /**
   * Removal policy of the log groups (the framer function's, and the delivery stream's error log group).
   *
   * @default - `Phoenix.removalPolicyFor(this, StatefulKind.LOGS)`: RemovalPolicy.DESTROY in both Phoenix modes
   */
  readonly logRemovalPolicy?: RemovalPolicy;

  /**
   * Name the archive bucket (and its created access-log bucket) so that a rebuilt stack adopts them: a retained
   * archive gets fixed names that a later deployment of the same app imports (`cdk deploy --import-existing-resources`)
   * instead of creating an empty archive. See {@link RawArchive.bucketNames}.
   *
   * @default - true when the archive is retained (RemovalPolicy.RETAIN, PhoenixMode.PRODUCTION), else generated names
   */
  readonly adoptable?: boolean;

  /**
   * Customer managed KMS key for the archive bucket.
   *
   * @default - the AWS managed key `alias/aws/s3`
   */
  readonly encryptionKey?: kms.IKey;

  /**
   * How long Firehose buffers records before writing an object. Allowed: 0 to 900 seconds.
   *
   * @default Duration.seconds(60)
   */
  readonly bufferingInterval?: Duration;

  /**
   * How long archived objects are kept.
   *
   * @default - forever
   */
  readonly expiration?: Duration;

  /**
   * Bucket receiving the archive bucket's server access logs.
   *
   * @default - a bucket is created (SSE-S3, the only encryption S3 log delivery supports)
   */
  readonly serverAccessLogsBucket?: s3.IBucket;

  /**
   * ARN of the only principal (a break-glass role) allowed to delete object versions of a retained archive or to
   * change object locks: the bucket policy denies `s3:DeleteObjectVersion`, `s3:PutObjectRetention`,
   * `s3:PutObjectLegalHold` and `s3:BypassGovernanceRetention` to every other principal. Not applied when the archive
   * is destroyed with its stack (`RemovalPolicy.DESTROY`: emptying the bucket deletes versions).
   *
   * @default - no exception: nobody may delete an object version of a retained archive
   */
  readonly breakGlassPrincipalArn?: string;

  /**
   * Topic notified by the archive's alarms (delivery freshness and read lag, delivery and processing success).
   *
   * @default - no action: the alarms join a CorrelatedMonitor's pipeline health (through `DataPipeline.failureAlarms`),
   * else a synth warning names them
   */
  readonly alarmTopic?: sns.ITopic;

  /**
   * Age of the oldest record not yet in the archive (`DeliveryToS3.DataFreshness`, and the source read lag
   * `KinesisMillisBehindLatest`) above which the archive alarms: a delivery stream behind the stream's retention
   * loses records. Allowed: 10 minutes to the stream's retention minus 1 hour (the margin to act before records
   * are trimmed).
   *
   * @default Duration.hours(1) - an archive an hour behind is stuck (normal freshness is the buffering interval plus
   * framing), and a stream keeps its records at least 24 hours (an imported stream counts as 24 hours, the shortest
   * retention Kinesis allows)
   */
  readonly dataFreshnessAlarmThreshold?: Duration;
}

/** Time left between the freshness alarm and the stream trimming records, at the least. */
const RETENTION_MARGIN = Duration.hours(1);

/**
 * The raw archive: every record of a stream, as put by producers, kept in an encrypted, versioned, private S3 bucket
 * that survives Phoenix rebuilds (retained in PhoenixMode.PRODUCTION, the default), so that a rebuilt pipeline can be refilled with
 * `phoenix replay --from archive`. Retained, it is adoptable: fixed bucket names that `cdk deploy
 * --import-existing-resources` imports into the rebuilt stack (see {@link RawArchive.bucketNames}, docs/runbook.md).
 *
 * A Firehose delivery stream reads the stream (KinesisStreamAsSource), frames each record with a small Lambda
 * processor as one JSON line `{"v":1,"data":"<base64>","partitionKey":...,"arrivedAt":...,"sequenceNumber":...,"shardId":...}`
 * (exact bytes, partition key and arrival time survive; Firehose alone would concatenate records without
 * delimiters), and writes GZIP objects under `<prefix>YYYY/MM/DD/HH/`; failed deliveries go under
 * `errors/<error-output-type>/YYYY/MM/DD/HH/`.
 *
 * @example
 * const archive = new RawArchive(this, 'Archive', { stream: pipeline.ingest.stream, pipelineName: 'clickstream' });
 */
export class RawArchive extends Construct {
  /** Default key prefix of the archived objects. */
  public static readonly DEFAULT_PREFIX = 'raw/';

  /**
   * The fixed names of an adoptable archive: `<stack>-<hash>-archive-<account>-<region>` and `...-arclogs-...` (hash of
   * the stack name and this construct's path; account and region when the stack's environment is concrete). A
   * template of an environment-agnostic stack has no account or region to put in a fixed name: its names hold the
   * stack name and hash only (the same stack name in two regions of one account would collide: give such copies an
   * environment). In a nested stack (DataPipelineStack) the stack name is the top-level stack's: the nested stack's own
   * name is only known at deployment.
   */
  public static bucketNames(scope: Construct): ArchiveBucketNames {
    // In a nested stack: the top-level stack's name (the construct path tells nested stacks apart).
    const stack = topLevelStack(scope);
    const hash = createHash('sha256').update(`${stack.stackName}/${scope.node.path}`).digest('hex').slice(0, 8);
    const slug = stack.stackName.toLowerCase().replace(/[^a-z0-9-]/g, '-').replace(/-+/g, '-').replace(/^-|-$/g, '').slice(0, 12).replace(/-$/, '');
    const env = Token.isUnresolved(stack.account) || Token.isUnresolved(stack.region) ? '' : `-${stack.account}-${stack.region}`;
    const base = (kind: string) => `${slug ? `${slug}-` : ''}${hash}-${kind}${env}`;
    return { bucket: base('archive'), accessLogs: base('arclogs') };
  }

  /** The archive bucket. */
  public readonly bucket: s3.IBucket;
  /** Key prefix of the archived objects. */
  public readonly prefix: string;
  /** The delivery stream. */
  public readonly deliveryStream: firehose.DeliveryStream;
  /** The Firehose record framer function. */
  public readonly framer: lambda.IFunction;
  /** The bucket receiving the archive bucket's server access logs. */
  public readonly serverAccessLogsBucket: s3.IBucket;
  /** The role Firehose writes the archive with: put and list, never read, delete or lock objects. */
  public readonly deliveryRole: iam.IRole;
  /**
   * Alarms on the archive's failure paths: data freshness and source read lag against the stream's retention,
   * delivery to S3 and record framing (processing) success below 100%.
   */
  public readonly alarms: cloudwatch.Alarm[];

  constructor(scope: Construct, id: string, props: RawArchiveProps) {
    super(scope, id);
    countAgainstResourceBudget(this);
    useBucketPolicyForAccessLogs(this);
    const prefix = props.prefix ?? RawArchive.DEFAULT_PREFIX;
    if (!/^([A-Za-z0-9_.-]+\/)+$/.test(prefix)) {
      throw validationError(this, `prefix must be one or more path segments of [A-Za-z0-9_.-], each ending in '/' (given '${prefix}')`);
    }
    this.prefix = prefix;
    const interval = props.bufferingInterval ?? Duration.seconds(60);
    checkSeconds(this, 'bufferingInterval', interval, 0, 900);
    const removalPolicy = props.removalPolicy ?? Phoenix.removalPolicyFor(this, StatefulKind.ARCHIVE);
    const logRemovalPolicy = props.logRemovalPolicy ?? Phoenix.removalPolicyFor(this, StatefulKind.LOGS);
    const lifecycleRules: s3.LifecycleRule[] = [
      { noncurrentVersionExpiration: Duration.days(30), abortIncompleteMultipartUploadAfter: Duration.days(7) },
    ];
    if (props.expiration) lifecycleRules.push({ expiration: props.expiration });
    const { bucket, serverAccessLogsBucket } = loggedBucket(this, 'Bucket', props, {
      of: 'the archive bucket',
      lifecycleRules,
      accessLogsLifecycleRules: expiringAfter(Duration.days(365)),
      serverAccessLogsPrefix: 'archive/',
      removalPolicy,
      residency: 'The archive stays in the pipeline\'s region',
    });
    this.bucket = bucket;
    this.serverAccessLogsBucket = serverAccessLogsBucket;
    if (removalPolicy !== RemovalPolicy.DESTROY) this.denyVersionDeletion(bucket, props.breakGlassPrincipalArn);
    if (props.adoptable ?? removalPolicy === RemovalPolicy.RETAIN) this.nameForAdoption(bucket, serverAccessLogsBucket, props);

    const { fn } = pipelineFunction(this, 'Framer', {
      owner: this,
      code: handlerAssetCode(this, handlerAssetDir('replay')),
      handler: 'index.archiveFramer',
      description: 'Phoenix raw archive: frames each stream record as one archive record line (Firehose processor)',
      roleDescription: `Phoenix raw archive: frames each stream record as one archive record line (Firehose processor) (${this.node.path})`,
      timeout: Duration.minutes(1),
      memorySize: 256,
      // Each archived line names its pipeline: a replay into another pipeline skips it.
      environment: props.pipelineName ? { [ENV.pipeline]: props.pipelineName } : {},
      logRemovalPolicy,
      noVpcReason: REPLAY_TOOL_REASONS.noVpc,
      noReservedConcurrencyReason: REPLAY_TOOL_REASONS.noReservedConcurrency,
      noDlqReason: 'Firehose invokes the processor synchronously and retries it; records it cannot process go to the delivery stream\'s error prefix, so an asynchronous-invocation DLQ would never receive anything.',
      bundle: '',
    });
    this.framer = fn;

    // Delivery errors are logged to a log group of the archive's own (the L2's default one would be retained).
    const errorLogSettings = logGroupSettings(this, {}, logs.RetentionDays.THREE_MONTHS);
    const errorLogs = new logs.LogGroup(this, 'DeliveryErrors', { ...errorLogSettings, removalPolicy: logRemovalPolicy });
    acknowledgeServiceEncryption(errorLogs, errorLogSettings, 'Firehose\'s delivery-error log group');
    const deliveryRole = this.createDeliveryRole(bucket, prefix, fn, errorLogs);
    this.deliveryRole = deliveryRole;

    this.deliveryStream = new firehose.DeliveryStream(this, 'DeliveryStream', {
      source: new firehose.KinesisStreamSource(props.stream),
      destination: new firehose.S3Bucket(bucket, {
        dataOutputPrefix: `${prefix}!{timestamp:yyyy}/!{timestamp:MM}/!{timestamp:dd}/!{timestamp:HH}/`,
        errorOutputPrefix: 'errors/!{firehose:error-output-type}/!{timestamp:yyyy}/!{timestamp:MM}/!{timestamp:dd}/!{timestamp:HH}/',
        compression: firehose.Compression.GZIP,
        // The L2 would grant its destination role read, write and delete on the bucket: ours gets only what it needs.
        role: deliveryRole.withoutPolicyUpdates(),
        loggingConfig: new firehose.EnableLogging(errorLogs),
        bufferingInterval: interval,
        bufferingSize: Size.mebibytes(64),
        processors: [new firehose.LambdaFunctionProcessor(fn, { bufferInterval: Duration.seconds(60), bufferSize: Size.mebibytes(1), retries: 3 })],
      }),
    });
    // The role's policy exists before Firehose first writes (the L2 adds this for the grants it makes itself).
    this.deliveryStream.node.defaultChild!.node.addDependency(deliveryRole);
    // Firehose buffers records in flight only (the stream still holds them): a stream's removal policy.
    this.deliveryStream.applyRemovalPolicy(Phoenix.removalPolicyFor(this, StatefulKind.STREAM));
    // The L2 adds its log stream to the error log group (a LogStream is retained by default): same policy as the group.
    errorLogs.node.findAll().filter((c): c is logs.LogStream => c instanceof logs.LogStream).forEach((c) => c.applyRemovalPolicy(logRemovalPolicy));
    // The Firehose L2 adds a stack-level mapping of its service's CIDR blocks, used only for Redshift or HTTP
    // destinations that must allow-list Firehose; with an S3 destination nothing references it, and CDK's own template
    // check (CloudFormation-Validate) warns on every synth. The mapping is the L2's, not ours to remove.
    Validations.of(Stack.of(this)).acknowledge({
      id: 'CloudFormation-Validate::W7001',
      reason: 'the Firehose L2 adds its awscdkawskinesisfirehoseCidrBlocks mapping to the stack; an S3 destination does not reference it',
    });
    // Firehose's roles (service role, S3 destination role) are created by the L2.
    acknowledge(this.deliveryStream,
      'The delivery stream\'s roles are created for it only; CDK attaches their per-resource grants as AWS::IAM::Policy resources of those roles.',
      'NIST.800.53.R5-IAMNoInlinePolicy', 'HIPAA.Security-IAMNoInlinePolicy', 'PCI.DSS.321-IAMNoInlinePolicy');
    acknowledge(this.deliveryStream,
      'A delivery stream whose source is a Kinesis stream cannot have Firehose server-side encryption (it applies to Direct PUT only): records are encrypted by the source stream and the archive bucket (SSE-KMS).',
      'AwsSolutions-KDF1');

    this.alarms = this.createAlarms(props, interval);
    routeAlarms(this, this.alarms, props.alarmTopic);

    const what = props.pipelineName ? ` (pipeline ${props.pipelineName})` : '';
    new CfnOutput(this, 'ArchiveBucket', { value: bucket.bucketName, description: `Raw archive bucket${what}` });
    new CfnOutput(this, 'ArchivePrefix', { value: prefix, description: `Raw archive key prefix${what}` });
  }

  /** Freshness and lag (against the stream's retention), delivery and processing success. */
  private createAlarms(props: RawArchiveProps, bufferingInterval: Duration): cloudwatch.Alarm[] {
    const retention = streamRetention(props.stream);
    const threshold = props.dataFreshnessAlarmThreshold ?? Duration.hours(1);
    const max = retention.minus(RETENTION_MARGIN);
    if (!threshold.isUnresolved() && (threshold.toSeconds() < 600 || threshold.toSeconds() > max.toSeconds())) {
      throw validationError(this, `dataFreshnessAlarmThreshold must be between 10 minutes and ${max.toHumanString()}, the stream's retention `
        + `(${retention.toHumanString()}) minus a margin of ${RETENTION_MARGIN.toHumanString()} to act before records are trimmed (given ${threshold.toHumanString()})`);
    }
    const where = `the raw archive${props.pipelineName ? ` of pipeline '${props.pipelineName}'` : ''}`;
    const loss = `Records older than the stream's retention (${retention.toHumanString()}) are trimmed before they reach the archive.`;
    const max5 = { statistic: cloudwatch.Stats.MAXIMUM, period: Duration.minutes(5) };
    const avg5 = { statistic: cloudwatch.Stats.AVERAGE, period: Duration.minutes(5) };
    const notBreaching = cloudwatch.TreatMissingData.NOT_BREACHING;
    const above = { evaluationPeriods: 1, comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD, treatMissingData: notBreaching };
    const belowAll = { threshold: 1, comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD, treatMissingData: notBreaching };
    const ds = this.deliveryStream;
    return [
      ds.metric('DeliveryToS3.DataFreshness', max5).createAlarm(this, 'DataFreshnessAlarm', {
        ...above,
        threshold: threshold.toSeconds(),
        alarmDescription: `The oldest record in the delivery stream of ${where} is older than ${threshold.toHumanString()} (normally about ${bufferingInterval.toHumanString()} plus framing). ${loss} Check the delivery-error log group.`,
      }),
      ds.metric('KinesisMillisBehindLatest', max5).createAlarm(this, 'ReadLagAlarm', {
        ...above,
        threshold: threshold.toMilliseconds(),
        alarmDescription: `The delivery stream of ${where} reads its source stream more than ${threshold.toHumanString()} behind. ${loss}`,
      }),
      ds.metric('DeliveryToS3.Success', avg5).createAlarm(this, 'DeliverySuccessAlarm', {
        ...belowAll,
        evaluationPeriods: 3,
        alarmDescription: `Deliveries of ${where} to S3 failed for 15 minutes (Firehose retries them until the freshness limit). Check the bucket policy, the key and the delivery-error log group.`,
      }),
      ds.metric('ExecuteProcessing.Success', avg5).createAlarm(this, 'ProcessingSuccessAlarm', {
        ...belowAll,
        evaluationPeriods: 1,
        alarmDescription: `Invocations of the record framer of ${where} failed: records it could not frame after its retries are written under errors/processing-failed/ of the archive bucket, `
          + 'outside the archive prefix (replay them with `phoenix replay --from archive-errors`).',
      }),
    ];
  }

  /** Firehose's destination role: list the bucket, put objects under the archive and error prefixes, invoke the framer, log errors. */
  private createDeliveryRole(bucket: s3.IBucket, prefix: string, framer: lambda.IFunction, errorLogs: logs.ILogGroup): iam.Role {
    const account = Stack.of(this).account;
    const role = new iam.Role(this, 'DeliveryRole', {
      // sts:ExternalId = the account: Firehose passes it, so only this account's delivery streams assume the role.
      assumedBy: new iam.ServicePrincipal('firehose.amazonaws.com', { conditions: { StringEquals: { 'sts:ExternalId': account } } }),
      description: `Phoenix raw archive: Firehose writes the archive, put and list only (${this.node.path})`,
    });
    role.addToPrincipalPolicy(new iam.PolicyStatement({
      sid: 'ListArchive', actions: ['s3:GetBucketLocation', 's3:ListBucket', 's3:ListBucketMultipartUploads'], resources: [bucket.bucketArn],
    }));
    role.addToPrincipalPolicy(new iam.PolicyStatement({
      sid: 'PutArchiveObjects',
      actions: ['s3:PutObject', 's3:AbortMultipartUpload'],
      resources: [bucket.arnForObjects(`${prefix}*`), bucket.arnForObjects('errors/*')],
    }));
    bucket.encryptionKey?.grant(role, 'kms:GenerateDataKey', 'kms:Decrypt');
    role.addToPrincipalPolicy(new iam.PolicyStatement({
      sid: 'InvokeFramer', actions: ['lambda:InvokeFunction', 'lambda:GetFunctionConfiguration'], resources: [framer.functionArn, `${framer.functionArn}:*`],
    }));
    errorLogs.grantWrite(role);
    acknowledge(role,
      'Firehose writes generated object keys under the archive prefix and errors/ (object ARNs with a key wildcard), and invokes any version of the framer function.',
      'AwsSolutions-IAM5[Action::kms:GenerateDataKey*]',
      wildcardResourceFinding(this, bucket.arnForObjects(`${prefix}*`)),
      wildcardResourceFinding(this, bucket.arnForObjects('errors/*')),
      wildcardResourceFinding(this, `${framer.functionArn}:*`));
    acknowledge(role,
      'The delivery role is created for this archive only; CDK attaches its grants as an AWS::IAM::Policy resource of the role.',
      'NIST.800.53.R5-IAMNoInlinePolicy', 'HIPAA.Security-IAMNoInlinePolicy', 'PCI.DSS.321-IAMNoInlinePolicy');
    return role;
  }

  /** Denies deleting object versions and changing object locks of the retained archive to all but the break-glass principal. */
  private denyVersionDeletion(bucket: s3.IBucket, breakGlassPrincipalArn?: string): void {
    if (breakGlassPrincipalArn !== undefined && !Token.isUnresolved(breakGlassPrincipalArn) && !/^arn:aws[a-z-]*:(iam|sts)::\d{12}:/.test(breakGlassPrincipalArn)) {
      throw validationError(this, `breakGlassPrincipalArn must be an IAM or STS principal ARN such as 'arn:aws:iam::123456789012:role/BreakGlass' (given '${breakGlassPrincipalArn}')`);
    }
    bucket.addToResourcePolicy(new iam.PolicyStatement({
      sid: 'DenyArchiveVersionDeletion',
      effect: iam.Effect.DENY,
      principals: [new iam.AnyPrincipal()],
      actions: ['s3:DeleteObjectVersion', 's3:PutObjectRetention', 's3:PutObjectLegalHold', 's3:BypassGovernanceRetention'],
      resources: [bucket.arnForObjects('*')],
      conditions: breakGlassPrincipalArn !== undefined ? { ArnNotEquals: { 'aws:PrincipalArn': breakGlassPrincipalArn } } : undefined,
    }));
  }

  /** Gives the archive bucket, and the access-log bucket it created, their fixed names (see {@link bucketNames}). */
  private nameForAdoption(bucket: s3.Bucket, accessLogs: s3.IBucket, props: RawArchiveProps): void {
    const names = RawArchive.bucketNames(this);
    (bucket.node.defaultChild as s3.CfnBucket).bucketName = names.bucket;
    if (!props.serverAccessLogsBucket && accessLogs instanceof s3.Bucket) {
      (accessLogs.node.defaultChild as s3.CfnBucket).bucketName = names.accessLogs;
    }
  }
}

/** The stream's retention: its own setting when created here, else 24 hours (the shortest Kinesis allows). */
function streamRetention(stream: kinesis.IStream): Duration {
  const hours = stream instanceof kinesis.Stream ? (stream.node.defaultChild as kinesis.CfnStream).retentionPeriodHours : undefined;
  return Duration.hours(hours === undefined || Token.isUnresolved(hours) ? 24 : hours);
}
