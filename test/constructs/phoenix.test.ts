import { App, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import type { Construct } from 'constructs';
import { describe, expect, it } from 'vitest';
import {
  CorrelatedMonitor, DataPipeline, DlqWithReplay, DriftDetector, IngestSink, IngestStage, Phoenix, PhoenixMode, QualityRuleKind, RawArchive,
  StatefulKind, type DataPipelineProps,
} from '../../constructs';
import { TEST_ENV } from '../support/stacks';

/**
 * Resource types that hold state (CloudFormation deletes them with their data unless told otherwise). Every
 * resource of these types must carry an explicit DeletionPolicy; resources of other types are checked too when
 * they carry one.
 */
const STATEFUL_TYPES = new Set([
  'AWS::S3::Bucket', 'AWS::DynamoDB::Table', 'AWS::DynamoDB::GlobalTable', 'AWS::Kinesis::Stream', 'AWS::SQS::Queue',
  'AWS::Logs::LogGroup', 'AWS::KMS::Key', 'AWS::SNS::Topic', 'AWS::KinesisFirehose::DeliveryStream', 'AWS::Glue::Table',
  'AWS::Timestream::Table', 'AWS::SecretsManager::Secret', 'AWS::EFS::FileSystem', 'AWS::RDS::DBInstance',
]);

interface Built {
  readonly stack: Stack;
  readonly pipeline: DataPipeline;
  /** The pipeline's raw archive (bucket and its access-log bucket: kind ARCHIVE). */
  readonly archive: RawArchive;
  readonly monitor?: CorrelatedMonitor;
}

/** Rules of the profiler of a full pipeline (columns of no schema: the default ingest stage has none). */
const QUALITY = { rules: [{ name: 'volume', kind: QualityRuleKind.VOLUME }] };

/**
 * A full pipeline (default DynamoDB sink, created stream and dead letters, failure normalizer, raw archive, replay
 * function); with `full`, also a quality profiler, a correlated monitor with its canary, and a drift detector.
 */
function build(props: Partial<DataPipelineProps> = {}, app = new App(), id = 'Orders', full = false): Built {
  const stack = new Stack(app, id, { env: TEST_ENV });
  const pipeline = new DataPipeline(stack, 'Orders', { pipelineName: 'orders', ...(full ? { quality: QUALITY } : {}), ...props });
  let monitor: CorrelatedMonitor | undefined;
  if (full) {
    monitor = new CorrelatedMonitor(pipeline, 'Monitor', { pipeline });
    pipeline.profiler!.addToMonitor(monitor);
    monitor.addAlarm(new DriftDetector(pipeline, 'Drift', { pipelineName: 'orders' }).driftAlarm);
  }
  return { stack, pipeline, archive: pipeline.archive!, monitor };
}

/** Logical ids of the archive's buckets (the archive and its access logs), retained together in PRODUCTION. */
const archiveIds = (archive: RawArchive) => [logicalId(archive.bucket as s3.Bucket), logicalId(archive.serverAccessLogsBucket as s3.Bucket)];

const logicalId = (c: Construct) => Stack.of(c).getLogicalId(c.node.defaultChild as never);

/**
 * Checks the DeletionPolicy and UpdateReplacePolicy of EVERY stateful resource of the template: `Retain` for the
 * logical ids in `retained`, `Delete` for all others; buckets that are deleted must be emptied by the
 * auto-delete custom resource, retained ones must not be. Returns the logical ids of the resources checked.
 */
function expectPolicies(stack: Stack, retained: Set<string>): string[] {
  const template = Template.fromStack(stack).toJSON();
  const resources = template.Resources as Record<string, { Type: string; DeletionPolicy?: string; UpdateReplacePolicy?: string; Properties?: any }>;
  const emptied = new Set(Object.values(resources)
    .filter((r) => r.Type === 'Custom::S3AutoDeleteObjects')
    .map((r) => r.Properties.BucketName.Ref as string));
  const checked: string[] = [];
  for (const [id, r] of Object.entries(resources)) {
    if (!STATEFUL_TYPES.has(r.Type) && r.DeletionPolicy === undefined && r.UpdateReplacePolicy === undefined) {
      continue;
    }
    const expected = retained.has(id) ? 'Retain' : 'Delete';
    expect({ id, type: r.Type, DeletionPolicy: r.DeletionPolicy, UpdateReplacePolicy: r.UpdateReplacePolicy })
      .toEqual({ id, type: r.Type, DeletionPolicy: expected, UpdateReplacePolicy: expected });
    if (r.Type === 'AWS::S3::Bucket') {
      expect({ id, emptiedOnDelete: emptied.has(id) }).toEqual({ id, emptiedOnDelete: expected === 'Delete' });
    }
    checked.push(id);
  }
  for (const id of retained) {
    expect(resources[id], `retained resource ${id} exists`).toBeDefined();
  }
  return checked;
}

describe('Phoenix mode: removal policy of every stateful resource', () => {
  it('EPHEMERAL: every stateful resource of the whole template is deleted and every bucket emptied (archive included)', () => {
    const { stack, pipeline, archive, monitor } = build({ phoenixMode: PhoenixMode.EPHEMERAL }, new App(), 'Orders', true);
    expect(pipeline.phoenixMode).toBe(PhoenixMode.EPHEMERAL);
    const checked = expectPolicies(stack, new Set());
    // the stages attached to the pipeline are among the checked resources, each through its own removal policy
    const attached = [
      ...archiveIds(archive), logicalId(archive.deliveryStream),
      logicalId(pipeline.failureNormalizer!.failedEvents as Construct), logicalId(pipeline.failureNormalizer!.logGroup as Construct),
      logicalId(pipeline.replay!.logGroup as Construct),
      logicalId(pipeline.profiler!.historyBucket as Construct), logicalId(pipeline.profiler!.serverAccessLogsBucket as Construct),
      logicalId(pipeline.profiler!.logGroup as Construct),
      logicalId(monitor!.canary!.logGroup as Construct),
    ];
    expect(checked).toEqual(expect.arrayContaining(attached));
    // the alarm topics' keys (monitor, profiler), the drift detector's and the archive's log groups
    const types = (type: string) => checked.filter((id) => Template.fromStack(stack).toJSON().Resources[id].Type === type);
    expect(types('AWS::KMS::Key').map((id) => id.replace(/[0-9A-F]{8}$/, '')).sort()).toEqual(['OrdersMonitorAlarmTopicKey', 'OrdersProfilerAlarmTopicKey']);
    expect(types('AWS::Logs::LogGroup').length).toBeGreaterThanOrEqual(8);
    expect(checked.length).toBeGreaterThanOrEqual(20);
  });

  it('PRODUCTION (the default): the archive (bucket and access logs) and the sink table are retained, nothing else', () => {
    const { stack, pipeline, archive } = build({}, new App(), 'Orders', true);
    expect(pipeline.phoenixMode).toBe(PhoenixMode.PRODUCTION);
    const table = pipeline.ingest.sinkConfig.table as Construct;
    expect(expectPolicies(stack, new Set([...archiveIds(archive), logicalId(table)])).length).toBeGreaterThanOrEqual(20);
  });

  it('PRODUCTION with retainSinks false: only the archive is retained', () => {
    const { stack, archive } = build({ phoenixMode: PhoenixMode.PRODUCTION, retainSinks: false });
    expect(expectPolicies(stack, new Set(archiveIds(archive))).length).toBeGreaterThanOrEqual(7);
  });

  it('without an archive, PRODUCTION retains the sink only', () => {
    const { stack, pipeline } = build({ archive: false });
    expect(pipeline.archive).toBeUndefined();
    expectPolicies(stack, new Set([logicalId(pipeline.ingest.sinkConfig.table as Construct)]));
  });

  it('an explicit removalPolicy on a resource wins over the mode', () => {
    const { stack, pipeline } = build({
      phoenixMode: PhoenixMode.EPHEMERAL,
      sink: IngestSink.dynamoDb({ removalPolicy: RemovalPolicy.RETAIN }),
      ingest: { logRemovalPolicy: RemovalPolicy.RETAIN, deadLetterProps: { removalPolicy: RemovalPolicy.RETAIN } },
    });
    const dlq = pipeline.deadLetters as DlqWithReplay;
    expectPolicies(stack, new Set([
      logicalId(pipeline.ingest.sinkConfig.table as Construct), logicalId(pipeline.ingest.logGroup),
      logicalId(dlq.queue), logicalId(dlq.overflowBucket), logicalId(dlq.serverAccessLogsBucket),
    ]));
  });

  it('a stage outside any pipeline follows the mode configured on its stack (and so does an archive of its stream)', () => {
    const stack = new Stack(new App(), 'Stage', { env: TEST_ENV });
    Phoenix.configure(stack, { mode: PhoenixMode.EPHEMERAL });
    const stage = new IngestStage(stack, 'Ingest', { pipelineName: 'orders' });
    const archive = new RawArchive(stack, 'Archive', { stream: stage.stream });
    expect(Phoenix.modeOf(archive)).toBe(PhoenixMode.EPHEMERAL);
    expect(expectPolicies(stack, new Set())).toEqual(expect.arrayContaining(archiveIds(archive)));
  });

  it('an archive outside any configured scope is retained (PRODUCTION), with the sink; its log groups and delivery stream are not', () => {
    const stack = new Stack(new App(), 'Archive', { env: TEST_ENV });
    const stage = new IngestStage(stack, 'Ingest', { pipelineName: 'orders' });
    const archive = new RawArchive(stack, 'Archive', { stream: stage.stream });
    expectPolicies(stack, new Set([...archiveIds(archive), logicalId(stage.sinkConfig.table as Construct)]));
  });

  it('the pipeline setting wins over its stack\'s; unset, the pipeline inherits the stack\'s', () => {
    const stack = new Stack(new App(), 'Mixed', { env: TEST_ENV });
    Phoenix.configure(stack, { mode: PhoenixMode.EPHEMERAL });
    const prod = new DataPipeline(stack, 'Prod', { pipelineName: 'prod', phoenixMode: PhoenixMode.PRODUCTION });
    const inherit = new DataPipeline(stack, 'Inherit', { pipelineName: 'inherit' });
    expect(prod.phoenixMode).toBe(PhoenixMode.PRODUCTION);
    expect(inherit.phoenixMode).toBe(PhoenixMode.EPHEMERAL);
    expectPolicies(stack, new Set([logicalId(prod.ingest.sinkConfig.table as Construct), ...archiveIds(prod.archive!)]));
  });

  it('the CDK context value phoenix:mode sets the mode when no scope does (case-insensitive)', () => {
    const { stack, pipeline } = build({}, new App({ context: { [Phoenix.CONTEXT_KEY]: 'ephemeral' } }));
    expect(pipeline.phoenixMode).toBe(PhoenixMode.EPHEMERAL);
    expectPolicies(stack, new Set());
  });

  it('fails when the context value phoenix:mode is not a mode', () => {
    expect(() => build({}, new App({ context: { 'phoenix:mode': 'staging' } })))
      .toThrow(/^Phoenix at Orders\/[^:]+: context phoenix:mode must be one of EPHEMERAL, PRODUCTION \(given 'staging'\)/);
  });

  it('fails when retainSinks is true with EPHEMERAL', () => {
    expect(() => build({ phoenixMode: PhoenixMode.EPHEMERAL, retainSinks: true }))
      .toThrow(/^DataPipeline at Orders\/Orders: retainSinks applies to PhoenixMode.PRODUCTION only.*given retainSinks true with phoenixMode EPHEMERAL\)/);
  });

  it('fails when retainSinks is true and the inherited mode is EPHEMERAL', () => {
    const stack = new Stack(new App(), 'S');
    Phoenix.configure(stack, { mode: PhoenixMode.EPHEMERAL });
    expect(() => new DataPipeline(stack, 'P', { pipelineName: 'p', retainSinks: true })).toThrow(/phoenixMode EPHEMERAL inherited\)/);
    expect(() => Phoenix.configure(stack, { retainSinks: true })).toThrow(/^Phoenix at S: retainSinks applies to PhoenixMode.PRODUCTION only: .*with mode EPHEMERAL\)/);
  });

  it('fails when Phoenix.configure is given an unknown mode', () => {
    expect(() => Phoenix.configure(new App(), { mode: 'DEV' as PhoenixMode })).toThrow(/^Phoenix at <app>: mode must be one of EPHEMERAL, PRODUCTION \(given 'DEV'\)/);
  });

  it('fails when Phoenix.configure is given a non-boolean objectLock', () => {
    expect(() => Phoenix.configure(new App(), { objectLock: 'yes' as unknown as boolean })).toThrow(/^Phoenix at <app>: objectLock must be a boolean \(given string\)$/);
  });

  it('objectLock: every bucket of the scope gets Object Lock (no default retention); none without the setting', () => {
    const lockOf = (objectLock: boolean | undefined) => {
      const stack = new Stack(new App(), 'S', { env: TEST_ENV });
      if (objectLock !== undefined) Phoenix.configure(stack, { objectLock });
      new DataPipeline(stack, 'P', { pipelineName: 'orders', quality: { rules: [{ name: 'rows', kind: QualityRuleKind.VOLUME, lastWindows: 3, fail: { min: 0.1 } }] } });
      return Object.values(Template.fromStack(stack).findResources('AWS::S3::Bucket')).map((b) => [b.Properties.ObjectLockEnabled, b.Properties.ObjectLockConfiguration]);
    };
    const locked = lockOf(true);
    expect(locked.length).toBeGreaterThanOrEqual(4); // overflow, archive, profile history and their access-log buckets
    expect(locked.every(([enabled, config]) => enabled === true && config === undefined)).toBe(true);
    expect(lockOf(undefined).every(([enabled]) => enabled === undefined)).toBe(true);
    expect(lockOf(false).every(([enabled]) => enabled === undefined)).toBe(true);
  });

  it('log settings: the nearest configured scope\'s, else undefined', () => {
    const app = new App();
    const stack = new Stack(app, 'S');
    const inner = new Stack(app, 'T');
    Phoenix.configure(app, { logRetention: RetentionDays.ONE_YEAR });
    Phoenix.configure(stack, { logRetention: RetentionDays.TWO_YEARS });
    expect([Phoenix.logRetentionOf(stack), Phoenix.logRetentionOf(inner), Phoenix.logRetentionOf(new App())]).toEqual([731, 365, undefined]);
    expect(Phoenix.logEncryptionKeyOf(stack)).toBeUndefined();
  });

  it('fails when removalPolicyFor is given an unknown kind', () => {
    expect(() => Phoenix.removalPolicyFor(new App(), 'TEMP' as StatefulKind)).toThrow(/^Phoenix at <app>: kind must be one of STREAM, .* \(given 'TEMP'\)/);
  });

  it('maps every kind in every mode (the table of the Phoenix TSDoc)', () => {
    const policies = (options: { mode: PhoenixMode; retainSinks?: boolean }) => {
      const app = new App();
      Phoenix.configure(app, options);
      return Object.fromEntries(Object.values(StatefulKind).map((k) => [k, Phoenix.removalPolicyFor(app, k)]));
    };
    const D = RemovalPolicy.DESTROY;
    const R = RemovalPolicy.RETAIN;
    const rest = { STREAM: D, DEAD_LETTERS: D, LOGS: D, KEY: D, PROFILE_HISTORY: D };
    expect(policies({ mode: PhoenixMode.EPHEMERAL })).toEqual({ ...rest, ARCHIVE: D, SINK: D });
    expect(policies({ mode: PhoenixMode.PRODUCTION })).toEqual({ ...rest, ARCHIVE: R, SINK: R });
    expect(policies({ mode: PhoenixMode.PRODUCTION, retainSinks: false })).toEqual({ ...rest, ARCHIVE: R, SINK: D });
    expect(Phoenix.autoDeleteObjects(D)).toBe(true);
    expect(Phoenix.autoDeleteObjects(R)).toBe(false);
    expect(Phoenix.autoDeleteObjects(RemovalPolicy.SNAPSHOT)).toBe(false);
  });
});

