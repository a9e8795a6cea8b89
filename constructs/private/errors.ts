import type { IConstruct } from 'constructs';

/**
 * A construct was given props it cannot deploy. The message starts with the construct's class and path
 * (`IngestStage at Stack/Pipeline/Ingest: ...`) and says what was given and what is allowed.
 *
 * A private class rather than aws-cdk-lib's `ValidationError`, which the library marks `@internal`.
 */
export class ConstructValidationError extends Error {
  /** Path of the construct the props belong to. */
  public readonly constructPath: string;

  /** @param owner what is validated when it is not the scope's own class (e.g. `Phoenix` settings of a stack) */
  constructor(scope: IConstruct, message: string, owner?: string) {
    super(`${owner ? `${owner} at ${scope.node.path || '<app>'}` : constructLabel(scope)}: ${message}`);
    this.name = 'ValidationError';
    this.constructPath = scope.node.path;
    Object.setPrototypeOf(this, ConstructValidationError.prototype);
  }
}

/** The error to throw when a prop of `scope` is invalid: `throw validationError(this, 'x must be ... (given y)')`. */
export function validationError(scope: IConstruct, message: string, owner?: string): ConstructValidationError {
  return new ConstructValidationError(scope, message, owner);
}

/** `<Class> at <path>`, e.g. `CorrelatedMonitor at Stack/Monitor`. */
export function constructLabel(scope: IConstruct): string {
  return `${scope.constructor.name} at ${scope.node.path || '<app>'}`;
}
