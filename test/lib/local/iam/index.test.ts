import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { CreateTableCommand, DynamoDBClient, GetItemCommand, PutItemCommand, ScanCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCAL_CREDENTIALS } from '../../../../lib/local/clients';
import { startEmulators, type AccessDeniedReport, type RunningEmulators } from '../../../../lib/local/emulators';
import { iamGateConfig, inProcessAuthorizer, OPERATOR_ACCESS_KEY_ID } from '../../../../lib/local/iam';
import type { PrincipalRegistry } from '../../../../lib/local/iam/principals';
import { LocalStack } from '../../../../lib/local/template/stack';
import { LOCAL_REGION } from '../../../../lib/local/template/types';
import { removeDir, synthExample, tempDir } from '../support';

// The emulator host with the IAM gate on the synthesized clickstream example: calls signed with the principals'
// access keys are authorized against the template's policies before an emulator sees them.
let emulators: RunningEmulators;
let registry: PrincipalRegistry;
let stack: LocalStack;
let runDir: string;
let assemblyDir: string;
const denials: AccessDeniedReport[] = [];

const physical = (logicalPrefix: string, type: string): string => {
  const r = [...stack.resources.values()].find((x) => x.type === type && x.logicalId.startsWith(logicalPrefix));
  if (!r) throw new Error(`no ${type} ${logicalPrefix}*`);
  return String(stack.ref(r.logicalId, { logicalId: 'test', type: 'test' }));
};
const dynamo = (accessKeyId: string): DynamoDBClient =>
  new DynamoDBClient({ region: LOCAL_REGION, endpoint: emulators.endpoints.dynamodb, credentials: { accessKeyId, secretAccessKey: 'x' }, maxAttempts: 1 });

/** An SNS Query call signed (header only: the gate reads the Credential) with `accessKeyId`. */
async function sns(accessKeyId: string | undefined, params: Record<string, string>): Promise<{ status: number; text: string }> {
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
  if (accessKeyId) headers.authorization = `AWS4-HMAC-SHA256 Credential=${accessKeyId}/20260101/${LOCAL_REGION}/sns/aws4_request, SignedHeaders=host, Signature=x`;
  const res = await fetch(`${emulators.endpoints.fauxqs}/`, { method: 'POST', headers, body: new URLSearchParams({ ...params, Version: '2010-03-31' }).toString() });
  return { status: res.status, text: await res.text() };
}

/** Denials reach the parent over IPC after the reply: waits (bounded) until one matches. */
async function reportedDenial(match: Partial<AccessDeniedReport>): Promise<void> {
  for (let i = 0; i < 100 && !denials.some((d) => Object.entries(match).every(([k, v]) => d[k as keyof AccessDeniedReport] === v)); i++) {
    await new Promise((r) => setTimeout(r, 20));
  }
  expect(denials).toContainEqual(expect.objectContaining(match));
}

beforeAll(async () => {
  const synth = synthExample();
  assemblyDir = synth.dir;
  stack = new LocalStack('PhoenixClickstream', JSON.parse(readFileSync(synth.templateFile, 'utf8')));
  stack.bindEndpoints({ sqs: 'http://127.0.0.1:0' });
  const config = iamGateConfig(stack);
  registry = inProcessAuthorizer(config).registry;
  runDir = tempDir('iam');
  emulators = await startEmulators({ runDir, region: LOCAL_REGION, iam: config, onAccessDenied: (d) => denials.push(d) });
}, 60_000);

afterAll(async () => {
  await emulators?.stop();
  removeDir(runDir);
  removeDir(assemblyDir);
});

describe('IAM gate in the emulator host (clickstream example)', () => {
  it('the ingest function may PutItem and GetItem (the sink\'s fallback) on its sink table, and is denied Scan', async () => {
    const table = physical('ClickstreamIngestSinkTable', 'AWS::DynamoDB::Table');
    const operator = dynamo(LOCAL_CREDENTIALS.accessKeyId);
    await operator.send(new CreateTableCommand({
      TableName: table,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
    }));
    const ingestName = physical('ClickstreamIngestProcessor', 'AWS::Lambda::Function');
    const ingest = dynamo(registry.keyOfFunction(ingestName));
    await ingest.send(new PutItemCommand({ TableName: table, Item: { pk: { S: 'a' } } }));
    expect((await ingest.send(new GetItemCommand({ TableName: table, Key: { pk: { S: 'a' } } }))).Item?.pk).toEqual({ S: 'a' });
    const err = await ingest.send(new ScanCommand({ TableName: table })).catch((e: Error) => e);
    expect(err).toMatchObject({ name: 'AccessDeniedException', $metadata: { httpStatusCode: 400 } });
    expect((err as Error).message).toMatch(new RegExp(`^User: arn:aws:sts::000000000000:assumed-role/[^/]+/${ingestName} is not authorized to perform: dynamodb:Scan on resource: arn:aws:dynamodb:us-east-1:000000000000:table/${table} because no identity-based policy allows the dynamodb:Scan action$`));
    await reportedDenial({ action: 'dynamodb:Scan', resource: `arn:aws:dynamodb:us-east-1:000000000000:table/${table}` });
    operator.destroy();
    ingest.destroy();
  });

  it('CloudWatch publishes an alarm to the alarm topic through its topic policy and key policy (defect a fixed)', async () => {
    const created = await sns(OPERATOR_ACCESS_KEY_ID, { Action: 'CreateTopic', Name: physical('AlarmTopic', 'AWS::SNS::Topic').split(':').pop()! });
    expect(created.status).toBe(200);
    const topicArn = /<TopicArn>([^<]*)<\/TopicArn>/.exec(created.text)![1];
    const alarm = [...stack.resources.values()].find((r) => r.type === 'AWS::CloudWatch::Alarm')!;
    const alarmArn = String(stack.getAtt(alarm.logicalId, 'Arn', { logicalId: 'test', type: 'test' }));
    const res = await sns(registry.keyOfAlarm(alarmArn), { Action: 'Publish', TopicArn: topicArn, Message: 'ALARM' });
    expect(res.status).toBe(200);
    expect(denials.filter((d) => d.principal === 'cloudwatch.amazonaws.com')).toEqual([]);
  });

  it('an unknown access key and an unsigned request are rejected as the services reject them', async () => {
    const stranger = dynamo('AKIAUNKNOWNKEY000000');
    await expect(stranger.send(new GetItemCommand({ TableName: 't', Key: { pk: { S: 'a' } } }))).rejects.toMatchObject({
      name: 'UnrecognizedClientException', message: 'The security token included in the request is invalid.',
    });
    stranger.destroy();
    const unsigned = await sns(undefined, { Action: 'ListTopics' });
    expect(unsigned.status).toBe(403);
    expect(unsigned.text).toContain('<Code>MissingAuthenticationToken</Code>');
    const unknown = await sns('AKIAUNKNOWNKEY000000', { Action: 'ListTopics' });
    expect(unknown.text).toContain('<Code>InvalidClientTokenId</Code>');
  });

  it('the IAM configuration is written where the host reads it', () => {
    expect(JSON.parse(readFileSync(path.join(runDir, 'iam.json'), 'utf8')).principals.length).toBeGreaterThan(20);
  });
});
