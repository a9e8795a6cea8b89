import { CfnResource, Stack } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

/** CloudFormation's quota of resources per stack, CDK's default of the context value below. */
export const STACK_RESOURCE_LIMIT = 500;
/** CDK's context key that lowers (or, with 0, disables) its resource limit; the budget follows it. */
export const STACK_RESOURCE_LIMIT_CONTEXT = '@aws-cdk/core:stackResourceLimit';
/**
 * Share of the limit the library's own resources may take (450 of 500): the rest stays for the app's resources
 * and for a library upgrade or an option (a monitor, EPHEMERAL auto-delete) that adds resources per pipeline, so
 * that a stack fails here, naming the fix, rather than one pipeline later at deployment time.
 */
export const LIBRARY_SHARE = 0.9;

/** Constructs of the library: every resource below one of them counts against the library's share. */
const libraryConstructs = new WeakSet<IConstruct>();
const budgetedStacks = new WeakSet<Stack>();

/**
 * Counts `construct`'s resources against the resource budget of its stack, and adds the budget check to that stack
 * (once): a synth-time error when the library's resources exceed {@link LIBRARY_SHARE} of the limit, or the stack's
 * resources exceed the limit, naming the counts and the fix (a DataPipelineStack per pipeline).
 */
export function countAgainstResourceBudget(construct: IConstruct): void {
  libraryConstructs.add(construct);
  const stack = Stack.of(construct);
  if (budgetedStacks.has(stack)) return;
  budgetedStacks.add(stack);
  stack.node.addValidation({ validate: () => resourceBudgetErrors(stack) });
}

/** The budget check's errors for `stack` (empty when within budget). */
export function resourceBudgetErrors(stack: Stack): string[] {
  const limit = resourceLimit(stack);
  if (limit <= 0) return [];
  const resources = stack.node.findAll().filter((c) => c instanceof CfnResource && Stack.of(c) === stack);
  const total = resources.length;
  const library = resources.filter((r) => r.node.scopes.some((s) => libraryConstructs.has(s))).length;
  const share = Math.floor(limit * LIBRARY_SHARE);
  if (library <= share && total <= limit) return [];
  const why = library > share
    ? `its cdk-phoenix-pipelines constructs have ${library} resources, more than the library's budget of ${share} (${LIBRARY_SHARE * 100}% of CloudFormation's limit of ${limit} per stack, the rest left for the app's own resources)`
    : `it has ${total} resources (${library} of them cdk-phoenix-pipelines'), more than CloudFormation's limit of ${limit} per stack`;
  return [`stack ${stack.node.path} is too large: ${why}. `
    + 'Put pipelines in nested stacks of their own: `new DataPipelineStack(this, id, props)` in place of `new DataPipeline(this, id, props)`, '
    + 'with each pipeline\'s monitor created in its DataPipelineStack (a full pipeline with quality and a monitor is about 100 resources; see docs/scaling.md).'];
}

/** CDK's resource limit of `stack` (context `@aws-cdk/core:stackResourceLimit`, else 500). */
function resourceLimit(stack: Stack): number {
  const context: unknown = stack.node.tryGetContext(STACK_RESOURCE_LIMIT_CONTEXT);
  return context === undefined ? STACK_RESOURCE_LIMIT : parseInt(String(context), 10);
}
