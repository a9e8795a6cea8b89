import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import * as path from 'node:path';
import { AssemblyError } from './template/errors';
import type { CfnTemplate } from './template/types';
import { LOCAL_ACCOUNT, LOCAL_REGION } from './template/types';

/** One stack of a cloud assembly. */
export interface AssemblyStack {
  /** The artifact id (e.g. `PhoenixClickstream`, or `Stage/Stack` in a nested assembly). */
  readonly id: string;
  /** The CloudFormation stack name. */
  readonly stackName: string;
  readonly displayName: string;
  readonly template: CfnTemplate;
  readonly templateFile: string;
  /** Asset object key (e.g. `<hash>.zip`) -> absolute path of the asset in the cloud assembly. */
  readonly assetsByObjectKey: ReadonlyMap<string, AssetSource>;
  /** Directory of the (possibly nested) assembly the stack belongs to. */
  readonly assemblyDir: string;
}

export interface AssetSource {
  readonly path: string;
  readonly packaging: 'zip' | 'file';
}

interface ManifestArtifact {
  type: string;
  properties?: Record<string, unknown>;
  displayName?: string;
  dependencies?: string[];
}

interface AssetManifest {
  files?: Record<string, {
    source: { path?: string; packaging?: string; executable?: string[] };
    destinations: Record<string, { objectKey: string }>;
  }>;
}

function readJson<T>(file: string, what: string): T {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as T;
  } catch (e) {
    throw new AssemblyError(`cannot read ${what} ${file}: ${(e as Error).message}`);
  }
}

/** Every stack of a cloud assembly directory (nested assemblies of CDK stages included). */
export function loadAssembly(dir: string): AssemblyStack[] {
  const root = path.resolve(dir);
  const manifestFile = path.join(root, 'manifest.json');
  if (!existsSync(manifestFile)) throw new AssemblyError(`${root} is not a cloud assembly (no manifest.json)`);
  const stacks: AssemblyStack[] = [];
  collect(root, '', stacks, 0);
  return stacks;
}

function collect(dir: string, prefix: string, out: AssemblyStack[], depth: number): void {
  if (depth > 8) throw new AssemblyError(`${dir}: nested assemblies deeper than 8 levels`);
  const manifest = readJson<{ artifacts?: Record<string, ManifestArtifact> }>(path.join(dir, 'manifest.json'), 'cloud assembly manifest');
  const artifacts = manifest.artifacts ?? {};
  const assetManifests = new Map<string, string>();
  for (const [id, a] of Object.entries(artifacts)) {
    if (a.type === 'cdk:asset-manifest' && typeof a.properties?.file === 'string') assetManifests.set(id, path.join(dir, a.properties.file));
  }
  for (const [id, a] of Object.entries(artifacts)) {
    if (a.type === 'cdk:cloud-assembly' && typeof a.properties?.directoryName === 'string') {
      collect(path.join(dir, a.properties.directoryName), `${prefix}${id}/`, out, depth + 1);
      continue;
    }
    if (a.type !== 'aws:cloudformation:stack') continue;
    const templateFile = path.join(dir, String(a.properties?.templateFile ?? `${id}.template.json`));
    const template = readJson<CfnTemplate>(templateFile, 'stack template');
    const assets = new Map<string, AssetSource>();
    for (const dep of a.dependencies ?? []) {
      const file = assetManifests.get(dep);
      if (!file) continue;
      const am = readJson<AssetManifest>(file, 'asset manifest');
      for (const f of Object.values(am.files ?? {})) {
        if (!f.source.path) continue;
        const source: AssetSource = { path: path.join(dir, f.source.path), packaging: f.source.packaging === 'file' ? 'file' : 'zip' };
        for (const d of Object.values(f.destinations)) assets.set(d.objectKey, source);
      }
    }
    out.push({
      id: `${prefix}${id}`,
      stackName: String(a.properties?.stackName ?? id),
      displayName: a.displayName ?? `${prefix}${id}`,
      template,
      templateFile,
      assetsByObjectKey: assets,
      assemblyDir: dir,
    });
  }
}

/** Picks the stack to run: the one named (by artifact id, display name or stack name), or the only one. */
export function selectStack(stacks: AssemblyStack[], name: string | undefined): AssemblyStack {
  if (stacks.length === 0) throw new AssemblyError('the cloud assembly has no stacks');
  if (name) {
    const found = stacks.find((s) => s.id === name || s.displayName === name || s.stackName === name);
    if (!found) throw new AssemblyError(`no stack named ${name}; the assembly has: ${stacks.map((s) => s.displayName).join(', ')}`);
    return found;
  }
  if (stacks.length > 1) throw new AssemblyError(`the app has ${stacks.length} stacks (${stacks.map((s) => s.displayName).join(', ')}): choose one with --stack`);
  return stacks[0];
}

