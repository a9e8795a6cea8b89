import { Stack } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

/**
 * The deployed stack that holds `scope`: its own stack, or for a nested stack the top-level stack it is nested in.
 * Its `stackName` is known at synth; a nested stack's is a token resolved at deployment (`AWS::StackName`), whose
 * text changes with construction order and must not seed a fixed name.
 */
export function topLevelStack(scope: IConstruct): Stack {
  let stack = Stack.of(scope);
  while (stack.nestedStackParent !== undefined) {
    stack = stack.nestedStackParent;
  }
  return stack;
}
