import { Duration, type Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as kinesis from 'aws-cdk-lib/aws-kinesis';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import { describe, expect, it } from 'vitest';
import {
  DataPipeline, DriftDetector, DlqWithReplay, IngestSink, IngestStage, LogLevel, Phoenix, QualityProfiler, QualityRuleKind, ReplayFunction,
  SyntheticCanary,
} from '../../../constructs';
import { ConstructValidationError } from '../../../constructs/private/errors';
import { testStack } from '../../support/stacks';
import { onePipeline, monitorStack } from '../monitoring/support/stacks';

/** The one function of `build`'s template whose description starts with `prefix`. */
function fnOf(t: Template, prefix: string): Record<string, any> {
  const fns = Object.values(t.findResources('AWS::Lambda::Function')).filter((r) => String(r.Properties.Description ?? '').startsWith(prefix));
  expect(fns).toHaveLength(1);
  return fns[0].Properties;
}

describe('PipelineFunctionOptions on every construct that creates a function', () => {
  it('SyntheticCanary: memorySize, timeout and logLevel reach its function (defaults 256 MiB, 30 s, no log level)', () => {
    const { stack } = monitorStack();
    const { pipeline } = onePipeline(stack);
    new SyntheticCanary(stack, 'Default', { pipeline });
    new SyntheticCanary(stack, 'Tuned', { pipeline, memorySize: 512, timeout: Duration.seconds(45), logLevel: LogLevel.DEBUG });
    const fns = Object.values(Template.fromStack(stack).findResources('AWS::Lambda::Function'))
      .map((r) => r.Properties).filter((p) => String(p.Description).startsWith('Phoenix synthetic canary'));
    expect(fns.map((p) => [p.MemorySize, p.Timeout, p.Environment.Variables.POWERTOOLS_LOG_LEVEL])).toEqual([[256, 30, undefined], [512, 45, 'DEBUG']]);
  });

  it('DriftDetector and ReplayFunction: logLevel sets POWERTOOLS_LOG_LEVEL; ReplayFunction takes a log key', () => {
    const stack = testStack();
    const key = new kms.Key(stack, 'Key');
    const deadLetters = new DlqWithReplay(stack, 'Dlq');
    new DriftDetector(stack, 'Drift', { pipelineName: 'orders', logLevel: LogLevel.WARN, memorySize: 512 });
    new ReplayFunction(stack, 'Replay', { streams: [new kinesis.Stream(stack, 'S')], deadLetters, logLevel: LogLevel.ERROR, logEncryptionKey: key });
    const t = Template.fromStack(stack);
    expect(fnOf(t, 'Phoenix drift detector').Environment.Variables.POWERTOOLS_LOG_LEVEL).toBe('WARN');
    expect(fnOf(t, 'Phoenix drift detector').MemorySize).toBe(512);
    expect(fnOf(t, 'Phoenix replay').Environment.Variables.POWERTOOLS_LOG_LEVEL).toBe('ERROR');
    const logGroups = Object.values(t.findResources('AWS::Logs::LogGroup')).filter((g) => g.Properties.KmsKeyId !== undefined);
    expect(logGroups).toHaveLength(1);
  });

  it('fails when a setting is outside what Lambda allows, naming the construct and its path', () => {
    const stack = testStack();
    const { pipeline } = onePipeline(stack);
    expect(() => new SyntheticCanary(stack, 'Canary', { pipeline, memorySize: 64 }))
      .toThrow(/^SyntheticCanary at Test\/Canary: memorySize must be an integer between 128 and 10240 MiB \(given 64 MiB\)$/);
    expect(() => new ReplayFunction(stack, 'Replay', { streams: [pipeline.stages[0].stream], deadLetters: pipeline.stages[0].deadLetters, timeout: Duration.seconds(10) }))
      .toThrow(/^ReplayFunction at Test\/Replay: timeout must be a whole number of seconds between 30 and 900 seconds \(given 10 seconds\)$/);
  });

  it('QualityProfiler rejects logLevel: its handler has no log level', () => {
    const stack = testStack();
    const stream = new kinesis.Stream(stack, 'S');
    expect(() => new QualityProfiler(stack, 'Q', { stream, pipelineName: 'p', rules: [{ name: 'v', kind: QualityRuleKind.VOLUME }], logLevel: LogLevel.DEBUG }))
      .toThrow(/^QualityProfiler at Test\/Q: logLevel is not supported: the profiler logs only rule warnings and failures \(given 'DEBUG'\)$/);
  });

  it('validation errors carry the construct path', () => {
    const stack = testStack();
    try {
      new DlqWithReplay(stack, 'Dlq', { maxMessageBytes: 1 });
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ConstructValidationError);
      expect((e as ConstructValidationError).constructPath).toBe('Test/Dlq');
      expect((e as Error).name).toBe('ValidationError');
    }
  });
});

/** Functions of the stack's template: the library's and CDK's helpers (bucket auto-delete, bucket notifications). */
function functionsOf(stack: Stack): { library: Record<string, any>[]; helpers: Record<string, any>[] } {
  const fns = Object.entries(Template.fromStack(stack).findResources('AWS::Lambda::Function'));
  const isHelper = (id: string) => /AutoDeleteObjects|BucketNotificationsHandler/.test(id);
  const props = (helper: boolean) => fns.filter(([id]) => isHelper(id) === helper).map(([, r]) => r.Properties);
  return { library: props(false), helpers: props(true) };
}

