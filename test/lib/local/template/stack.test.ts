import { spawnSync } from 'node:child_process';
import * as net from 'node:net';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CloudFormationModel } from '../../../../lib/local/cloudformation/lifecycle';
import { startEmulators } from '../../../../lib/local/emulators';
import { Random } from '../../../../lib/local/random';
import { runLocal } from '../../../../lib/local/run';
import { UnsupportedTemplateError } from '../../../../lib/local/template/errors';
import { generatedName, LocalStack } from '../../../../lib/local/template/stack';
import type { CfnTemplate } from '../../../../lib/local/template/types';
import { handWrittenAssembly, liveChildren, REPO, runOptions, tempDir } from '../support';

const queue = { Type: 'AWS::SQS::Queue', Properties: { VisibilityTimeout: 30 } };

function stack(resources: Record<string, unknown>, extra: Record<string, unknown> = {}): LocalStack {
  const s = new LocalStack('Demo', { Resources: resources as never, ...extra });
  s.bindEndpoints({ sqs: 'http://127.0.0.1:4566' });
  return s;
}

describe('template model', () => {
  it('resolves Ref, GetAtt, Join, Sub, Select, Split and pseudo parameters to local names, URLs and ARNs', () => {
    const s = stack({
      Q: { Type: 'AWS::SQS::Queue', Properties: { QueueName: 'orders' } },
      T: { Type: 'AWS::DynamoDB::Table', Properties: { KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }], AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }] } },
      S: { Type: 'AWS::Kinesis::Stream', Properties: { ShardCount: 1 } },
    });
    const where = { logicalId: 'X', type: 'AWS::Lambda::Function', property: 'Environment' };
    expect(s.resolve({ Ref: 'Q' }, where)).toBe('http://127.0.0.1:4566/000000000000/orders');
    expect(s.resolve({ 'Fn::GetAtt': ['Q', 'Arn'] }, where)).toBe('arn:aws:sqs:us-east-1:000000000000:orders');
    expect(s.resolve({ 'Fn::GetAtt': 'Q.QueueName' }, where)).toBe('orders');
    expect(s.resolve({ 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':s3:::', 'b']] }, where)).toBe('arn:aws:s3:::b');
    expect(s.resolve({ 'Fn::Sub': '${AWS::Region}/${AWS::AccountId}/${AWS::StackName}/${T}/${!Literal}' }, where))
      .toBe(`us-east-1/000000000000/Demo/${generatedName('Demo', 'T', 255)}/\${Literal}`);
    expect(s.resolve({ 'Fn::Sub': ['${Name}-${S.Arn}', { Name: { Ref: 'AWS::URLSuffix' } }] }, where))
      .toBe(`amazonaws.com-arn:aws:kinesis:us-east-1:000000000000:stream/${generatedName('Demo', 'S', 128)}`);
    expect(s.resolve({ 'Fn::Select': [1, { 'Fn::Split': [',', 'a,b,c'] }] }, where)).toBe('b');
    expect(s.resolve({ A: { Ref: 'AWS::NoValue' }, B: 1 }, where)).toEqual({ B: 1 });
  });

  it('a stream consumer: Ref and ConsumerARN as Kinesis gives them (stream ARN, consumer name, creation epoch)', () => {
    const s = stack({
      S: { Type: 'AWS::Kinesis::Stream', Properties: { ShardCount: 1 } },
      C: { Type: 'AWS::Kinesis::StreamConsumer', Properties: { StreamARN: { 'Fn::GetAtt': ['S', 'Arn'] }, ConsumerName: 'stage' } },
    });
    const where = { logicalId: 'X', type: 'AWS::Lambda::EventSourceMapping', property: 'EventSourceArn' };
    const streamArn = `arn:aws:kinesis:us-east-1:000000000000:stream/${generatedName('Demo', 'S', 128)}`;
    const arn = s.resolve({ 'Fn::GetAtt': ['C', 'ConsumerARN'] }, where) as string;
    expect(arn).toMatch(new RegExp(`^${streamArn}/consumer/stage:\\d{10}$`));
    expect(s.resolve({ Ref: 'C' }, where)).toBe(arn);
    expect(s.resolve({ 'Fn::GetAtt': ['C', 'ConsumerName'] }, where)).toBe('stage');
    expect(s.creationOrder().map((r) => r.logicalId)).toEqual(['S', 'C']);
    const bad = stack({ C: { Type: 'AWS::Kinesis::StreamConsumer', Properties: { StreamARN: 'arn:aws:sqs:us-east-1:000000000000:q', ConsumerName: 'stage' } } });
    expect(() => bad.resolve({ Ref: 'C' }, where)).toThrow(/C \(AWS::Kinesis::StreamConsumer\).*StreamARN.*must be a Kinesis stream ARN/);
  });

  it('generates names the way CloudFormation does, within the service limit', () => {
    const name = generatedName('PhoenixClickstream', 'ClickstreamIngestProcessorFE567F39', 64);
    expect(name.length).toBeLessThanOrEqual(64);
    expect(name).toMatch(/^PhoenixClickstream-ClickstreamIngestProcessor[A-Z0-9]*-[A-Z0-9]{12}$/);
    expect(generatedName('Stack', 'Bucket', 63, { lower: true })).toMatch(/^stack-bucket-[a-z0-9]{12}$/);
    expect(generatedName('Stack', 'Queue', 80, { fifo: true })).toMatch(/\.fifo$/);
  });

  it('orders creation by references and DependsOn', () => {
    const s = stack({
      Main: { Type: 'AWS::SQS::Queue', Properties: { RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': ['Dlq', 'Arn'] }, maxReceiveCount: 3 } } },
      Dlq: queue,
      Later: { ...queue, DependsOn: 'Main' },
    });
    expect(s.creationOrder().map((r) => r.logicalId)).toEqual(['Dlq', 'Main', 'Later']);
  });

  it('stops on a resource type it cannot run, naming the logical id and type', () => {
    expect(() => stack({ Net: { Type: 'AWS::EC2::VPC', Properties: { CidrBlock: '10.0.0.0/16' } } }))
      .toThrow(/resource Net \(AWS::EC2::VPC\): this resource type is not supported/);
  });

  it('stops on an intrinsic it cannot evaluate, in one line naming the resource, property and intrinsic', () => {
    const imported = stack({ Q: { Type: 'AWS::SQS::Queue', Properties: { QueueName: { 'Fn::ImportValue': 'shared-queue-name' } } } });
    expect(() => imported.resolvedProperties('Q')).toThrow(UnsupportedTemplateError);
    expect(() => imported.resolvedProperties('Q')).toThrow(/^resource Q \(AWS::SQS::Queue\), property QueueName: Fn::ImportValue \(a cross-stack reference\) cannot be resolved[^\n]*$/);
    const cidr = stack({ Q: { Type: 'AWS::SQS::Queue', Properties: { QueueName: { 'Fn::Cidr': ['10.0.0.0/16', 2, 8] } } } });
    expect(() => cidr.resolvedProperties('Q')).toThrow(/^resource Q \(AWS::SQS::Queue\), property QueueName: [^\n]*Fn::Cidr[^\n]*$/);
  });

  it('stops on a property that changes behaviour it cannot reproduce, naming it', () => {
    expect(() => stack({ B: { Type: 'AWS::S3::Bucket', Properties: { NotificationConfiguration: { QueueConfigurations: [] } } } }))
      .toThrow(/resource B \(AWS::S3::Bucket\), property NotificationConfiguration: this property is not supported/);
  });

  it('accepts permissions, keys, logs and alarms explicitly, and custom-resource provider functions with them', () => {
    const s = stack({
      Role: { Type: 'AWS::IAM::Role', Properties: {} },
      Key: { Type: 'AWS::KMS::Key', Properties: {} },
      Alarm: { Type: 'AWS::CloudWatch::Alarm', Properties: {} },
      Provider: { Type: 'AWS::Lambda::Function', Properties: { Runtime: 'nodejs22.x', Handler: 'index.handler', Code: { S3Key: 'x.zip' } } },
      AutoDelete: { Type: 'Custom::S3AutoDeleteObjects', Properties: { ServiceToken: { 'Fn::GetAtt': ['Provider', 'Arn'] } } },
    });
    expect([...s.resources.values()].map((r) => `${r.logicalId}:${r.local}`).sort())
      .toEqual(['Alarm:accept', 'AutoDelete:accept', 'Key:accept', 'Provider:accept', 'Role:accept']);
    expect(s.get('Provider').reason).toMatch(/provider of Custom::S3AutoDeleteObjects/);
  });

  it('an unknown custom resource stops the run', () => {
    expect(() => stack({ C: { Type: 'Custom::SeedTable', Properties: { ServiceToken: 'arn:aws:lambda:us-east-1:1:function:x' } } }))
      .toThrow(/resource C \(Custom::SeedTable\): custom resources run only during deployment/);
  });

  it('a GetAtt with no local value names the attribute', () => {
    const s = stack({ Q: queue });
    expect(() => s.resolve({ 'Fn::GetAtt': ['Q', 'Nope'] }, { logicalId: 'F', type: 'AWS::Lambda::Function', property: 'Environment' }))
      .toThrow(/resource F \(AWS::Lambda::Function\), property Environment: Fn::GetAtt Q.Nope \(AWS::SQS::Queue\) has no local value/);
  });
});

