/**
 * The ingest Lambda function (bundled by projen into assets/lib/handlers/ingest/index.js): configured entirely by
 * the PHX_* environment variables the construct sets. Teams that need a transform build their own function with
 * `createIngestHandler` from `cdk-phoenix-pipelines/runtime`.
 *
 * Schema validation: by the module compiled at synth and written next to this bundle (PHX_SCHEMA_MODULE, see
 * schema-module.ts), which needs no ajv. TRANSITION: until the construct writes that module, a PHX_SCHEMA without
 * it is compiled with ajv at cold start, which keeps ajv in this bundle (~130 KB of its ~226 KB). Once the construct
 * sets PHX_SCHEMA_MODULE for the default asset, export `createIngestHandlerWith({}, standaloneSchemaResolver(__dirname))`
 * instead: the bundle then holds no ajv (~97 KB; test/handlers/schema-standalone.test.ts builds that configuration).
 */
import { createIngestHandlerWith, standaloneSchemaResolver, type SchemaResolver } from './create';
import { compileValidator } from './schema';

const standalone = standaloneSchemaResolver(__dirname);
const transitional: SchemaResolver = (config, env, variable) =>
  (config.schema && !env.PHX_SCHEMA_MODULE?.trim() ? compileValidator(config.schema, variable) : standalone(config, env, variable));

export const handler = createIngestHandlerWith({}, transitional);
