import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { App, Duration, Lazy, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kinesis from 'aws-cdk-lib/aws-kinesis';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sns from 'aws-cdk-lib/aws-sns';
import { AwsSolutionsChecks, HIPAASecurityChecks, NIST80053R5Checks, PCIDSS321Checks, ServerlessChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { ENV, HANDLER_ASSET_DIR, METRICS_NAMESPACE } from '../../constructs/contract';
import { IngestSink } from '../../constructs/ingest-sink';
import { IngestStage } from '../../constructs/ingest-stage';
import { CorrelatedMonitor } from '../../constructs/monitoring/correlated-monitor';
import { Phoenix, PhoenixMode } from '../../constructs/phoenix';
import { QualityProfiler, type QualityProfilerProps } from '../../constructs/quality-profiler';
import { DriftMethod, QualityMetric, QualityRuleKind, type QualityRule } from '../../constructs/quality-rules';
import { PROFILER_ENV, QUALITY_METRIC, decodeRules } from '../../lib/handlers/profiler-contract';
import { ensureHandlerBundle } from '../support/bundle';
import { nagFindings } from '../support/examples';
import { TEST_ENV, actionsOf, handlerEnv, policyStatements } from '../support/stacks';

ensureHandlerBundle('profiler');

/** The profiler function: the one whose environment names the profile bucket. */
const profilerEnv = (template: Template) => handlerEnv(template, (env) => env[PROFILER_ENV.bucket] !== undefined);

const RULES: QualityRule[] = [
  { name: 'volume', kind: QualityRuleKind.VOLUME, lastWindows: 5, warn: { min: 0.7 }, fail: { min: 0.3 } },
  { name: 'userId', kind: QualityRuleKind.COMPLETENESS, column: 'userId', fail: { min: 0.99 } },
  { name: 'amount-drift', kind: QualityRuleKind.DRIFT, column: 'amount', driftMethod: DriftMethod.PSI },
];

function build(props: Partial<QualityProfilerProps> = {}, app = new App()): { stack: Stack; profiler: QualityProfiler; t: () => Template } {
  const stack = new Stack(app, 'Test', { env: TEST_ENV });
  const stream = props.stream ?? new kinesis.Stream(stack, 'Stream', { encryption: kinesis.StreamEncryption.MANAGED });
  const profiler = new QualityProfiler(stack, 'Quality', { pipelineName: 'orders', rules: RULES, ...props, stream });
  return { stack, profiler, t: () => Template.fromStack(stack) };
}

describe('QualityProfiler defaults', () => {
  const { profiler, t } = build();
  const template = t();
  const env = profilerEnv(template);

  it('a Node.js 22 arm64 traced function from the pre-bundled profiler asset', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs22.x', Architectures: ['arm64'], TracingConfig: { Mode: 'Active' }, Handler: 'index.handler', MemorySize: 512, Timeout: 60,
    });
    expect(fs.existsSync(path.join(__dirname, '..', '..', HANDLER_ASSET_DIR.profiler, 'index.js'))).toBe(true);
  });

  it('its environment is the handler contract: pipeline, deployment, bucket, rules, window 300 s, 10 history windows, no event time', () => {
    expect(Object.keys(env).sort()).toEqual([ENV.pipeline, ENV.deployment, ...Object.values(PROFILER_ENV), 'POWERTOOLS_SERVICE_NAME'].sort());
    expect(env[ENV.pipeline]).toBe('orders');
    expect(env[ENV.deployment]).toBe('Test-eu-west-1');
    expect(env[PROFILER_ENV.windowSeconds]).toBe('300');
    expect(env[PROFILER_ENV.historyWindows]).toBe('10');
    expect(env[PROFILER_ENV.eventTimeField]).toBe('');
    expect(decodeRules(env[PROFILER_ENV.rules] as string)).toEqual(RULES);
  });

  it('a tumbling-window mapping: window = windowSeconds, ReportBatchItemFailures, bounded retries, bisect, LATEST, batch 1000', () => {
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      TumblingWindowInSeconds: 300,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      MaximumRetryAttempts: 10,
      BisectBatchOnFunctionError: true,
      MaximumRecordAgeInSeconds: 86_400,
      StartingPosition: 'LATEST',
      BatchSize: 1000,
      ParallelizationFactor: 1,
    });
  });

  it('the history bucket: SSE-KMS, versioned, lifecycle 90 days, public access blocked, TLS only, access logs, destroyed and emptied', () => {
    template.hasResource('AWS::S3::Bucket', {
      Properties: Match.objectLike({
        BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms' } }] },
        VersioningConfiguration: { Status: 'Enabled' },
        LifecycleConfiguration: { Rules: [Match.objectLike({ ExpirationInDays: 90, NoncurrentVersionExpiration: { NoncurrentDays: 1 }, Status: 'Enabled' })] },
        PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
        LoggingConfiguration: Match.objectLike({ LogFilePrefix: 'profile-history/' }),
      }),
      DeletionPolicy: 'Delete',
    });
    const policies = Object.values(template.findResources('AWS::S3::BucketPolicy'));
    expect(policies.some((p) => JSON.stringify(p).includes('"aws:SecureTransport":"false"'))).toBe(true);
    expect(template.findResources('Custom::S3AutoDeleteObjects')).not.toEqual({});
  });

  it('grants only GetObject/PutObject under profiles/ and ListBucket, plus reading the stream', () => {
    const s3Statements = policyStatements(template).filter((s) => actionsOf(s).some((a) => a.startsWith('s3:')));
    expect(s3Statements.flatMap(actionsOf).sort()).toEqual(['s3:GetObject', 's3:ListBucket', 's3:PutObject']);
    expect(JSON.stringify(s3Statements)).toContain('/profiles/*');
    const actions = policyStatements(template).flatMap(actionsOf);
    expect(actions).toEqual(expect.arrayContaining(['kinesis:GetRecords', 'kinesis:GetShardIterator', 'kinesis:DescribeStream']));
    expect(actions.filter((a) => a.startsWith('s3:Delete'))).toEqual([]);
  });

  it('warn and fail alarms on QualityWarnings / QualityFailures (Maximum >= 1 over a 5-minute period) notify a created encrypted topic', () => {
    for (const name of [QUALITY_METRIC.failures, QUALITY_METRIC.warnings]) {
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        Namespace: METRICS_NAMESPACE,
        MetricName: name,
        Dimensions: [{ Name: 'Deployment', Value: 'Test-eu-west-1' }, { Name: 'Pipeline', Value: 'orders' }],
        Statistic: 'Maximum',
        Period: 300,
        Threshold: 1,
        EvaluationPeriods: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        TreatMissingData: 'notBreaching',
        AlarmActions: [{ Ref: Match.stringLikeRegexp('AlarmTopic') }],
      });
    }
    template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() });
    template.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
    expect(profiler.warnAlarm).toBeDefined();
  });

  it('metric methods name the handler\'s metrics and dimensions', () => {
    const stack = Stack.of(profiler);
    type M = { metricName: string; dimensions?: Record<string, unknown>; statistic: string };
    const m = (x: M) => [x.metricName, stack.resolve(x.dimensions), x.statistic];
    expect(m(profiler.metricRuleStatus('volume'))).toEqual([QUALITY_METRIC.ruleStatus, { Deployment: 'Test-eu-west-1', Pipeline: 'orders', Rule: 'volume' }, 'Maximum']);
    expect(m(profiler.metricRuleObserved('volume'))).toEqual([QUALITY_METRIC.ruleObserved, { Deployment: 'Test-eu-west-1', Pipeline: 'orders', Rule: 'volume' }, 'Maximum']);
    expect(m(profiler.metricColumnCompleteness('userId'))).toEqual([QUALITY_METRIC.columnCompleteness, { Deployment: 'Test-eu-west-1', Pipeline: 'orders', Column: 'userId' }, 'Minimum']);
    expect(m(profiler.metricRowsPerWindow())).toEqual([QUALITY_METRIC.rowsPerWindow, { Deployment: 'Test-eu-west-1', Pipeline: 'orders' }, 'Maximum']);
    expect(m(profiler.metricUnparseablePerWindow())[0]).toBe(QUALITY_METRIC.unparseablePerWindow);
    expect(m(profiler.metricRulesSkipped())[0]).toBe(QUALITY_METRIC.skipped);
    expect(profiler.metricFailures().period.toSeconds()).toBe(300);
    expect(() => profiler.metricRuleStatus('nope')).toThrow(/has no rule 'nope' \(rules: volume, userId, amount-drift\)/);
    expect(() => profiler.metricColumnCompleteness('other')).toThrow(/must be named by a rule \(given 'other'; rule columns: userId, amount\)/);
  });
});

