/**
 * Bundles the monitoring handlers into assets/lib/handlers/<name>/index.js with the options of .projenrc.ts
 * (platform node, target node22, cjs, minify, the AWS SDK v3 external), unless the bundle is newer than every
 * source under lib/ and constructs/. Until the entries are added to .projenrc.ts (`projen bundle`), the tests
 * build them here.
 */
import { existsSync, readdirSync, renameSync, statSync } from 'node:fs';
import { join } from 'node:path';
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

export function bundleMonitorHandlers(): void {
  for (const name of MONITOR_HANDLERS) {
    const entry = join(ROOT, 'lib', 'handlers', `${name}.ts`);
    const outfile = join(ROOT, 'assets', 'lib', 'handlers', name, 'index.js');
    if (existsSync(outfile) && statSync(outfile).mtimeMs > Math.max(newestSource(join(ROOT, 'lib')), newestSource(join(ROOT, 'constructs')))) continue;
    // Built outside the asset directory, then renamed: a test file in another worker never hashes a half-written
    // bundle or a temporary file.
    const tmp = join(ROOT, 'assets', 'lib', 'handlers', `.${name}.${process.pid}.tmp.js`);
    buildSync({
      entryPoints: [entry],
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
  }
}
