/**
 * `phoenix dlq redrive-failures` input: bad input exits 2 with one line on stderr, before any AWS call.
 */
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { cli } from '../../../support/cli';

const cfn = mockClient(CloudFormationClient);
const sqs = mockClient(SQSClient);
afterAll(() => {
  cfn.restore();
  sqs.restore();
});
beforeEach(() => {
  cfn.reset();
  sqs.reset();
});

describe('phoenix dlq redrive-failures: bad input', () => {
  it('exits 2 with one line naming the problem, without calling AWS', async () => {
    for (const [args, message] of [
      [[], /say which pipeline: --stack <name> or --local <dir>/],
      [['--stack', 'S', '--visibility-timeout', '0'], /--visibility-timeout must be an integer between 1 and 43200; got "0"/],
      [['--stack', 'S', '--local', '/nonexistent'], /--local and --stack cannot be combined/],
      [['--local', '/nonexistent/run'], /--local \/nonexistent\/run: no local-env.json there/],
      [['--queue-url', 'https://sqs.us-east-1.amazonaws.com/1/q'], /unknown option '--queue-url'/],
    ] as Array<[string[], RegExp]>) {
      const r = await cli(['dlq', 'redrive-failures', ...args]);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stderr.trim().split('\n'), args.join(' ')).toHaveLength(1);
    }
    expect(cfn.calls()).toHaveLength(0);
    expect(sqs.calls()).toHaveLength(0);
  });

  it('a stack without the redrive outputs exits 2 naming what is missing, before reading any queue', async () => {
    cfn.on(DescribeStacksCommand).resolves({
      Stacks: [{
        StackName: 'Old',
        CreationTime: new Date(),
        StackStatus: 'CREATE_COMPLETE',
        Outputs: [{ OutputKey: 'OrdersDlqUrl1A2B3C4D', OutputValue: 'https://sqs.us-east-1.amazonaws.com/1/dlq', Description: 'Dead-letter queue URL (pipeline orders)' }],
      }],
    });
    const r = await cli(['dlq', 'redrive-failures', '--stack', 'Old', '--region', 'us-east-1']);
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toMatch(/^phoenix: stack Old has no FailedEventsUrl output: deploy the pipeline with this version \(DataPipeline adds it\)$/);
    expect(sqs.calls()).toHaveLength(0);
  });
});
