/**
 * Progress of `phoenix replay` on stderr: a live cli-progress bar when stderr is a TTY (not with --json), otherwise
 * (also with --json) a plain line every few seconds (and one at the end) that a log keeps: objects and records done, records/s and an ETA.
 * The ETA of an archive replay comes from the listed objects' stored sizes; of a DLQ replay, from the queue depth.
 */
import { SingleBar } from 'cli-progress';
import type { ReplayProgress } from '../replay/engine';

export interface ProgressSink {
  readonly isTTY?: boolean;
  write(text: string): unknown;
}

export interface ReplayProgressOptions {
  /** Default process.stderr. */
  readonly stream?: ProgressSink;
  /** Seconds between two plain lines. Default 5. */
  readonly intervalMs?: number;
  /** --json: no live bar; plain lines go to stderr instead. */
  readonly json?: boolean;
  readonly now?: () => number;
}

export interface ReplayProgressReporter {
  update(p: ReplayProgress): void;
  stop(): void;
}

/** "1h 02m", "3m 07s", "12s". */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s >= 3600) return `${Math.floor(s / 3600)}h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  if (s >= 60) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, '0')}s`;
  return `${s}s`;
}

/** Milliseconds left: from the objects' bytes (archive) or the queue depth (DLQ); undefined until there is a rate. */
export function etaMs(p: ReplayProgress, elapsedMs: number): number | undefined {
  if (p.objects && p.objects.bytesDone > 0) return (elapsedMs * (p.objects.bytesTotal - p.objects.bytesDone)) / p.objects.bytesDone;
  if (p.total !== undefined && p.scanned > 0) return (elapsedMs * Math.max(0, p.total - p.scanned)) / p.scanned;
  return undefined;
}

/** One plain progress line (no newline). */
export function progressLine(p: ReplayProgress, elapsedMs: number): string {
  const parts: string[] = [];
  if (p.objects) parts.push(`${p.objects.done}/${p.objects.total} objects`);
  parts.push(`${p.scanned}${p.objects || p.total === undefined ? '' : `/${p.total}`} scanned`, `${p.replayed} replayed`);
  if (!p.objects) parts.push(`${p.deleted} deleted`);
  if (p.failed > 0) parts.push(`${p.failed} failed`);
  parts.push(`${elapsedMs > 0 ? Math.round((p.replayed / elapsedMs) * 1000) : 0} records/s`);
  const eta = etaMs(p, elapsedMs);
  parts.push(`ETA ${eta === undefined ? '?' : formatDuration(eta)}`);
  return `replay: ${parts.join(', ')}`;
}

/** The reporter for the stream: a live bar on a TTY, plain lines otherwise. */
export function replayProgress(opts: ReplayProgressOptions = {}): ReplayProgressReporter {
  const stream = opts.stream ?? process.stderr;
  const now = opts.now ?? Date.now;
  const started = now();
  if (stream.isTTY && !opts.json) return liveBar(stream, now, started);
  const interval = opts.intervalMs ?? 5_000;
  let last = started;
  let latest: ReplayProgress | undefined;
  return {
    update(p) {
      latest = p;
      const t = now();
      if (t - last < interval) return;
      last = t;
      stream.write(`${progressLine(p, t - started)}\n`);
    },
    stop() {
      if (latest) stream.write(`${progressLine(latest, now() - started)}\n`);
    },
  };
}

function liveBar(stream: ProgressSink, now: () => number, started: number): ReplayProgressReporter {
  const bar = new SingleBar({
    format: 'replay |{bar}| {percentage}% | {line}',
    stream: stream as NodeJS.WritableStream,
    hideCursor: true,
    clearOnComplete: false,
    fps: 5,
  });
  let running = false;
  return {
    update(p) {
      // The bar's value is bytes of archive objects, or messages of a DLQ; the line carries the figures.
      const value = p.objects ? p.objects.bytesDone : p.scanned;
      const total = Math.max(p.objects ? p.objects.bytesTotal : p.total ?? value, value, 1);
      const line = progressLine(p, now() - started).slice('replay: '.length);
      if (!running) {
        bar.start(total, value, { line });
        running = true;
        return;
      }
      bar.setTotal(total);
      bar.update(value, { line });
    },
    stop() {
      if (running) bar.stop();
    },
  };
}
