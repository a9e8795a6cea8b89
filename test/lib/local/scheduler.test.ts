/**
 * Scheduled deliveries to SQS under IAM enforcement, as AWS authorizes them: an EventBridge Scheduler schedule assumes
 * its target's RoleArn and sends with that role's permissions; a scheduled rule sends as `events.amazonaws.com` for the
 * rule, so the queue policy decides. Removing the role's grant, its trust statement or the queue-policy statement
 * refuses the delivery, counted in the schedule's stats and the run's accessDenied.
 */
import { ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { afterAll, describe, expect, it } from 'vitest';
import { handWrittenAssembly, liveChildren, removeDir, tempDir } from './support';
import { loadAssembly } from '../../../lib/local/assembly';
import { AsyncInvoker } from '../../../lib/local/async-invoke';
import { Lifecycle } from '../../../lib/local/lifecycle';
import { provision } from '../../../lib/local/provision';
import { localAccountModel } from '../../../lib/local/run/context';
import { deployStack, PrincipalClients, queueUrlLookup, startServices } from '../../../lib/local/run/provision';
import { startSchedules } from '../../../lib/local/scheduler';
import { LocalStack } from '../../../lib/local/template/stack';

const ACCOUNT = '000000000000';
const arnOf = (logicalId: string): unknown => ({ 'Fn::GetAtt': [logicalId, 'Arn'] });

interface Grants { ruleQueueStatement: boolean; roleGrant: boolean; roleTrust: boolean }

/** What the CDK synthesizes for a scheduled rule with an `SqsQueue` target and a Scheduler schedule with an SQS target. */
function template(g: Grants): Record<string, unknown> {
  const ruleStatements: unknown[] = [];
  if (g.ruleQueueStatement) {
    ruleStatements.push({
      Effect: 'Allow',
      Principal: { Service: 'events.amazonaws.com' },
      Action: ['sqs:SendMessage', 'sqs:GetQueueAttributes', 'sqs:GetQueueUrl'],
      Resource: arnOf('RuleQueue'),
      Condition: { ArnEquals: { 'aws:SourceArn': arnOf('Hourly') } },
    });
  } else {
    ruleStatements.push({ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: 'sqs:SendMessage', Resource: arnOf('RuleQueue') });
  }
  const trusted = g.roleTrust ? 'scheduler.amazonaws.com' : 'events.amazonaws.com';
  const grant = { Effect: 'Allow', Action: 'sqs:SendMessage', Resource: g.roleGrant ? arnOf('ScheduleQueue') : arnOf('RuleQueue') };
  return {
    Resources: {
      RuleQueue: { Type: 'AWS::SQS::Queue', Properties: { SqsManagedSseEnabled: true } },
      RuleQueuePolicy: {
        Type: 'AWS::SQS::QueuePolicy',
        Properties: { Queues: [{ Ref: 'RuleQueue' }], PolicyDocument: { Version: '2012-10-17', Statement: ruleStatements } },
      },
      Hourly: {
        Type: 'AWS::Events::Rule',
        Properties: { ScheduleExpression: 'rate(1 hour)', State: 'ENABLED', Targets: [{ Arn: arnOf('RuleQueue'), Id: 'Target0' }] },
      },
      ScheduleQueue: { Type: 'AWS::SQS::Queue', Properties: { SqsManagedSseEnabled: true } },
      ScheduleRole: {
        Type: 'AWS::IAM::Role',
        Properties: {
          AssumeRolePolicyDocument: {
            Version: '2012-10-17',
            Statement: [{ Effect: 'Allow', Principal: { Service: trusted }, Action: 'sts:AssumeRole', Condition: { StringEquals: { 'aws:SourceAccount': ACCOUNT } } }],
          },
        },
      },
      ScheduleRolePolicy: {
        Type: 'AWS::IAM::Policy',
        Properties: { PolicyName: 'send', Roles: [{ Ref: 'ScheduleRole' }], PolicyDocument: { Version: '2012-10-17', Statement: [grant] } },
      },
      Nightly: {
        Type: 'AWS::Scheduler::Schedule',
        Properties: {
          ScheduleExpression: 'rate(1 hour)',
          FlexibleTimeWindow: { Mode: 'OFF' },
          Target: { Arn: arnOf('ScheduleQueue'), RoleArn: arnOf('ScheduleRole'), Input: '{"job":"compact"}' },
        },
      },
    },
  };
}

interface Outcome {
  stats: Record<string, { fired: number; failed: number; denied: number }>;
  received: Record<string, string[]>;
  denied: string[];
}

/** Provisions with IAM on, fires every schedule once, reads both queues. */
async function fireOnce(g: Grants): Promise<Outcome> {
  const assemblyDir = handWrittenAssembly('Jobs', template(g));
  const runDir = tempDir('schedules');
  const life = new Lifecycle();
  try {
    const [assembly] = loadAssembly(assemblyDir);
    const stack = new LocalStack('Jobs', assembly.template);
    deployStack(localAccountModel(), stack, (m) => new Error(m));
    const services = await startServices(stack, runDir, life, { iam: true });
    const provisioned = await provision(stack, assembly, services.clients, { onDemandShards: 1, runDir, log: () => undefined });
    const principals = new PrincipalClients(services, stack.region, life);
    const queueUrlForArn = queueUrlLookup(provisioned, (m) => new Error(m));
    const invoker = new AsyncInvoker(provisioned, services.clients, { log: () => undefined, queueUrlForArn });
    const schedules = startSchedules(provisioned, [], invoker, {
      log: () => undefined,
      queueUrlForArn,
      fireAtStart: true,
      authz: services.authz,
      clientsOfRole: (arn) => principals.ofRole(arn),
      clientsOfRule: (arn) => principals.ofRule(arn),
    });
    await schedules.stop();
    const received: Record<string, string[]> = {};
    for (const q of provisioned.queues) {
      const res = await services.clients.sqs.send(new ReceiveMessageCommand({ QueueUrl: q.url, MaxNumberOfMessages: 10 }));
      received[q.logicalId] = (res.Messages ?? []).map((m) => m.Body!);
    }
    return { stats: schedules.stats, received, denied: services.accessDenied.map((d) => `${d.principal} ${d.action} ${d.resource}`) };
  } finally {
    await life.stopAll();
    removeDir(assemblyDir);
    removeDir(runDir);
  }
}

describe('scheduled deliveries to SQS under IAM enforcement', () => {
  afterAll(() => expect(liveChildren()).toEqual([]));

  it('a rule sends through the queue policy as events.amazonaws.com; a schedule sends with its role', async () => {
    const o = await fireOnce({ ruleQueueStatement: true, roleGrant: true, roleTrust: true });
    expect(o.stats.Hourly).toMatchObject({ fired: 1, failed: 0, denied: 0 });
    expect(o.stats.Nightly).toMatchObject({ fired: 1, failed: 0, denied: 0 });
    expect(JSON.parse(o.received.RuleQueue[0])).toMatchObject({ 'detail-type': 'Scheduled Event', 'source': 'aws.events' });
    expect(o.received.ScheduleQueue).toEqual(['{"job":"compact"}']);
    expect(o.denied).toEqual([]);
  }, 60_000);

  it('a rule is refused without the queue-policy statement for events.amazonaws.com, as SQS refuses it', async () => {
    const o = await fireOnce({ ruleQueueStatement: false, roleGrant: true, roleTrust: true });
    expect(o.stats.Hourly).toMatchObject({ fired: 1, failed: 1, denied: 1 });
    expect(o.received.RuleQueue).toEqual([]);
    expect(o.received.ScheduleQueue).toHaveLength(1);
    expect(o.denied).toEqual([expect.stringMatching(/^events\.amazonaws\.com sqs:SendMessage arn:aws:sqs:us-east-1:000000000000:Jobs-RuleQueue-/)]);
  }, 60_000);

  it('a schedule is refused without its role\'s grant on the queue', async () => {
    const o = await fireOnce({ ruleQueueStatement: true, roleGrant: false, roleTrust: true });
    expect(o.stats.Nightly).toMatchObject({ fired: 1, failed: 1, denied: 1 });
    expect(o.received.ScheduleQueue).toEqual([]);
    expect(o.received.RuleQueue).toHaveLength(1);
    expect(o.denied).toEqual([expect.stringMatching(/^arn:aws:sts::000000000000:assumed-role\/Jobs-ScheduleRole-[^/]+\/[^ ]+ sqs:SendMessage arn:aws:sqs:us-east-1:000000000000:Jobs-ScheduleQueue-/)]);
  }, 60_000);

  it('a schedule is refused when its role does not trust scheduler.amazonaws.com (sts:AssumeRole denied)', async () => {
    const o = await fireOnce({ ruleQueueStatement: true, roleGrant: true, roleTrust: false });
    expect(o.stats.Nightly).toMatchObject({ fired: 1, failed: 1, denied: 1 });
    expect(o.received.ScheduleQueue).toEqual([]);
    expect(o.denied).toEqual([expect.stringMatching(/^scheduler\.amazonaws\.com sts:AssumeRole arn:aws:iam::000000000000:role\/Jobs-ScheduleRole-/)]);
  }, 60_000);
});
