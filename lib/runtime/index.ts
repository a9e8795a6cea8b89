/**
 * `cdk-phoenix-pipelines/runtime`: build the pipeline's ingest Lambda handler in your own function, with your
 * transform.
 *
 * @example
 * ```ts
 * import { createIngestHandler, PermanentError } from 'cdk-phoenix-pipelines/runtime';
 *
 * export const handler = createIngestHandler({
 *   transform: (payload) => {
 *     if (payload.type === 'heartbeat') return null;           // dropped, counted as filtered
 *     if (typeof payload.price !== 'number') throw new PermanentError('transform', 'price missing'); // -> DLQ
 *     return { ...payload, priceCents: Math.round(payload.price * 100) };
 *   },
 * });
 * ```
 *
 * @packageDocumentation
 */
import { createIngestHandlerWith, type IngestHandler, type IngestHandlerOptions, type SchemaResolver } from '../handlers/create';
import { compileValidator } from '../handlers/schema';
import { loadStandaloneValidator, SCHEMA_MODULE_ENV } from '../handlers/schema-module';

export { ConfigError } from '../core/errors';
export type { IngestConfig, RetryConfig, SinkKind } from '../handlers/config';
export type { IngestHandler, IngestHandlerOptions } from '../handlers/create';
export { MemoryDlq, MemorySink } from '../handlers/ports/memory';
export type { DlqPort, SinkPort, SinkWriteMeta, WriteResult } from '../handlers/ports/types';
export type { Clock, Transform, TransformContext } from '../handlers/processor';
export { compileStandaloneValidator } from '../handlers/schema-standalone';
export { PermanentError, TransientError } from '../core';
export type { Envelope, ReasonClass } from '../core';

/**
 * The runtime's resolver: a schema (options.schema or PHX_SCHEMA) is compiled with ajv at cold start. Without one, a
 * PHX_SCHEMA_MODULE compiled at synth is loaded from the code directory (LAMBDA_TASK_ROOT, else the working directory).
 */
const ajvSchemaResolver: SchemaResolver = (config, env, variable) => {
  if (config.schema) return compileValidator(config.schema, variable);
  const file = env[SCHEMA_MODULE_ENV]?.trim();
  if (file) return loadStandaloneValidator(env.LAMBDA_TASK_ROOT ?? process.cwd(), file, undefined);
  return undefined;
};

/**
 * Creates the ingest handler: call it once at module scope (cold start), export the result as the Lambda handler.
 *
 * Configuration is read and checked here: a bad PHX_* value or an invalid schema throws a {@link ConfigError} naming
 * the variable, its value and what is allowed, so the function fails its INIT phase instead of misprocessing records.
 * AWS SDK clients, the schema validator (ajv) and the retry-token bucket are created once per container. Endpoints
 * come from the SDK's own configuration (region, `AWS_ENDPOINT_URL_<SERVICE>`), never from this library.
 *
 * Each invocation processes the batch (per record: decode, envelope with deterministic id, schema, transform,
 * idempotent write; bad records to the DLQ), emits one EMF metrics document (namespace `PhoenixPipelines`,
 * dimensions `{ Pipeline, Stage }`) and one summary log line, and returns at most one batchItemFailure: the lowest
 * sequence number that was not completed. The event source mapping must have `ReportBatchItemFailures` enabled.
 */
export function createIngestHandler(options: IngestHandlerOptions = {}): IngestHandler {
  return createIngestHandlerWith(options, ajvSchemaResolver);
}
