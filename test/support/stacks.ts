import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import { ENV } from '../../constructs/contract';

/** Fixed environment: snapshots and ARNs do not depend on the machine. */
export const TEST_ENV = { account: '123456789012', region: 'eu-west-1' };

/** A fresh app and stack with a fixed env (no validation plugins). */
export function testStack(id = 'Test'): Stack {
  const app = new App();
  return new Stack(app, id, { env: TEST_ENV });
}

/** A role of the account in `stack`, to grant to (`id`: its construct id, e.g. 'Producer'). */
export function grantee(stack: Stack, id: string): iam.Role {
  return new iam.Role(stack, id, { assumedBy: new iam.AccountRootPrincipal() });
}

/** Template of a stack after `build` added constructs to it. */
export function templateOf(build: (stack: Stack) => void): Template {
  const stack = testStack();
  build(stack);
  return Template.fromStack(stack);
}

/** Environment variables of a Lambda function (what `handlerEnv` selectors look at). */
export type FunctionEnv = Record<string, unknown>;

/**
 * Selects the ingest processor of an IngestStage: the only function of the library whose environment names a sink
 * (`PHX_SINK_KIND`). The pipeline's other functions (failure normalizer, replay, archive framer, profiler, canary)
 * share `PHX_PIPELINE` or `PHX_STAGE` with it, never the sink.
 */
export const INGEST_PROCESSOR = (env: FunctionEnv): boolean => env[ENV.sinkKind] !== undefined;

/**
 * Environment variables of the one Lambda function of a template that `select` picks (by default the ingest
 * processor); fails unless exactly one function matches.
 */
export function handlerEnv(template: Template, select: (env: FunctionEnv) => boolean = INGEST_PROCESSOR): FunctionEnv {
  const fns = Object.entries(template.findResources('AWS::Lambda::Function'))
    .filter(([, r]) => r.Properties?.Environment?.Variables !== undefined && select(r.Properties.Environment.Variables));
  if (fns.length !== 1) {
    throw new Error(`expected one matching handler function, found ${fns.length}${fns.length ? ` (${fns.map(([id]) => id).join(', ')})` : ''}`);
  }
  return fns[0][1].Properties.Environment.Variables;
}

/** Statements of every IAM policy of a template, flattened. */
export function policyStatements(template: Template): Array<Record<string, any>> {
  return Object.values(template.findResources('AWS::IAM::Policy'))
    .flatMap((p) => p.Properties.PolicyDocument.Statement as Array<Record<string, any>>);
}

/** Actions of a statement as an array. */
export function actionsOf(statement: Record<string, any>): string[] {
  return Array.isArray(statement.Action) ? statement.Action : [statement.Action];
}

/** All actions granted by the template's IAM policies. */
export function allActions(template: Template): string[] {
  return policyStatements(template).flatMap(actionsOf).sort();
}