/**
 * Properties that give a resource a physical name unique per account and region (a copy with the same value
 * fails to deploy). `Name` counts only for the types where it is such a name.
 */
const NAME_PROPS = ['TableName', 'BucketName', 'QueueName', 'StreamName', 'FunctionName', 'LogGroupName', 'AliasName', 'RoleName',
  'ManagedPolicyName', 'TopicName', 'DashboardName', 'AlarmName', 'DeliveryStreamName', 'StateMachineName', 'ScheduleName',
  'SecretName', 'KeyName', 'ApiName', 'RuleName'];
const NAME_IS_PHYSICAL = new Set(['AWS::Kinesis::Stream', 'AWS::Events::Rule', 'AWS::Scheduler::Schedule', 'AWS::Glue::Database', 'AWS::Events::EventBus']);

/**
 * The explicit physical names of a stack's resources, each as it resolves at deploy time: `Ref AWS::StackName`
 * becomes the stack's name and a reference to a resource becomes `<stack>/<logical id>` (generated names are unique).
 */
function physicalNames(stack: Stack): string[] {
  const resources = Template.fromStack(stack).toJSON().Resources as Record<string, { Type: string; Properties?: Record<string, unknown> }>;
  const names: string[] = [];
  const isReference = (v: any) => v && typeof v === 'object' && Object.keys(v).length === 1
    && ((typeof v.Ref === 'string' && v.Ref in resources) || (Array.isArray(v['Fn::GetAtt']) && v['Fn::GetAtt'][0] in resources));
  for (const r of Object.values(resources)) {
    for (const [k, v] of Object.entries(r.Properties ?? {})) {
      // a reference to another resource (FunctionName of an event source mapping, BucketName of a custom resource) names nothing
      if (isReference(v)) continue;
      if (NAME_PROPS.includes(k) || (k === 'Name' && NAME_IS_PHYSICAL.has(r.Type))) {
        names.push(`${r.Type} ${deployTime(stack, v)}`);
      }
    }
  }
  return names;
}

