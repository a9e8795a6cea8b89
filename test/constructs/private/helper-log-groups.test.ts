/**
 * No log group outside the stack: every Lambda function of a stack holding the library's constructs (CDK's bucket
 * auto-delete and bucket notification helpers included) logs to a log group the stack creates, with a retention, and
 * deleted with the stack unless the app retains logs itself.
 */
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { DataPipeline, Phoenix, PhoenixMode, QualityRuleKind } from '../../../constructs';

function synth(mode: PhoenixMode): Record<string, any> {
  const stack = new Stack(new App(), 'S');
  Phoenix.configure(stack, { mode });
  new DataPipeline(stack, 'P', { pipelineName: 'orders', quality: { rules: [{ name: 'rows', kind: QualityRuleKind.VOLUME, lastWindows: 3, fail: { min: 0.1 } }] } });
  return Template.fromStack(stack).toJSON().Resources as Record<string, any>;
}

describe('log groups of every function, CDK helpers included', () => {
  for (const mode of [PhoenixMode.EPHEMERAL, PhoenixMode.PRODUCTION]) {
    it(`${mode}: each function names a log group of the stack with a retention, deleted with it`, () => {
      const resources = synth(mode);
      const functions = Object.entries(resources).filter(([, r]) => r.Type === 'AWS::Lambda::Function');
      const helpers = functions.filter(([id]) => /AutoDeleteObjects|BucketNotificationsHandler/.test(id));
      expect(helpers.length).toBeGreaterThanOrEqual(1);
      for (const [id, fn] of functions) {
        const ref = fn.Properties.LoggingConfig?.LogGroup?.Ref as string | undefined;
        expect(ref, `${id} has no LoggingConfig.LogGroup of the stack`).toBeDefined();
        const group = resources[ref!];
        expect(group?.Type, `${id} -> ${ref}`).toBe('AWS::Logs::LogGroup');
        expect(group.Properties.RetentionInDays, `${ref} retention`).toBeGreaterThan(0);
        expect(group.DeletionPolicy, `${ref} deletion`).toBe('Delete');
      }
    });
  }
});