describe('QualityProfiler enhancedFanOut', () => {
  it('defaults to on: the mapping reads through a stream consumer of its own, which the function may subscribe to', () => {
    const { profiler, t } = build();
    const template = t();
    template.resourceCountIs('AWS::Kinesis::StreamConsumer', 1);
    template.hasResourceProperties('AWS::Kinesis::StreamConsumer', { ConsumerName: Match.stringLikeRegexp('^Test-Quality-[0-9A-F]{8}$'), StreamARN: { 'Fn::GetAtt': [Match.stringLikeRegexp('^Stream'), 'Arn'] } });
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', { EventSourceArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^QualityStreamConsumer'), 'ConsumerARN'] } });
    expect(profiler.streamConsumer).toBeDefined();
    const actions = Object.values(template.findResources('AWS::IAM::Policy'))
      .flatMap((pol) => (pol.Properties.PolicyDocument.Statement as Array<{ Action: string | string[] }>).flatMap((st) => st.Action));
    expect(actions).toContain('kinesis:SubscribeToShard');
  });

  it('false: the mapping reads the stream as a standard consumer', () => {
    const { profiler, t } = build({ enhancedFanOut: false });
    const template = t();
    template.resourceCountIs('AWS::Kinesis::StreamConsumer', 0);
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', { EventSourceArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^Stream'), 'Arn'] } });
    expect(profiler.streamConsumer).toBeUndefined();
  });
});

