import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import type { AwsCall, CallPrincipal } from '../../../../lib/local/gates/types';
import { iamGateConfig, inProcessAuthorizer, type InProcessAuthorizer } from '../../../../lib/local/iam';
import { IamTemplateError } from '../../../../lib/local/iam/policies';
import { IamPolicyError } from '../../../../lib/local/iam/policy';
import { LocalStack } from '../../../../lib/local/template/stack';
import { removeDir, synthExample } from '../support';

// The policies of the synthesized clickstream example, evaluated in-process: what AWS would allow and deny.
let template: Record<string, any>;
let stack: LocalStack;
let auth: InProcessAuthorizer;
const W = { logicalId: 'test', type: 'test' };

function localStack(t: Record<string, any>): LocalStack {
  const s = new LocalStack('PhoenixClickstream', t as never);
  s.bindEndpoints({ sqs: 'http://127.0.0.1:0' });
  return s;
}
const byPrefix = (prefix: string, type: string) => [...stack.resources.values()].find((r) => r.type === type && r.logicalId.startsWith(prefix))!;
const arnOf = (prefix: string, type: string): string => String(stack.getAtt(byPrefix(prefix, type).logicalId, 'Arn', W));
const refOf = (prefix: string, type: string): string => String(stack.ref(byPrefix(prefix, type).logicalId, W));
const role = (prefix: string, session?: string): CallPrincipal => ({ kind: 'role', arn: arnOf(prefix, 'AWS::IAM::Role'), session });
const call = (principal: CallPrincipal, action: string, resource: string, extra: Partial<AwsCall> = {}): AwsCall => ({
  service: action.split(':')[0] as AwsCall['service'], operation: action.split(':')[1], action, resources: [resource], principal, requestBytes: 0, ...extra,
});
const verdict = (c: AwsCall) => auth.authorize(c);

beforeAll(() => {
  const synth = synthExample();
  template = JSON.parse(readFileSync(synth.templateFile, 'utf8'));
  removeDir(synth.dir);
  stack = localStack(template);
  auth = inProcessAuthorizer(iamGateConfig(stack));
}, 60_000);

