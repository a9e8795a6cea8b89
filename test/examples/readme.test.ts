/**
 * The README's "Constructs, one by one" examples are real: each TypeScript block is type-checked against the
 * library's sources (as `cdk-phoenix-pipelines`) and synthesized in a stack of its own, with the five cdk-nag packs
 * reporting nothing unacknowledged.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const REPO = path.resolve(__dirname, '..', '..');
const README = readFileSync(path.join(REPO, 'README.md'), 'utf8');

/** The ```ts blocks of the section, with the heading they are under. */
function blocks(): Array<{ heading: string; code: string }> {
  const start = README.indexOf('## Constructs, one by one');
  const end = README.indexOf('\n## ', start + 1);
  const section = README.slice(start, end);
  const out: Array<{ heading: string; code: string }> = [];
  let heading = '';
  const re = /^### (.*)$|^```ts\n([\s\S]*?)^```$/gm;
  for (const m of section.matchAll(re)) {
    if (m[1] !== undefined) heading = m[1];
    else out.push({ heading, code: m[2] });
  }
  return out;
}

/** One program: each block in a function of its own (its own stack); imports hoisted, the package mapped to the sources. */
function program(all: Array<{ heading: string; code: string }>): string {
  const imports = new Set<string>();
  const bodies: string[] = [];
  all.forEach((b, i) => {
    const lines = b.code.split('\n');
    const body: string[] = [];
    for (const line of lines) {
      if (/^import /.test(line)) imports.add(line.replace("'cdk-phoenix-pipelines'", "'../constructs'"));
      else body.push(line);
    }
    bodies.push(`// ${b.heading}\n(function example${i}(stack: Stack): void {\n${body.join('\n')}\n})(new Stack(app, 'Example${i}'));`);
  });
  // One import per module: merge the named imports of blocks that import from the same module.
  const named = new Map<string, Set<string>>();
  const other: string[] = [];
  for (const imp of imports) {
    const m = /^import \{ (.*) \} from '(.*)';$/.exec(imp);
    if (!m) { other.push(imp); continue; }
    const set = named.get(m[2]) ?? new Set<string>();
    for (const n of m[1].split(',').map((x) => x.trim())) set.add(n);
    named.set(m[2], set);
  }
  const header = [
    ...[...new Set(other)],
    ...[...named].map(([mod, names]) => `import { ${[...names, ...(mod === 'aws-cdk-lib' ? ['App', 'Stack', 'Validations'] : [])].filter((v, i, a) => a.indexOf(v) === i).join(', ')} } from '${mod}';`),
  ];
  if (!named.has('aws-cdk-lib')) header.push("import { App, Stack, Validations } from 'aws-cdk-lib';");
  return [
    '/* eslint-disable */',
    ...header,
    "import { AwsSolutionsChecks, HIPAASecurityChecks, NIST80053R5Checks, PCIDSS321Checks, ServerlessChecks } from 'cdk-nag';",
    'const app = new App({ outdir: process.argv[2] });',
    'Validations.of(app).addPlugins(new AwsSolutionsChecks(app), new ServerlessChecks(app), new NIST80053R5Checks(app), new HIPAASecurityChecks(app), new PCIDSS321Checks(app));',
    ...bodies,
    'const assembly = app.synth();',
    'process.stdout.write(JSON.stringify(assembly.stacks.map((s) => ({ name: s.stackName, resources: Object.keys(s.template.Resources ?? {}).length }))));',
    '',
  ].join('\n');
}

describe('README construct examples', () => {
  const all = blocks();
  let dir: string;
  let file: string;

  beforeAll(() => {
    // Inside the repository (test-reports/ is ignored) so that `../constructs` and node_modules resolve.
    mkdirSync(path.join(REPO, 'test-reports'), { recursive: true });
    dir = mkdtempSync(path.join(REPO, 'test-reports', 'readme-'));
    file = path.join(dir, 'readme-examples.ts');
    writeFileSync(file, program(all).replace(/'\.\.\/constructs'/g, `'${path.relative(dir, path.join(REPO, 'constructs'))}'`));
  });
  afterAll(() => { if (!process.env.PHX_KEEP_README_PROGRAM) rmSync(dir, { recursive: true, force: true }); });

  it('has an example for every construct the README lists', () => {
    const headings = all.map((b) => b.heading).join(' ');
    for (const c of ['IngestStage', 'DlqWithReplay', 'DataPipeline', 'QualityProfiler', 'CorrelatedMonitor', 'SyntheticCanary', 'DriftDetector', 'RawArchive', 'ReplayFunction', 'Phoenix']) {
      expect(headings, c).toContain(`\`${c}\``);
    }
  });

  it('type-checks (strict) against the library', () => {
    try {
      execFileSync(path.join(REPO, 'node_modules', '.bin', 'tsc'), ['--noEmit', '--strict', '--esModuleInterop', '--skipLibCheck', '--target', 'ES2022',
        '--module', 'nodenext', '--moduleResolution', 'nodenext', '--ignoreConfig', '--types', 'node', file], { cwd: REPO, encoding: 'utf8', stdio: 'pipe' });
    } catch (e) {
      throw new Error(`README examples do not type-check:\n${(e as { stdout?: string }).stdout ?? ''}${(e as { stderr?: string }).stderr ?? ''}`);
    }
  }, 180_000);

  it('synthesizes every example with no unacknowledged cdk-nag finding', () => {
    let out: string;
    try {
      out = execFileSync(process.execPath, ['--import', 'tsx', file, path.join(dir, 'cdk.out')], { cwd: REPO, encoding: 'utf8', stdio: 'pipe' });
    } catch (e) {
      throw new Error(`README examples do not synthesize:\n${(e as { stdout?: string }).stdout ?? ''}${(e as { stderr?: string }).stderr ?? ''}`);
    }
    const stacks = JSON.parse(out) as Array<{ name: string; resources: number }>;
    expect(stacks).toHaveLength(all.length);
    for (const s of stacks) expect(s.resources, s.name).toBeGreaterThan(0);
  }, 180_000);
});
