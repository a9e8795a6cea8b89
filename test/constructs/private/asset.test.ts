/** The ingest code with a compiled schema validator is staged under the app's output directory, never the OS temp directory. */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { App, Stack } from 'aws-cdk-lib';
import { afterEach, describe, expect, it } from 'vitest';
import { IngestSink, IngestStage } from '../../../constructs';
import { SCHEMA_VALIDATOR_FILE } from '../../../constructs/contract';

const previousTmp = process.env.TMPDIR;
afterEach(() => {
  if (previousTmp === undefined) delete process.env.TMPDIR;
  else process.env.TMPDIR = previousTmp;
});

describe('ingestCodeWithSchema', () => {
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
