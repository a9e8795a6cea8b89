import { ArnFormat, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import type { Construct } from 'constructs';
import { Phoenix, StatefulKind } from './phoenix';
import { validationError } from './private/errors';

/** A Control Tower proactive control that the library's templates cannot pass by design. */
export interface ControlTowerException {
  /** Rule name as `@cdklabs/cdk-validator-cfnguard` takes it in `disabledRules`, e.g. `ct-s3-pr-9`. */
  readonly ruleName: string;
  /** Control id as AWS Control Tower names it, e.g. `CT.S3.PR.9`. */
  readonly controlId: string;
  /** Which resources fail it, and why they cannot pass. */
  readonly reason: string;
}

/**
 * The AWS Control Tower proactive controls (the rules of `@cdklabs/cdk-validator-cfnguard`) and the library. Its
 * rule files have no per-resource suppression: register the validator with the exceptions disabled,
 * `new CfnGuardValidator({ disabledRules: ControlTower.disabledRules() })`. Every other control passes once the app
 * configures a log retention of at least a year, a log key and Object Lock on its scope:
 * `Phoenix.configure(stack, { logRetention: logs.RetentionDays.ONE_YEAR, logEncryptionKey, objectLock: true })`
 * (the key's policy lets CloudWatch Logs use it; {@link restrictGrantsToAwsServices} on it), and gives its alarms an
 * action (`alarmTopic`).
 */
export class ControlTower {
  /** The controls the library's templates fail by design, each with its reason. */
  public static readonly EXCEPTIONS: ControlTowerException[] = [
    {
      ruleName: 'ct-s3-pr-2',
      controlId: 'CT.S3.PR.2',
      reason: 'Server access logging: the access-log buckets themselves do not log (a bucket logging to itself would log its own log deliveries without end).',
    },
    {
      ruleName: 'ct-s3-pr-10',
      controlId: 'CT.S3.PR.10',
      reason: 'SSE-KMS: the access-log buckets use SSE-S3, the only default encryption S3 server access log delivery supports.',
    },
    {
      ruleName: 'ct-s3-pr-4',
      controlId: 'CT.S3.PR.4',
      reason: 'Event notifications: the dead-letter overflow bucket notifies the failure normalizer through CDK\'s notification resource (bucket and function refer to each other), so its NotificationConfiguration cannot be declared on the bucket without every drift detection reporting it; the other buckets have no consumer of their events.',
    },
    {
      ruleName: 'ct-sqs-pr-1',
      controlId: 'CT.SQS.PR.1',
      reason: 'Dead-letter queue: the queues that are themselves dead-letter queues (the pipeline DLQ, the failure normalizer\'s failed-events queue) have none; a message is kept there until it is replayed or redriven.',
    },
    {
      ruleName: 'ct-lambda-pr-3',
      controlId: 'CT.LAMBDA.PR.3',
      reason: 'VPC: the functions reach only AWS service endpoints; a VPC is optional (vpc, or Phoenix.configure(scope, { vpc })), and CDK\'s own helper functions (bucket notifications, auto-delete) have none.',
    },
  ];

  /** Rule names of {@link EXCEPTIONS}, for `CfnGuardValidator`'s `disabledRules`. */
  public static disabledRules(): string[] {
    return ControlTower.EXCEPTIONS.map((e) => e.ruleName);
  }

  /**
   * Adds the key policy statement CT.KMS.PR.3 asks for: `kms:CreateGrant` is denied unless the grant is for an AWS
   * resource or the caller is an AWS service (AWS services that encrypt with the key create their grants this way).
   *
   * @param key a key created in the app (an imported key's policy cannot be changed: fails)
   */
  public static restrictGrantsToAwsServices(key: kms.IKey): void {
    const { statementAdded } = key.addToResourcePolicy(new iam.PolicyStatement({
      sid: 'CreateGrantForAwsServicesOnly',
      effect: iam.Effect.DENY,
      principals: [new iam.AnyPrincipal()],
      actions: ['kms:CreateGrant'],
      resources: ['*'],
      conditions: { BoolIfExists: { 'kms:GrantIsForAWSResource': 'false', 'aws:PrincipalIsAWSService': 'false' } },
    }));
    if (!statementAdded) {
      throw validationError(key, 'key must be created in this app: an imported key\'s policy cannot be changed (given an imported key)', 'ControlTower');
    }
  }

  /**
   * A customer managed key for the log groups of `scope`'s stack (`Phoenix.configure({ logEncryptionKey })`), as
   * CT.CLOUDWATCH.PR.3 asks: rotated yearly, usable by CloudWatch Logs of the stack's account and region for its log
   * groups only (the `aws:logs:arn` encryption context), grants restricted to AWS services
   * ({@link restrictGrantsToAwsServices}); removed as the Phoenix mode says for keys.
   *
   * @param scope where the key is created
   * @param id construct id of the key
   */
  public static logKey(scope: Construct, id: string): kms.Key {
    const stack = Stack.of(scope);
    const key = new kms.Key(scope, id, {
      description: `Encrypts the log groups of ${stack.stackName}`,
      enableKeyRotation: true,
      removalPolicy: Phoenix.removalPolicyFor(scope, StatefulKind.KEY),
    });
    key.addToResourcePolicy(new iam.PolicyStatement({
      principals: [new iam.ServicePrincipal(`logs.${stack.region}.amazonaws.com`)],
      actions: ['kms:Encrypt*', 'kms:Decrypt*', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:Describe*'],
      resources: ['*'],
      conditions: {
        ArnLike: {
          'kms:EncryptionContext:aws:logs:arn': stack.formatArn({ service: 'logs', resource: 'log-group', resourceName: '*', arnFormat: ArnFormat.COLON_RESOURCE_NAME }),
        },
      },
    }));
    ControlTower.restrictGrantsToAwsServices(key);
    return key;
  }

  private constructor() {}
}
