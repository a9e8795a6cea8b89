/**
 * Copies never collide: two deployments of the clickstream example that differ in stack name, or only in region,
 * share no explicit physical name and no metric of the library's namespace (name and dimension set).
 */
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { DataPipeline } from '../../../constructs';
import { ENV, METRICS_NAMESPACE } from '../../../constructs/contract';
import { ClickstreamStack } from '../../../examples/clickstream/stack';
import { alarmMetrics, dashboardMetrics, key } from '../../constructs/monitoring/support/metrics';

const ACCOUNT = '123456789012';

function clickstream(stackName: string, region: string): Template {
  const app = new App({ analyticsReporting: false });
  return Template.fromStack(new ClickstreamStack(app, 'Clickstream', { env: { account: ACCOUNT, region }, stackName }));
}

/**
 * Name properties that are not account-level physical names: a metric's name, an SNS display name, the name of an
 * inline IAM policy (unique only within its role, whose own name is generated) and of a stream consumer (unique only
 * within its stream, whose own name is generated).
 */
const NOT_PHYSICAL = new Set(['MetricName', 'DisplayName', 'AWS::IAM::Policy PolicyName', 'AWS::Kinesis::StreamConsumer ConsumerName']);

/** A name value is explicit when it holds no reference to a resource (literals and pseudo parameters only). */
function explicit(value: unknown): boolean {
  const text = JSON.stringify(value);
  return !/"Fn::GetAtt"|"Fn::ImportValue"/.test(text) && !/"Ref":"(?!AWS::)/.test(text);
}

/** `<type> <property> = <value>` of every explicit name property of every resource. */
function physicalNames(t: Template): string[] {
  const out: string[] = [];
  for (const r of Object.values(t.toJSON().Resources as Record<string, { Type: string; Properties?: Record<string, unknown> }>)) {
    for (const [prop, value] of Object.entries(r.Properties ?? {})) {
      if (!/Name$/.test(prop) || NOT_PHYSICAL.has(prop) || NOT_PHYSICAL.has(`${r.Type} ${prop}`) || !explicit(value)) continue;
      out.push(`${r.Type} ${prop} = ${JSON.stringify(value)}`);
    }
  }
  return out;
}

/** Every metric of the library's namespace the template's alarms and dashboards query. */
function ownMetrics(t: Template): Array<{ namespace: string; name: string; dimensions: Readonly<Record<string, string>> }> {
  return [...alarmMetrics(t), ...dashboardMetrics(t)].filter((m) => m.namespace === METRICS_NAMESPACE);
}

/** PHX_DEPLOYMENT of every function of the template that has one (what the handlers emit as `Deployment`). */
function handlerDeployments(t: Template): string[] {
  return Object.values(t.findResources('AWS::Lambda::Function'))
    .map((f) => f.Properties.Environment?.Variables?.[ENV.deployment] as string | undefined)
    .filter((d): d is string => d !== undefined);
}

function expectNoCollision(a: Template, b: Template, deploymentA: string): void {
  const namesA = physicalNames(a);
  // Not vacuous: the dashboard, the composite alarm and the saved queries are named explicitly.
  expect(namesA.filter((n) => /Dashboard|CompositeAlarm|QueryDefinition/.test(n)).length).toBeGreaterThanOrEqual(8);
  const namesB = new Set(physicalNames(b));
  expect(namesA.filter((n) => namesB.has(n))).toEqual([]);

  const metricsA = ownMetrics(a);
  expect(metricsA.length).toBeGreaterThan(20);
  // Every alarm and widget of a copy filters on its deployment, and its handlers emit that deployment.
  expect(metricsA.filter((m) => m.dimensions.Deployment !== deploymentA).map(key)).toEqual([]);
  const deployments = handlerDeployments(a);
  expect(deployments.length).toBeGreaterThanOrEqual(4);
  expect(new Set(deployments)).toEqual(new Set([deploymentA]));
  const keysB = new Set(ownMetrics(b).map(key));
  expect(metricsA.map(key).filter((k) => keysB.has(k))).toEqual([]);
}

// Each test synthesizes the example two or three times: minutes on a loaded 2-core machine.
describe('copies of the clickstream example', { timeout: 240_000 }, () => {
  it('two stack names in one account and region: no physical name and no metric in common', () => {
    expectNoCollision(clickstream('Clicks-blue', 'eu-west-1'), clickstream('Clicks-green', 'eu-west-1'), 'Clicks-blue-eu-west-1');
  });

  it('one stack name in two regions: no physical name and no metric in common', () => {
    expectNoCollision(clickstream('PhoenixClickstream', 'eu-west-1'), clickstream('PhoenixClickstream', 'us-east-1'), 'PhoenixClickstream-eu-west-1');
  });

  it('the walk catches a shared name (the same copy twice)', () => {
    const t = clickstream('PhoenixClickstream', 'eu-west-1');
    expect(() => expectNoCollision(t, clickstream('PhoenixClickstream', 'eu-west-1'), 'PhoenixClickstream-eu-west-1')).toThrow();
  });

  it('a deploymentId given to the pipeline is the Deployment its handlers emit', () => {
    const app = new App({ analyticsReporting: false });
    const stack = new ClickstreamStack(app, 'Clickstream', { env: { account: ACCOUNT, region: 'eu-west-1' }, stackName: 'S' });
    const pipeline = new DataPipeline(stack, 'Second', { pipelineName: 'second', deploymentId: 'blue', archive: false, replayFunction: false });
    expect(pipeline.deploymentId).toBe('blue');
    expect(pipeline.ingest.deploymentId).toBe('blue');
    const processors = Object.values(Template.fromStack(stack).findResources('AWS::Lambda::Function'))
      .map((f) => f.Properties.Environment?.Variables ?? {}).filter((v) => v[ENV.pipeline] === 'second' && v[ENV.sinkKind] !== undefined);
    expect(processors.map((v) => v[ENV.deployment])).toEqual(['blue']);
    expect(() => new DataPipeline(stack, 'Third', { pipelineName: 'third', deploymentId: 'blue green' })).toThrow(/deploymentId must be 1-128 characters of \[A-Za-z0-9_.-\] \(given 'blue green'/);
  });
});
