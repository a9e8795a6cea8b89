import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { App, Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { AwsSolutionsChecks, HIPAASecurityChecks, NIST80053R5Checks, PCIDSS321Checks, ServerlessChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { buildApp, CLICKSTREAM_STACK_NAME } from '../../bin/app';
import { DataPipeline, IngestSink } from '../../constructs';
import { ClickstreamStack } from '../../examples/clickstream/stack';

const outdir = () => fs.mkdtempSync(path.join(os.tmpdir(), 'phx-nag-'));

/** An app with the five packs the example app uses. */
function nagApp(): App {
  const app = new App({ outdir: outdir() });
  Validations.of(app).addPlugins(
    new AwsSolutionsChecks(app), new ServerlessChecks(app), new NIST80053R5Checks(app), new HIPAASecurityChecks(app), new PCIDSS321Checks(app),
  );
  return app;
}

/** Synthesizes and returns the validation failure text ('' when there is none). */
function findings(app: App): string {
  try {
    app.synth();
    return '';
  } catch (e) {
    return String((e as Error).message) + fs.readdirSync(app.outdir).filter((f) => f === 'validation-report.json')
      .map((f) => fs.readFileSync(path.join(app.outdir, f), 'utf8')).join('');
  }
}

describe('cdk-nag (AwsSolutions, Serverless, NIST 800-53 R5, HIPAA Security, PCI DSS 3.2.1)', () => {
  it('the example app synthesizes with zero unacknowledged findings', () => {
    const app = buildApp({ appProps: { outdir: outdir() } });
    expect(findings(app)).toBe('');
    expect(app.synth().getStackByName(CLICKSTREAM_STACK_NAME).template.Resources).toBeDefined();
  });

  it('buildApp registers all five packs (an unencrypted queue and a bare bucket fail the example app)', () => {
    const app = buildApp({ appProps: { outdir: outdir() } });
    const stack = app.node.findChild('Clickstream') as Stack;
    new sqs.Queue(stack, 'Plain', { encryption: sqs.QueueEncryption.UNENCRYPTED });
    new s3.Bucket(stack, 'Bare');
    const text = findings(app);
    for (const rule of [
      'AwsSolutions-SQS2', 'AwsSolutions-SQS4', 'Serverless-SQSRedrivePolicy', 'AwsSolutions-S1',
      'NIST.800.53.R5-S3BucketLoggingEnabled', 'HIPAA.Security-S3BucketLoggingEnabled', 'PCI.DSS.321-S3BucketLoggingEnabled',
    ]) {
      expect(text).toContain(rule);
    }
  });

  it('buildApp without nag registers no pack', () => {
    const app = buildApp({ appProps: { outdir: outdir() }, nag: false });
    new sqs.Queue(app.node.findChild('Clickstream') as Stack, 'Plain', { encryption: sqs.QueueEncryption.UNENCRYPTED });
    expect(findings(app)).toBe('');
  });

  it('acknowledgements are granular: a wildcard grant added to the processor is still reported', () => {
    const app = nagApp();
    const stack = new ClickstreamStack(app, 'Clickstream');
    stack.pipeline.ingest.processor.addToRolePolicy(new iam.PolicyStatement({ actions: ['s3:*'], resources: ['*'] }));
    const text = findings(app);
    expect(text).toContain('AwsSolutions-IAM5[Action::s3:*]');
    expect(text).not.toContain('AwsSolutions-IAM5[Resource::*]');
  });

  it('every sink kind synthesizes without findings', () => {
    const app = nagApp();
    const stack = new Stack(app, 'Sinks');
    const next = new DataPipeline(stack, 'Next', { pipelineName: 'next', sink: IngestSink.none(), alarmTopic: new ClickstreamStack(app, 'Topics').alarmTopic });
    const lake = next.deadLetters.overflowBucket; // a KMS-encrypted, logged, versioned bucket
    new DataPipeline(stack, 'ToS3', { pipelineName: 'to-s3', sink: IngestSink.s3(lake, 'envelopes/'), ingest: { deadLetters: next.deadLetters } });
    new DataPipeline(stack, 'ToKinesis', { pipelineName: 'to-kinesis', sink: IngestSink.kinesis(next.ingest.stream), ingest: { deadLetters: next.deadLetters } });
    expect(findings(app)).toBe('');
  });
});
