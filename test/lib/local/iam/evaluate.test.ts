import { describe, expect, it } from 'vitest';
import type { CallPrincipal } from '../../../../lib/local/gates/types';
import { deniedMessage, evaluate, type ApplicablePolicies, type EvalRequest } from '../../../../lib/local/iam/evaluate';
import { IamPolicyError, parsePolicy } from '../../../../lib/local/iam/policy';

// One test per rule of AWS's "Policy evaluation logic" (same account), plus the condition operators the templates use.
const ACCT = '000000000000';
const ROLE: CallPrincipal = { kind: 'role', arn: `arn:aws:iam::${ACCT}:role/Ingest`, session: 'ingest-fn' };
const CW: CallPrincipal = { kind: 'service', arn: 'cloudwatch.amazonaws.com', sourceArn: `arn:aws:cloudwatch:us-east-1:${ACCT}:alarm:A`, sourceAccount: ACCT };
const TABLE = `arn:aws:dynamodb:us-east-1:${ACCT}:table/T`;
const TOPIC = `arn:aws:sns:us-east-1:${ACCT}:alarms`;
const KEY = `arn:aws:kms:us-east-1:${ACCT}:key/k1`;

const identity = (...Statement: object[]) => parsePolicy({ Version: '2012-10-17', Statement }, 'identity', 'identity');
const resource = (...Statement: object[]) => parsePolicy({ Version: '2012-10-17', Statement }, 'resource', 'resource');
const req = (action: string, res: string, principal = ROLE, context = {}): EvalRequest => ({ principal, action, resource: res, context });
const decide = (r: EvalRequest, p: Partial<ApplicablePolicies>) => evaluate(r, { identity: [], resource: [], ...p });