describe('IAM facts of the clickstream template', () => {
  it('defect b fixed: the ingest role has dynamodb:PutItem and the GetItem the sink falls back to, on its sink table only', () => {
    const table = arnOf('ClickstreamIngestSinkTable', 'AWS::DynamoDB::Table');
    const ingest = role('ClickstreamIngestProcessorRole');
    expect(verdict(call(ingest, 'dynamodb:PutItem', table))).toEqual({ kind: 'allow' });
    expect(verdict(call(ingest, 'dynamodb:GetItem', table))).toEqual({ kind: 'allow' });
    expect(verdict(call(ingest, 'dynamodb:GetItem', `${table}-other`))).toMatchObject({ kind: 'reject', errorType: 'AccessDeniedException' });
  });

  it('defect a fixed: CloudWatch may publish to the alarm topic and use its key for this account\'s alarms only', () => {
    const topic = refOf('AlarmTopic', 'AWS::SNS::Topic');
    const alarm = String(stack.getAtt([...stack.resources.values()].find((r) => r.type === 'AWS::CloudWatch::Alarm')!.logicalId, 'Arn', W));
    const cw: CallPrincipal = { kind: 'service', arn: 'cloudwatch.amazonaws.com', sourceArn: alarm, sourceAccount: '000000000000' };
    const key = arnOf('AlarmTopicKey', 'AWS::KMS::Key');
    expect(verdict(call(cw, 'sns:Publish', topic))).toEqual({ kind: 'allow' });
    expect(verdict(call(cw, 'kms:GenerateDataKey', key, { via: 'sns' }))).toEqual({ kind: 'allow' });
    // confused deputy: CloudWatch acting for another account, or for something that is not an alarm, is refused
    const foreign: CallPrincipal = { ...cw, sourceAccount: '111111111111', sourceArn: alarm.replace(':000000000000:', ':111111111111:') };
    expect(verdict(call(foreign, 'sns:Publish', topic))).toMatchObject({
      kind: 'reject',
      status: 403,
      errorType: 'AuthorizationError',
      message: `User: cloudwatch.amazonaws.com is not authorized to perform: SNS:Publish on resource: ${topic} because no resource-based policy allows the SNS:Publish action`,
    });
    expect(verdict(call(foreign, 'kms:GenerateDataKey', key, { via: 'sns' }))).toMatchObject({ kind: 'reject', errorType: 'KMSAccessDenied' });
    const notAlarm: CallPrincipal = { ...cw, sourceArn: 'arn:aws:cloudwatch:us-east-1:000000000000:dashboard/x' };
    expect(verdict(call(notAlarm, 'sns:Publish', topic))).toMatchObject({ kind: 'reject', errorType: 'AuthorizationError' });
  });

  it('KMS on encrypted resources: AWS managed keys through their service only; the topic key via root delegation', () => {
    const canary = role('MonitorCanarySenderRole', 'canary');
    const stream = arnOf('ClickstreamIngestStream', 'AWS::Kinesis::Stream');
    const managed = iamGateConfig(stack).template.encryption.find((e) => e.resourceArn === stream)!.keyArn; // alias/aws/kinesis
    const viaKinesis = { 'kms:ViaService': 'kinesis.us-east-1.amazonaws.com' };
    expect(verdict(call(canary, 'kms:GenerateDataKey', managed, { via: 'kinesis', context: viaKinesis }))).toEqual({ kind: 'allow' });
    expect(verdict(call(canary, 'kms:GenerateDataKey', managed, { via: 'kinesis' })))
      .toMatchObject({ kind: 'reject', errorType: 'KMSAccessDeniedException' });
    // the alarm topic key delegates to IAM (root): the canary's role has no kms permission
    const key = arnOf('AlarmTopicKey', 'AWS::KMS::Key');
    expect(verdict(call(canary, 'kms:Decrypt', key, { via: 'sns' }))).toMatchObject({ kind: 'reject', errorType: 'KMSAccessDenied' });
  });

  it('S3 notifications invoke the failure normalizer under its Lambda::Permission (source bucket and account)', () => {
    const fn = arnOf('ClickstreamFailureNormalizerFunction', 'AWS::Lambda::Function');
    const bucket = arnOf('ClickstreamIngestDeadLettersOverflow', 'AWS::S3::Bucket');
    const s3 = (sourceArn: string): CallPrincipal => ({ kind: 'service', arn: 's3.amazonaws.com', sourceArn, sourceAccount: '000000000000' });
    expect(verdict(call(s3(bucket), 'lambda:InvokeFunction', fn))).toEqual({ kind: 'allow' });
    expect(verdict(call(s3('arn:aws:s3:::another-bucket'), 'lambda:InvokeFunction', fn))).toMatchObject({ kind: 'reject', errorType: 'AccessDeniedException' });
  });

  it('EventBridge Scheduler: the schedule role is assumable by scheduler.amazonaws.com of the account and may invoke its target only', () => {
    const scheduleRole = arnOf('MonitorCanarySenderScheduleRole', 'AWS::IAM::Role');
    const scheduler: CallPrincipal = { kind: 'service', arn: 'scheduler.amazonaws.com', sourceAccount: '000000000000' };
    expect(verdict({ ...call(scheduler, 'sts:AssumeRole', scheduleRole), service: 'scheduler' })).toEqual({ kind: 'allow' });
    expect(verdict({ ...call({ ...scheduler, sourceAccount: '111111111111' }, 'sts:AssumeRole', scheduleRole), service: 'scheduler' })).toMatchObject({ kind: 'reject' });
    const asRole: CallPrincipal = { kind: 'role', arn: scheduleRole };
    expect(verdict(call(asRole, 'lambda:InvokeFunction', arnOf('MonitorCanarySenderFunction', 'AWS::Lambda::Function')))).toEqual({ kind: 'allow' });
    expect(verdict(call(asRole, 'lambda:InvokeFunction', arnOf('DriftDetectorFunction', 'AWS::Lambda::Function')))).toMatchObject({ kind: 'reject' });
  });

  it('enforceSSL bucket policies deny a non-TLS call even to the operator', () => {
    const bucket = arnOf('ClickstreamArchiveBucket', 'AWS::S3::Bucket');
    const operator = auth.registry.entries.find((e) => e.label === 'operator')!.principal;
    expect(verdict(call(operator, 's3:GetObject', `${bucket}/raw/x`))).toEqual({ kind: 'allow' });
    expect(verdict(call(operator, 's3:GetObject', `${bucket}/raw/x`, { context: { 'aws:SecureTransport': 'false' } })))
      .toMatchObject({ kind: 'reject', status: 403, message: expect.stringContaining('with an explicit deny in a resource-based policy') });
  });

  it('refuses what it cannot evaluate, naming the resource: an unknown managed policy, an unparsable policy', () => {
    const roleId = byPrefix('ClickstreamIngestProcessorRole', 'AWS::IAM::Role').logicalId;
    const withManaged = structuredClone(template);
    withManaged.Resources[roleId].Properties.ManagedPolicyArns = ['arn:aws:iam::aws:policy/PowerUserAccess'];
    expect(() => iamGateConfig(localStack(withManaged))).toThrow(IamTemplateError);
    expect(() => iamGateConfig(localStack(withManaged))).toThrow(new RegExp(`^resource ${roleId} \\(AWS::IAM::Role\\): managed policy arn:aws:iam::aws:policy/PowerUserAccess is not known locally`));
    const badPolicy = structuredClone(template);
    const topicPolicyId = byPrefix('AlarmTopicPolicy', 'AWS::SNS::TopicPolicy').logicalId;
    badPolicy.Resources[topicPolicyId].Properties.PolicyDocument.Statement[0].Condition = { IpAddressLike: { 'aws:SourceIp': '10.0.0.0/8' } };
    expect(() => iamGateConfig(localStack(badPolicy))).toThrow(IamPolicyError);
    expect(() => iamGateConfig(localStack(badPolicy))).toThrow(new RegExp(`policy AWS::SNS::TopicPolicy ${topicPolicyId}, statement AllowPublishThroughSSLOnly: unknown condition operator IpAddressLike`));
  });
});
