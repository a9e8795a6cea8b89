/**
 * Builds assets/lib/handlers/profiler/index.js with the project's handler bundle options (node22, cjs, minify,
 * AWS SDK external) when it is missing or older than the sources, until .projenrc.ts bundles it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { buildSync } from 'esbuild';

const ROOT = path.join(__dirname, '..', '..', '..', '..');
export const PROFILER_BUNDLE = path.join(ROOT, 'assets', 'lib', 'handlers', 'profiler', 'index.js');

export function ensureProfilerBundle(): string {
  const sources = [path.join(ROOT, 'lib', 'handlers'), path.join(ROOT, 'lib', 'core', 'profile')]
    .flatMap((d) => fs.readdirSync(d).filter((f) => f.endsWith('.ts') && (d.endsWith('profile') || f.startsWith('profiler'))).map((f) => path.join(d, f)));
  const newest = Math.max(...sources.map((f) => fs.statSync(f).mtimeMs));
  if (fs.existsSync(PROFILER_BUNDLE) && fs.statSync(PROFILER_BUNDLE).mtimeMs >= newest) return PROFILER_BUNDLE;
  buildSync({
    entryPoints: [path.join(ROOT, 'lib', 'handlers', 'profiler.ts')],
    outfile: PROFILER_BUNDLE,
    bundle: true,
    platform: 'node',
    target: 'node22',
    format: 'cjs',
    minify: true,
    external: ['@aws-sdk/*'],
    logLevel: 'error',
  });
  return PROFILER_BUNDLE;
}
