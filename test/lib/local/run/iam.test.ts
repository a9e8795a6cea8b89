import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runLocal, type LocalRunReport } from '../../../../lib/local/run';
import { liveChildren, mutatedAssembly, removeDir, runOptions, synthExample } from '../support';

/**
 * IAM is enforced in every local run: a template missing a grant fails locally as it would in AWS. One run of the
 * clickstream example with two grants removed: `dynamodb:PutItem` from the ingest function's role, and the alarm
 * topic policy's statement letting CloudWatch publish (the TLS Deny alone, as before issue #13's fix).
 */
type Template = Record<string, any>;
type Statement = { Action: string | string[]; Principal?: { Service?: string } };

function withoutIngestPutItem(t: Template): void {
  const policies = Object.entries<any>(t.Resources).filter(([id, r]) => r.Type === 'AWS::IAM::Policy' && id.startsWith('ClickstreamIngestProcessorRoleDefaultPolicy'));
  if (policies.length !== 1) throw new Error(`expected the ingest role's policy, got ${policies.map(([id]) => id).join(', ')}`);
  const statements = policies[0][1].Properties.PolicyDocument.Statement as Statement[];
  const sink = statements.filter((s) => [s.Action].flat().includes('dynamodb:PutItem'));
  if (sink.length !== 1) throw new Error('expected one statement granting dynamodb:PutItem');
  sink[0].Action = [sink[0].Action].flat().filter((a) => a !== 'dynamodb:PutItem');
}

function withoutCloudWatchPublish(t: Template): void {
  const policy = Object.entries<any>(t.Resources).find(([id, r]) => r.Type === 'AWS::SNS::TopicPolicy' && id.startsWith('AlarmTopicPolicy'));
  if (!policy) throw new Error('no AlarmTopicPolicy');
  const doc = policy[1].Properties.PolicyDocument as { Statement: Statement[] };
  const kept = doc.Statement.filter((s) => s.Principal?.Service !== 'cloudwatch.amazonaws.com');
  if (kept.length !== doc.Statement.length - 1) throw new Error('expected one statement for cloudwatch.amazonaws.com in the alarm topic policy');
  doc.Statement = kept;
}

describe('phoenix local run authorizes every call against the template (issue #13)', () => {
  let example: string;
  let assembly: string;
  let r: LocalRunReport;
  beforeAll(async () => {
    example = synthExample().dir;
    assembly = mutatedAssembly(example, (t) => {
      withoutIngestPutItem(t);
      withoutCloudWatchPublish(t);
      // A short in-process retry budget: denied writes fail their batch quickly.
      for (const res of Object.values<any>(t.Resources)) {
        const vars = res.Properties?.Environment?.Variables;
        if (res.Type === 'AWS::Lambda::Function' && vars?.PHX_SINK_KIND !== undefined) vars.PHX_RETRY_BUDGET_MS = '1000';
      }
    });
    r = await runLocal(runOptions(assembly, { records: 60, seed: 31, timeScale: 60, drainTimeoutMs: 15_000 }));
  }, 150_000);
  afterAll(() => {
    removeDir(example);
    removeDir(assembly);
  });

  it('the ingest role without PutItem: every sink write is denied as DynamoDB denies it, nothing reaches the sink', () => {
    expect(r.iamEnforced).toBe(true);
    const denied = Object.entries(r.accessDenied.byPrincipalActionResource).filter(([k]) => k.includes(' dynamodb:PutItem '));
    expect(denied.length).toBe(1);
    expect(denied[0][0]).toMatch(/^arn:aws:sts::000000000000:assumed-role\/[^/]*ClickstreamIngestProcessorRole[^/]*\/[^ ]*ClickstreamIngestProcessor[^ ]* dynamodb:PutItem arn:aws:dynamodb:us-east-1:000000000000:table\/[^ ]*ClickstreamIngestSinkTable/);
    expect(denied[0][1]).toBeGreaterThan(0);
    expect(r.sinkRecords).toBe(0);
    expect(r.invariant.holds).toBe(false);
  });

  it('the alarm topic without the CloudWatch statement: alarm notifications are refused and counted, none delivered', () => {
    const notifications = r.alarms.notifications;
    expect(notifications.denied).toBeGreaterThan(0);
    expect(notifications.published).toBe(0);
    const denied = Object.entries(r.accessDenied.byPrincipalActionResource).filter(([k]) => k.startsWith('cloudwatch.amazonaws.com sns:Publish '));
    expect(denied.map(([k]) => k)).toEqual([expect.stringMatching(/^cloudwatch\.amazonaws\.com sns:Publish arn:aws:sns:us-east-1:000000000000:[^ ]*AlarmTopic/)]);
    expect(denied[0][1]).toBe(notifications.denied);
    expect(r.accessDenied.count).toBe(Object.values(r.accessDenied.byPrincipalActionResource).reduce((n, c) => n + c, 0));
    expect(liveChildren()).toEqual([]);
  });
});
