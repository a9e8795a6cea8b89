/**
 * The packages teams install, as the README's "Use it in your own CDK app" says: build the two tarballs
 * (projenrc/tarballs.ts), run the README's install lines in a fresh directory (no npm warning), use the library from
 * there as a consumer would (plain JavaScript, no esbuild, no TypeScript, none of the handlers' dependencies), then
 * the README's app with `npx cdk synth` and `npx phoenix local run --records 500` (no warning, nothing lost). Also
 * generates the Python bindings from the installed package's `.jsii` and checks examples/python/app.py against them.
 *
 * Runs by default (CI). Locally:
 *   PHX_SKIP_PACKAGE_TEST=1   skip this suite (it takes 1-3 minutes)
 *   PHX_PACKAGE_PREBUILT=1    do not rebuild (dist/ by jsii, assets/ by `projen bundle`, dist-runtime/ by tsc are current)
 *   PHX_PACKAGE_ROOT=<dir>    pack another checkout or a staged copy (default: this repository)
 *
 * Measures (printed, and written to test-reports/package.json): tarball size, file count, install and test time.
 */
import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTarballs, type Packed } from '../../projenrc/tarballs';

const REPO = path.resolve(__dirname, '..', '..');
const ROOT = path.resolve(process.env.PHX_PACKAGE_ROOT ?? REPO);
const SKIP = process.env.PHX_SKIP_PACKAGE_TEST === '1' || process.env.PHX_SKIP_PACKAGE_TEST === 'true';
const PREBUILT = process.env.PHX_PACKAGE_PREBUILT === '1' || process.env.PHX_PACKAGE_PREBUILT === 'true';
const BIN = path.join(REPO, 'node_modules', '.bin');

const README = fs.readFileSync(path.join(REPO, 'README.md'), 'utf8');

const measured: Record<string, number | string> = {};
let work: string;
let consumer: string;
let packed: Packed;
let toolkit: Packed;

/** The README's install lines for a team's app (`$PHX` = the tarballs' directory), comments dropped. */
function readmeInstallLines(): string[] {
  const section = README.slice(README.indexOf('## Use it in your own CDK app'));
  const block = /then, in your app's directory[^\n]*\n```bash\n([\s\S]*?)```/.exec(section)?.[1];
  if (!block) throw new Error('README: no install block under "then, in your app\'s directory"');
  return block.replace(/\s+#[^\n]*\\\n/g, ' \\\n').replace(/\\\n\s*/g, ' ').split('\n')
    .map((l) => l.replace(/\s+#.*$/, '').trim()).filter((l) => l.startsWith('npm install'));
}

/** The README's app: the ```ts block after "`app.ts` (with `cdk.json` = ...)", and that cdk.json. */
function readmeApp(): { appTs: string; cdkJson: string } {
  const m = /`app\.ts` \(with `cdk\.json` = `(\{[^`]*\})`\):\n```ts\n([\s\S]*?)```/.exec(README);
  if (!m) throw new Error('README: no app.ts block with its cdk.json');
  return { cdkJson: m[1], appTs: m[2] };
}

/** Runs a shell command line as the README gives it; returns stdout and stderr. Throws on a non-zero exit. */
function sh(line: string, cwd: string, env: Record<string, string> = {}, timeoutMs = 300_000): { stdout: string; stderr: string } {
  const r = spawnSync('bash', ['-c', line], {
    cwd,
    encoding: 'utf8',
    timeout: timeoutMs,
    maxBuffer: 64 * 1024 * 1024,
    env: { ...process.env, NO_UPDATE_NOTIFIER: '1', npm_config_update_notifier: 'false', ...env },
  });
  if (r.status !== 0) throw new Error(`${line} failed in ${cwd} (exit ${r.status}${r.error ? `, ${r.error.message}` : ''}):\n${r.stdout}\n${r.stderr}`);
  return { stdout: r.stdout, stderr: r.stderr };
}

/** Lines of output that warn (npm's `npm warn`, Node's warnings, CDK's and the SDK's notices). */
const warnings = (text: string): string[] => text.split('\n').filter((l) => /\bwarn(ing)?\b|deprecat|end-of-life|EBADENGINE/i.test(l));

function run(cmd: string, args: string[], cwd: string, timeoutMs = 180_000, env: Record<string, string> = {}): string {
  try {
    return execFileSync(cmd, args, {
      cwd,
      encoding: 'utf8',
      timeout: timeoutMs,
      maxBuffer: 64 * 1024 * 1024,
      env: { ...process.env, PATH: `${BIN}${path.delimiter}${process.env.PATH}`, NO_UPDATE_NOTIFIER: '1', npm_config_update_notifier: 'false', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')} failed in ${cwd}: ${err.message}\n${err.stdout ?? ''}\n${err.stderr ?? ''}`);
  }
}

