/** The ingest code with a compiled schema validator is staged under the app's output directory, never the OS temp directory. */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { App, Stack } from 'aws-cdk-lib';
import { afterEach, describe, expect, it } from 'vitest';
import { IngestSink, IngestStage } from '../../../constructs';
import { SCHEMA_FORMATS_FILE, SCHEMA_VALIDATOR_FILE } from '../../../constructs/contract';

const previousTmp = process.env.TMPDIR;
afterEach(() => {
  if (previousTmp === undefined) delete process.env.TMPDIR;
  else process.env.TMPDIR = previousTmp;
});

describe('ingestCodeWithSchema', () => {
  // First: the test below points the OS temp directory at a directory it removes, and CDK caches that path.
  it('ships ajv-formats\' format table next to the validator only when the schema uses a format', () => {
    const stagedFiles = (properties: Record<string, unknown>): string[] => {
      const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'phx-asset-out-'));
      const app = new App({ outdir });
      const stack = new Stack(app, 'S', { env: { account: '111111111111', region: 'us-east-2' } });
      new IngestStage(stack, 'Orders', { pipelineName: 'orders', schema: { type: 'object', properties }, keyFields: ['orderId'], sink: IngestSink.dynamoDb() });
      app.synth();
      const [dir] = fs.readdirSync(outdir).filter((d) => d.startsWith('asset.') && fs.existsSync(path.join(outdir, d, SCHEMA_VALIDATOR_FILE)));
      const files = fs.readdirSync(path.join(outdir, dir)).sort();
      fs.rmSync(outdir, { recursive: true, force: true });
      return files;
    };
    expect(stagedFiles({ orderId: { type: 'string' } })).toEqual(['index.js', SCHEMA_VALIDATOR_FILE]);
    expect(stagedFiles({ orderId: { type: 'string' }, at: { type: 'string', format: 'date-time' } })).toEqual([SCHEMA_FORMATS_FILE, 'index.js', SCHEMA_VALIDATOR_FILE]);
  });

  it('leaves nothing in the OS temp directory; the validator ships in the assembly', () => {
    const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'phx-asset-out-'));
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'phx-asset-tmp-'));
    process.env.TMPDIR = tmp;
    expect(os.tmpdir()).toBe(tmp);
    const app = new App({ outdir });
    const stack = new Stack(app, 'S', { env: { account: '111111111111', region: 'us-east-2' } });
    new IngestStage(stack, 'Orders', {
      pipelineName: 'orders',
      schema: { type: 'object', required: ['orderId'], properties: { orderId: { type: 'string' } } },
      keyFields: ['orderId'],
      sink: IngestSink.dynamoDb(),
    });
    app.synth();
    expect(fs.readdirSync(tmp)).toEqual([]);
    const staged = fs.readdirSync(outdir).filter((d) => d.startsWith('asset.') && fs.existsSync(path.join(outdir, d, SCHEMA_VALIDATOR_FILE)));
    expect(staged).toHaveLength(1);
    fs.rmSync(outdir, { recursive: true, force: true });
    fs.rmSync(tmp, { recursive: true, force: true });
  });

});
