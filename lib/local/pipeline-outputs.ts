/**
 * The outputs a pipeline's stack carries (DataPipeline: `StreamName`, `DlqUrl`, ...; RawArchive: `ArchiveBucket`, ...),
 * grouped by the pipeline their description names: read from a deployed stack by the CLI and from a kept local
 * environment's resolved outputs.
 */
import { InputError } from '../replay/filter';

/** Output names a pipeline's stack may carry. */
export const OUTPUT_NAMES = [
  'PipelineName', 'StreamName', 'StreamArn', 'ProcessorName', 'DlqUrl', 'DlqOverflowBucket', 'SinkKind', 'SinkTarget', 'ArchiveBucket', 'ArchivePrefix',
  'FailedEventsUrl', 'FailureNormalizerConfig',
] as const;
export type OutputName = typeof OUTPUT_NAMES[number];
export type PipelineOutputs = Partial<Record<OutputName, string>>;

const PIPELINE_IN_DESCRIPTION = /\(pipeline ([^)]+)\)\s*$/;

/** The pipeline an output's description names (`... (pipeline <name>)`), or undefined. */
export function pipelineOfDescription(description: string | undefined): string | undefined {
  return PIPELINE_IN_DESCRIPTION.exec(description ?? '')?.[1];
}

/** The output name of an output key (`ClickstreamDlqUrl1A2B3C4D` -> `DlqUrl`), or undefined. */
export function outputNameOf(outputKey: string): OutputName | undefined {
  for (const n of OUTPUT_NAMES) {
    if (outputKey === n) return n;
    // CDK names an output <construct path><id><8 hex digits of hash>.
    if (new RegExp(`${n}[0-9A-F]{8}$`).test(outputKey)) return n;
  }
  return undefined;
}

/** Groups stack outputs by pipeline (from the description `(pipeline <name>)`) and picks one. */
export function pipelineOutputs(
  outputs: ReadonlyArray<{ OutputKey?: string; OutputValue?: string; Description?: string }>,
  stack: string,
  pipeline?: string,
): PipelineOutputs {
  const byPipeline = new Map<string, PipelineOutputs>();
  for (const o of outputs) {
    if (!o.OutputKey || o.OutputValue === undefined) continue;
    const name = outputNameOf(o.OutputKey);
    if (!name) continue;
    const p = pipelineOfDescription(o.Description) ?? '';
    const m = byPipeline.get(p) ?? {};
    m[name] = o.OutputValue;
    byPipeline.set(p, m);
  }
  const names = [...byPipeline.keys()].filter((p) => p !== '');
  if (pipeline !== undefined) {
    const m = byPipeline.get(pipeline);
    if (!m) throw new InputError(`stack ${stack} has no pipeline ${pipeline} (pipelines: ${names.join(', ') || 'none'})`);
    return { ...byPipeline.get(''), ...m };
  }
  if (names.length > 1) throw new InputError(`stack ${stack} has ${names.length} pipelines (${names.join(', ')}): choose one with --pipeline`);
  const found = names.length === 1 ? { ...byPipeline.get(''), ...byPipeline.get(names[0]) } : byPipeline.get('');
  if (!found) throw new InputError(`stack ${stack} has no pipeline outputs (DlqUrl, StreamArn, ...): is it a stack with a DataPipeline?`);
  return found;
}