describe('QualityProfiler options', () => {
  it('an existing topic, e-mail subscriptions, a customer key, a shared access-log bucket, RETAIN, windows under a minute', () => {
    const app = new App();
    const stack = new Stack(app, 'Test', { env: TEST_ENV });
    const topic = new sns.Topic(stack, 'Topic');
    const key = new kms.Key(stack, 'Key');
    const logs = new s3.Bucket(stack, 'Logs');
    const stream = new kinesis.Stream(stack, 'Stream');
    const p = new QualityProfiler(stack, 'Quality', {
      stream,
      pipelineName: 'orders',
      rules: RULES,
      alarmTopic: topic,
      alertEmails: ['a@example.com'],
      encryptionKey: key,
      serverAccessLogsBucket: logs,
      removalPolicy: RemovalPolicy.RETAIN,
      windowSeconds: 20,
      historyWindows: 5,
      eventTimeField: 'meta.ts',
      startingPosition: lambda.StartingPosition.TRIM_HORIZON,
      historyRetention: Duration.days(7),
    });
    const t = Template.fromStack(stack);
    t.resourceCountIs('AWS::SNS::Topic', 1);
    t.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'a@example.com' });
    t.hasResourceProperties('AWS::Lambda::EventSourceMapping', { TumblingWindowInSeconds: 20, StartingPosition: 'TRIM_HORIZON' });
    t.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: QUALITY_METRIC.failures, Period: 60 });
    t.hasResource('AWS::S3::Bucket', { Properties: Match.objectLike({ LifecycleConfiguration: { Rules: [Match.objectLike({ ExpirationInDays: 7 })] } }), DeletionPolicy: 'Retain' });
    expect(t.findResources('Custom::S3AutoDeleteObjects')).toEqual({});
    expect(profilerEnv(t)[PROFILER_ENV.eventTimeField]).toBe('meta.ts');
    expect(p.alarmTopic).toBe(topic);
    const kmsActions = policyStatements(t).filter((s) => actionsOf(s).some((a) => a.startsWith('kms:'))).flatMap(actionsOf);
    expect(kmsActions).toEqual(expect.arrayContaining(['kms:Decrypt', 'kms:GenerateDataKey*']));
  });

  it('compresses a large rule set into PHX_QUALITY_RULES and still fits the environment', () => {
    const many: QualityRule[] = Array.from({ length: 40 }, (_, i) => ({ name: `c${i}:completeness`, kind: QualityRuleKind.COMPLETENESS, column: `column_${i}`, fail: { min: 0.95 } }));
    const { t } = build({ rules: many });
    const text = profilerEnv(t())[PROFILER_ENV.rules] as string;
    expect(text.startsWith('gz:')).toBe(true);
    expect(JSON.parse(gunzipSync(Buffer.from(text.slice(3), 'base64')).toString())).toEqual(many);
  });

  it('fails when the rules cannot fit Lambda\'s 4 KB environment', () => {
    const values = Array.from({ length: 3000 }, (_, i) => `v-${(i * 7919) % 100003}-${i}`);
    expect(() => build({ rules: [{ name: 'a', kind: QualityRuleKind.ALLOWED_VALUES, column: 'x', allowedValues: values }] }))
      .toThrow(/^QualityProfiler at Test\/Quality: environment variables take \d+ bytes \(at most 4096 bytes allowed by Lambda, counting 256 bytes for each deploy-time value\); PHX_QUALITY_RULES alone is \d+ bytes after compression/);
  });

  it('adds its metrics and a failure alarm to a CorrelatedMonitor', () => {
    const app = new App();
    const stack = new Stack(app, 'Test', { env: TEST_ENV });
    const ingest = new IngestStage(stack, 'Ingest', { pipelineName: 'orders', sink: IngestSink.none() });
    const profiler = new QualityProfiler(stack, 'Quality', { pipelineName: 'orders', rules: RULES, stream: ingest.stream });
    const monitor = new CorrelatedMonitor(stack, 'Monitor', { pipeline: { pipelineName: 'orders', stages: [ingest] } });
    const alarm = profiler.addToMonitor(monitor);
    const t = Template.fromStack(stack);
    t.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: QUALITY_METRIC.failures, Threshold: 1 });
    const dashboard = JSON.stringify(t.findResources('AWS::CloudWatch::Dashboard'));
    for (const r of RULES) expect(dashboard).toContain(`\\"Rule\\",\\"${r.name}\\"`);
    expect(alarm.alarmArn).toBeDefined();
  });
});

