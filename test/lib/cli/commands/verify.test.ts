/** `phoenix verify`: input errors exit 2 with one line before any AWS call; a mocked deployed stack exits 0 or 1. */
import { DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseVerifyFlags, type VerifyFlags } from '../../../../lib/cli/commands/verify';
import { UsageError } from '../../../../lib/cli/errors';
import { cli } from '../../../support/cli';
import { mockHealthyAws, type AwsMocks } from '../verify/support';

let mocks: AwsMocks;
beforeEach(() => {
  mocks = mockHealthyAws();
  mocks.cfn.on(DescribeStacksCommand).resolves({
    Stacks: [{
      StackName: 'S',
      CreationTime: new Date(),
      StackStatus: 'CREATE_COMPLETE',
      Outputs: [
        { OutputKey: 'OrdersPipelineName0A1B2C3D', OutputValue: 'orders', Description: 'name (pipeline orders)' },
        { OutputKey: 'OrdersStreamName0A1B2C3D', OutputValue: 'S-Stream', Description: 'stream (pipeline orders)' },
        { OutputKey: 'OrdersProcessorName0A1B2C3D', OutputValue: 'S-Processor', Description: 'function (pipeline orders)' },
        { OutputKey: 'OrdersDlqUrl0A1B2C3D', OutputValue: 'https://sqs.us-east-1.amazonaws.com/123456789012/S-Dlq', Description: 'DLQ (pipeline orders)' },
      ],
    }],
  });
});
afterEach(() => mocks.restore());

const awsCalls = (): number => [mocks.cfn, mocks.cw, mocks.lambda, mocks.sqs].reduce((n, m) => n + m.calls().length, 0);

describe('phoenix verify: bad input exits 2 with one line, before any AWS call', () => {
  it.each([
    [[], /say what to verify: --stack <name> \(a deployed stack\) or --local <dir>/],
    [['--stack', 'S', '--local', '/tmp/x'], /--stack and --local cannot be combined/],
    [['--stack', 'my stack'], /--stack "my stack" is not a CloudFormation stack name/],
    [['--stack', '1abc'], /is not a CloudFormation stack name: allowed letters, digits and hyphens, starting with a letter/],
    [['--stack', 'S', '--region', 'Mars'], /--region "Mars" is not an AWS region/],
    [['--stack', 'S', '--max-dead-letters', '-1'], /--max-dead-letters must be an integer between 0 and 1000000000; got "-1"/],
    [['--stack', 'S', '--max-dead-letters', 'many'], /--max-dead-letters must be an integer/],
    [['--stack', 'S', '--canary-slo-ms', '0'], /--canary-slo-ms must be an integer between 1 and 86400000; got "0"/],
    [['--stack', 'S', '--max-iterator-age-ms', '1.5'], /--max-iterator-age-ms must be an integer/],
    [['--stack', 'S', '--window-minutes', '0'], /--window-minutes must be an integer between 1 and 1440/],
    [['--local', '/nonexistent/run', '--region', 'us-east-1'], /--region applies to --stack only/],
    [['--local', '/nonexistent/run'], /--local \/nonexistent\/run: no local-env\.json there/],
  ])('%j', async (args, message) => {
    const r = await cli(['verify', ...args]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(message);
    expect(awsCalls()).toBe(0);
  });

  it('parseVerifyFlags: defaults', () => {
    const flags: VerifyFlags = { stack: 'S', maxDeadLetters: '0', windowMinutes: '15', driftTimeout: '180', region: 'eu-west-1' };
    expect(parseVerifyFlags(flags)).toEqual({
      target: { kind: 'aws', stack: 'S', region: 'eu-west-1' },
      pipeline: undefined,
      limits: { windowMs: 900_000, maxDeadLetters: 0, canarySloMs: undefined, maxIteratorAgeMs: undefined },
      driftTimeoutMs: 180_000,
    });
    expect(() => parseVerifyFlags({ ...flags, driftTimeout: '5' })).toThrow(UsageError);
  });
});

describe('phoenix verify --stack (SDK mocked)', () => {
  it('a healthy stack: six PASS lines, exit 0', async () => {
    const r = await cli(['verify', '--stack', 'S', '--region', 'us-east-1']);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toBe('verify stack S (us-east-1)');
    expect(lines.slice(1).map((l) => l.split(':')[0])).toEqual([
      'PASS canary', 'PASS dead-letters', 'PASS alarms', 'PASS drift', 'PASS event-source-mappings', 'PASS iterator-age',
    ]);
  });

  it('dead letters over --max-dead-letters: exit 1, the check named; --json holds every check', async () => {
    mocks.sqs.on(GetQueueAttributesCommand).resolves({ Attributes: { ApproximateNumberOfMessages: '5' } });
    const r = await cli(['verify', '--stack', 'S', '--region', 'us-east-1', '--max-dead-letters', '4', '--json']);
    expect(r.code, r.stderr).toBe(1);
    const doc = JSON.parse(r.stdout) as { ok: boolean; checks: Array<{ check: string; status: string; detail: string }> };
    expect(doc.ok).toBe(false);
    expect(doc.checks).toHaveLength(6);
    expect(doc.checks.filter((c) => c.status === 'FAIL').map((c) => c.check)).toEqual(['dead-letters']);
    expect(doc.checks[1].detail).toMatch(/^5 message\(s\) in the DLQ .* at most 4 allowed$/);
    const ok = await cli(['verify', '--stack', 'S', '--region', 'us-east-1', '--max-dead-letters', '5']);
    expect(ok.code).toBe(0);
  });

  it('a stack that does not exist: exit 2, one line', async () => {
    mocks.cfn.on(DescribeStacksCommand).rejects(Object.assign(new Error('Stack with id Nope does not exist'), { name: 'ValidationError' }));
    const r = await cli(['verify', '--stack', 'Nope', '--region', 'us-east-1']);
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe('phoenix: stack Nope does not exist in us-east-1');
  });
});