describe('IAM policy evaluation (AWS policy evaluation logic, one account)', () => {
  it('implicit deny: nothing allows => denied, with AWS\'s message', () => {
    const r = req('dynamodb:GetItem', TABLE);
    const d = decide(r, { identity: [identity({ Effect: 'Allow', Action: 'dynamodb:PutItem', Resource: TABLE })] });
    expect(d).toEqual({ allowed: false, explicit: false, policyType: 'identity-based' });
    expect(deniedMessage(r, d as Extract<typeof d, { allowed: false }>)).toBe(
      `User: arn:aws:sts::${ACCT}:assumed-role/Ingest/ingest-fn is not authorized to perform: dynamodb:GetItem on resource: ${TABLE} because no identity-based policy allows the dynamodb:GetItem action`);
  });

  it('identity-based Allow grants; actions match case-insensitively with * and ?', () => {
    expect(decide(req('dynamodb:PutItem', TABLE), { identity: [identity({ Effect: 'Allow', Action: 'DynamoDB:Put?tem', Resource: TABLE })] }).allowed).toBe(true);
    expect(decide(req('s3:GetObject', 'arn:aws:s3:::b/raw/x'), { identity: [identity({ Effect: 'Allow', Action: 's3:Get*', Resource: 'arn:aws:s3:::b/raw/*' })] }).allowed).toBe(true);
    expect(decide(req('s3:GetObject', 'arn:aws:s3:::b/other/x'), { identity: [identity({ Effect: 'Allow', Action: 's3:Get*', Resource: 'arn:aws:s3:::b/raw/*' })] }).allowed).toBe(false);
  });

  it('explicit Deny wins over any Allow (identity or resource)', () => {
    const allow = identity({ Effect: 'Allow', Action: '*', Resource: '*' });
    const d = decide(req('sqs:SendMessage', 'arn:aws:sqs:us-east-1:0:q'), { identity: [allow], resource: [resource({ Sid: 'NoSend', Effect: 'Deny', Principal: '*', Action: 'sqs:*' })] });
    expect(d).toEqual({ allowed: false, explicit: true, policyType: 'resource-based', source: 'resource', statement: 'NoSend' });
  });

  it('resource-based Allow naming the role grants in the same account without an identity policy', () => {
    const policy = resource({ Effect: 'Allow', Principal: { AWS: ROLE.arn }, Action: 'sns:Publish', Resource: TOPIC });
    expect(decide(req('sns:Publish', TOPIC), { resource: [policy] }).allowed).toBe(true);
  });

  it('resource-based Allow naming the account root delegates to IAM: no grant without an identity Allow', () => {
    const policy = resource({ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCT}:root` }, Action: 'sns:Publish', Resource: TOPIC });
    expect(decide(req('sns:Publish', TOPIC), { resource: [policy] }).allowed).toBe(false);
    expect(decide(req('sns:Publish', TOPIC), { resource: [policy], identity: [identity({ Effect: 'Allow', Action: 'sns:Publish', Resource: TOPIC })] }).allowed).toBe(true);
  });

  it('NotAction: everything but the listed actions', () => {
    const p = identity({ Effect: 'Allow', NotAction: 'dynamodb:DeleteItem', Resource: TABLE });
    expect(decide(req('dynamodb:PutItem', TABLE), { identity: [p] }).allowed).toBe(true);
    expect(decide(req('dynamodb:DeleteItem', TABLE), { identity: [p] }).allowed).toBe(false);
  });

  it('NotResource: every resource but the listed ones (a Deny with NotResource)', () => {
    const allow = identity({ Effect: 'Allow', Action: 's3:PutObject', Resource: '*' }, { Effect: 'Deny', Action: 's3:PutObject', NotResource: 'arn:aws:s3:::b/dlq/*' });
    expect(decide(req('s3:PutObject', 'arn:aws:s3:::b/dlq/1'), { identity: [allow] }).allowed).toBe(true);
    expect(decide(req('s3:PutObject', 'arn:aws:s3:::b/other/1'), { identity: [allow] })).toMatchObject({ allowed: false, explicit: true });
  });

  it('NotPrincipal: a Deny for everyone but the named role', () => {
    const p = resource({ Effect: 'Deny', NotPrincipal: { AWS: ROLE.arn }, Action: 'sqs:*', Resource: '*' });
    const other: CallPrincipal = { kind: 'role', arn: `arn:aws:iam::${ACCT}:role/Other` };
    const allowAll = identity({ Effect: 'Allow', Action: 'sqs:*', Resource: '*' });
    expect(decide(req('sqs:SendMessage', 'arn:aws:sqs:us-east-1:0:q'), { identity: [allowAll], resource: [p] }).allowed).toBe(true);
    expect(decide(req('sqs:SendMessage', 'arn:aws:sqs:us-east-1:0:q', other), { identity: [allowAll], resource: [p] }).allowed).toBe(false);
  });

  it('aws:SecureTransport false Deny (enforceSSL) does not apply to TLS calls, and applies when the context says false', () => {
    const policy = resource({ Effect: 'Deny', Principal: '*', Action: 's3:*', Resource: 'arn:aws:s3:::b/*', Condition: { Bool: { 'aws:SecureTransport': 'false' } } });
    const allow = identity({ Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::b/*' });
    expect(decide(req('s3:GetObject', 'arn:aws:s3:::b/k'), { identity: [allow], resource: [policy] }).allowed).toBe(true);
    expect(decide(req('s3:GetObject', 'arn:aws:s3:::b/k', ROLE, { 'aws:SecureTransport': 'false' }), { identity: [allow], resource: [policy] })).toMatchObject({ allowed: false, explicit: true });
  });

  it('service principal: only a resource-based policy grants; aws:SourceArn / aws:SourceAccount conditions must hold', () => {
    const publish = { Effect: 'Allow', Principal: { Service: 'cloudwatch.amazonaws.com' }, Action: 'sns:Publish', Resource: TOPIC };
    const conditioned = resource({ ...publish, Condition: { ArnLike: { 'aws:SourceArn': `arn:aws:cloudwatch:us-east-1:${ACCT}:alarm:*` }, StringEquals: { 'aws:SourceAccount': ACCT } } });
    expect(decide(req('sns:Publish', TOPIC, CW), { identity: [identity({ Effect: 'Allow', Action: '*', Resource: '*' })] }))
      .toEqual({ allowed: false, explicit: false, policyType: 'resource-based' });
    expect(decide(req('sns:Publish', TOPIC, CW), { resource: [conditioned] }).allowed).toBe(true);
    expect(decide(req('sns:Publish', TOPIC, { ...CW, sourceAccount: '111111111111' }), { resource: [conditioned] }).allowed).toBe(false);
    expect(decide(req('sns:Publish', TOPIC, { ...CW, sourceArn: `arn:aws:cloudwatch:eu-west-1:${ACCT}:alarm:A` }), { resource: [conditioned] }).allowed).toBe(false);
    // a TLS-only Deny and nothing else (the enforceSSL topic policy) leaves CloudWatch implicitly denied
    const tlsOnly = resource({ Effect: 'Deny', Principal: '*', Action: 'sns:Publish', Resource: TOPIC, Condition: { Bool: { 'aws:SecureTransport': 'false' } } });
    expect(decide(req('sns:Publish', TOPIC, CW), { resource: [tlsOnly] }).allowed).toBe(false);
  });

  it('KMS: the key policy must allow; an identity Allow alone is not enough', () => {
    const idAllow = identity({ Effect: 'Allow', Action: 'kms:Decrypt', Resource: KEY });
    const keyNoRole = resource({ Effect: 'Allow', Principal: { Service: 'cloudwatch.amazonaws.com' }, Action: 'kms:Decrypt', Resource: '*' });
    expect(decide(req('kms:Decrypt', KEY), { identity: [idAllow], keyPolicy: keyNoRole })).toEqual({ allowed: false, explicit: false, policyType: 'resource-based' });
    expect(decide(req('kms:Decrypt', KEY), { identity: [idAllow], keyPolicy: null }).allowed).toBe(false);
    const keyForRole = resource({ Effect: 'Allow', Principal: { AWS: ROLE.arn }, Action: 'kms:Decrypt', Resource: '*' });
    expect(decide(req('kms:Decrypt', KEY), { keyPolicy: keyForRole }).allowed).toBe(true);
  });

  it('KMS: a key policy statement for the account root delegates to IAM (identity policy then decides)', () => {
    const root = resource({ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCT}:root` }, Action: 'kms:*', Resource: '*' });
    expect(decide(req('kms:GenerateDataKey', KEY), { keyPolicy: root })).toEqual({ allowed: false, explicit: false, policyType: 'identity-based' });
    const idAllow = identity({ Effect: 'Allow', Action: 'kms:GenerateDataKey*', Resource: KEY });
    expect(decide(req('kms:GenerateDataKey', KEY), { keyPolicy: root, identity: [idAllow] }).allowed).toBe(true);
    // root delegation does not reach service principals
    expect(decide(req('kms:GenerateDataKey', KEY, CW), { keyPolicy: root }).allowed).toBe(false);
  });

  it('conditions: multiple values OR, multiple keys AND, negated operators NOR, missing keys, IfExists, Null, numeric, set operators', () => {
    const with_ = (Condition: object) => identity({ Effect: 'Allow', Action: 's3:ListBucket', Resource: 'arn:aws:s3:::b', Condition });
    const ok = (Condition: object, context: Record<string, string | string[]>) => decide(req('s3:ListBucket', 'arn:aws:s3:::b', ROLE, context), { identity: [with_(Condition)] }).allowed;
    expect(ok({ StringLike: { 's3:prefix': ['raw/*', 'x/*'] } }, { 's3:prefix': 'x/1' })).toBe(true);
    expect(ok({ StringLike: { 's3:prefix': ['raw/*'] } }, {})).toBe(false); // key absent => false
    expect(ok({ StringNotEquals: { 's3:prefix': ['a', 'b'] } }, { 's3:prefix': 'b' })).toBe(false); // NOR
    expect(ok({ StringNotEquals: { 's3:prefix': ['a', 'b'] } }, {})).toBe(true); // negated, key absent => true
    expect(ok({ StringEqualsIfExists: { 's3:prefix': 'a' } }, {})).toBe(true);
    expect(ok({ StringEquals: { 's3:prefix': 'a', 's3:delimiter': '/' } }, { 's3:prefix': 'a' })).toBe(false); // AND over keys
    expect(ok({ Null: { 's3:prefix': 'true' } }, {})).toBe(true);
    expect(ok({ NumericLessThan: { 's3:max-keys': '10' } }, { 's3:max-keys': '5' })).toBe(true);
    expect(ok({ NumericLessThan: { 's3:max-keys': '10' } }, { 's3:max-keys': '50' })).toBe(false);
    expect(ok({ 'ForAllValues:StringEquals': { 'aws:TagKeys': ['a', 'b'] } }, { 'aws:TagKeys': ['a'] })).toBe(true);
    expect(ok({ 'ForAllValues:StringEquals': { 'aws:TagKeys': ['a', 'b'] } }, { 'aws:TagKeys': ['a', 'c'] })).toBe(false);
    expect(ok({ 'ForAnyValue:StringEquals': { 'aws:TagKeys': ['c'] } }, { 'aws:TagKeys': ['a', 'c'] })).toBe(true);
    expect(ok({ ArnEquals: { 'aws:PrincipalArn': ROLE.arn } }, {})).toBe(true); // global key from the principal
  });

  it('a policy it cannot read is refused with its source and statement, never allowed', () => {
    expect(() => parsePolicy({ Statement: [{ Sid: 'S1', Effect: 'Allow', Action: '*', Resource: '*', Condition: { IpAddressish: { a: 'b' } } }] }, 'AWS::IAM::Policy P', 'identity'))
      .toThrow(/policy AWS::IAM::Policy P, statement S1: unknown condition operator IpAddressish/);
    expect(() => parsePolicy({ Statement: [{ Effect: 'allow', Action: '*', Resource: '*' }] }, 'P', 'identity')).toThrow(IamPolicyError);
    expect(() => parsePolicy({ Statement: [{ Effect: 'Allow', Action: '*' }] }, 'P', 'identity')).toThrow(/statement #0: needs Resource or NotResource/);
    expect(() => parsePolicy({ Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] }, 'Q', 'resource')).toThrow(/needs Principal or NotPrincipal/);
    expect(() => parsePolicy({ Statement: [{ Effect: 'Allow', Principal: { Federated: 'x' }, Action: '*' }] }, 'Q', 'resource')).toThrow(/Principal type Federated/);
  });
});
