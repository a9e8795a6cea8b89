/**
 * The ingest Lambda function (bundled by projen into assets/lib/handlers/ingest/index.js): configured entirely by
 * the PHX_* environment variables the construct sets. Teams that need a transform build their own function with
 * `createIngestHandler` from `cdk-phoenix-pipelines/runtime`.
 *
 * Schema validation: by the module IngestStage compiles at synth (ajv standalone code) and writes next to this
 * bundle (PHX_SCHEMA_MODULE, see schema-module.ts); its fingerprint is checked against PHX_SCHEMA at cold start.
 * This bundle holds no ajv: a PHX_SCHEMA without its compiled module is a configuration error at cold start.
 */
import { createIngestHandlerWith, standaloneSchemaResolver } from './create';

export const handler = createIngestHandlerWith({}, standaloneSchemaResolver(__dirname));
