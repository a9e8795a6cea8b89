import { Duration, type RemovalPolicy } from 'aws-cdk-lib';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as cxapi from 'aws-cdk-lib/cx-api';
import type { Construct } from 'constructs';
import { ownHelperLogGroups } from './helper-log-groups';
import { acknowledge } from './nag';
import { Phoenix } from '../phoenix';

/** The bucket settings a construct's props carry (the props of DlqWithReplay, QualityProfiler, RawArchive). */
export interface BucketProps {
  /** Customer managed key; without one, the AWS managed key `alias/aws/s3` (SSE-KMS). */
  readonly encryptionKey?: kms.IKey;
  /** The access-log target to use; created (id `AccessLogs`) when undefined. */
  readonly serverAccessLogsBucket?: s3.IBucket;
}

/** Options of {@link loggedBucket}: what the owning construct decides. */
export interface LoggedBucketOptions {
  /** What the bucket is, for the access-log acknowledgement, e.g. 'the archive bucket'. */
  readonly of: string;
  readonly lifecycleRules: s3.LifecycleRule[];
  /** Lifecycle of the created access-log bucket. @default lifecycleRules */
  readonly accessLogsLifecycleRules?: s3.LifecycleRule[];
  readonly serverAccessLogsPrefix: string;
  /** Both buckets' removal policy; they are emptied on deletion exactly when it is DESTROY. */
  readonly removalPolicy: RemovalPolicy;
  /**
   * Where the data stays and why, e.g. "The archive stays in the pipeline's region": the reason the data needs no
   * cross-region replication (acknowledged on both buckets) goes on from there.
   */
  readonly residency: string;
}

/** Lifecycle of a bucket whose objects expire after `expiration` (older versions a day after they are replaced). */
export function expiringAfter(expiration: Duration): s3.LifecycleRule[] {
  return [{ expiration, noncurrentVersionExpiration: Duration.days(1) }];
}

/**
 * Makes S3 server access log delivery use a bucket policy, never ACLs (the library's buckets enforce bucket-owner
 * object ownership), whatever the app's feature flags say. Call first in the constructor: context can only be set
 * on a construct without children.
 */
export function useBucketPolicyForAccessLogs(scope: Construct): void {
  scope.node.setContext(cxapi.S3_SERVER_ACCESS_LOGS_USE_BUCKET_POLICY, true);
}

/**
 * A data bucket of the library: SSE-KMS, private, TLS only, versioned, server access logs to `serverAccessLogsBucket`
 * (or to a created {@link accessLogsBucket}), with the owner's lifecycle and removal policy.
 */
export function loggedBucket(
  scope: Construct, id: string, props: BucketProps, o: LoggedBucketOptions,
): { bucket: s3.Bucket; serverAccessLogsBucket: s3.IBucket } {
  const autoDeleteObjects = Phoenix.autoDeleteObjects(o.removalPolicy);
  ownHelperLogGroups(scope);
  const noReplicationReason = `${o.residency}; cross-region replication is a disaster-recovery decision of the account, not of this construct.`;
  const acknowledgeReplication = (bucket: Construct) => acknowledge(bucket, noReplicationReason,
    'NIST.800.53.R5-S3BucketReplicationEnabled', 'HIPAA.Security-S3BucketReplicationEnabled', 'PCI.DSS.321-S3BucketReplicationEnabled');
  const serverAccessLogsBucket = props.serverAccessLogsBucket ?? accessLogsBucket(scope, 'AccessLogs', {
    of: o.of,
    lifecycleRules: o.accessLogsLifecycleRules ?? o.lifecycleRules,
    removalPolicy: o.removalPolicy,
    autoDeleteObjects,
    acknowledgeReplication,
  });
  const bucket = new s3.Bucket(scope, id, {
    encryption: props.encryptionKey ? s3.BucketEncryption.KMS : s3.BucketEncryption.KMS_MANAGED,
    encryptionKey: props.encryptionKey,
    bucketKeyEnabled: props.encryptionKey ? true : undefined,
    blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
    objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
    enforceSSL: true,
    versioned: true,
    objectLockEnabled: Phoenix.objectLockOf(scope) || undefined,
    lifecycleRules: o.lifecycleRules,
    serverAccessLogsBucket,
    serverAccessLogsPrefix: o.serverAccessLogsPrefix,
    removalPolicy: o.removalPolicy,
    autoDeleteObjects,
  });
  acknowledgeReplication(bucket);
  return { bucket, serverAccessLogsBucket };
}

/** Options of {@link accessLogsBucket}. */
export interface AccessLogsBucketOptions {
  /** What the logs are of, for the acknowledgement reasons, e.g. 'the archive bucket'. */
  readonly of: string;
  readonly lifecycleRules: s3.LifecycleRule[];
  readonly removalPolicy: RemovalPolicy;
  readonly autoDeleteObjects: boolean;
  /** Acknowledges the cross-region replication findings with the owner's reason. */
  readonly acknowledgeReplication: (bucket: Construct) => void;
}

/**
 * The server access log target of one of the library's buckets: SSE-S3 (the only encryption S3 log delivery
 * supports), private, TLS only, versioned, with the owner's lifecycle and removal policy; the findings inherent to a
 * log target are acknowledged on it.
 */
export function accessLogsBucket(scope: Construct, id: string, opts: AccessLogsBucketOptions): s3.Bucket {
  const bucket = new s3.Bucket(scope, id, {
    encryption: s3.BucketEncryption.S3_MANAGED,
    blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
    objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
    enforceSSL: true,
    versioned: true,
    objectLockEnabled: Phoenix.objectLockOf(scope) || undefined,
    lifecycleRules: opts.lifecycleRules,
    removalPolicy: opts.removalPolicy,
    autoDeleteObjects: opts.autoDeleteObjects,
  });
  acknowledge(bucket,
    `This bucket is the server access log target of ${opts.of}; logging its own writes would loop.`,
    'AwsSolutions-S1', 'NIST.800.53.R5-S3BucketLoggingEnabled', 'HIPAA.Security-S3BucketLoggingEnabled', 'PCI.DSS.321-S3BucketLoggingEnabled');
  acknowledge(bucket,
    'S3 server access log delivery supports only SSE-S3 (AES256) on the target bucket, not SSE-KMS.',
    'NIST.800.53.R5-S3DefaultEncryptionKMS', 'HIPAA.Security-S3DefaultEncryptionKMS', 'PCI.DSS.321-S3DefaultEncryptionKMS');
  opts.acknowledgeReplication(bucket);
  return bucket;
}
