import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';

/** Fixed environment: snapshots and ARNs do not depend on the machine. */
export const TEST_ENV = { account: '123456789012', region: 'eu-west-1' };

/** A fresh app and stack with a fixed env (no validation plugins). */
export function testStack(id = 'Test'): Stack {
  const app = new App();
  return new Stack(app, id, { env: TEST_ENV });
}

/** Template of a stack after `build` added constructs to it. */
export function templateOf(build: (stack: Stack) => void): Template {
  const stack = testStack();
  build(stack);
  return Template.fromStack(stack);
}

/** Environment variables of the only Lambda function of a template that has `PHX_PIPELINE` set. */
export function handlerEnv(template: Template): Record<string, unknown> {
  const fns = Object.values(template.findResources('AWS::Lambda::Function'))
    .filter((r) => r.Properties?.Environment?.Variables?.PHX_PIPELINE !== undefined);
  if (fns.length !== 1) {
    throw new Error(`expected one handler function, found ${fns.length}`);
  }
  return fns[0].Properties.Environment.Variables;
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
