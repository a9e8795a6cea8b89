import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { App, type Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type { Construct } from 'constructs';
import { expect } from 'vitest';
import { handlerEnv } from './stacks';
import { checkedApp } from '../../bin/app';
import { PhoenixMode } from '../../constructs';
import type { CorrelatedMonitor, DataPipeline, QualityRule } from '../../constructs';
import { ENV } from '../../constructs/contract';

/** A fresh temporary directory for a cloud assembly. */
export function tempOutdir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'phx-example-'));
}

/** The template of the stack `build` adds to an app without analytics metadata (snapshots must not change with the CDK version). */
export function exampleTemplate(build: (app: App) => Stack): Template {
  return Template.fromStack(build(new App({ analyticsReporting: false })));
}

/** What an example's ingest handler runs with, decoded from its environment. */
export interface IngestSettings {
  readonly schema: unknown;
  readonly keyFields: string[];
  readonly eventTimeField?: string;
  readonly sinkKind: string;
  readonly recordConcurrency?: string;
}

/** The ingest handler's settings in template `t`. */
export function ingestSettings(t: Template): IngestSettings {
  const env = handlerEnv(t);
  return {
    schema: JSON.parse(env[ENV.schema] as string),
    keyFields: JSON.parse(env[ENV.keyFields] as string),
    eventTimeField: env[ENV.eventTimeField] as string | undefined,
    sinkKind: env[ENV.sinkKind] as string,
    recordConcurrency: env[ENV.recordConcurrency] as string | undefined,
  };
}

/** An example stack with every part of the library. */
export interface ShowcaseStack {
  readonly pipeline: DataPipeline;
  readonly monitor: CorrelatedMonitor;
  readonly alarmTopic: sns.ITopic;
}

/** The stack has the failure normalizer, archive, replay function, profiler (with `rules`) and canary, all on its topic. */
export function expectShowcase(stack: ShowcaseStack, rules: QualityRule[]): void {
  const { pipeline, monitor } = stack;
  expect([pipeline.failureNormalizer, pipeline.archive, pipeline.replay, monitor.canary].every((part) => part !== undefined)).toBe(true);
  expect(pipeline.profiler!.rules).toEqual(rules);
  expect(pipeline.profiler!.alarmTopic).toBe(stack.alarmTopic);
  expect(monitor.alarmTopic).toBe(stack.alarmTopic);
}

/** An app checked by the five cdk-nag packs of bin/app.ts, synthesizing into a fresh temporary directory. */
export function nagCheckedApp(): App {
  return checkedApp({ appProps: { outdir: tempOutdir() } });
}

/** Synthesizes; returns the validation failure message and report ('' when there is none). */
export function nagFindings(app: App): string {
  try {
    app.synth();
    return '';
  } catch (e) {
    const report = path.join(app.outdir, 'validation-report.json');
    return String((e as Error).message) + (fs.existsSync(report) ? fs.readFileSync(report, 'utf8') : '');
  }
}

/** Resource types and logical ids (hash suffix dropped) of the resources a template retains on deletion. */
export function retainedResources(t: Template): string[] {
  return Object.entries(t.toJSON().Resources as Record<string, { Type: string; DeletionPolicy?: string }>)
    .filter(([, r]) => r.DeletionPolicy === 'Retain').map(([id, r]) => `${r.Type} ${id.replace(/[0-9A-F]{8}$/, '')}`).sort();
}

/**
 * PRODUCTION retains the sink table, the archive bucket and its access-log bucket of the pipeline whose logical ids
 * start with `prefix`, and nothing else; EPHEMERAL retains nothing.
 */
export function expectPhoenixRetention(templateOf: (mode: PhoenixMode) => Template, prefix: string): void {
  expect(retainedResources(templateOf(PhoenixMode.PRODUCTION))).toEqual([
    `AWS::DynamoDB::Table ${prefix}IngestSinkTable`,
    `AWS::S3::Bucket ${prefix}ArchiveAccessLogs`,
    `AWS::S3::Bucket ${prefix}ArchiveBucket`,
  ]);
  expect(retainedResources(templateOf(PhoenixMode.EPHEMERAL))).toEqual([]);
}

/**
 * Every alarm of the template reaches the one topic (encrypted with a key CloudWatch may use): directly, or through
 * the pipeline-health composite alarm.
 */
export function expectEveryAlarmNotifiesTheTopic(t: Template): void {
  t.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^AlarmTopicKey'), 'Arn'] } });
  const [key] = Object.entries(t.findResources('AWS::KMS::Key')).filter(([id]) => id.startsWith('AlarmTopicKey')).map(([, k]) => k);
  expect(JSON.stringify(key.Properties.KeyPolicy)).toContain('cloudwatch.amazonaws.com');
  // the example's topic is the only one: the monitor and the profiler use it, they create none
  t.resourceCountIs('AWS::SNS::Topic', 1);
  const [health] = Object.values(t.findResources('AWS::CloudWatch::CompositeAlarm'));
  expect(health.Properties.AlarmActions).toEqual([{ Ref: expect.stringMatching(/^AlarmTopic/) }]);
  const rule = JSON.stringify(health.Properties.AlarmRule);
  const [topicId] = Object.keys(t.findResources('AWS::SNS::Topic'));
  const alarms = Object.entries(t.findResources('AWS::CloudWatch::Alarm'));
  expect(alarms.length).toBeGreaterThan(10);
  for (const [id, alarm] of alarms) {
    const direct = JSON.stringify(alarm.Properties.AlarmActions) === JSON.stringify([{ Ref: topicId }]);
    expect({ id, notifies: direct || rule.includes(id) }).toEqual({ id, notifies: true });
  }
}

/** The pipeline-health composite alarm of the template names every one of `alarms` (logical ids of their defaults). */
export function expectHealthAlarmCovers(t: Template, stack: { getLogicalId(e: never): string }, alarms: Array<Construct | undefined>): void {
  const rule = JSON.stringify(Object.values(t.findResources('AWS::CloudWatch::CompositeAlarm'))[0].Properties.AlarmRule);
  for (const c of alarms) {
    expect(rule).toContain(stack.getLogicalId((c as Construct).node.defaultChild as never));
  }
}
