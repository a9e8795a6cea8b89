/**
 * Snapshots of the integration tests (test/integ/integ.<example>.ts), in integ-runner's layout and with its snapshot
 * semantics: `integ.<example>.ts.snapshot/` holds the cloud assembly's manifest, integ.json, templates and asset
 * manifests; a check synthesizes the test app again and diffs every stack template against the snapshot with
 * @aws-cdk/cloudformation-diff after replacing asset hashes by their position (`Asset1`, ...), since the bundled
 * handlers' hashes are not what is checked (see canonicalTemplate). integ-runner itself cannot be used here: its newest release on the
 * registry (2.197.10) reads cloud assembly schema 53 at most, and aws-cdk-lib 2.276.0 writes 55.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Writable } from 'node:stream';
import { formatDifferences, fullDiff } from '@aws-cdk/cloudformation-diff';

export const ROOT = path.resolve(__dirname, '..', '..');
export const INTEG_DIR = path.join(ROOT, 'test', 'integ');
const INTEG_FILE = /^integ\.(.+)\.ts$/;
/** What a snapshot keeps of an assembly: what the check reads, and integ.json (the test cases, for integ-runner). */
const SNAPSHOT_FILE = /^(manifest\.json|integ\.json|.+\.template\.json|.+\.assets\.json)$/;

/** The integration test files, sorted (`integ.orders.ts`, ...). */
export function integFiles(): string[] {
  return readdirSync(INTEG_DIR).filter((f) => INTEG_FILE.test(f)).sort();
}

/** The example an integration test file covers (`integ.orders.ts` -> `orders`), or undefined for another file. */
export function exampleOf(file: string): string | undefined {
  return INTEG_FILE.exec(file)?.[1];
}

export function snapshotDirOf(file: string): string {
  return path.join(INTEG_DIR, `${file}.snapshot`);
}

/** Synthesizes the integration test app `file` into a new temporary directory and returns it. */
export function synthIntegApp(file: string): string {
  if (exampleOf(file) === undefined) throw new Error(`not an integration test file: ${JSON.stringify(file)} (allowed: ${integFiles().join(', ')})`);
  const outdir = mkdtempSync(path.join(tmpdir(), 'phx-integ-'));
  const tsx = path.join(ROOT, 'node_modules', '.bin', 'tsx');
  const r = spawnSync(tsx, [path.join(INTEG_DIR, file)], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, CDK_OUTDIR: outdir }, timeout: 180_000 });
  if (r.status !== 0) {
    rmSync(outdir, { recursive: true, force: true });
    throw new Error(`synth of ${file} failed (exit ${r.status ?? r.signal}):\n${r.stderr}${r.error ? r.error.message : ''}`);
  }
  return outdir;
}

/** Replaces the snapshot of `file` with the assembly in `assemblyDir` (the snapshot's files only). */
export function writeSnapshot(file: string, assemblyDir: string): void {
  const dir = snapshotDirOf(file);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir);
  for (const f of readdirSync(assemblyDir).filter((n) => SNAPSHOT_FILE.test(n))) copyFileSync(path.join(assemblyDir, f), path.join(dir, f));
}

interface StackSnapshot {
  readonly template: unknown;
  /** Asset hashes of the stack, in the asset manifest's order. */
  readonly assets: string[];
}

/** Stack templates of an assembly directory by artifact id, with their asset hashes. */
function stacksOf(dir: string): Map<string, StackSnapshot> {
  const manifest = readJson(path.join(dir, 'manifest.json')) as { artifacts?: Record<string, { type: string; properties?: { templateFile?: string } }> };
  const stacks = new Map<string, StackSnapshot>();
  for (const [id, artifact] of Object.entries(manifest.artifacts ?? {})) {
    const templateFile = artifact.properties?.templateFile;
    if (artifact.type !== 'aws:cloudformation:stack' || templateFile === undefined) continue;
    const assetsFile = path.join(dir, `${id}.assets.json`);
    const assets = existsSync(assetsFile) ? readJson(assetsFile) as { files?: object; dockerImages?: object } : {};
    const hashes = [...Object.keys(assets.files ?? {}), ...Object.keys(assets.dockerImages ?? {})];
    stacks.set(id, { template: readJson(path.join(dir, templateFile)), assets: hashes });
  }
  return stacks;
}

function readJson(file: string): unknown {
  return JSON.parse(readFileSync(file, 'utf8'));
}

/**
 * The template as compared: each asset hash replaced by `Asset<position>` (the hashes change with every handler build),
 * and without the `salt` integ-tests-alpha gives each assertion (the synth time: it makes CloudFormation run the
 * assertions again on every deployment). integ-runner compares the stacks under test only; the assertion stack is
 * compared here too, so that a change of the records, ids or expectations shows up.
 */
export function canonicalTemplate(template: unknown, assets: readonly string[]): unknown {
  const subs = assets.map((hash, i) => [hash, `Asset${i + 1}`] as const);
  const sub = (s: string): string => subs.reduce((acc, [hash, name]) => acc.split(hash).join(name), s);
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') return sub(v);
    if (Array.isArray(v)) return v.map(walk);
    if (typeof v === 'object' && v !== null) return Object.fromEntries(Object.entries(v).map(([k, x]) => [sub(k), walk(x)]));
    return v;
  };
  return walk(withoutAssertionSalts(template));
}

const ASSERTION_TYPE = /^Custom::DeployAssert@/;

function withoutAssertionSalts(template: unknown): unknown {
  const resources = (template as { Resources?: Record<string, { Type?: string; Properties?: Record<string, unknown> }> }).Resources;
  if (resources === undefined) return template;
  const cleaned = Object.fromEntries(Object.entries(resources).map(([id, r]) => {
    if (!ASSERTION_TYPE.test(r.Type ?? '') || r.Properties === undefined) return [id, r];
    const { salt: _salt, ...properties } = r.Properties;
    return [id, { ...r, Properties: properties }];
  }));
  return { ...(template as object), Resources: cleaned };
}

/**
 * The differences between the snapshot directory `expectedDir` and the assembly `actualDir`: one message per stack
 * missing on either side or whose canonical template differs (with cloudformation-diff's rendering). Empty: equal.
 */
export function compareAssemblies(expectedDir: string, actualDir: string): string[] {
  if (!existsSync(path.join(expectedDir, 'manifest.json'))) return [`no snapshot: ${path.relative(ROOT, expectedDir)}/manifest.json does not exist`];
  const expected = stacksOf(expectedDir);
  const actual = stacksOf(actualDir);
  const problems: string[] = [];
  for (const id of expected.keys()) if (!actual.has(id)) problems.push(`${id}: in the snapshot, not in the synthesized app`);
  for (const [id, stack] of actual) {
    const snap = expected.get(id);
    if (snap === undefined) {
      problems.push(`${id}: in the synthesized app, not in the snapshot`);
      continue;
    }
    const diff = fullDiff(canonicalTemplate(snap.template, snap.assets) as object, canonicalTemplate(stack.template, stack.assets) as object);
    if (!diff.isEmpty) problems.push(`${id}: the template differs from the snapshot:\n${render(diff)}`);
  }
  return problems;
}

function render(diff: ReturnType<typeof fullDiff>): string {
  let text = '';
  const out = new Writable({ write(chunk, _enc, done) { text += String(chunk); done(); } });
  formatDifferences(out, diff);
  return text;
}
