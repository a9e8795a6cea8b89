/**
 * `phoenix replay`: re-put dead letters (`--from dlq`) or archived records (`--from archive`) on their stream.
 * See docs/replay.md.
 */
import type { Command } from 'commander';
import { idNamespaceFor, parseKeyFields } from '../../core';
import { ARCHIVE_PREFIX } from '../../replay/archive';
import { archiveReplayTarget } from '../../replay/archive-target';
import { runReplay, type ArchiveCursor, type ReplayOptions, type ReplaySummary } from '../../replay/engine';
import { InputError, parseFilter, type RawFilter, type ReplayFilter } from '../../replay/filter';
import { UsageError } from '../errors';
import { addFilterOptions, addTargetOptions, interruptible, intFlag, visibilityOption } from '../options';
import { replayProgress } from '../progress';
import { CursorCheckpoint } from '../progress-checkpoint';
import { createClients, resolveTargets, type TargetFlags } from '../targets';

interface ReplayFlags extends TargetFlags, RawFilter {
  from?: string;
  bucket?: string;
  prefix?: string;
  dryRun?: boolean;
  resume?: string;
  checkpoint?: string;
  rate?: string;
  targetStream?: string;
  keyFields?: string;
  visibilityTimeout: string;
  waitInFlight: string;
  json?: boolean;
}

function usage(e: unknown): never {
  if (e instanceof InputError) throw new UsageError(e.message, { cause: e });
  throw e;
}

/** Human-readable closing summary. */
export function formatSummary(s: ReplaySummary): string {
  const lines = [
    `${s.dryRun ? 'dry run: would replay' : 'replayed'} ${s.replayed} record(s) from ${s.source} in ${(s.durationMs / 1000).toFixed(1)} s`
      + (s.dryRun ? '' : ` (${s.recordsPerSecond} records/s)`),
    `scanned ${s.scanned}, matched ${s.matched}, deleted ${s.deleted}, failed ${s.failed}; ${s.envelopes} as replay-marked envelopes, ${s.raw} as original bytes`,
  ];
  const sk = s.skipped;
  const skipped = Object.entries(sk).filter(([, n]) => n > 0).map(([k, n]) => `${k} ${n}`);
  if (skipped.length) lines.push(`skipped: ${skipped.join(', ')}`);
  for (const [t, n] of Object.entries(s.targets)) lines.push(`  -> ${t}: ${n}`);
  if (s.retried) lines.push(`PutRecords entries retried: ${s.retried} (${s.putCalls} calls)`);
  if (s.inFlightElsewhere) lines.push(`${s.inFlightElsewhere} message(s) were in flight elsewhere and not replayed: run again once they are visible`);
  if (s.dryRun && s.sampleIds.length) lines.push(`ids (first ${s.sampleIds.length}): ${s.sampleIds.join(', ')}`);
  for (const e of s.errors) lines.push(`error: ${e}`);
  if (s.cursor) lines.push(`stopped at ${s.cursor.key}, record ${s.cursor.line}: continue with --resume '${formatCursor(s.cursor)}'`);
  else if (s.interrupted) lines.push('interrupted: run the same command again to continue (nothing is lost; the sink deduplicates)');
  return `${lines.join('\n')}\n`;
}

/** `--resume` text of a cursor: `<object key>:<records done>`. */
export function formatCursor(c: ArchiveCursor): string {
  return `${c.key}:${c.line}`;
}

/** Parses `--resume <key>:<line>` (the last `:` separates them: keys may hold `:`). */
export function parseCursor(text: string): ArchiveCursor {
  const at = text.lastIndexOf(':');
  const key = at > 0 ? text.slice(0, at) : '';
  const line = at > 0 ? text.slice(at + 1) : '';
  if (key === '' || !/^\d{1,9}$/.test(line)) {
    throw new UsageError(`--resume must be <object key>:<record number> as a replay printed it (e.g. raw/2025/01/01/00/x.gz:120); got ${JSON.stringify(text)}`);
  }
  return { key, line: Number(line) };
}