export interface SynthOptions {
  /** The app command (as in cdk.json "app"); default: the "app" of cdk.json in `cwd`. */
  readonly app?: string;
  readonly cwd: string;
  /** Where the cloud assembly is written. */
  readonly outDir: string;
  /** Default 180 s. */
  readonly timeoutMs?: number;
  /** Receives the app's output lines (e.g. for a log file). */
  readonly onOutput?: (chunk: string) => void;
  /** Registers the synth process so an interrupt can stop it; returns an unregister function. */
  readonly track?: (pid: number) => () => void;
}

/** The app command of the cdk.json in `cwd`, or undefined. */
export function appFromCdkJson(cwd: string): { app: string; context: Record<string, unknown> } | undefined {
  const file = path.join(cwd, 'cdk.json');
  if (!existsSync(file)) return undefined;
  const json = readJson<{ app?: string; context?: Record<string, unknown> }>(file, 'CDK config');
  if (!json.app) return undefined;
  return { app: json.app, context: json.context ?? {} };
}

/**
 * Synthesizes a CDK app into `outDir` the way the CDK CLI does: runs the app command with CDK_OUTDIR and the
 * context of cdk.json (no credentials or network needed). Rejects with one line (the app's last error line) on failure.
 */
export async function synthesize(opts: SynthOptions): Promise<string> {
  const cdkJson = appFromCdkJson(opts.cwd);
  const app = opts.app ?? cdkJson?.app;
  if (!app) throw new AssemblyError(`no app to synthesize: ${opts.cwd} has no cdk.json with "app"; pass --app <command> or --assembly <cdk.out>`);
  mkdirSync(opts.outDir, { recursive: true });
  rmSync(path.join(opts.outDir, 'manifest.json'), { force: true });
  const context = { ...(cdkJson?.context ?? {}), 'aws:cdk:enable-asset-metadata': true };
  const timeoutMs = opts.timeoutMs ?? 180_000;
  const child = spawn(app, {
    cwd: opts.cwd,
    shell: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      CDK_OUTDIR: opts.outDir,
      CDK_CONTEXT_JSON: JSON.stringify(context),
      CDK_DEFAULT_REGION: LOCAL_REGION,
      CDK_DEFAULT_ACCOUNT: LOCAL_ACCOUNT,
    },
    detached: true,
  });
  const untrack = child.pid && opts.track ? opts.track(-child.pid) : () => undefined;
  let output = '';
  const onData = (b: Buffer): void => {
    const s = b.toString('utf8');
    output = (output + s).slice(-20_000);
    opts.onOutput?.(s);
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const result = await new Promise<{ code: number | null; signal: string | null; timedOut: boolean; error?: Error }>((resolve) => {
    const timer = setTimeout(() => {
      // The app runs in its own process group (shell + node): kill the whole group.
      try { if (child.pid) process.kill(-child.pid, 'SIGKILL'); } catch { /* already gone */ }
      resolve({ code: null, signal: 'SIGKILL', timedOut: true });
    }, timeoutMs);
    child.once('error', (error) => { clearTimeout(timer); resolve({ code: null, signal: null, timedOut: false, error }); });
    child.once('close', (code, signal) => { clearTimeout(timer); resolve({ code, signal, timedOut: false }); });
  });
  untrack();
  if (result.error) throw new AssemblyError(`cannot run the app "${app}": ${result.error.message}`);
  if (result.timedOut) throw new AssemblyError(`the app "${app}" did not finish synthesizing within ${Math.round(timeoutMs / 1000)} s`);
  if (result.code !== 0) {
    throw new AssemblyError(`the app failed to synthesize (${result.signal ?? `exit code ${result.code}`}): ${errorLine(output) || 'no output'}`);
  }
  const manifest = path.join(opts.outDir, 'manifest.json');
  if (!existsSync(manifest)) {
    throw new AssemblyError(`the app "${app}" ran but wrote no cloud assembly to ${opts.outDir} (does it call app.synth()?)`);
  }
  return opts.outDir;
}

/** The most telling line of a failed app's output: the first line that looks like an error, else the last line. */
export function errorLine(output: string): string {
  const lines = output.split('\n').map((l) => l.trim()).filter((l) => l.length > 0 && !l.startsWith('at '));
  const err = lines.find((l) => /\b(Error|error|ERR_|Exception|ValidationError)\b/.test(l) && !/^\(node:\d+\) Warning/.test(l));
  const line = err ?? lines[lines.length - 1] ?? '';
  return line.length > 300 ? `${line.slice(0, 297)}...` : line;
}
