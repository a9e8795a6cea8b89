import { awscdk, javascript } from 'projen';

/**
 * cdk-phoenix-pipelines project definition.
 *
 * Layout (see docs/ARCHITECTURE.md):
 *   constructs/  jsii-compiled L3 constructs (projen srcdir, output in dist/)
 *   lib/         runtime code, bundled by esbuild into assets/ (never compiled by jsii)
 *   bin/         the CDK app (cdk.json) and the `phoenix` CLI
 *   examples/    example pipelines
 *   test/        vitest suites, bench/ benchmarks
 */
const project = new awscdk.AwsCdkConstructLibrary({
  name: 'cdk-phoenix-pipelines',
  description: 'Phoenix-style streaming pipelines as CDK L3 constructs: deterministic ids, idempotent sinks, dead letters with replay, data-quality profiling and correlated monitoring.',
  author: 'cdk-phoenix-pipelines',
  authorAddress: 'dev@phoenix.local',
  repositoryUrl: 'https://example.invalid/cdk-phoenix-pipelines.git',
  defaultReleaseBranch: 'main',
  packageManager: javascript.NodePackageManager.NPM,
  projenrcTs: true,
  cdkVersion: '2.276.0',
  constructsVersion: '10.8.1',
  jsiiVersion: '~6.0.0',
  typescriptVersion: '^6.0.3',
  minNodeVersion: '20.0.0',
  srcdir: 'constructs',
  // npm's main/types: the jsii output (projen's default lib/index.js would pack lib/ sources and drop dist/).
  entrypoint: 'dist/index.js',
  // jsii-pacmak refuses a target-less package; Python bindings are generated (--code-only) in the package test.
  publishToPypi: { distName: 'cdk-phoenix-pipelines', module: 'cdk_phoenix_pipelines' },
  libdir: 'dist',
  testdir: 'test',
  github: false,
  release: false,
  jest: false,
  lambdaAutoDiscover: false,
  keywords: ['cdk', 'kinesis', 'pipeline', 'dlq', 'replay', 'idempotency', 'data-quality'],
  bin: { phoenix: 'assets/bin/phoenix/index.js' },
  devDeps: [
    '@types/node@^20',
    '@types/aws-lambda@^8',
    '@types/cli-progress@^3',
    'vitest@4.1.12',
    'fast-check@^4',
    'aws-sdk-client-mock@^4',
    'tsx@^4',
    'esbuild@0.28.2',
    'aws-cdk@2.1148.0',
    'cdk-nag@3.0.2',
    '@cdklabs/cdk-validator-cfnguard@0.0.62',
    'commander@^14',
    'cli-progress@^3',
    'ajv@^8',
    'ajv-formats@^3',
    'uuid@^11',
    '@aws-lambda-powertools/logger@2.36.0',
    '@aws-lambda-powertools/metrics@2.36.0',
    '@aws-lambda-powertools/batch@2.35.0',
    '@aws-sdk/client-kinesis@^3',
    '@aws-sdk/client-dynamodb@^3',
    '@aws-sdk/client-sqs@^3',
    '@aws-sdk/client-s3@^3',
    '@aws-sdk/client-firehose@^3',
    '@aws-sdk/client-cloudformation@^3',
    '@aws-sdk/client-cloudwatch@^3',
    '@aws-sdk/client-lambda@^3',
    '@smithy/node-http-handler@^4',
    'kinesalite@3.3.3',
    'dynalite@4.0.0',
    'fauxqs@1.9.2',
    // integration tests (test/integ): assertions deployed with the test stacks; the template diff of their snapshot check
    '@aws-cdk/integ-tests-alpha@2.245.0-alpha.0',
    '@aws-cdk/cloudformation-diff@2.187.5',
  ],
  eslintOptions: {
    dirs: ['constructs', 'lib', 'bin', 'examples'],
    devdirs: ['test', 'bench'],
  },
  tsconfigDev: {
    include: ['../lib/**/*.ts', '../bin/**/*.ts', '../examples/**/*.ts', '../bench/**/*.ts', '../constructs/**/*.ts', '../.projenrc.ts'],
    compilerOptions: {},
  },
  gitignore: ['/node_modules', 'cdk.out/', 'dist-runtime/', 'coverage/', 'test-reports/', '.phoenix/', 'validation-report.json', '*.tsbuildinfo'],
  npmignoreEnabled: true,
  npmIgnoreOptions: {
    ignorePatterns: ['/bench/', '/examples/', '/bin/', '/lib/', '/coverage/', '/test-reports/', 'vitest.config.mts', '/cdk.out/', '/.ci/', '/docs/', '/.phoenix/',
      '/cdk.json', '/tsconfig.runtime.json', '/dist/js/', '/dist/python/', '/dist/java/', '/dist/dotnet/', '/dist/go/', 'validation-report.json'],
  },
});