function timed<T>(key: string, f: () => T): T {
  const t0 = Date.now();
  try {
    return f();
  } finally {
    measured[key] = Date.now() - t0;
  }
}

/** The consumer's CDK app: what a team writes after `npm install cdk-phoenix-pipelines aws-cdk-lib constructs`. */
const CONSUMER_APP = `
const fs = require('fs');
const path = require('path');
const { App, Stack } = require('aws-cdk-lib');
const { DataPipeline, IngestSink, PhoenixMode } = require('cdk-phoenix-pipelines');

const outdir = process.argv[2];
const app = new App({ outdir });
const stack = new Stack(app, 'ConsumerOrders', { env: { account: '123456789012', region: 'eu-west-1' } });
const pipeline = new DataPipeline(stack, 'Orders', {
  pipelineName: 'orders',
  phoenixMode: PhoenixMode.EPHEMERAL,
  ingest: {
    schema: { type: 'object', required: ['orderId'], properties: { orderId: { type: 'string' }, total: { type: 'number' } } },
    keyFields: ['orderId'],
  },
  sink: IngestSink.dynamoDb(),
});
const template = app.synth().getStackByName('ConsumerOrders').template;
const types = {};
for (const r of Object.values(template.Resources)) types[r.Type] = (types[r.Type] || 0) + 1;
const fn = Object.values(template.Resources).find((r) => r.Type === 'AWS::Lambda::Function' && r.Properties.Environment
  && r.Properties.Environment.Variables && r.Properties.Environment.Variables.PHX_PIPELINE === 'orders');
const hash = fn.Properties.Code.S3Key.replace(/\\.zip$/, '');
const handlerAsset = path.join(outdir, 'asset.' + hash);
process.stdout.write(JSON.stringify({
  stackName: stack.stackName,
  types,
  handlerAsset,
  assetIndexJs: fs.existsSync(path.join(handlerAsset, 'index.js')),
  pipelineName: pipeline.pipelineName,
}));
`;

