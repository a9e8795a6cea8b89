import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { LocalRunUsageError } from './errors';
import { loadAssembly, selectStack, synthesize, type AssemblyStack } from '../assembly';
import type { Lifecycle } from '../lifecycle';
import { AssemblyError } from '../template/errors';
import { LocalStack } from '../template/stack';

export interface SynthOptions {
  /** Project directory: cdk.json, and where `.phoenix/runs/<ts>` is created. */
  readonly cwd: string;
  /** App command (default: cdk.json "app" in cwd). */
  readonly app?: string;
  /** An existing cloud assembly directory instead of synthesizing. */
  readonly assembly?: string;
  readonly stack?: string;
}

/**
 * Synth phase: synthesizes the app into `<runDir>/cdk.out` (or loads `assembly`), selects the stack and builds its
 * model, validated before anything starts. The synth log goes to `<runDir>/logs/synth.log`.
 */
export async function synthStack(
  o: SynthOptions,
  runDir: string,
  life: Lifecycle,
  guard: <T>(p: Promise<T>) => Promise<T> = (p) => p,
): Promise<{ assembly: AssemblyStack; stack: LocalStack }> {
  const assemblyDir = o.assembly
    ? path.resolve(o.cwd, o.assembly)
    : await guard(synthesize({
      app: o.app,
      cwd: o.cwd,
      outDir: path.join(runDir, 'cdk.out'),
      onOutput: (s) => writeFileSync(path.join(runDir, 'logs', 'synth.log'), s, { flag: 'a' }),
      track: (pid) => life.track(pid),
    }));
  const assembly = chooseStack(assemblyDir, o.stack);
  const stack = new LocalStack(assembly.stackName, assembly.template);
  stack.creationOrder();
  return { assembly, stack };
}

/**
 * The stack of the cloud assembly in `dir` that `name` selects (the only one when undefined). A name the assembly does
 * not have, or no name when it has several, is a LocalRunUsageError listing its stacks.
 */
export function chooseStack(dir: string, name: string | undefined): AssemblyStack {
  const stacks = loadAssembly(dir);
  try {
    return selectStack(stacks, name);
  } catch (e) {
    if (e instanceof AssemblyError && stacks.length > 0) throw new LocalRunUsageError(e.message, { cause: e });
    throw e;
  }
}