export function registerReplay(program: Command): void {
  const cmd = program
    .command('replay')
    .description('re-put dead letters or archived records on their stream (idempotent; safe to rerun)')
    .option('--from <source>', 'dlq (the dead-letter queue) or archive (the raw archive bucket)');
  addTargetOptions(cmd);
  addFilterOptions(cmd)
    .option('--bucket <name>', 'archive bucket (default: the stack output ArchiveBucket)')
    .option('--prefix <prefix>', `archive key prefix (default: the stack output ArchivePrefix, else ${ARCHIVE_PREFIX})`)
    .option('--target-stream <nameOrArn>', 'put every record on this stream (default: archive with --stack/--local: the pipeline\'s current StreamArn; dlq: the stream each record came from)')
    .option('--rate <recordsPerSecond>', 'at most this many records per second')
    .option('--dry-run', 'read and filter only: put nothing, delete nothing')
    .option('--resume <cursor>', 'archive: continue where a stopped replay said (<object key>:<record number>)')
    .option('--checkpoint <file>', 'archive: keep the cursor to --resume from in this file as the replay goes (removed when it finishes)')
    .option('--key-fields <fields>', 'archive --id matching: the pipeline\'s key fields (JSON array or comma list; with --pipeline)')
    .addOption(visibilityOption(300, 'must cover one put-and-delete round; undeleted messages reappear after it'))
    .option('--wait-in-flight <seconds>', 'wait this long for messages held elsewhere (e.g. an interrupted replay) to reappear', '0')
    .option('--json', 'one JSON object (the summary) on stdout; no progress bar')
    .action(async (f: ReplayFlags) => {
      // 1. Validate every flag before any AWS call.
      if (f.from !== 'dlq' && f.from !== 'archive') throw new UsageError(`--from must be dlq or archive; got ${f.from === undefined ? 'nothing' : JSON.stringify(f.from)}`);
      let filter: ReplayFilter;
      try {
        filter = parseFilter(f);
      } catch (e) {
        usage(e);
      }
      let rate: number | undefined;
      if (f.rate !== undefined) {
        rate = Number(f.rate);
        if (!/^\d+(\.\d+)?$/.test(f.rate.trim()) || !(rate > 0) || rate > 1_000_000) throw new UsageError(`--rate must be a positive number of records per second (at most 1000000); got ${JSON.stringify(f.rate)}`);
      }
      const visibility = intFlag('--visibility-timeout', f.visibilityTimeout, 1, 43_200, (m) => new UsageError(m));
      const waitInFlight = intFlag('--wait-in-flight', f.waitInFlight, 0, 3_600, (m) => new UsageError(m));
      if (f.from === 'archive' && f.queueUrl) throw new UsageError('--queue-url applies to --from dlq; use --bucket with --from archive');
      if (f.from === 'dlq' && (f.bucket || f.prefix || f.resume || f.checkpoint)) throw new UsageError('--bucket, --prefix, --resume and --checkpoint apply to --from archive');
      const resume = f.resume === undefined ? undefined : parseCursor(f.resume);
      if (f.from === 'archive' && filter.reasons) throw new UsageError('--reason applies to --from dlq: archived records have no failure reason');
      let idRules;
      if (f.keyFields !== undefined) {
        if (!f.pipeline) throw new UsageError('--key-fields needs --pipeline (the id namespace is derived from the pipeline name)');
        try {
          const kf = f.keyFields.trim().startsWith('[') ? parseKeyFields(f.keyFields) : parseKeyFields(JSON.stringify(f.keyFields.split(',').map((s) => s.trim()).filter(Boolean)));
          idRules = { namespace: idNamespaceFor(f.pipeline), keyFields: kf };
        } catch (e) {
          throw new UsageError(`--key-fields: ${(e as Error).message}`);
        }
      }
      if (f.from === 'archive' && filter.ids && !idRules) throw new UsageError('--id with --from archive needs --pipeline and --key-fields (archived records carry no id); or filter by --correlation-id');
      if (f.queueUrl === undefined && f.stack === undefined && f.local === undefined && !(f.from === 'archive' && f.bucket)) {
        throw new UsageError(f.from === 'dlq' ? 'say which DLQ: --stack <name>, --queue-url <url> or --local <dir>' : 'say which archive: --stack <name>, --bucket <name> or --local <dir>');
      }

      // 2. Targets.
      const r = await resolveTargets(f).catch(usage);
      let target: Pick<ReplayOptions, 'source' | 'targetStream' | 'pipeline'>;
      if (f.from === 'dlq') {
        const queueUrl = f.queueUrl ?? r.outputs.DlqUrl;
        if (!queueUrl) throw new UsageError(`${r.from} has no DlqUrl output: pass --queue-url`);
        target = { source: { kind: 'dlq', queueUrl }, targetStream: f.targetStream };
      } else {
        try {
          target = archiveReplayTarget(r.outputs, f, r.from);
        } catch (e) {
          usage(e);
        }
      }
      const clients = createClients(r.conn);
      const intr = interruptible();
      const bar = replayProgress({ json: f.json });
      const checkpoint = f.checkpoint === undefined || f.dryRun ? undefined : new CursorCheckpoint(f.checkpoint, formatCursor);
      let summary: ReplaySummary;
      try {
        summary = await runReplay({
          ...target,
          filter,
          resume,
          dryRun: f.dryRun ?? false,
          ratePerSecond: rate,
          visibilityTimeoutSec: visibility,
          inFlightWaitMs: waitInFlight * 1000,
          idRules,
          clients,
          signal: intr.signal,
          onProgress: (p) => { bar.update(p); checkpoint?.update(p.cursor); },
        });
      } catch (e) {
        usage(e);
      } finally {
        bar.stop();
        intr.dispose();
        clients.destroy();
      }
      checkpoint?.finish(summary);
      if (f.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
      else process.stdout.write(formatSummary(summary));
      if (summary.interrupted) process.exitCode = 130;
      else if (summary.failed > 0) process.exitCode = 1;
    });
}