describe('local run: failures before anything runs', () => {
  it('an unsupported resource type stops the run with its name, and nothing is left running', async () => {
    const assembly = handWrittenAssembly('Bad', {
      Resources: {
        Stream: { Type: 'AWS::Kinesis::Stream', Properties: { ShardCount: 1 } },
        Cluster: { Type: 'AWS::ECS::Cluster', Properties: {} },
      },
    });
    const err = await runLocal(runOptions(assembly)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnsupportedTemplateError);
    expect((err as Error).message).toBe('resource Cluster (AWS::ECS::Cluster): this resource type is not supported by the local environment '
      + '(see docs/local-environment.md for the supported types)');
    expect(liveChildren()).toEqual([]);
  });

  it('an app that fails to synthesize: one clear line, non-zero exit', () => {
    const res = spawnSync(process.execPath, [path.join(REPO, 'node_modules', 'tsx', 'dist', 'cli.mjs'), path.join(REPO, 'bin', 'phoenix.ts'), 'local', 'run', '--json',
      '--runs-dir', tempDir('synthfail'), '--app', 'node -e "console.error(\'Error: ValidationError: bucket name is invalid\'); process.exit(3)"'], {
      cwd: REPO, encoding: 'utf8', timeout: 60_000,
    });
    expect(res.status).toBe(1);
    // stderr is not a terminal: besides the error, only plain progress lines (`phoenix local: <phase> ...`)
    const lines = res.stderr.split('\n').filter((l) => l.trim() !== '');
    expect(lines.filter((l) => !/^phoenix local: synthesizing the app\.\.\. \d+\.\ds$/.test(l)))
      .toEqual(['phoenix: the app failed to synthesize (exit code 3): Error: ValidationError: bucket name is invalid']);
    expect(lines.at(-1)).toMatch(/^phoenix: the app failed to synthesize/);
    expect(res.stdout).toBe('');
  });

  it('a port already in use: one line naming the port and the emulator, nothing left running', async () => {
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as net.AddressInfo).port;
    try {
      const err = await startEmulators({ runDir: tempDir('port'), region: 'us-east-1', portBase: port }).catch((e: unknown) => e);
      expect((err as Error).message).toBe(`port ${port} for the Kinesis emulator (kinesalite) is already in use on 127.0.0.1`);
      expect(liveChildren()).toEqual([]);
    } finally {
      blocker.close();
    }
  });
});

