import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import * as ts from 'typescript';
import { describe, expect, it } from 'vitest';

/**
 * The allowed import directions between the layers of docs/ARCHITECTURE.md ("Layers"), checked on every source file:
 * a layer may import only the layers listed for it. Type-only imports count too (they still couple the layers).
 */
const ROOT = join(__dirname, '..');

/** A source file's layer: the first matching prefix of its path relative to the repository root. */
const LAYERS: ReadonlyArray<readonly [layer: string, prefix: string]> = [
  ['contract', 'constructs/contract.ts'],
  ['contract', 'constructs/quality-rules.ts'],
  ['constructs', 'constructs/'],
  ['core', 'lib/core/'],
  ['aws', 'lib/aws/'],
  ['handlers', 'lib/handlers/'],
  ['runtime', 'lib/runtime/'],
  ['replay', 'lib/replay/'],
  ['local', 'lib/local/'],
  ['cli', 'lib/cli/'],
  ['bin', 'bin/'],
  ['examples', 'examples/'],
];

/** Which layers each layer may import (itself included). */
const ALLOWED: Readonly<Record<string, readonly string[]>> = {
  contract: ['contract'],
  constructs: ['constructs', 'contract'],
  core: ['core', 'contract'],
  aws: ['aws', 'core', 'contract'],
  handlers: ['handlers', 'aws', 'core', 'replay', 'contract'],
  runtime: ['runtime', 'handlers', 'aws', 'core', 'contract'],
  replay: ['replay', 'aws', 'core', 'contract'],
  local: ['local', 'handlers', 'replay', 'aws', 'core', 'contract'],
  cli: ['cli', 'local', 'handlers', 'replay', 'aws', 'core', 'contract'],
  bin: ['bin', 'cli', 'examples', 'constructs', 'contract'],
  examples: ['examples', 'constructs', 'contract', 'runtime'],
};

/** Packages lib/core must not import: it is pure logic, testable without mocks and out of the jsii world. */
const CORE_FORBIDDEN_PACKAGES = [/^@aws-sdk\//, /^aws-sdk(\/|$)/, /^aws-cdk-lib(\/|$)/, /^@smithy\//];

interface Import { readonly specifier: string; readonly typeOnly: boolean }
type SourceTree = ReadonlyMap<string, string>;

function layerOf(file: string): string | undefined {
  return LAYERS.find(([, prefix]) => file === prefix || (prefix.endsWith('/') && file.startsWith(prefix)))?.[0];
}

/** Static imports/exports, `import()` and `require()` of a TypeScript source text. */
export function importsOf(fileName: string, text: string): Import[] {
  const sf = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, true);
  const found: Import[] = [];
  const visit = (n: ts.Node): void => {
    if ((ts.isImportDeclaration(n) || ts.isExportDeclaration(n)) && n.moduleSpecifier && ts.isStringLiteral(n.moduleSpecifier)) {
      const typeOnly = ts.isImportDeclaration(n) ? n.importClause?.isTypeOnly === true : n.isTypeOnly;
      found.push({ specifier: n.moduleSpecifier.text, typeOnly });
    } else if (ts.isCallExpression(n) && n.arguments.length === 1 && ts.isStringLiteralLike(n.arguments[0])) {
      const isImport = n.expression.kind === ts.SyntaxKind.ImportKeyword;
      const isRequire = ts.isIdentifier(n.expression) && n.expression.text === 'require';
      if (isImport || isRequire) found.push({ specifier: n.arguments[0].text, typeOnly: false });
    }
    ts.forEachChild(n, visit);
  };
  visit(sf);
  return found;
}

/** The tree file a relative specifier names (`x.ts` or `x/index.ts`), or undefined for a package or a missing file. */
function resolveIn(tree: SourceTree, from: string, specifier: string): string | undefined {
  if (!specifier.startsWith('.')) return undefined;
  const base = relative(ROOT, resolve(ROOT, dirname(from), specifier)).split('\\').join('/');
  return [`${base}.ts`, `${base}/index.ts`, base].find((c) => tree.has(c));
}

/** Every import that crosses the layers in a direction {@link ALLOWED} does not list, and core's package imports. */
export function layerViolations(tree: SourceTree): string[] {
  const out: string[] = [];
  for (const [file, text] of tree) {
    const from = layerOf(file);
    if (!from) continue;
    for (const imp of importsOf(file, text)) {
      if (from === 'core' && CORE_FORBIDDEN_PACKAGES.some((re) => re.test(imp.specifier))) {
        out.push(`${file} (core) imports the package ${imp.specifier}`);
      }
      const target = resolveIn(tree, file, imp.specifier);
      const to = target && layerOf(target);
      if (to && !ALLOWED[from].includes(to)) out.push(`${file} (${from}) imports ${target} (${to})`);
    }
  }
  return out.sort();
}