function deployTime(stack: Stack, v: unknown): string {
  return JSON.stringify(v, (_k, x) => {
    if (x && typeof x === 'object' && !Array.isArray(x)) {
      if (x.Ref === 'AWS::StackName') return stack.stackName;
      if (x.Ref === 'AWS::StackId') return `${stack.stackName}-id`;
      if (typeof x.Ref === 'string' && !x.Ref.startsWith('AWS::')) return `${stack.stackName}/${x.Ref}`;
      if (Array.isArray(x['Fn::GetAtt'])) return `${stack.stackName}/${x['Fn::GetAtt'].join('.')}`;
    }
    return x;
  });
}

const duplicates = (names: string[]) => names.filter((n, i) => names.indexOf(n) !== i);

describe('Phoenix: copies side by side in one account and region', () => {
  for (const mode of [PhoenixMode.EPHEMERAL, PhoenixMode.PRODUCTION]) {
    it(`two stacks with the same pipeline, profiler, monitor and drift detector (${mode}) have no physical name in common`, () => {
      const app = new App();
      const dev = build({ phoenixMode: mode }, app, 'OrdersDev', true);
      const test = build({ phoenixMode: mode }, app, 'OrdersTest', true);
      const names = [...physicalNames(dev.stack), ...physicalNames(test.stack)];
      expect(duplicates(names)).toEqual([]);
      // the monitors' dashboards are named (not generated): by stack, region and pipeline
      expect(names.filter((n) => n.startsWith('AWS::CloudWatch::Dashboard')).sort())
        .toEqual(['AWS::CloudWatch::Dashboard "Phoenix-OrdersDev-eu-west-1-orders"', 'AWS::CloudWatch::Dashboard "Phoenix-OrdersTest-eu-west-1-orders"']);
      // both synthesize in one assembly
      expect(app.synth().stacks.map((s) => s.stackName).sort()).toEqual(['OrdersDev', 'OrdersTest']);
    });
  }

  it('two pipelines in one stack have no physical name in common and no hard-coded name', () => {
    const stack = new Stack(new App(), 'Twice', { env: TEST_ENV });
    new DataPipeline(stack, 'A', { pipelineName: 'orders', phoenixMode: PhoenixMode.EPHEMERAL });
    new DataPipeline(stack, 'B', { pipelineName: 'orders-replica', phoenixMode: PhoenixMode.EPHEMERAL });
    const names = physicalNames(stack);
    expect(duplicates(names)).toEqual([]);
    // the pipelines set no physical name at all: CloudFormation generates them
    expect(names).toEqual([]);
  });

  it('the duplicate check finds a hard-coded name (the check can fail)', () => {
    const app = new App();
    const a = build({}, app, 'A');
    const b = build({}, app, 'B');
    for (const { stack } of [a, b]) new s3.Bucket(stack, 'Named', { bucketName: 'orders-archive' });
    expect(duplicates([...physicalNames(a.stack), ...physicalNames(b.stack)])).toEqual(['AWS::S3::Bucket "orders-archive"']);
  });
});
