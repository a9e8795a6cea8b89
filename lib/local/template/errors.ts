import { PhoenixError } from '../../core/errors';
/**
 * A template the local environment cannot run faithfully. The message is one line naming the logical id, the
 * resource type and, when it applies, the property.
 */
export class UnsupportedTemplateError extends PhoenixError {
  constructor(
    readonly logicalId: string,
    readonly resourceType: string,
    readonly property: string | undefined,
    readonly detail: string,
  ) {
    super('UNSUPPORTED_TEMPLATE', `resource ${logicalId} (${resourceType})${property ? `, property ${property}` : ''}: ${detail}`);
  }
}

/** The cloud assembly or app cannot be loaded (synth failure, missing stack, unreadable manifest). */
export class AssemblyError extends PhoenixError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ASSEMBLY', message, options);
  }
}
