import { type RemovalPolicy, Token } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kinesis from 'aws-cdk-lib/aws-kinesis';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { Phoenix, StatefulKind } from './phoenix';
import { acknowledge } from './private/nag';

/**
 * Options of {@link IngestSink.dynamoDb}.
 */
export interface DynamoDbSinkProps {
  /**
   * An existing table to write to. Its partition key must be the string attribute `pk`
   * (the record id) and it must have no sort key.
   *
   * @default - a table is created: partition key `pk` (STRING), on-demand billing, point-in-time recovery,
   * encryption with the AWS managed key `alias/aws/dynamodb`, no physical name
   */
  readonly table?: dynamodb.ITable;

  /**
   * Removal policy of the created table. Ignored when `table` is given.
   *
   * @default - `Phoenix.removalPolicyFor(scope, StatefulKind.SINK)`: RemovalPolicy.RETAIN in PhoenixMode.PRODUCTION
   * (unless `retainSinks` is false), RemovalPolicy.DESTROY in PhoenixMode.EPHEMERAL
   */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * Options for binding an {@link IngestSink} to the function that writes to it.
 */
export interface IngestSinkBindOptions {
  /** The principal writing to the sink (the stage's processor function). */
  readonly grantee: iam.IGrantable;
}

/**
 * What a bound sink tells the handler and the stage.
 */
export interface IngestSinkConfig {
  /** The sink kind, the value of `PHX_SINK_KIND`: `dynamodb`, `s3`, `kinesis` or `none`. */
  readonly kind: string;

  /** The sink target, the value of `PHX_SINK_TARGET`: table name, bucket name, stream ARN, or empty for `none`. */
  readonly target: string;

  /**
   * Key prefix of objects, for an S3 sink (part of `PHX_SINK_TARGET` as `bucket/prefix`).
   *
   * @default - not an S3 sink
   */
  readonly prefix?: string;

  /**
   * The table, for a DynamoDB sink.
   *
   * @default - not a DynamoDB sink
   */
  readonly table?: dynamodb.ITable;

  /**
   * The bucket, for an S3 sink.
   *
   * @default - not an S3 sink
   */
  readonly bucket?: s3.IBucket;

  /**
   * The stream, for a Kinesis sink.
   *
   * @default - not a Kinesis sink
   */
  readonly stream?: kinesis.IStream;
}

/**
 * Where an ingest stage writes its envelopes. Every sink write is idempotent (see docs/ARCHITECTURE.md).
 *
 * Use the static factories; subclass only to add a sink kind the handler understands.
 */
export abstract class IngestSink {
  /**
   * Writes envelopes to a DynamoDB table, one item per record id (partition key `pk`), with a conditional
   * put that keeps the newest version. Grants `dynamodb:PutItem`, and `dynamodb:GetItem` on the table for the sink's
   * read of the stored version when a conditional failure comes back without it (DynamoDB-compatible endpoints that
   * ignore ReturnValuesOnConditionCheckFailure, such as the local environment's).
   *
   * @param props the table (or options for a created one)
   */
  public static dynamoDb(props: DynamoDbSinkProps = {}): IngestSink {
    return new DynamoDbSink(props);
  }

  /**
   * Writes envelopes to S3 objects `<prefix><id>.json` (HEAD then conditional PUT). Grants `s3:GetObject` and
   * `s3:PutObject` on `<prefix>*`, and `s3:ListBucket` restricted to that prefix (so that HEAD on a missing
   * object answers 404 instead of 403), plus the bucket's KMS key.
   *
   * @param bucket the bucket
   * @param prefix object key prefix; must be empty or end with `/`
   */
  public static s3(bucket: s3.IBucket, prefix?: string): IngestSink {
    return new S3Sink(bucket, prefix ?? '');
  }

