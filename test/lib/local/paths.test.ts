/** The packages a project needs to run the local environment: the list the error message gives is the one this repository installs. */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO, tempDir } from './support';
import { LOCAL_ENVIRONMENT_PACKAGES, localEnvironmentInstallCommand, missingLocalEnvironmentPackages, sdkNodeModules } from '../../../lib/local/paths';

const devDependencies = (JSON.parse(readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { devDependencies: Record<string, string> }).devDependencies;

describe('local environment packages', () => {
  it('are devDependencies of this repository, the emulators at the versions pinned here', () => {
    for (const p of LOCAL_ENVIRONMENT_PACKAGES) {
      expect(devDependencies[p.name], p.name).toBeDefined();
      const version = p.spec.slice(p.name.length + 1);
      if (!p.name.startsWith('@aws-sdk/')) expect(devDependencies[p.name]).toBe(version);
      else expect(devDependencies[p.name]).toBe(`^${version}`);
    }
    // Every SDK client a handler bundle requires at runtime is in the list (Lambda provides them; locally the project does).
    const assets = path.join(REPO, 'assets', 'lib', 'handlers');
    const required = new Set<string>();
    for (const h of ['ingest', 'canary', 'drift-detector', 'profiler', 'replay', 'failure-normalizer']) {
      const code = readFileSync(path.join(assets, h, 'index.js'), 'utf8');
      for (const m of code.matchAll(/require\("(@aws-sdk\/[a-z0-9-]+)"\)/g)) required.add(m[1]);
    }
    expect(required.size).toBeGreaterThan(0);
    for (const r of required) expect(LOCAL_ENVIRONMENT_PACKAGES.map((p) => p.name)).toContain(r);
  });

  it('are found in this checkout; an empty project misses all of them, named in one line with the install command', () => {
    expect(missingLocalEnvironmentPackages(sdkNodeModules())).toEqual([]);
    const empty = tempDir('nomodules');
    expect(missingLocalEnvironmentPackages(empty)).toEqual(LOCAL_ENVIRONMENT_PACKAGES.map((p) => p.name));
    expect(missingLocalEnvironmentPackages(undefined)).toHaveLength(LOCAL_ENVIRONMENT_PACKAGES.length);
    expect(localEnvironmentInstallCommand()).toBe(`npm install --save-dev --ignore-scripts kinesalite@3.3.3 dynalite@4.0.0 fauxqs@1.9.2 ${
      ['cloudformation', 'dynamodb', 'kinesis', 'lambda', 's3', 'sqs'].map((c) => `@aws-sdk/client-${c}@3`).join(' ')}`);
  });
});
