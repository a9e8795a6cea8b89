/**
 * `phoenix verify`: the post-deploy check of a pipeline, on a deployed stack (`--stack`, the caller's credentials) or
 * a kept local environment (`--local`). One line per check (`PASS|FAIL|SKIP <check>: <detail>`) or one JSON document;
 * exit 0 when no check failed, 1 when one did, 2 on bad input (before any AWS call). See docs/verify.md.
 */
import * as path from 'node:path';
import type { Command } from 'commander';
import {
  allPassed, DEFAULT_VERIFY_WINDOW_MINUTES, formatCheck, judge, VERIFY_CHECKS, type CheckResult, type VerifyLimits, type VerifyObservations,
} from '../../core/verify';
import type { LocalEnvFile } from '../../local/keep';
import { InputError } from '../../replay/filter';
import { UsageError } from '../errors';
import { addTargetOptions, intFlag } from '../options';
import { chooseRegion, createClients, findRunningLocalEnv, LOCAL_RUNS_DIR, readLocalEnv, stackOutputs } from '../targets';
import { awsVerifyClients, gatherAws } from '../verify/aws';
import { gatherLocal } from '../verify/local';

export interface VerifyFlags {
  stack?: string;
  pipeline?: string;
  local?: string | true;
  region?: string;
  json?: boolean;
  maxDeadLetters: string;
  canarySloMs?: string;
  maxIteratorAgeMs?: string;
  windowMinutes: string;
  driftTimeout: string;
}

/** What `phoenix verify` was asked, validated. */
export interface VerifyRequest {
  readonly target: { readonly kind: 'aws'; readonly stack: string; readonly region: string } | { readonly kind: 'local'; readonly dir: string | true };
  readonly pipeline?: string;
  readonly limits: VerifyLimits;
  readonly driftTimeoutMs: number;
}

/** A CloudFormation stack name (letters, digits, hyphens; a letter first; at most 128) or a stack ARN. */
const STACK_NAME = /^[A-Za-z][A-Za-z0-9-]{0,127}$/;
const STACK_ARN = /^arn:aws[a-z-]*:cloudformation:[a-z0-9-]+:\d{12}:stack\/[A-Za-z][A-Za-z0-9-]{0,127}\/[A-Za-z0-9-]+$/;
const REGION = /^[a-z]{2}(-[a-z]+)+-\d+$/;

function target(f: VerifyFlags): VerifyRequest['target'] {
  if (f.stack !== undefined && f.local !== undefined) throw new UsageError('--stack and --local cannot be combined: verify one target');
  if (f.stack === undefined && f.local === undefined) throw new UsageError('say what to verify: --stack <name> (a deployed stack) or --local <dir> (a kept local environment)');
  if (f.local !== undefined) {
    if (f.region !== undefined) throw new UsageError('--region applies to --stack only (a local environment has its own region)');
    return { kind: 'local', dir: f.local };
  }
  const stack = f.stack!;
  if (!STACK_NAME.test(stack) && !STACK_ARN.test(stack)) {
    throw new UsageError(`--stack ${JSON.stringify(stack)} is not a CloudFormation stack name: allowed letters, digits and hyphens, starting with a letter, at most 128 characters (or a stack ARN)`);
  }
  if (f.region !== undefined && !REGION.test(f.region)) throw new UsageError(`--region ${JSON.stringify(f.region)} is not an AWS region: allowed e.g. us-east-1, eu-west-3`);
  return { kind: 'aws', stack, region: chooseRegion(f.region) };
}

/** Validates the flags (no I/O); a UsageError names the flag, the value and what is allowed. */
export function parseVerifyFlags(f: VerifyFlags): VerifyRequest {
  const usage = (m: string): UsageError => new UsageError(m);
  const optional = (name: string, v: string | undefined, max: number): number | undefined =>
    (v === undefined ? undefined : intFlag(name, v, 1, max, usage));
  const t = target(f);
  return {
    target: t,
    pipeline: f.pipeline,
    limits: {
      windowMs: intFlag('--window-minutes', f.windowMinutes, 1, 1440, usage) * 60_000,
      maxDeadLetters: intFlag('--max-dead-letters', f.maxDeadLetters, 0, 1_000_000_000, usage),
      canarySloMs: optional('--canary-slo-ms', f.canarySloMs, 86_400_000),
      maxIteratorAgeMs: optional('--max-iterator-age-ms', f.maxIteratorAgeMs, 7 * 86_400_000),
    },
    driftTimeoutMs: intFlag('--drift-timeout', f.driftTimeout, 10, 3600, usage) * 1000,
  };
}