const VOLUME = { rules: [{ name: 'rows', kind: QualityRuleKind.VOLUME, lastWindows: 3, fail: { min: 0.1 } }] };

describe('log settings and network of every function', () => {
  it('DataPipeline forwards logRetention and logEncryptionKey to each of its log groups; the stack\'s helpers follow Phoenix.configure', () => {
    const stack = testStack();
    const key = new kms.Key(stack, 'LogKey');
    new DataPipeline(stack, 'P', { pipelineName: 'orders', quality: VOLUME, logRetention: logs.RetentionDays.ONE_YEAR, logEncryptionKey: key });
    const groups = () => Object.entries(Template.fromStack(stack).findResources('AWS::Logs::LogGroup'));
    const pipelineGroups = groups().filter(([id]) => id.startsWith('P'));
    expect(pipelineGroups.length).toBeGreaterThanOrEqual(5); // ingest, normalizer, framer, delivery errors, replay, profiler
    for (const [id, g] of pipelineGroups) {
      expect([id, g.Properties.RetentionInDays, g.Properties.KmsKeyId]).toEqual([id, 365, { 'Fn::GetAtt': [expect.stringMatching(/^LogKey/), 'Arn'] }]);
    }
    const helperGroups = groups().filter(([id]) => !id.startsWith('P'));
    expect(helperGroups.length).toBeGreaterThanOrEqual(1);
    helperGroups.forEach(([, g]) => expect([g.Properties.RetentionInDays, g.Properties.KmsKeyId]).toEqual([90, undefined]));

    const configured = testStack();
    Phoenix.configure(configured, { logRetention: logs.RetentionDays.ONE_YEAR, logEncryptionKey: new kms.Key(configured, 'LogKey') });
    new DataPipeline(configured, 'P', { pipelineName: 'orders', logRetention: logs.RetentionDays.TWO_YEARS });
    const all = Object.entries(Template.fromStack(configured).findResources('AWS::Logs::LogGroup'));
    expect(all.filter(([id]) => !id.startsWith('P')).length).toBeGreaterThanOrEqual(1);
    all.forEach(([id, g]) => expect([id, g.Properties.RetentionInDays]).toEqual([id, id.startsWith('P') ? 731 : 365]));
    all.forEach(([, g]) => expect(g.Properties.KmsKeyId).toBeDefined());
  });

  it('without settings: no function has a VPC, no role an EC2 statement, log groups keep three months without a key', () => {
    const stack = testStack();
    new DataPipeline(stack, 'P', { pipelineName: 'orders', quality: VOLUME });
    const t = Template.fromStack(stack);
    expect(functionsOf(stack).library.filter((p) => p.VpcConfig !== undefined)).toEqual([]);
    expect(JSON.stringify(t.findResources('AWS::IAM::Policy'))).not.toContain('ec2:');
    expect(Object.values(t.findResources('AWS::Logs::LogGroup')).filter((g) => g.Properties.RetentionInDays !== 90 || g.Properties.KmsKeyId)).toEqual([]);
  });

  it('a VPC on DataPipeline reaches every function of the library (not CDK\'s helpers), each role may manage its network interfaces', () => {
    const stack = testStack();
    const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2, natGateways: 1 });
    const sg = new ec2.SecurityGroup(stack, 'Sg', { vpc });
    new DataPipeline(stack, 'P', { pipelineName: 'orders', quality: VOLUME, vpc, securityGroups: [sg] });
    const { library, helpers } = functionsOf(stack);
    expect(library.length).toBeGreaterThanOrEqual(5);
    for (const p of library) {
      expect(p.VpcConfig.SecurityGroupIds).toEqual([{ 'Fn::GetAtt': [expect.stringMatching(/^Sg/), 'GroupId'] }]);
      expect(p.VpcConfig.SubnetIds).toHaveLength(2);
    }
    expect(helpers.every((p) => p.VpcConfig === undefined)).toBe(true);
    const statements = Object.values(Template.fromStack(stack).findResources('AWS::IAM::Policy'))
      .flatMap((r) => r.Properties.PolicyDocument.Statement as Array<{ Action: unknown; Resource: unknown }>)
      .filter((st) => JSON.stringify(st.Action).includes('ec2:CreateNetworkInterface'));
    expect(statements).toHaveLength(library.length);
    statements.forEach((st) => expect(st.Resource).toBe('*'));
  });

  it('a stage\'s own vpc wins over the configured one; vpcSubnets or securityGroups without a vpc fail, naming the prop', () => {
    const stack = testStack();
    const configured = new ec2.Vpc(stack, 'Configured', { maxAzs: 1, natGateways: 1 });
    const own = new ec2.Vpc(stack, 'Own', { maxAzs: 1, natGateways: 1 });
    Phoenix.configure(stack, { vpc: configured });
    new IngestStage(stack, 'Stage', { pipelineName: 'orders', sink: IngestSink.none(), vpc: own, vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS } });
    const processor = functionsOf(stack).library.find((p) => p.Environment?.Variables?.PHX_SINK_KIND !== undefined)!;
    expect(JSON.stringify(processor.VpcConfig.SubnetIds)).toContain('OwnPrivate');
    expect(() => new IngestStage(stack, 'Bad', { pipelineName: 'orders', sink: IngestSink.none(), securityGroups: [] }))
      .toThrow(/^IngestStage at Test\/Bad: securityGroups needs vpc \(given no vpc\)$/);
    expect(() => Phoenix.configure(testStack(), { vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS } }))
      .toThrow(/vpcSubnets needs a vpc in the same configuration \(given no vpc\)/);
  });
});