// ---------------------------------------------------------------------------
// Pre-bundled runtime assets (the constructs point at these with Code.fromAsset).
// A consumer app needs no esbuild and none of the handlers' dependencies.
// The AWS SDK v3 is provided by the Node.js Lambda runtime, so it stays external.
// ---------------------------------------------------------------------------
const handlerBundle = { platform: 'node', target: 'node22', format: 'cjs', minify: true, externals: ['@aws-sdk/*'] };
for (const h of ['ingest', 'canary', 'drift-detector', 'profiler', 'replay', 'failure-normalizer', 'ajv-formats']) {
  project.bundler.addBundle(`./lib/handlers/${h}.ts`, { ...handlerBundle });
}
// The `phoenix` CLI: bundled with its AWS SDK clients; emulators and the CDK stay external
// (they are resolved from the installing project's node_modules).
project.bundler.addBundle('./bin/phoenix.ts', {
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  executable: true,
  externals: ['kinesalite', 'dynalite', 'fauxqs', 'aws-cdk-lib', 'constructs', 'cdk-nag', 'esbuild', 'tsx', 'leveldown', 'memdown'],
});
// The local environment's child processes (function runner, emulator host): prebuilt so the published CLI needs no esbuild.
project.bundler.addBundle('./lib/local/runner/function-runner.ts', { platform: 'node', target: 'node20', format: 'cjs' });
project.bundler.addBundle('./lib/local/emulators/host.ts', { platform: 'node', target: 'node20', format: 'cjs', externals: ['kinesalite', 'dynalite', 'fauxqs'] });
// The runtime subpath export (`cdk-phoenix-pipelines/runtime`): createIngestHandler for a team's own function.
project.bundler.addBundle('./lib/runtime/index.ts', { ...handlerBundle, minify: false });
// One @aws-lambda-powertools/commons for all Powertools packages: batch (bench only) exists up to 2.35.0 and pins its
// commons exactly, which otherwise nests a second 2.36.0 copy under logger and metrics and bundles it twice.
project.addFields({ overrides: { '@aws-lambda-powertools/commons': '2.36.0' } });
project.addFields({
  exports: {
    '.': { types: './dist/index.d.ts', default: './dist/index.js' },
    './runtime': { types: './dist-runtime/lib/runtime/index.d.ts', default: './assets/lib/runtime/index/index.js' },
    './package.json': './package.json',
    './.jsii': './.jsii',
  },
});
project.addTask('types:runtime', {
  description: 'Emit .d.ts files for the runtime subpath export',
  exec: 'tsc -p tsconfig.runtime.json',
});
project.postCompileTask.spawn(project.tasks.tryFind('types:runtime')!);

// npm ci runs `prepare`: build the bundles so `npx phoenix`, `npm start` and tests work from a clean clone.
project.package.setScript('prepare', 'projen bundle');

// ---------------------------------------------------------------------------
// Tests: vitest (projen 0.103 has no vitest component), then eslint.
// ---------------------------------------------------------------------------
project.testTask.reset();
project.testTask.spawn(project.tasks.tryFind('bundle')!);
project.testTask.exec('tsc -p test/tsconfig.json');
project.testTask.exec('vitest run');
project.testTask.spawn(project.eslint!.eslintTask);
project.addTask('typecheck', { description: 'Type-check everything (constructs, lib, bin, examples, test, bench)', exec: 'tsc -p test/tsconfig.json' });
project.addTask('test:fast', { description: 'vitest without eslint', exec: 'vitest run' });

// The main job: the example pipeline.
const start = project.addTask('start', { description: 'Run the example pipeline (see README)', receiveArgs: true });
start.spawn(project.tasks.tryFind('bundle')!);
start.exec('tsx bin/phoenix.ts start', { receiveArgs: true });

const bench = project.addTask('bench', { description: 'Benchmarks: ratios measured side by side in one run', receiveArgs: true });
bench.spawn(project.tasks.tryFind('bundle')!);
bench.exec('node --expose-gc --import tsx bench/run.ts', { receiveArgs: true });

project.addTask('synth', { description: 'Synthesize the example app', exec: 'cdk synth --quiet' });

// The two tarballs a team installs (README "Use it in your own CDK app"): the library without install scripts, and
// the local toolkit (projenrc/tarballs.ts says why it is a package of its own).
const tarballs = project.addTask('tarballs', { description: 'Build tarballs/cdk-phoenix-pipelines-*.tgz and tarballs/cdk-phoenix-pipelines-local-*.tgz' });
tarballs.spawn(project.tasks.tryFind('bundle')!);
tarballs.exec('jsii --silence-warnings=reserved-word');
tarballs.exec('tsc -p tsconfig.runtime.json');
tarballs.exec('tsx projenrc/tarballs.ts');
project.gitignore.exclude('/tarballs/');
project.npmignore?.exclude('/tarballs/');

// Integration tests (test/integ, README "Integration tests in your account"). CI checks their snapshots in vitest
// (test/integ/snapshots.test.ts); these tasks write the snapshots, or deploy the tests to the current account.
project.addTask('integ:snapshot', {
  description: 'Write the integration tests\' snapshots (synth only: no deployment, no credentials)',
  exec: 'tsx test/integ/cli.ts snapshot',
  receiveArgs: true,
});
project.addTask('integ:deploy', {
  description: 'Deploy integration tests to the current AWS account (their assertions run during the deploy), then destroy them',
  exec: 'tsx test/integ/cli.ts deploy',
  receiveArgs: true,
});

// ESLint: lint lib/, bin/, examples/ and bench/ with the dev tsconfig (the root tsconfig.json is jsii's and
// covers constructs/ only). Bundled runtime code (lib/, bin/) may import devDependencies: esbuild inlines them.
const eslintrc = project.tryFindObjectFile('.eslintrc.json')!;
eslintrc.addOverride('parserOptions.projectService', undefined);
eslintrc.addOverride('parserOptions.project', ['./test/tsconfig.json']);
eslintrc.addOverride('rules.import/no-extraneous-dependencies', ['error', {
  devDependencies: ['**/test/**', '**/bench/**', '**/lib/**', '**/bin/**', '**/examples/**', 'vitest.config.mts', '.projenrc.ts', 'projenrc/**/*.ts'],
  optionalDependencies: false,
  peerDependencies: true,
}]);

project.synth();
