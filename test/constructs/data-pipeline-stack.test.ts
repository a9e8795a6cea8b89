import { App, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  AlarmTopic, CorrelatedMonitor, DataPipelineStack, DlqWithReplay, Phoenix, QualityRuleKind, StatefulKind,
} from '../../constructs';
import { ALARM_WITHOUT_ACTION } from '../../constructs/monitoring/private/alarm-coverage';
import { handlerEnv, TEST_ENV } from '../support/stacks';

const QUALITY = { rules: [{ name: 'volume', kind: QualityRuleKind.VOLUME }] };
const PIPELINES = 20;

/** A parent stack with `count` full pipelines (quality and a monitor), each in a DataPipelineStack; one alarm topic. */
function platform(count: number, app = new App()): { parent: Stack; stacks: DataPipelineStack[] } {
  const parent = new Stack(app, 'Platform', { env: TEST_ENV });
  const topic = AlarmTopic.create(parent, { keyDescription: 'alarms', displayName: 'Alarms', removalPolicy: Phoenix.removalPolicyFor(parent, StatefulKind.KEY) });
  const stacks = Array.from({ length: count }, (_, i) => {
    const pipelineStack = new DataPipelineStack(parent, `Pipeline${i}`, { pipelineName: `p${i}`, alarmTopic: topic, quality: QUALITY });
    const monitor = new CorrelatedMonitor(pipelineStack, 'Monitor', { pipeline: pipelineStack.pipeline, alarmTopic: topic });
    pipelineStack.pipeline.profiler!.addToMonitor(monitor);
    return pipelineStack;
  });
  return { parent, stacks };
}

const resourceCount = (t: Template) => Object.keys(t.toJSON().Resources).length;

/** The fixed names (PRODUCTION) of the archive buckets of a template. */
function archiveBucketNames(t: Template): string[] {
  return Object.values(t.findResources('AWS::S3::Bucket')).map((r) => r.Properties?.BucketName).filter((n): n is string => typeof n === 'string');
}

describe(`DataPipelineStack: an app of ${PIPELINES} full pipelines`, () => {
  let parent: Stack;
  let stacks: DataPipelineStack[];
  let templates: Template[];

  beforeAll(() => {
    const started = Date.now();
    ({ parent, stacks } = platform(PIPELINES));
    templates = stacks.map((s) => Template.fromStack(s));
    console.log(`${PIPELINES} full pipelines in nested stacks: construct and synth ${Date.now() - started} ms`);
  });

  it('synthesizes, every nested template under the budget, the parent holding only the nested stacks and the topic', () => {
    const counts = templates.map(resourceCount);
    expect(new Set(counts).size).toBe(1);
    expect(counts[0]).toBeGreaterThan(90);
    expect(counts[0]).toBeLessThan(450);
    const parentTemplate = Template.fromStack(parent);
    parentTemplate.resourceCountIs('AWS::CloudFormation::Stack', PIPELINES);
    expect(resourceCount(parentTemplate)).toBeLessThan(PIPELINES + 10);
  });

  it('gives every pipeline its own deployment id, dashboard and archive bucket names', () => {
    const nestedStackName = { Ref: 'AWS::StackName' };
    for (const t of templates) {
      // Resolved by CloudFormation to the nested stack's generated name: unique per account and region.
      expect(handlerEnv(t).PHX_DEPLOYMENT).toEqual({ 'Fn::Join': ['', [nestedStackName, '-eu-west-1']] });
      t.hasResourceProperties('AWS::CloudWatch::Dashboard', { DashboardName: { 'Fn::Join': ['', Match.arrayWith([nestedStackName])] } });
    }
    const names = templates.flatMap(archiveBucketNames);
    expect(names).toHaveLength(2 * PIPELINES);
    expect(new Set(names).size).toBe(2 * PIPELINES);
    for (const name of names) expect(name).toMatch(/^platform-[0-9a-f]{8}-(archive|arclogs)-123456789012-eu-west-1$/);
  });

  it('outputs each nested stack\'s name in the parent (the phoenix CLI reads the pipeline\'s outputs there)', () => {
    const outputs = Template.fromStack(parent).findOutputs('*', { Description: Match.stringLikeRegexp('^Nested stack of pipeline p7:') });
    expect(Object.keys(outputs)).toEqual(['Pipeline7StackName']);
    templates[7].hasOutput('*', { Description: Match.stringLikeRegexp('Kinesis stream producers write to \\(pipeline p7\\)') });
  });

  it('leaves no alarm without a notification (each monitor covers its own nested stack)', () => {
    expect(Annotations.fromStack(parent).findWarning('*', Match.stringLikeRegexp(ALARM_WITHOUT_ACTION))).toEqual([]);
  });
});

describe('DataPipelineStack', () => {
  it('keeps the archive\'s fixed bucket names from one synth to the next (not hashed from a token)', () => {
    const names = () => archiveBucketNames(Template.fromStack(platform(1).stacks[0]));
    const first = names();
    expect(first).toHaveLength(2);
    expect(names()).toEqual(first);
  });

  it('refuses dead letters shared from the parent stack: the bucket notification to its normalizer would be a cycle', () => {
    const parent = new Stack(new App(), 'Platform', { env: TEST_ENV });
    const deadLetters = new DlqWithReplay(parent, 'SharedDeadLetters');
    expect(() => new DataPipelineStack(parent, 'a', { pipelineName: 'a', ingest: { deadLetters } }))
      .toThrow(/^FailureNormalizer at Platform\/a\/Pipeline\/FailureNormalizer: .*is in stack Platform, another stack than Platform\/a.*one DlqWithReplay per stack/);
  });
});
