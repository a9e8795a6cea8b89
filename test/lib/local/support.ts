import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { beforeAll, expect } from 'vitest';
import { buildApp, CLICKSTREAM_STACK_NAME } from '../../../bin/app';
import { loadAssembly } from '../../../lib/local/assembly';
import { AsyncInvoker } from '../../../lib/local/async-invoke';
import { Lifecycle } from '../../../lib/local/lifecycle';
import { provision, type ProvisionedStack } from '../../../lib/local/provision';
import type { LocalRunOptions, LocalRunReport } from '../../../lib/local/run';
import { localAccountModel } from '../../../lib/local/run/context';
import { deployStack, PrincipalClients, queueUrlLookup, startServices } from '../../../lib/local/run/provision';
import { LocalStack } from '../../../lib/local/template/stack';

export const REPO = path.resolve(__dirname, '../../..');

export function tempDir(prefix: string): string {
  return mkdtempSync(path.join(os.tmpdir(), `phx-local-${prefix}-`));
}

/**
 * Synthesizes the example app (the clickstream pipeline) in-process into a temporary cloud assembly.
 * cdk-nag is off here (test/nag checks it); the template is the one `cdk synth` produces.
 */
export function synthExample(): { dir: string; templateFile: string } {
  const dir = tempDir('cdkout');
  const app = buildApp({ nag: false, appProps: { outdir: dir } });
  const assembly = app.synth();
  const stack = assembly.getStackByName(CLICKSTREAM_STACK_NAME);
  return { dir, templateFile: path.join(dir, stack.templateFile) };
}

/** A copy of a cloud assembly with its (single) stack template changed by `mutate`. */
export function mutatedAssembly(source: string, mutate: (template: Record<string, any>) => void): string {
  const dir = tempDir('mutated');
  cpSync(source, dir, { recursive: true });
  const templateFile = readdirSync(dir).find((f) => f.endsWith('.template.json'));
  if (!templateFile) throw new Error(`no template in ${source}`);
  const file = path.join(dir, templateFile);
  const template = JSON.parse(readFileSync(file, 'utf8')) as Record<string, any>;
  mutate(template);
  writeFileSync(file, JSON.stringify(template));
  return dir;
}

/** A minimal cloud assembly (manifest + one stack template, no assets) for hand-written templates. */
export function handWrittenAssembly(stackName: string, template: Record<string, unknown>): string {
  const dir = tempDir('hand');
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, `${stackName}.template.json`), JSON.stringify(template));
  writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify({
    version: '48.0.0',
    artifacts: {
      [stackName]: {
        type: 'aws:cloudformation:stack',
        environment: 'aws://unknown-account/unknown-region',
        properties: { templateFile: `${stackName}.template.json`, stackName },
      },
    },
  }));
  return dir;
}

/** Live child processes of this process (Linux /proc): nothing the local environment started may outlive a run. */
export function liveChildren(): number[] {
  const me = process.pid;
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // pid (comm) state ppid ...: comm may contain spaces, so split after the last ')'.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const state = fields[0];
      if (Number(fields[1]) === me && state !== 'Z') out.push(Number(entry));
    } catch {
      // the process exited while we looked
    }
  }
  return out;
}

/** Options of a local run for tests: no faults, small, a temporary runs directory. */
export function runOptions(assembly: string, overrides: Partial<LocalRunOptions> = {}): LocalRunOptions {
  return {
    cwd: REPO,
    assembly,
    records: 300,
    rate: 0,
    poisonRate: 0,
    duplicateRate: 0,
    seed: 7,
    sinkFailureRate: 0,
    throttleRate: 0,
    crashRate: 0,
    drainTimeoutMs: 60_000,
    maxEnvironments: 2,
    onDemandShards: 2,
    runsDir: tempDir('runs'),
    ...overrides,
  };
}

export function removeDir(dir: string): void {
  if (existsSync(dir)) rmSync(dir, { recursive: true, force: true });
}

/** The stats of the event source mapping into the pipeline's ingest function (the example has a profiler mapping too). */
export function ingestMapping(r: LocalRunReport): LocalRunReport['eventSourceMappings'][string] {
  const found = Object.entries(r.eventSourceMappings).filter(([id]) => id.startsWith('ClickstreamIngestStreamMapping'));
  if (found.length !== 1) throw new Error(`expected one ingest mapping, got ${Object.keys(r.eventSourceMappings).join(', ')}`);
  return found[0][1];
}

/** The local run's accounting invariant: every valid record in the sink once, every bad one dead-lettered, nothing lost. */
export function expectInvariant(r: LocalRunReport): void {
  expect(r.invariant.problems).toEqual([]);
  expect(r.lost).toBe(0);
  expect(r.duplicatesInSink).toBe(0);
  expect(r.accounting.validInDlq).toBe(0);
  expect(r.accounting.unexpectedSinkItems).toBe(0);
  expect(r.sinkRecords).toBe(r.validRecords);
  expect(r.dlqRecords).toBe(r.poisonRecords);
  expect(r.drained).toBe(true);
}

/** Synthesizes the example app once for the calling describe block; the returned function gives its assembly dir. */
export function synthesizedExample(): () => string {
  let dir = '';
  beforeAll(() => {
    dir = synthExample().dir;
  }, 120_000);
  return () => dir;
}

/** A hand-written template deployed on fresh emulators (see withDeployed). */
export interface Deployed {
  stack: LocalStack;
  services: Awaited<ReturnType<typeof startServices>>;
  provisioned: ProvisionedStack;
  life: Lifecycle;
}

/** Deploys a hand-written template on fresh emulators (IAM enforced or not), runs `use`, then stops and removes all. */
export async function withDeployed<T>(
  stackName: string, template: Record<string, unknown>, iam: boolean, use: (d: Deployed) => Promise<T>,
): Promise<T> {
  const assemblyDir = handWrittenAssembly(stackName, template);
  const runDir = tempDir(stackName.toLowerCase());
  const life = new Lifecycle();
  try {
    const [assembly] = loadAssembly(assemblyDir);
    const stack = new LocalStack(stackName, assembly.template);
    deployStack(localAccountModel(), stack, (m) => new Error(m));
    const services = await startServices(stack, runDir, life, { iam });
    const provisioned = await provision(stack, assembly, services.clients, { onDemandShards: 1, runDir, log: () => undefined });
    return await use({ stack, services, provisioned, life });
  } finally {
    await life.stopAll();
    removeDir(assemblyDir);
    removeDir(runDir);
  }
}

/** The asynchronous invoker and the principals' clients of a deployment, as `phoenix local run` builds them. */
export function invokerOf(d: Deployed): { principals: PrincipalClients; queueUrlForArn: (arn: string) => string; invoker: AsyncInvoker } {
  const principals = new PrincipalClients(d.services, d.stack.region, d.life);
  const queueUrlForArn = queueUrlLookup(d.provisioned, (m) => new Error(m));
  return { principals, queueUrlForArn, invoker: new AsyncInvoker(d.provisioned, d.services.clients, { log: () => undefined, queueUrlForArn }) };
}
