/**
 * What a rebuild must keep of the archive, read from the account model after the re-creation: the archive bucket is
 * the old one (imported, not created), its TLS-only bucket policy exists again, and its server access logs still go
 * to a bucket whose policy lets S3 log delivery write.
 */
import type { AccountResource, CloudFormationModel } from '../cloudformation/lifecycle';

export interface ArchiveProtections {
  /** A bucket policy of the current stack denies every request without TLS (aws:SecureTransport false). */
  readonly tlsOnly: boolean;
  /** The bucket's LoggingConfiguration target, and whether its bucket policy allows logging.s3.amazonaws.com to put. */
  readonly accessLogs: { readonly bucket?: string; readonly deliveryAllowed: boolean };
}

type Statement = { Effect?: string; Action?: unknown; Principal?: { Service?: unknown }; Condition?: Record<string, Record<string, unknown>> };

function statementsOn(model: CloudFormationModel, bucket: string, region: string): Statement[] {
  const policies = model.resources().filter((r) => r.type === 'AWS::S3::BucketPolicy' && r.stackId !== undefined
    && r.region === region && r.properties.Bucket === bucket);
  return policies.flatMap((p) => ((p.properties.PolicyDocument as { Statement?: Statement[] } | undefined)?.Statement ?? []));
}

const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : [v]);

export function archiveProtections(model: CloudFormationModel, bucket: string, region: string): ArchiveProtections {
  const tlsOnly = statementsOn(model, bucket, region).some((s) => s.Effect === 'Deny'
    && String(s.Condition?.Bool?.['aws:SecureTransport']) === 'false');
  const resource: AccountResource | undefined = model.find('AWS::S3::Bucket', bucket, region);
  const target = (resource?.properties.LoggingConfiguration as { DestinationBucketName?: string } | undefined)?.DestinationBucketName;
  const deliveryAllowed = target !== undefined && statementsOn(model, target, region).some((s) => s.Effect === 'Allow'
    && list(s.Principal?.Service).includes('logging.s3.amazonaws.com') && list(s.Action).includes('s3:PutObject'));
  return { tlsOnly, accessLogs: { bucket: target, deliveryAllowed } };
}
