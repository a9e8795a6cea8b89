import { App, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { AlarmTopic } from '../../../constructs/monitoring/alarm-topic';

const template = (): Template => {
  const stack = new Stack(new App(), 'S');
  AlarmTopic.create(stack, { keyDescription: 'k', displayName: 'd', removalPolicy: RemovalPolicy.DESTROY });
  return Template.fromStack(stack);
};

/** CloudWatch for this account's alarms only (aws:SourceAccount, aws:SourceArn). */
const FROM_OWN_ALARMS = {
  StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } },
  ArnLike: { 'aws:SourceArn': { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':cloudwatch:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, ':alarm:*']] } },
};

type Statement = { Effect: string; Principal?: { Service?: string }; Action: string | string[]; Condition?: unknown };
const statements = (t: Template, type: string, prop: string): Statement[] =>
  Object.values(t.findResources(type)).flatMap((r) => (r.Properties[prop] as { Statement: Statement[] }).Statement);

describe('AlarmTopic.create', () => {
  const t = template();

  it('the topic policy keeps the TLS Deny and allows CloudWatch sns:Publish for this account\'s alarms only', () => {
    const topicPolicy = statements(t, 'AWS::SNS::TopicPolicy', 'PolicyDocument');
    expect(topicPolicy.map((s) => s.Effect).sort()).toEqual(['Allow', 'Deny']);
    expect(topicPolicy.find((s) => s.Effect === 'Deny')).toMatchObject({ Condition: { Bool: { 'aws:SecureTransport': 'false' } } });
    expect(topicPolicy.find((s) => s.Effect === 'Allow')).toEqual({
      Effect: 'Allow', Principal: { Service: 'cloudwatch.amazonaws.com' }, Action: 'sns:Publish', Resource: { Ref: expect.stringMatching(/^AlarmTopic/) }, Condition: FROM_OWN_ALARMS, Sid: expect.any(String),
    });
  });

  it('the key policy lets CloudWatch use the key for this account\'s alarms only (no unconditioned CloudWatch statement)', () => {
    const cloudwatch = statements(t, 'AWS::KMS::Key', 'KeyPolicy').filter((s) => s.Principal?.Service === 'cloudwatch.amazonaws.com');
    expect(cloudwatch).toEqual([{ Effect: 'Allow', Principal: { Service: 'cloudwatch.amazonaws.com' }, Action: ['kms:Decrypt', 'kms:GenerateDataKey*'], Resource: '*', Condition: FROM_OWN_ALARMS }]);
  });

  it('the key rotates and the topic is encrypted with it, both with the given removal policy', () => {
    t.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
    t.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^AlarmTopicKey'), 'Arn'] } });
    t.hasResource('AWS::SNS::Topic', { DeletionPolicy: 'Delete' });
    t.hasResource('AWS::KMS::Key', { DeletionPolicy: 'Delete' });
  });
});