/** LocalStack resolves names, ARNs and URLs to the physical ids of its last deployment (the account model's). */
const deployable: CfnTemplate = {
  Resources: {
    Stream: { Type: 'AWS::Kinesis::Stream', Properties: { ShardCount: 1 } },
    Queue: { Type: 'AWS::SQS::Queue' },
    Archive: { Type: 'AWS::S3::Bucket' },
    Named: { Type: 'AWS::SQS::Queue', Properties: { QueueName: 'orders' } },
    Fn: { Type: 'AWS::Lambda::Function', Properties: { Runtime: 'nodejs20.x', Handler: 'index.handler', Code: { ZipFile: 'x' }, Role: 'arn:aws:iam::000000000000:role/r' } },
    Mapping: { Type: 'AWS::Lambda::EventSourceMapping', Properties: { FunctionName: { Ref: 'Fn' }, EventSourceArn: { 'Fn::GetAtt': ['Stream', 'Arn'] }, StartingPosition: 'TRIM_HORIZON' } },
  },
};

const where = { logicalId: 'X', type: 'AWS::Lambda::Function' };

function deploy(model: CloudFormationModel, s: LocalStack): Map<string, string> {
  const r = model.deploy({ stackName: s.stackName, region: s.region, template: s.template });
  const ids = new Map(r.created.map((c) => [c.logicalId, c.physicalId]));
  s.deployed({ stackId: r.stackId, physicalIds: ids });
  return ids;
}

describe('LocalStack names of a deployment', () => {
  it('resolves Ref, GetAtt and URLs to the deployment\'s physical ids, new on every creation; explicit names stay', () => {
    const s = new LocalStack('Demo', deployable);
    s.bindEndpoints({ sqs: 'http://127.0.0.1:4566' });
    const rng = new Random(7);
    const model = new CloudFormationModel({ accountId: '000000000000', rng: () => rng.next() });
    const first = deploy(model, s);
    expect(s.ref('Stream', where)).toBe(first.get('Stream'));
    expect(s.getAtt('Stream', 'Arn', where)).toBe(`arn:aws:kinesis:us-east-1:000000000000:stream/${first.get('Stream')}`);
    expect(s.ref('Queue', where)).toBe(`http://127.0.0.1:4566/000000000000/${first.get('Queue')}`);
    expect(s.ref('Archive', where)).toMatch(/^demo-archive-[a-z0-9]{12}$/);
    expect(s.ref('Mapping', where)).toBe(first.get('Mapping'));
    expect(s.stackId).toMatch(/^arn:aws:cloudformation:us-east-1:000000000000:stack\/Demo\/[0-9a-f-]{36}$/);
    const firstStackId = s.stackId;

    model.destroy('Demo', 'us-east-1');
    const second = deploy(model, s);
    for (const id of ['Stream', 'Queue', 'Archive', 'Fn', 'Mapping']) {
      expect(second.get(id)).not.toBe(first.get(id));
      expect(s.ref(id, where)).not.toBe(id === 'Queue' ? `http://127.0.0.1:4566/000000000000/${first.get(id)}` : first.get(id));
    }
    expect(s.stackId).not.toBe(firstStackId);
    expect(s.getAtt('Named', 'QueueName', where)).toBe('orders');
  });

  it('before any deployment (template analysis) resolves deterministic generated names', () => {
    const s = new LocalStack('Demo', deployable);
    expect(s.ref('Stream', where)).toBe(generatedName('Demo', 'Stream', 128));
    expect(new LocalStack('Demo', deployable).ref('Stream', where)).toBe(s.ref('Stream', where));
  });
});