function asUsage(e: unknown): never {
  if (e instanceof InputError) throw new UsageError(e.message, { cause: e });
  throw e;
}

async function observeLocal(dir: string | true, pipeline: string | undefined): Promise<{ from: string; observations: VerifyObservations }> {
  const runDir = dir === true ? findRunningLocalEnv(path.resolve(LOCAL_RUNS_DIR)) : dir;
  if (runDir === undefined) throw new UsageError(`--local: no running local environment under ${LOCAL_RUNS_DIR} (start one with \`phoenix local run --keep\`, or pass --local <dir>)`);
  let env: LocalEnvFile;
  try {
    env = readLocalEnv(runDir);
  } catch (e) {
    asUsage(e);
  }
  if (pipeline !== undefined && pipeline !== env.outputs.PipelineName) {
    throw new UsageError(`--pipeline ${pipeline}: the local environment in ${runDir} serves pipeline ${env.outputs.PipelineName ?? '(unnamed)'}`);
  }
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const clients = createClients({ region: env.region, endpoints: env.endpoints });
  try {
    return { from: `local environment ${runDir}`, observations: await gatherLocal(runDir, env, clients.sqs, pipeline).catch(asUsage) };
  } finally {
    clients.destroy();
  }
}

async function observeAws(r: VerifyRequest & { target: { kind: 'aws' } }): Promise<{ from: string; observations: VerifyObservations }> {
  const { stack, region } = r.target;
  const outputs = await stackOutputs(region, stack, r.pipeline).catch(asUsage);
  const clients = awsVerifyClients(region);
  try {
    const observations = await gatherAws(clients, { stack, outputs, windowMs: r.limits.windowMs, driftTimeoutMs: r.driftTimeoutMs });
    return { from: `stack ${stack} (${region})`, observations };
  } finally {
    clients.destroy();
  }
}

/** Prints the results; returns the exit code (0 all passed, SKIP allowed; 1 a check failed). */
export function report(from: string, results: readonly CheckResult[], json: boolean, limits: VerifyLimits): number {
  const ok = allPassed(results);
  if (json) process.stdout.write(`${JSON.stringify({ target: from, ok, limits, checks: results })}\n`);
  else process.stdout.write(`${[`verify ${from}`, ...results.map(formatCheck)].join('\n')}\n`);
  return ok ? 0 : 1;
}

export function registerVerify(program: Command): void {
  addTargetOptions(program.command('verify').description(`post-deploy check of a pipeline: ${VERIFY_CHECKS.join(', ')} (exit 0 pass, 1 a check failed, 2 bad input)`), { queueUrl: false })
    .option('--json', 'one JSON document on stdout with every check')
    .option('--max-dead-letters <n>', 'most messages the DLQ may hold', '0')
    .option('--canary-slo-ms <ms>', 'canary round trip bound (default: the stack\'s canary latency alarm threshold)')
    .option('--max-iterator-age-ms <ms>', 'iterator age bound (default: the stack\'s iterator age alarm threshold, else 300000)')
    .option('--window-minutes <n>', 'how far back the canary datapoint and the iterator age are looked for', String(DEFAULT_VERIFY_WINDOW_MINUTES))
    .option('--drift-timeout <seconds>', 'how long to wait for CloudFormation drift detection', '180')
    .action(async (f: VerifyFlags) => {
      const r = parseVerifyFlags(f);
      const { from, observations } = r.target.kind === 'local'
        ? await observeLocal(r.target.dir, r.pipeline)
        : await observeAws(r as VerifyRequest & { target: { kind: 'aws' } });
      process.exitCode = report(from, judge(observations, r.limits), f.json === true, r.limits);
    });
}
