/**
 * A template the local environment cannot run faithfully. The message is one line naming the logical id, the
 * resource type and, when it applies, the property.
 */
export class UnsupportedTemplateError extends Error {
  constructor(
    readonly logicalId: string,
    readonly resourceType: string,
    readonly property: string | undefined,
    readonly detail: string,
  ) {
    super(`resource ${logicalId} (${resourceType})${property ? `, property ${property}` : ''}: ${detail}`);
    this.name = 'UnsupportedTemplateError';
  }
}

/** The cloud assembly or app cannot be loaded (synth failure, missing stack, unreadable manifest). */
export class AssemblyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AssemblyError';
  }
}