describe('QualityProfiler removal policies follow the Phoenix mode', () => {
  it('defaults: history bucket, log group and topic key DESTROY (PROFILE_HISTORY, LOGS, KEY), in PRODUCTION too', () => {
    const app = new App();
    const stack = new Stack(app, 'Test', { env: TEST_ENV });
    Phoenix.configure(stack, { mode: PhoenixMode.PRODUCTION });
    new QualityProfiler(stack, 'Quality', { pipelineName: 'orders', rules: RULES, stream: new kinesis.Stream(stack, 'Stream') });
    const t = Template.fromStack(stack);
    for (const type of ['AWS::S3::Bucket', 'AWS::Logs::LogGroup', 'AWS::KMS::Key']) {
      const policies = Object.entries(t.findResources(type)).filter(([id]) => id.startsWith('Quality')).map(([, r]) => r.DeletionPolicy);
      expect(policies.length, type).toBeGreaterThan(0);
      expect(new Set(policies), type).toEqual(new Set(['Delete']));
    }
  });
});

describe('QualityProfiler validation', () => {
  const fails = (props: Partial<QualityProfilerProps>, re: RegExp) => expect(() => build(props)).toThrow(re);

  it('fails when a rule is invalid, listing every problem with what was given and what is allowed', () => {
    fails({ rules: [{ name: 'a', kind: QualityRuleKind.COMPLETENESS, column: 'x', fail: { min: 1.5 } }, { name: 'a', kind: QualityRuleKind.VOLUME }] },
      /rules are invalid:\n {2}- rule "a": fail bounds of completeness must be between 0 and 1 \(given \{ min: 1.5, max: none \}\)\n {2}- rule "a": duplicate rule name/);
  });
  it('fails when no rule is given', () => fails({ rules: [] }, /rules must list at least one rule/));
  it('fails when windowSeconds is outside 1-900', () => {
    fails({ windowSeconds: 0 }, /windowSeconds must be an integer between 1 and 900 \(given 0\)/);
    fails({ windowSeconds: 901 }, /windowSeconds must be an integer between 1 and 900 \(given 901\)/);
  });
  it('fails when historyWindows is outside 1-100', () => fails({ historyWindows: 101 }, /historyWindows must be an integer between 1 and 100 \(given 101\)/));
  it('fails when a rule needs more history than historyWindows', () => {
    fails({ historyWindows: 3 }, /rule "volume": needs 5 earlier windows, more than historyWindows 3/);
    fails({ historyWindows: 4, rules: [{ name: 'd', kind: QualityRuleKind.DRIFT, column: 'x' }] }, /rule "d": needs 5 earlier windows/);
  });
  it('fails when a rule names a column the schema does not declare', () => {
    const schema = { type: 'object', properties: { userId: { type: 'string' }, user: { type: 'object', properties: { country: { type: 'string' } } } } };
    expect(() => build({ schema, rules: [{ name: 'c', kind: QualityRuleKind.COMPLETENESS, column: 'user.country' }] })).not.toThrow();
    fails({ schema, rules: [{ name: 'c', kind: QualityRuleKind.COMPLETENESS, column: 'amount' }] }, /column 'amount' is not a known column \(known: userId, user, user.country\)/);
  });
  it('fails when a freshness rule has no eventTimeField', () => {
    fails({ rules: [{ name: 'f', kind: QualityRuleKind.FRESHNESS, fail: { max: 600 } }] }, /freshness rules need the profiler's eventTimeField/);
  });
  it('fails when eventTimeField is not a dot path', () => fails({ eventTimeField: 'a..b' }, /eventTimeField must be a dot path .* \(given 'a..b'\)/));
  it('fails when batchSize, retryAttempts, maxRecordAge, memorySize or timeout are out of range', () => {
    fails({ batchSize: 10_001 }, /batchSize must be an integer between 1 and 10000 \(given 10001\)/);
    fails({ retryAttempts: -1 }, /retryAttempts must be an integer between 0 and 10000 \(given -1\)/);
    fails({ maxRecordAge: Duration.seconds(30) }, /maxRecordAge must be a whole number of seconds between 60 and 604800/);
    fails({ memorySize: 64 }, /memorySize must be an integer between 128 and 10240 MiB/);
    fails({ timeout: Duration.minutes(16) }, /timeout must be a whole number of seconds between 1 and 900/);
  });
  it('fails when historyRetention is not whole days or shorter than the history', () => {
    fails({ historyRetention: Duration.hours(36) }, /historyRetention must be a whole number of days, at least 1 \(given /);
    fails({ windowSeconds: 900, historyWindows: 100, historyRetention: Duration.days(1) }, /historyRetention must cover historyWindows \+ 1 windows/);
  });
  it('fails when alertEmails are not addresses or more than 20', () => {
    fails({ alertEmails: ['nope'] }, /alertEmails entries must be e-mail addresses such as oncall@example.com \(given 'nope'\)/);
    fails({ alertEmails: Array.from({ length: 21 }, (_, i) => `a${i}@example.com`) }, /alertEmails must list at most 20 addresses; subscribe a distribution list instead \(given 21\)/);
  });
  it('fails when pipelineName is not a name', () => fails({ pipelineName: 'a b' }, /pipelineName must be 1-64 characters/));
  it('skips checks of unresolved tokens', () => {
    expect(() => build({ batchSize: Lazy.number({ produce: () => 5 }) })).not.toThrow();
  });
});

describe('QualityProfiler cdk-nag (AwsSolutions, Serverless, NIST 800-53 R5, HIPAA Security, PCI DSS 3.2.1)', () => {
  const nag = (props: Partial<QualityProfilerProps> = {}) => {
    const app = new App({ outdir: fs.mkdtempSync(path.join(os.tmpdir(), 'phx-nag-')) });
    Validations.of(app).addPlugins(
      new AwsSolutionsChecks(app), new ServerlessChecks(app), new NIST80053R5Checks(app), new HIPAASecurityChecks(app), new PCIDSS321Checks(app),
    );
    const stack = new Stack(app, 'Test', { env: TEST_ENV });
    const stream = new kinesis.Stream(stack, 'Stream', { encryption: kinesis.StreamEncryption.MANAGED, removalPolicy: RemovalPolicy.DESTROY });
    new QualityProfiler(stack, 'Quality', { pipelineName: 'orders', rules: RULES, stream, ...props });
    try {
      app.synth();
      return '';
    } catch (e) {
      return String((e as Error).message);
    }
  };

  it('synthesizes with zero unacknowledged findings (created topic, DESTROY)', () => expect(nag()).toBe(''));
  it('synthesizes with zero unacknowledged findings (RETAIN, e-mails)', () => expect(nag({ removalPolicy: RemovalPolicy.RETAIN, alertEmails: ['a@example.com'] })).toBe(''));
  it('acknowledgements are granular: a wildcard grant added to the profiler is still reported', () => {
    const app = new App({ outdir: fs.mkdtempSync(path.join(os.tmpdir(), 'phx-nag-')) });
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    const { profiler } = build({}, app);
    (profiler.profilerFunction as lambda.Function).addToRolePolicy(new iam.PolicyStatement({ actions: ['s3:*'], resources: ['*'] }));
    expect(nagFindings(app)).toContain('AwsSolutions-IAM5[Action::s3:*]');
  });
});

describe('QualityProfiler metric contract', () => {
  it('the rule metrics are the names the handler publishes', () => {
    const { profiler } = build({ rules: [{ name: 'v', kind: QualityRuleKind.RANGE, column: 'x', metric: QualityMetric.MAX, fail: { max: 1 } }] });
    expect(Object.values(QUALITY_METRIC)).toEqual(expect.arrayContaining([
      profiler.metricRuleStatus('v').metricName, profiler.metricRuleObserved('v').metricName, profiler.metricColumnCompleteness('x').metricName,
      profiler.metricRowsPerWindow().metricName, profiler.metricUnparseablePerWindow().metricName, profiler.metricFailures().metricName,
      profiler.metricWarnings().metricName, profiler.metricRulesSkipped().metricName,
    ]));
  });
});