  /**
   * Writes envelopes to a Kinesis stream, typically the next stage's (partition key = the original one). The next
   * stage recomputes each id and dead-letters envelopes whose id differs: when it is in the app, it must have the same
   * `pipelineName` and `keyFields` (and `keyFields: []` is refused with a team's own `code`), checked at synth.
   * Grants `kinesis:PutRecord`, `kinesis:PutRecords`, `kinesis:ListShards` and the stream's KMS key.
   *
   * @param stream the stream
   */
  public static kinesis(stream: kinesis.IStream): IngestSink {
    return new KinesisSink(stream);
  }

  /**
   * Writes nothing: records are decoded, validated and counted (useful for a custom handler that writes
   * elsewhere, or to profile a stream). Grants nothing.
   */
  public static none(): IngestSink {
    return new NoSink();
  }

  /**
   * Binds the sink to a stage: creates what it needs in `scope` and grants `options.grantee` the least
   * privilege to write.
   *
   * @param scope the stage binding the sink
   * @param options the principal to grant
   */
  public abstract bind(scope: Construct, options: IngestSinkBindOptions): IngestSinkConfig;
}

class DynamoDbSink extends IngestSink {
  private table?: dynamodb.ITable;

  constructor(private readonly props: DynamoDbSinkProps) {
    super();
    this.table = props.table;
  }

  public bind(scope: Construct, options: IngestSinkBindOptions): IngestSinkConfig {
    if (!this.table) {
      // Created on first bind; a sink instance shared by two stages writes to one table.
      const table = new dynamodb.Table(scope, 'SinkTable', {
        partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
        billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
        pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
        encryption: dynamodb.TableEncryption.AWS_MANAGED,
        removalPolicy: this.props.removalPolicy ?? Phoenix.removalPolicyFor(scope, StatefulKind.SINK),
      });
      acknowledge(table,
        'The sink table has point-in-time recovery (35 days of restore points); enrolling it in an AWS Backup plan is an account-level decision.',
        'NIST.800.53.R5-DynamoDBInBackupPlan', 'HIPAA.Security-DynamoDBInBackupPlan', 'PCI.DSS.321-DynamoDBInBackupPlan');
      this.table = table;
    }
    const table = this.table;
    table.grant(options.grantee, 'dynamodb:PutItem', 'dynamodb:GetItem');
    table.encryptionKey?.grantEncryptDecrypt(options.grantee);
    return { kind: 'dynamodb', target: table.tableName, table };
  }
}

class S3Sink extends IngestSink {
  constructor(private readonly bucket: s3.IBucket, private readonly prefix: string) {
    super();
    if (!Token.isUnresolved(prefix) && prefix !== '' && (!prefix.endsWith('/') || prefix.startsWith('/'))) {
      throw new Error(`IngestSink.s3 prefix must be empty or end with '/' and not start with '/' (given '${prefix}')`);
    }
  }

  public bind(_scope: Construct, options: IngestSinkBindOptions): IngestSinkConfig {
    const { grantee } = options;
    iam.Grant.addToPrincipal({
      grantee,
      actions: ['s3:GetObject', 's3:PutObject'],
      resourceArns: [this.bucket.arnForObjects(`${this.prefix}*`)],
    });
    iam.Grant.addToPrincipal({
      grantee,
      actions: ['s3:ListBucket'],
      resourceArns: [this.bucket.bucketArn],
      conditions: this.prefix ? { StringLike: { 's3:prefix': [`${this.prefix}*`] } } : undefined,
    });
    this.bucket.encryptionKey?.grantEncryptDecrypt(grantee);
    const target = this.prefix ? `${this.bucket.bucketName}/${this.prefix}` : this.bucket.bucketName;
    return { kind: 's3', target, bucket: this.bucket, prefix: this.prefix };
  }
}

class KinesisSink extends IngestSink {
  constructor(private readonly stream: kinesis.IStream) {
    super();
  }

  public bind(_scope: Construct, options: IngestSinkBindOptions): IngestSinkConfig {
    this.stream.grantWrite(options.grantee);
    return { kind: 'kinesis', target: this.stream.streamArn, stream: this.stream };
  }
}

class NoSink extends IngestSink {
  public bind(_scope: Construct, _options: IngestSinkBindOptions): IngestSinkConfig {
    return { kind: 'none', target: '' };
  }
}