/** Import cycles among value (non type-only) relative imports, as lists of files (Tarjan's strongly connected components). */
export function importCycles(tree: SourceTree): string[][] {
  const edges = new Map<string, string[]>();
  for (const [file, text] of tree) {
    const targets = importsOf(file, text).filter((i) => !i.typeOnly).map((i) => resolveIn(tree, file, i.specifier));
    edges.set(file, targets.filter((t): t is string => t !== undefined));
  }
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  const strong = (v: string): void => {
    index.set(v, next); low.set(v, next); next++;
    stack.push(v); onStack.add(v);
    for (const w of edges.get(v) ?? []) {
      if (!index.has(w)) {
        strong(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
    }
    if (low.get(v) !== index.get(v)) return;
    const component: string[] = [];
    let w: string;
    do { w = stack.pop()!; onStack.delete(w); component.push(w); } while (w !== v);
    if (component.length > 1 || edges.get(v)!.includes(v)) cycles.push(component.sort());
  };
  for (const v of edges.keys()) if (!index.has(v)) strong(v);
  return cycles;
}

function sourceTree(): Map<string, string> {
  const tree = new Map<string, string>();
  const walk = (dir: string): void => {
    for (const e of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
      const rel = `${dir}/${e.name}`;
      if (e.isDirectory() && e.name !== 'node_modules' && e.name !== '__snapshots__') walk(rel);
      else if (e.isFile() && rel.endsWith('.ts') && !rel.endsWith('.d.ts')) tree.set(rel, readFileSync(join(ROOT, rel), 'utf8'));
    }
  };
  for (const dir of ['constructs', 'lib', 'bin', 'examples']) if (existsSync(join(ROOT, dir))) walk(dir);
  return tree;
}

describe('import boundaries (docs/ARCHITECTURE.md, "Layers")', () => {
  const tree = sourceTree();

  it('reads the whole source tree', () => {
    for (const layer of ['constructs', 'core', 'handlers', 'replay', 'local', 'cli', 'bin', 'examples']) {
      expect([...tree.keys()].some((f) => layerOf(f) === layer), layer).toBe(true);
    }
  });

  it('every import goes in an allowed direction', () => {
    expect(layerViolations(tree)).toEqual([]);
  });

  it('no import cycles among lib/, constructs/ and bin/', () => {
    expect(importCycles(tree)).toEqual([]);
  });

  it('fails on a planted violation of each kind', () => {
    const planted = new Map([
      ['lib/cli/index.ts', 'export const main = 1;\n'],
      ['lib/local/paths.ts', 'export const p = 1;\n'],
      ['lib/core/ok.ts', "import { REASON } from '../../constructs/contract';\nexport const ok = REASON;\n"],
      ['constructs/contract.ts', 'export const REASON = 1;\n'],
      ['constructs/planted.ts', "import { main } from '../lib/cli';\nexport const x = main;\n"],
      ['lib/core/planted.ts', "import { KinesisClient } from '@aws-sdk/client-kinesis';\nexport const y = () => import('../local/paths');\n"],
      ['lib/replay/planted.ts', "const z = require('../cli');\nexport { z };\n"],
    ]);
    expect(layerViolations(planted)).toEqual([
      'constructs/planted.ts (constructs) imports lib/cli/index.ts (cli)',
      'lib/core/planted.ts (core) imports lib/local/paths.ts (local)',
      'lib/core/planted.ts (core) imports the package @aws-sdk/client-kinesis',
      'lib/replay/planted.ts (replay) imports lib/cli/index.ts (cli)',
    ]);
  });

  it('fails on a planted cycle, and ignores type-only imports for cycles', () => {
    const planted = new Map([
      ['lib/core/a.ts', "import { b } from './b';\nexport const a = b;\n"],
      ['lib/core/b.ts', "import { c } from './c';\nexport const b = c;\n"],
      ['lib/core/c.ts', "import { a } from './a';\nexport const c = a;\n"],
      ['lib/core/d.ts', "import type { E } from './e';\nexport type D = E;\n"],
      ['lib/core/e.ts', "import type { D } from './d';\nexport type E = D;\n"],
    ]);
    expect(importCycles(planted)).toEqual([['lib/core/a.ts', 'lib/core/b.ts', 'lib/core/c.ts']]);
  });
});
