import { Duration } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as kinesis from 'aws-cdk-lib/aws-kinesis';
import * as kms from 'aws-cdk-lib/aws-kms';
import { describe, expect, it } from 'vitest';
import { DriftDetector, DlqWithReplay, LogLevel, QualityProfiler, QualityRuleKind, ReplayFunction, SyntheticCanary } from '../../../constructs';
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
