/**
 * What `phoenix replay --from archive` replays and where, from a pipeline's stack outputs (`--stack`, `--local`) and
 * the flags: one resolution shared by the CLI and the drill, so that the drill's rebuild is the command a user runs.
 */
import { ARCHIVE_PREFIX } from './archive';
import type { ReplayOptions } from './engine';
import { InputError } from './filter';

/** The outputs of a pipeline's stack that archive replay reads (DataPipeline and RawArchive outputs). */
export interface ArchiveOutputs {
  readonly PipelineName?: string;
  readonly StreamArn?: string;
  readonly ArchiveBucket?: string;
  readonly ArchivePrefix?: string;
}

/** Flags that override the outputs. */
export interface ArchiveFlags {
  readonly bucket?: string;
  readonly prefix?: string;
  readonly targetStream?: string;
}

export type ArchiveReplayTarget = Pick<ReplayOptions, 'source' | 'targetStream' | 'pipeline'>;

/**
 * The archive bucket and prefix (flags, else the `ArchiveBucket`/`ArchivePrefix` outputs), and the target: with a
 * pipeline's outputs, its current ingest stream (or `targetStream`), records of other pipelines skipped; never the
 * stream recorded in the archive, which a rebuild replaced. Without outputs: `targetStream`, else each record's own.
 * `from` names where the outputs come from, for the error when there is no bucket.
 */
export function archiveReplayTarget(outputs: ArchiveOutputs, flags: ArchiveFlags, from: string): ArchiveReplayTarget {
  const bucket = flags.bucket ?? outputs.ArchiveBucket;
  if (!bucket) throw new InputError(`${from} has no ArchiveBucket output (is a RawArchive deployed?): pass --bucket`);
  const source = { kind: 'archive' as const, bucket, prefix: flags.prefix ?? outputs.ArchivePrefix ?? ARCHIVE_PREFIX };
  const stream = flags.targetStream ?? outputs.StreamArn;
  if (outputs.PipelineName && stream) return { source, pipeline: { name: outputs.PipelineName, stream } };
  return { source, targetStream: stream };
}