describe.skipIf(SKIP)('npm package: pack, install into a fresh project, use', () => {
  const started = Date.now();

  beforeAll(() => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'phx-package-'));
    if (!PREBUILT) {
      timed('buildMs', () => {
        run('jsii', ['--silence-warnings=reserved-word'], ROOT, 240_000);
        run('projen', ['bundle'], ROOT, 240_000);
        run('tsc', ['-p', 'tsconfig.runtime.json'], ROOT, 240_000);
      });
    }
    ({ library: packed, local: toolkit } = timed('packMs', () => buildTarballs(ROOT)));

    consumer = path.join(work, 'consumer');
    fs.mkdirSync(consumer);
    sh('npm init -y', consumer);
    // The README's first install line (synth and deploy); the local toolkit's comes later, after the missing-packages check.
    const [libraryLine] = readmeInstallLines();
    const installed = timed('installMs', () => sh(`${libraryLine} --prefer-offline --no-audit --no-fund`, consumer, { PHX: path.dirname(packed.file) }, 300_000));
    measured.installWarnings = warnings(installed.stderr + installed.stdout).join(' | ');
  }, 600_000);

  it('the README\'s install line for synth and deploy installs the library with no npm warning', () => {
    expect(readmeInstallLines()).toHaveLength(2);
    expect(measured.installWarnings).toBe('');
  });

  it('the packed library has no scripts (none runs on install) and no devDependencies', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(consumer, 'node_modules', 'cdk-phoenix-pipelines', 'package.json'), 'utf8'));
    expect(pkg.scripts).toBeUndefined();
    expect(pkg.devDependencies).toBeUndefined();
    expect(pkg.name).toBe('cdk-phoenix-pipelines');
    expect(toolkit.files.map((f) => f.path).sort()).toEqual(['LICENSE', 'README.md', 'package.json']);
  });

  afterAll(() => {
    if (packed) {
      measured.tarballBytes = packed.size;
      measured.unpackedBytes = packed.unpackedSize;
      measured.files = packed.files.length;
    }
    measured.totalMs = Date.now() - started;
    console.log(`package: ${JSON.stringify(measured)}`);
    fs.mkdirSync(path.join(REPO, 'test-reports'), { recursive: true });
    fs.writeFileSync(path.join(REPO, 'test-reports', 'package.json'), JSON.stringify(measured, null, 2));
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  it('the tarball holds the compiled library, the jsii assembly, the handler bundles, the runtime and the CLI', () => {
    const files = packed.files.map((f) => f.path);
    for (const required of ['package.json', 'README.md', 'LICENSE', '.jsii', 'dist/index.js', 'dist/index.d.ts', 'dist/data-pipeline.js',
      'dist/phoenix.js', 'assets/lib/handlers/ingest/index.js', 'assets/lib/runtime/index/index.js', 'assets/bin/phoenix/index.js',
      'dist-runtime/lib/runtime/index.d.ts']) {
      expect(files, required).toContain(required);
    }
    if (fs.existsSync(path.join(ROOT, 'API.md'))) expect(files).toContain('API.md');
    // every handler a construct points at (HANDLER_ASSET_DIR and friends) is bundled
    const bundled = fs.readdirSync(path.join(ROOT, 'assets', 'lib', 'handlers'));
    for (const h of bundled) expect(files).toContain(`assets/lib/handlers/${h}/index.js`);
  });

  it('the tarball holds no sources, tests, examples, benchmarks, reports or build leftovers', () => {
    const stray = packed.files.map((f) => f.path).filter((f) =>
      /^(test|bench|lib|examples|coverage|test-reports|cdk\.out|constructs|docs|bin|projenrc|\.projen|\.ci|\.phoenix)\//.test(f)
      || /^dist\/(js|python|java|dotnet|go)\//.test(f)
      || /\.tsbuildinfo$/.test(f) || /(^|\/)validation-report\.json$/.test(f) || /\.tgz$/.test(f)
      || /^(\.projenrc\.ts|vitest\.config\.ts|tsconfig\.json|\.eslintrc\.json|cdk\.json|tsconfig\.runtime\.json)$/.test(f)
      || (/\.ts$/.test(f) && !/\.d\.ts$/.test(f)));
    expect(stray).toEqual([]);
  });

  it('package.json points main, types, exports and bin at files in the tarball', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(consumer, 'node_modules', 'cdk-phoenix-pipelines', 'package.json'), 'utf8'));
    const files = new Set(packed.files.map((f) => f.path));
    const targets = [pkg.main, pkg.types, pkg.exports['.'].default, pkg.exports['.'].types, pkg.exports['./runtime'].default,
      pkg.exports['./runtime'].types, ...Object.values(pkg.bin as Record<string, string>)];
    for (const t of targets) expect(files, `${t}`).toContain(String(t).replace(/^\.\//, ''));
  });

  it('a consumer app with only aws-cdk-lib and constructs synthesizes a full DataPipeline', () => {
    fs.writeFileSync(path.join(consumer, 'app.js'), CONSUMER_APP);
    const synth = JSON.parse(timed('synthMs', () => run('node', ['app.js', path.join(consumer, 'cdk.out')], consumer))) as {
      types: Record<string, number>; assetIndexJs: boolean; handlerAsset: string; stackName: string;
    };
    expect(synth.stackName).toBe('ConsumerOrders');
    for (const type of ['AWS::Kinesis::Stream', 'AWS::Lambda::Function', 'AWS::Lambda::EventSourceMapping', 'AWS::SQS::Queue', 'AWS::DynamoDB::Table']) {
      expect(synth.types[type] ?? 0, type).toBeGreaterThanOrEqual(1);
    }
    // the processor's asset is the pre-bundled handler, copied into the consumer's cdk.out
    expect(synth.assetIndexJs, `${synth.handlerAsset}/index.js`).toBe(true);
    expect(fs.readFileSync(path.join(synth.handlerAsset, 'index.js'), 'utf8').length).toBeGreaterThan(10_000);
    // the library brings nothing of its own: no esbuild, no handler dependencies (the consumer's tsx brings esbuild)
    const pkg = JSON.parse(fs.readFileSync(path.join(consumer, 'node_modules', 'cdk-phoenix-pipelines', 'package.json'), 'utf8'));
    expect(Object.keys(pkg.dependencies ?? {})).toEqual([]);
    const installed = fs.readdirSync(path.join(consumer, 'node_modules')).filter((d) => !d.startsWith('.'));
    expect(installed).not.toContain('@aws-lambda-powertools');
  });

  it('the runtime subpath export gives createIngestHandler', () => {
    const kind = run('node', ['-e', "process.stdout.write(typeof require('cdk-phoenix-pipelines/runtime').createIngestHandler)"], consumer);
    expect(kind).toBe('function');
  });

  it('a team\'s custom transform on the runtime subpath export bundles (esbuild, SDK external) and runs', () => {
    const src = path.join(consumer, 'transform-handler.js');
    fs.writeFileSync(src, [
      "const { createIngestHandler, MemorySink, MemoryDlq } = require('cdk-phoenix-pipelines/runtime');",
      'const sink = new MemorySink();',
      'const dlq = new MemoryDlq();',
      'exports.sink = sink;',
      'exports.dlq = dlq;',
      'exports.handler = createIngestHandler({',
      "  env: { PHX_PIPELINE: 'orders', PHX_KEY_FIELDS: '[\"orderId\"]', PHX_SINK_KIND: 'none' },",
      '  sink, dlq,',
      // the team's logic: enrich, and drop test orders (null = filtered)
      '  transform: (p, ctx) => (p.test ? null : { ...p, totalCents: Math.round(p.total * 100), seenAs: ctx.recordId.length }),',
      '});',
    ].join('\n'));
    const out = path.join(consumer, 'dist-handler', 'index.js');
    run('esbuild', [src, '--bundle', '--platform=node', '--target=node22', '--format=cjs', '--external:@aws-sdk/*', `--outfile=${out}`], consumer);
    // The bundle is self-contained: it runs from a directory with no node_modules, like a Lambda task root.
    const taskRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'phx-task-'));
    try {
      fs.copyFileSync(out, path.join(taskRoot, 'index.js'));
      const record = (data: unknown, seq: number) => ({
        eventSource: 'aws:kinesis',
        eventID: `shardId-000000000000:${seq}`,
        eventName: 'aws:kinesis:record',
        eventVersion: '1.0',
        invokeIdentityArn: 'arn:aws:iam::123456789012:role/r',
        awsRegion: 'eu-west-1',
        eventSourceARN: 'arn:aws:kinesis:eu-west-1:123456789012:stream/orders',
        kinesis: {
          kinesisSchemaVersion: '1.0',
          partitionKey: 'k',
          sequenceNumber: String(seq),
          approximateArrivalTimestamp: 1764000000,
          data: Buffer.from(typeof data === 'string' ? data : JSON.stringify(data)).toString('base64'),
        },
      });
      const event = { Records: [record({ orderId: 'o-1', total: 12.5 }, 1), record({ orderId: 'o-2', total: 1, test: true }, 2), record('not json', 3)] };
      const script = [
        "const m = require('./index.js');",
        `m.handler(${JSON.stringify(event)}, { functionName: 'f', awsRequestId: 'r', getRemainingTimeInMillis: () => 60000 })`,
        '  .then((res) => process.stdout.write(JSON.stringify({ res, items: [...m.sink.items.values()].map((i) => i.envelope.payload),',
        '    dead: m.dlq.messages.map((d) => JSON.parse(d.body).reason.class) })));',
      ].join('\n');
      const result = JSON.parse(run('node', ['-e', script], taskRoot, 60_000, { POWERTOOLS_METRICS_DISABLED: 'true', POWERTOOLS_LOG_LEVEL: 'ERROR' }).trim().split('\n').pop()!);
      expect(result.res).toEqual({ batchItemFailures: [] });
      expect(result.items).toEqual([{ orderId: 'o-1', total: 12.5, totalCents: 1250, seenAs: 36 }]);
      expect(result.dead).toEqual(['decode']);
    } finally {
      fs.rmSync(taskRoot, { recursive: true, force: true });
    }
  });

  it('the phoenix CLI of the package runs', () => {
    const help = run(path.join(consumer, 'node_modules', '.bin', 'phoenix'), ['--help'], consumer);
    expect(help).toMatch(/replay/);
    expect(help).toMatch(/dlq/);
  });

  it('phoenix local run without the local toolkit names the packages it needs in one line', () => {
    const phoenix = path.join(consumer, 'node_modules', '.bin', 'phoenix');
    const assembly = path.join(consumer, 'cdk.out');
    expect(fs.existsSync(path.join(assembly, 'manifest.json')), 'the consumer app was synthesized by the test above').toBe(true);
    const bare = spawnSync(phoenix, ['local', 'run', '--assembly', assembly, '--records', '10'], { cwd: consumer, encoding: 'utf8', timeout: 120_000 });
    expect(bare.status).not.toBe(0);
    const lines = bare.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/missing: kinesalite, dynalite, fauxqs, @aws-sdk\/client-cloudformation/);
    expect(lines[0]).toMatch(/cdk-phoenix-pipelines-local/);
  });

  it('the README: the local toolkit\'s install line, its app, `npx cdk synth` and `npx phoenix local run --records 500`, with no warning', () => {
    const [, toolkitLine] = readmeInstallLines();
    const installed = timed('localToolkitInstallMs', () => sh(`${toolkitLine} --prefer-offline --no-audit --no-fund`, consumer, { PHX: path.dirname(toolkit.file) }));
    expect(warnings(installed.stderr + installed.stdout)).toEqual([]);
    const { appTs, cdkJson } = readmeApp();
    fs.writeFileSync(path.join(consumer, 'app.ts'), appTs);
    fs.writeFileSync(path.join(consumer, 'cdk.json'), cdkJson);
    const synth = timed('readmeSynthMs', () => sh('npx cdk synth --quiet', consumer));
    expect(warnings(synth.stderr + synth.stdout)).toEqual([]);
    const local = timed('readmeLocalRunMs', () => sh('npx phoenix local run --records 500', consumer, {}, 400_000));
    expect(warnings(local.stderr + local.stdout)).toEqual([]);
    expect(local.stdout).toMatch(/^lost {14}0$/m);
    // stderr is not a terminal here: plain progress lines, one per phase and every 5 s
    expect(local.stderr).toMatch(/^phoenix local: produce \d+\/500 put/m);
  }, 900_000); // install, synth and a local run, each bounded on its own

  it('jsii-pacmak generates the Python bindings from the installed package', () => {
    const pkgDir = path.join(consumer, 'node_modules', 'cdk-phoenix-pipelines');
    const pkg = JSON.parse(fs.readFileSync(path.join(pkgDir, 'package.json'), 'utf8'));
    expect(pkg.jsii?.targets?.python, 'jsii.targets.python (publishToPypi in .projenrc.ts)').toBeDefined();
    const out = path.join(work, 'bindings');
    // jsii-pacmak runs `npm pack` on the package directory: without ignore-scripts that runs the repository's
    // `prepare` script (projen bundle), which an installed package cannot run.
    timed('pacmakPythonMs', () => run('jsii-pacmak', ['-t', 'python', '--code-only', '-o', out, pkgDir], consumer, 240_000,
      { npm_config_ignore_scripts: 'true' }));
    const module = String(pkg.jsii.targets.python.module);
    const init = path.join(out, 'python', 'src', ...module.split('.'), '__init__.py');
    expect(fs.existsSync(init), init).toBe(true);
    const text = fs.readFileSync(init, 'utf8');
    expect(text).toMatch(/class DataPipeline\(/);
    expect(text).toMatch(/class PhoenixMode\(/);
    // The Python example against these bindings: names, keywords and enum members (no jsii runtime from PyPI here).
    const example = path.join(REPO, 'examples', 'python', 'app.py');
    const checked = spawnSync('python3', [path.join(REPO, 'examples', 'python', 'check_bindings.py'), init, example], { encoding: 'utf8', timeout: 60_000 });
    expect(checked.status, checked.stdout + checked.stderr).toBe(0);
    expect(checked.stdout).toMatch(/checked .*app\.py against \d+ classes of the bindings: \d+ calls, 0 findings/);
  });
});
