import { LocalRunError } from './errors';
import type { KinesisMapping } from './start';
import { idNamespaceFor } from '../../core';
import { loadConfig, type IngestConfig } from '../../handlers/config';
import { compileValidator } from '../../handlers/schema';
import type { KinesisMappingConfig } from '../esm';
import { isPipelineStage, type LocalFunction } from '../functions';
import type { ProvisionedStack } from '../provision';
import type { PipelineRules } from '../workloads';

/** The pipeline stage under test: the ingest function, its configuration and the stream the workload goes on. */
export interface Pipeline {
  readonly fn: LocalFunction;
  readonly config: IngestConfig;
  readonly rules: PipelineRules;
  readonly mapping: KinesisMappingConfig;
  readonly streamName: string;
}

/** The rules a workload builds its records by: the stage's id namespace, key fields, schema and size limit. */
export function pipelineRules(config: IngestConfig): PipelineRules {
  return {
    namespace: config.idNamespace ?? idNamespaceFor(config.pipeline),
    keyFields: config.keyFields,
    validate: config.schema ? compileValidator(config.schema) : undefined,
    maxRecordBytes: config.maxRecordBytes,
    eventTimeField: config.eventTimeField,
    eventTimeBounds: config.eventTimeBounds,
    replayMaxCount: config.replayMaxCount,
  };
}

/** The ingest stage to put the workload on: the only pipeline stream, or the one `--stream` names. */
export function choosePipeline(mappings: readonly KinesisMapping[], stream: string | undefined, provisioned: ProvisionedStack): Pipeline {
  // Ingest-stage functions (the handler contract: PHX_PIPELINE and PHX_SINK_KIND); e.g. a profiler on the same stream is not one.
  let candidates = mappings.filter((m) => isPipelineStage(m.fn.def.environment));
  if (stream) {
    const s = provisioned.streams.find((x) => x.logicalId === stream || x.name === stream || x.arn === stream);
    if (!s) throw new LocalRunError(`--stream ${stream} is not a Kinesis stream of the stack (${provisioned.streams.map((x) => x.logicalId).join(', ') || 'none'})`);
    candidates = candidates.filter((m) => m.config.streamArn === s.arn);
  }
  if (candidates.length === 0) {
    throw new LocalRunError('the stack has no Kinesis event source mapping into a pipeline ingest function (PHX_PIPELINE and PHX_SINK_KIND): nothing to put the workload on');
  }
  if (candidates.length > 1 && new Set(candidates.map((c) => c.config.streamArn)).size > 1) {
    throw new LocalRunError(`the stack has several pipeline streams (${candidates.map((c) => c.config.streamName).join(', ')}): choose one with --stream`);
  }
  const chosen = candidates[0];
  let config: IngestConfig;
  try {
    config = loadConfig(chosen.fn.def.environment);
  } catch (e) {
    throw new LocalRunError(`function ${chosen.fn.functionName}: ${(e as Error).message}`, { cause: e });
  }
  return { fn: chosen.fn, config, rules: pipelineRules(config), mapping: chosen.config, streamName: chosen.config.streamName };
}
