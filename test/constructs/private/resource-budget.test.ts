import { App, Stack } from 'aws-cdk-lib';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { describe, expect, it } from 'vitest';
import { CorrelatedMonitor, DataPipeline, QualityRuleKind } from '../../../constructs';
import { TEST_ENV } from '../../support/stacks';

const QUALITY = { rules: [{ name: 'volume', kind: QualityRuleKind.VOLUME }] };

/** A stack of `count` full pipelines (quality and a monitor) and `own` resources of the app's own. */
function stack(count: number, own = 0, context: Record<string, unknown> = {}): { app: App; stack: Stack } {
  const app = new App({ context });
  const s = new Stack(app, 'Big', { env: TEST_ENV });
  for (let i = 0; i < count; i++) {
    const pipeline = new DataPipeline(s, `P${i}`, { pipelineName: `p${i}`, quality: QUALITY });
    pipeline.profiler!.addToMonitor(new CorrelatedMonitor(s, `M${i}`, { pipeline }));
  }
  for (let i = 0; i < own; i++) new sqs.CfnQueue(s, `Own${i}`);
  return { app, stack: s };
}

describe('resource budget of a stack', () => {
  it('fails when five full pipelines share a stack, naming the count, the budget, the limit and the fix', () => {
    expect(() => stack(4).app.synth()).not.toThrow();
    expect(() => stack(5).app.synth()).toThrow(
      /stack Big is too large: its cdk-phoenix-pipelines constructs have 510 resources, more than the library's budget of 450 \(90% of CloudFormation's limit of 500 per stack.*new DataPipelineStack\(this, id, props\)/s);
  });

  it('fails when the app\'s own resources take the stack over the limit, naming both counts', () => {
    expect(() => stack(1, 400).app.synth()).toThrow(/it has 508 resources \(102 of them cdk-phoenix-pipelines'\), more than CloudFormation's limit of 500 per stack/);
  });

  it('follows CDK\'s @aws-cdk/core:stackResourceLimit: a lower limit lowers the budget, 0 turns the check off', () => {
    expect(() => stack(1, 0, { '@aws-cdk/core:stackResourceLimit': 100 }).app.synth()).toThrow(/have 102 resources, more than the library's budget of 90 \(90% of CloudFormation's limit of 100/);
    expect(() => stack(1, 500, { '@aws-cdk/core:stackResourceLimit': 0 }).app.synth()).not.toThrow();
  });
});
