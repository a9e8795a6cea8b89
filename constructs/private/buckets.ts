import { type RemovalPolicy } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import type { Construct } from 'constructs';
import { acknowledge } from './nag';

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
