/**
 * The ingest Lambda function (bundled by projen into assets/lib/handlers/ingest/index.js): configured entirely by
 * the PHX_* environment variables the construct sets. Teams that need a transform build their own function with
 * `createIngestHandler` from `cdk-phoenix-pipelines/runtime`.
 */
import { createIngestHandler } from '../runtime';

export const handler = createIngestHandler();
