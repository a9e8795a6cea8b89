/**
 * `npm run tarballs`: the two packages a team installs, written to tarballs/ (run after jsii, bundle and the runtime
 * types, which the projen task does first):
 * - cdk-phoenix-pipelines-<version>.tgz, the library: the files `npm pack` takes, under a package.json without
 *   scripts or devDependencies, so installing it runs no script of this repository and npm has nothing to warn about;
 * - cdk-phoenix-pipelines-local-<version>.tgz, the local toolkit: no code, only dependencies on the emulators and AWS
 *   SDK clients `phoenix local run` needs (LOCAL_ENVIRONMENT_PACKAGES). A jsii library must bundle every non-jsii
 *   dependency, so the library cannot depend on them itself; teams that only synthesize and deploy never install them.
 * npm has no option to pack under another package.json, hence the staging directories.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { LOCAL_ENVIRONMENT_PACKAGES } from '../lib/local/paths';

const ROOT = path.resolve(__dirname, '..');
export const TARBALLS_DIR = path.join(ROOT, 'tarballs');
export const LOCAL_PACKAGE_NAME = 'cdk-phoenix-pipelines-local';

type PackageJson = Record<string, unknown> & { name: string; version: string };

/**
 * Versions the local toolkit pins beside LOCAL_ENVIRONMENT_PACKAGES to keep npm quiet on Node 20: fauxqs' fastify takes
 * light-my-request ^6, whose 6.8 needs cookie 2 (engines node >= 22: an EBADENGINE warning); npm places the
 * toolkit's own 6.6.0 (cookie 1) first and fastify reuses it.
 */
export const LOCAL_TOOLKIT_PINS: Readonly<Record<string, string>> = { 'light-my-request': '6.6.0' };

/** The fields of the library's package.json that a consumer's install reads (no scripts, no devDependencies). */
export function publishedManifest(pkg: PackageJson): PackageJson {
  const { scripts: _scripts, devDependencies: _dev, overrides: _overrides, ...rest } = pkg;
  return rest as PackageJson;
}

/** The local toolkit's package.json: the local environment's packages as dependencies, the library as a peer. */
export function localToolkitManifest(lib: PackageJson): PackageJson {
  const local = Object.fromEntries(LOCAL_ENVIRONMENT_PACKAGES.map((p) => [p.name, p.spec.slice(p.name.length + 1)]));
  const dependencies = { ...local, ...LOCAL_TOOLKIT_PINS };
  return {
    name: LOCAL_PACKAGE_NAME,
    version: lib.version,
    description: `The local environment of ${lib.name}: the emulators and AWS SDK clients \`phoenix local run\` needs (no code).`,
    license: lib.license,
    author: lib.author,
    engines: lib.engines,
    peerDependencies: { [lib.name]: lib.version },
    dependencies,
  };
}

/** What `npm pack --json` reports of a tarball; `file` is its path. */
export interface Packed {
  readonly file: string;
  readonly filename: string;
  readonly size: number;
  readonly unpackedSize: number;
  readonly files: ReadonlyArray<{ readonly path: string; readonly size: number }>;
}

function npmPack(dir: string, args: string[] = []): Packed {
  const out = execFileSync('npm', ['pack', '--json', '--ignore-scripts', ...args], { cwd: dir, encoding: 'utf8' });
  const packed = (JSON.parse(out.slice(out.indexOf('['))) as Array<Omit<Packed, 'file'>>)[0];
  return { ...packed, file: path.join(TARBALLS_DIR, packed.filename) };
}

function packLibrary(root: string, staging: string, pkg: PackageJson): Packed {
  const dir = path.join(staging, 'library');
  // The files `npm pack` takes from the repository (package.json "files" and .npmignore).
  for (const { path: f } of npmPack(root, ['--dry-run']).files) {
    if (f === 'package.json') continue;
    mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
    cpSync(path.join(root, f), path.join(dir, f));
  }
  writeFileSync(path.join(dir, 'package.json'), `${JSON.stringify(publishedManifest(pkg), null, 2)}\n`);
  return npmPack(dir, ['--pack-destination', TARBALLS_DIR]);
}

function packLocalToolkit(root: string, staging: string, pkg: PackageJson): Packed {
  const dir = path.join(staging, 'local');
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'package.json'), `${JSON.stringify(localToolkitManifest(pkg), null, 2)}\n`);
  writeFileSync(path.join(dir, 'README.md'), [
    `# ${LOCAL_PACKAGE_NAME}`, '',
    `Install it beside \`${pkg.name}\` (\`npm install --save-dev\`) to run a pipeline on local emulators with`,
    '`npx phoenix local run`: it brings the emulators (kinesalite, dynalite, fauxqs) and the AWS SDK clients that',
    'Lambda provides in AWS. It has no code of its own.', '',
  ].join('\n'));
  cpSync(path.join(root, 'LICENSE'), path.join(dir, 'LICENSE'));
  return npmPack(dir, ['--pack-destination', TARBALLS_DIR]);
}

/** Packs the library of `root` (built: jsii, bundles, runtime types) and the local toolkit into tarballs/. */
export function buildTarballs(root = ROOT): { library: Packed; local: Packed } {
  const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as PackageJson;
  mkdirSync(TARBALLS_DIR, { recursive: true });
  const staging = mkdtempSync(path.join(os.tmpdir(), 'phx-tarballs-'));
  try {
    return { library: packLibrary(root, staging, pkg), local: packLocalToolkit(root, staging, pkg) };
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

if (require.main === module) {
  const { library, local } = buildTarballs();
  process.stdout.write(`${path.relative(process.cwd(), library.file)}\n${path.relative(process.cwd(), local.file)}\n`);
}
