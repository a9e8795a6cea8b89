import { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { ENV } from '../../constructs/contract';
import { clickEventKeyFields, clickEventSchema } from '../../examples/clickstream/schema';
import { ClickstreamStack } from '../../examples/clickstream/stack';
import { handlerEnv, TEST_ENV } from '../support/stacks';

function clickstreamTemplate(): Template {
  // No analytics metadata: the snapshot must not change with the CDK version.
  const app = new App({ analyticsReporting: false });
  return Template.fromStack(new ClickstreamStack(app, 'Clickstream', { env: TEST_ENV, stackName: 'PhoenixClickstream' }));
}

describe('clickstream example', () => {
  it('matches the snapshot (asset hashes normalized)', () => {
    expect(clickstreamTemplate().toJSON()).toMatchSnapshot();
  });
  it('validates click events with the schema and derives ids from (userId, sessionId, seq)', () => {
    const env = handlerEnv(clickstreamTemplate());
    expect(JSON.parse(env[ENV.schema] as string)).toEqual(clickEventSchema);
    expect(JSON.parse(env[ENV.keyFields] as string)).toEqual(['userId', 'sessionId', 'seq']);
    expect(clickEventKeyFields).toEqual(['userId', 'sessionId', 'seq']);
    expect(env[ENV.sinkKind]).toBe('dynamodb');
  });
  it('routes the dead-letter alarms to an encrypted topic CloudWatch can use', () => {
    const t = clickstreamTemplate();
    t.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^AlarmTopicKey'), 'Arn'] } });
    const key = Object.values(t.findResources('AWS::KMS::Key'))[0];
    expect(JSON.stringify(key.Properties.KeyPolicy)).toContain('cloudwatch.amazonaws.com');
    for (const alarm of Object.values(t.findResources('AWS::CloudWatch::Alarm'))) {
      expect(alarm.Properties.AlarmActions).toEqual([{ Ref: expect.stringMatching(/^AlarmTopic/) }]);
    }
  });
});
