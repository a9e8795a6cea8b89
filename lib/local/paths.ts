import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';

const PACKAGE_NAME = 'cdk-phoenix-pipelines';

let cachedRoot: string | undefined;

/**
 * Root directory of the cdk-phoenix-pipelines package: the nearest package.json named `cdk-phoenix-pipelines`
 * above this module (lib/local in a checkout, assets/bin/phoenix in the bundled CLI).
 */
export function packageRoot(): string {
  if (cachedRoot) return cachedRoot;
  let dir = __dirname;
  for (let i = 0; i < 12; i++) {
    const pj = path.join(dir, 'package.json');
    if (existsSync(pj)) {
      try {
        if ((JSON.parse(readFileSync(pj, 'utf8')) as { name?: string }).name === PACKAGE_NAME) {
          cachedRoot = dir;
          return dir;
        }
      } catch {
        // not a readable package.json: keep walking up
      }
    }
    const parent = path.dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  throw new Error(`cannot find the ${PACKAGE_NAME} package root above ${__dirname}`);
}

/**
 * Packages the local environment needs in the project that runs it, beside this package: the emulators and the AWS
 * SDK v3 clients the handlers use (Lambda's Node.js runtime provides the SDK; locally the project does). They are
 * not dependencies of this package: a jsii library must bundle every non-jsii dependency, and teams that only
 * synthesize and deploy need none of them. Versions of the emulators: those measured in docs/local-environment.md.
 */
export const LOCAL_ENVIRONMENT_PACKAGES: ReadonlyArray<{ readonly name: string; readonly spec: string }> = [
  { name: 'kinesalite', spec: 'kinesalite@3.3.3' },
  { name: 'dynalite', spec: 'dynalite@4.0.0' },
  { name: 'fauxqs', spec: 'fauxqs@1.9.2' },
  { name: '@aws-sdk/client-cloudformation', spec: '@aws-sdk/client-cloudformation@3' },
  { name: '@aws-sdk/client-dynamodb', spec: '@aws-sdk/client-dynamodb@3' },
  { name: '@aws-sdk/client-kinesis', spec: '@aws-sdk/client-kinesis@3' },
  { name: '@aws-sdk/client-lambda', spec: '@aws-sdk/client-lambda@3' },
  { name: '@aws-sdk/client-s3', spec: '@aws-sdk/client-s3@3' },
  { name: '@aws-sdk/client-sqs', spec: '@aws-sdk/client-sqs@3' },
];

/** The one-line install command for the local environment's packages. */
export function localEnvironmentInstallCommand(): string {
  return `npm install --save-dev --ignore-scripts ${LOCAL_ENVIRONMENT_PACKAGES.map((p) => p.spec).join(' ')}`;
}

/** The local environment's packages missing from `nodeModules` (all of them when it is undefined). */
export function missingLocalEnvironmentPackages(nodeModules: string | undefined): string[] {
  return LOCAL_ENVIRONMENT_PACKAGES.filter((p) => nodeModules === undefined || !existsSync(path.join(nodeModules, p.name, 'package.json'))).map((p) => p.name);
}

/**
 * The node_modules directory that provides the AWS SDK v3 clients and the emulators
 * (the Lambda runtime provides the SDK to functions; locally this directory does, through NODE_PATH).
 * Throws one line naming the missing packages and the command that installs them.
 */
export function sdkNodeModules(): string {
  const found = findSdkNodeModules();
  const missing = missingLocalEnvironmentPackages(found);
  if (missing.length > 0) {
    throw new Error(`the local environment needs packages your project does not have (missing: ${missing.join(', ')}); install the local toolkit `
      + `(npm install --save-dev --ignore-scripts <tarballs>/cdk-phoenix-pipelines-local-<version>.tgz, see the README) or them: ${localEnvironmentInstallCommand()}`);
  }
  return found!;
}

function findSdkNodeModules(): string | undefined {
  let dir = packageRoot();
  for (let i = 0; i < 12; i++) {
    const candidate = path.join(dir, 'node_modules');
    if (existsSync(path.join(candidate, '@aws-sdk', 'client-dynamodb'))) return candidate;
    const parent = path.dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  return undefined;
}

/** Child-process entry points of the local environment (each a TypeScript module under lib/local). */
export type ChildEntry = 'function-runner' | 'emulator-host';

const CHILD_SOURCES: Record<ChildEntry, string> = {
  'function-runner': 'runner/function-runner.ts',
  'emulator-host': 'emulators/host.ts',
};

const builtScripts = new Map<ChildEntry, string>();

/**
 * Path of a runnable (plain CommonJS) script for a child entry point.
 * - In a checkout (the TypeScript source exists) it is bundled with esbuild into `<outDir>` once per process, so a
 *   change to the source is always picked up;
 * - in the published package the prebuilt asset `assets/lib/local/<dir>/<name>/index.js` is used.
 */
export function childScript(entry: ChildEntry, outDir: string): string {
  const done = builtScripts.get(entry);
  if (done && existsSync(done)) return done;
  const root = packageRoot();
  const source = path.join(root, 'lib', 'local', CHILD_SOURCES[entry]);
  if (existsSync(source)) {
    mkdirSync(outDir, { recursive: true });
    const outfile = path.join(outDir, `${entry}.cjs`);
    // esbuild (a devDependency: only needed in a checkout) runs as a one-shot process: its JS API would leave its
    // service process running for the rest of this process' life.
    const cli = require.resolve('esbuild/bin/esbuild');
    const res = spawnSync(cli, [source, '--bundle', '--platform=node', '--target=node20', '--format=cjs',
      '--packages=external', '--log-level=error', `--outfile=${outfile}`], { encoding: 'utf8', timeout: 60_000 });
    if (res.status !== 0) {
      throw new Error(`cannot build the local environment's ${entry} script: ${(res.stderr || res.error?.message || `exit ${res.status}`).trim().split('\n')[0]}`);
    }
    builtScripts.set(entry, outfile);
    return outfile;
  }
  const asset = path.join(root, 'assets', 'lib', 'local', CHILD_SOURCES[entry].replace(/\.ts$/, ''), 'index.js');
  if (existsSync(asset)) {
    builtScripts.set(entry, asset);
    return asset;
  }
  throw new Error(`the local environment's ${entry} script is missing (neither ${source} nor ${asset} exists)`);
}
