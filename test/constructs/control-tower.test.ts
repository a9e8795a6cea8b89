import * as fs from 'fs';
import * as path from 'path';
import { CfnGuardValidator } from '@cdklabs/cdk-validator-cfnguard';
import { App, Stack, Validations } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { afterAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../bin/app';
import {
  ControlTower, CorrelatedMonitor, DataPipeline, DataPipelineStack, DlqWithReplay, DriftDetector, IngestSink, IngestStage,
  PhoenixMode, QualityRuleKind,
} from '../../constructs';
import { buildIotTelemetryApp } from '../../examples/iot-telemetry/app';
import { buildOrdersApp } from '../../examples/orders/app';
import { phoenixStack } from '../../examples/shared';
import { tempOutdir } from '../support/examples';

/*
 * AWS Control Tower proactive controls (the rules of @cdklabs/cdk-validator-cfnguard): the three example apps and an
 * app of every construct pass with ControlTower.disabledRules(), and fail without it only on the listed controls.
 */

/** A cap, not a measurement: cfn-guard over the every-construct app takes about a minute on a busy 2-core machine. */
const SYNTH_TIMEOUT_MS = 300_000;

const outdirs: string[] = [];
afterAll(() => outdirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

function outdir(): string {
  const dir = tempOutdir();
  outdirs.push(dir);
  return dir;
}

/** One stack of every construct of the library, configured as the examples are (a year of logs, a log key). */
function everyConstructApp(): App {
  const app = new App({ outdir: outdir() });
  const stack = new Stack(app, 'EveryConstruct', { env: { account: '123456789012', region: 'eu-west-1' } });
  const topic = phoenixStack(stack, PhoenixMode.EPHEMERAL, 'every construct');
  const next = new DataPipeline(stack, 'Next', {
    pipelineName: 'next',
    sink: IngestSink.none(),
    alarmTopic: topic,
    quality: { rules: [{ name: 'volume', kind: QualityRuleKind.VOLUME, lastWindows: 6, warn: { min: 0.5 }, fail: { min: 0.1 } }] },
  });
  const lake = new DlqWithReplay(stack, 'Lake', { alarmTopic: topic });
  new DataPipeline(stack, 'ToS3', { pipelineName: 'to-s3', sink: IngestSink.s3(lake.overflowBucket, 'envelopes/'), alarmTopic: topic });
  new IngestStage(stack, 'ToKinesis', { pipelineName: 'next', sink: IngestSink.kinesis(next.ingest.stream), deadLetters: next.deadLetters });
  new DataPipelineStack(stack, 'Nested', { pipelineName: 'nested', alarmTopic: topic, archive: false });
  const monitor = new CorrelatedMonitor(stack, 'Monitor', { pipeline: next, alarmTopic: topic, notifyEveryAlarm: true });
  const drift = new DriftDetector(stack, 'Drift', { pipelineName: 'next', alarmTopic: topic });
  monitor.addAlarm(drift.driftAlarm);
  return app;
}

const APPS: Record<string, () => App> = {
  clickstream: () => buildApp({ nag: false, appProps: { outdir: outdir() } }),
  orders: () => buildOrdersApp({ nag: false, appProps: { outdir: outdir() } }),
  iotTelemetry: () => buildIotTelemetryApp({ nag: false, appProps: { outdir: outdir() } }),
  everyConstruct: everyConstructApp,
};

/** Every template file of a synthesized app (nested stacks included). */
function templatesOf(dir: string): string[] {
  return fs.readdirSync(dir).filter((f) => f.endsWith('.template.json')).map((f) => path.join(dir, f));
}

/** Synthesizes `app` with the validator and the exceptions disabled (a finding fails the synth); returns its templates. */
function synthWithExceptions(app: App): string[] {
  Validations.of(app).addPlugins(new CfnGuardValidator({ disabledRules: ControlTower.disabledRules() }));
  app.synth();
  return templatesOf(app.outdir);
}

/** The plugin's rule file of each listed control (`<rules>/<service>/ct-s3-pr-9.guard`). */
function listedRuleFiles(): string[] {
  const root = path.join(path.dirname(require.resolve('@cdklabs/cdk-validator-cfnguard/package.json')), 'rules', 'control-tower', 'cfn-guard');
  const files = fs.readdirSync(root).flatMap((dir) => fs.readdirSync(path.join(root, dir)).map((f) => path.join(root, dir, f)));
  return ControlTower.disabledRules().map((rule) => {
    const file = files.find((f) => path.basename(f) === `${rule}.guard`);
    expect(file, `rule file of ${rule}`).toBeDefined();
    return file!;
  });
}

/**
 * The control ids (`CT.S3.PR.9`) the listed rules find in `templates`, with their resources. With the synth check
 * (every other rule finds nothing), this is what the validator finds without the exception list.
 */
function findingsOfListedRules(app: App, templates: string[]): Map<string, Set<string>> {
  const validator = new CfnGuardValidator({ controlTowerRulesEnabled: false, rules: listedRuleFiles() });
  const report = validator.validate({ templatePaths: templates, appConstruct: app });
  const found = new Map<string, Set<string>>();
  for (const v of report.violations) {
    const control = /\[(CT\.[A-Z0-9.]+)\]/.exec(v.description)?.[1] ?? v.ruleName;
    const resources = found.get(control) ?? new Set<string>();
    v.violatingResources.forEach((r: { resourceLogicalId: string }) => resources.add(r.resourceLogicalId));
    found.set(control, resources);
  }
  return found;
}

describe('AWS Control Tower proactive controls', () => {
  const found = new Map<string, Map<string, Set<string>>>();

  for (const [name, build] of Object.entries(APPS)) {
    it(`${name}: zero findings with ControlTower.disabledRules() (the synth fails on any)`, () => {
      const app = build();
      const templates = synthWithExceptions(app);
      expect(templates.length).toBeGreaterThan(0);
      const controls = findingsOfListedRules(app, templates);
      found.set(name, controls);
    }, SYNTH_TIMEOUT_MS);
  }

  it('every listed control is found in some app: the list disables nothing it does not need', () => {
    const union = new Set([...found.values()].flatMap((m) => [...m.keys()]));
    expect([...union].sort()).toEqual(ControlTower.EXCEPTIONS.map((e) => e.controlId).sort());
  });

  it('the controls excepted for some resources find only those resources (access-log buckets, dead-letter queues)', () => {
    const onlyOn: Record<string, RegExp> = { 'CT.S3.PR.2': /AccessLogs/, 'CT.S3.PR.10': /AccessLogs/, 'CT.SQS.PR.1': /(DeadLetters|Lake)Queue|FailedEvents/ };
    for (const [app, controls] of found) {
      for (const [control, pattern] of Object.entries(onlyOn)) {
        const others = [...controls.get(control) ?? []].filter((id) => !pattern.test(id));
        expect({ app, control, others }).toEqual({ app, control, others: [] });
      }
    }
  });

  it('lists at most five controls, each with its rule name and a reason', () => {
    expect(ControlTower.EXCEPTIONS.length).toBeLessThanOrEqual(5);
    for (const e of ControlTower.EXCEPTIONS) {
      expect(e.ruleName).toBe(e.controlId.toLowerCase().replace(/\./g, '-'));
      expect(e.reason.length).toBeGreaterThan(40);
    }
    expect(ControlTower.disabledRules()).toEqual(ControlTower.EXCEPTIONS.map((e) => e.ruleName));
  });

  it('restrictGrantsToAwsServices denies kms:CreateGrant but for AWS services; an imported key fails', () => {
    const stack = new Stack(new App(), 'Keys');
    const key = new kms.Key(stack, 'Key');
    ControlTower.restrictGrantsToAwsServices(key);
    const keyId = stack.getLogicalId(key.node.defaultChild as kms.CfnKey);
    const statements = Template.fromStack(stack).toJSON().Resources[keyId].Properties.KeyPolicy.Statement;
    expect(statements).toContainEqual({
      Sid: 'CreateGrantForAwsServicesOnly',
      Effect: 'Deny',
      Principal: { AWS: '*' },
      Action: 'kms:CreateGrant',
      Resource: '*',
      Condition: { BoolIfExists: { 'kms:GrantIsForAWSResource': 'false', 'aws:PrincipalIsAWSService': 'false' } },
    });
    const imported = kms.Key.fromKeyArn(stack, 'Imported', 'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab');
    expect(() => ControlTower.restrictGrantsToAwsServices(imported)).toThrow(/^ControlTower at Keys\/Imported: key must be created in this app/);
  });

  it('the validator does check the apps: a finding outside the list fails the synth', () => {
    const app = new App({ outdir: outdir() });
    const stack = new Stack(app, 'Plain', { env: { account: '123456789012', region: 'eu-west-1' } });
    new sqs.Queue(stack, 'Plain', { encryption: sqs.QueueEncryption.UNENCRYPTED }); // CT.SQS.PR.2: not encrypted at rest
    expect(() => synthWithExceptions(app)).toThrow(/CT\.SQS\.PR\.2/);
  }, SYNTH_TIMEOUT_MS);
});
