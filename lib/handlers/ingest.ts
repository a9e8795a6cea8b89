/**
 * The ingest Lambda function (bundled by projen into assets/lib/handlers/ingest/index.js): configured entirely by
 * the PHX_* environment variables the construct sets. A schema is validated by the module the construct compiled at
 * synth and wrote next to this bundle (PHX_SCHEMA_MODULE): this asset bundles no ajv. Teams that need a transform
 * build their own function with `createIngestHandler` from `cdk-phoenix-pipelines/runtime`.
 */
import { createIngestHandlerWith, standaloneSchemaResolver } from './create';

export const handler = createIngestHandlerWith({}, standaloneSchemaResolver(__dirname));
