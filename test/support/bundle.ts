/**
 * Bundles handlers into assets/lib/handlers/<name>/index.js with the options of .projenrc.ts (platform node, target
 * node22, cjs, minify, the AWS SDK v3 external) when the bundle is older than the sources, so that a test run
 * without `projen bundle` (vitest alone) still tests the current handler code.
 */
import { existsSync, mkdirSync, readdirSync, renameSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { buildSync } from 'esbuild';

const ROOT = join(__dirname, '..', '..');
export const MONITOR_HANDLERS = ['canary', 'drift-detector'] as const;

function newestSource(dir: string): number {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) newest = Math.max(newest, newestSource(p));
    else if (e.name.endsWith('.ts')) newest = Math.max(newest, statSync(p).mtimeMs);
  }
  return newest;
}

/** Path of a handler's bundle, assets/lib/handlers/<name>/index.js. */
export function handlerBundle(name: string): string {
  return join(ROOT, 'assets', 'lib', 'handlers', name, 'index.js');
}

/** Builds a handler's bundle unless it is newer than every source under lib/ and constructs/; returns its path. */
export function ensureHandlerBundle(name: string): string {
  const outfile = handlerBundle(name);
  if (existsSync(outfile) && statSync(outfile).mtimeMs > Math.max(newestSource(join(ROOT, 'lib')), newestSource(join(ROOT, 'constructs')))) return outfile;
  // Built outside the asset directory, then renamed: a test file in another worker never hashes a half-written
  // bundle or a temporary file.
  mkdirSync(dirname(outfile), { recursive: true });
  const tmp = join(ROOT, 'assets', 'lib', 'handlers', `.${name}.${process.pid}.tmp.js`);
  buildSync({
    entryPoints: [join(ROOT, 'lib', 'handlers', `${name}.ts`)],
    outfile: tmp,
    bundle: true,
    platform: 'node',
    target: 'node22',
    format: 'cjs',
    minify: true,
    external: ['@aws-sdk/*'],
    logLevel: 'error',
  });
  renameSync(tmp, outfile);
  return outfile;
}

export function bundleMonitorHandlers(): void {
  for (const name of MONITOR_HANDLERS) ensureHandlerBundle(name);
}
