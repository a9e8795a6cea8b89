import { Stack, type RemovalPolicy } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import type { Construct } from 'constructs';
import { ControlTower } from '../control-tower';

/** Options of {@link AlarmTopic.create}. */
export interface AlarmTopicProps {
  /** Description of the topic's key. */
  readonly keyDescription: string;
  readonly displayName: string;
  /** Of the key and the topic: the topic holds notifications in flight only, it goes (or stays) with its key. */
  readonly removalPolicy: RemovalPolicy;
}

/**
 * An encrypted SNS topic CloudWatch alarms can notify. enforceSSL's topic policy replaces SNS's default one, so the
 * topic policy and the key policy both allow `cloudwatch.amazonaws.com`, only for this account's alarms
 * (`aws:SourceAccount`, `aws:SourceArn`: no confused deputy).
 */
export class AlarmTopic {
  /** Creates `AlarmTopicKey` (a rotating customer managed key) and `AlarmTopic` in `scope`; returns the topic. */
  public static create(scope: Construct, props: AlarmTopicProps): sns.Topic {
    const stack = Stack.of(scope);
    const fromOwnAlarms = {
      StringEquals: { 'aws:SourceAccount': stack.account },
      ArnLike: { 'aws:SourceArn': `arn:${stack.partition}:cloudwatch:${stack.region}:${stack.account}:alarm:*` },
    };
    const cloudwatch = new iam.ServicePrincipal('cloudwatch.amazonaws.com');
    const key = new kms.Key(scope, 'AlarmTopicKey', { description: props.keyDescription, enableKeyRotation: true, removalPolicy: props.removalPolicy });
    ControlTower.restrictGrantsToAwsServices(key);
    key.addToResourcePolicy(new iam.PolicyStatement({
      principals: [cloudwatch], actions: ['kms:Decrypt', 'kms:GenerateDataKey*'], resources: ['*'], conditions: fromOwnAlarms,
    }));
    const topic = new sns.Topic(scope, 'AlarmTopic', { displayName: props.displayName, masterKey: key, enforceSSL: true });
    topic.addToResourcePolicy(new iam.PolicyStatement({
      principals: [cloudwatch], actions: ['sns:Publish'], resources: [topic.topicArn], conditions: fromOwnAlarms,
    }));
    topic.applyRemovalPolicy(props.removalPolicy);
    return topic;
  }

  private constructor() {}
}
