/**
 * `phoenix replay --checkpoint <file>`: the archive replay's safe cursor written to a file as the replay goes (at most
 * once a second, atomically: a temporary file renamed over it), so that a replay killed by any means, SIGKILL
 * included, continues with `--resume "$(cat <file>)"`. A replay that finished removes the file; one that stopped
 * (interrupted, --limit, a failed record) leaves the cursor to continue from.
 */
import { renameSync, rmSync, writeFileSync } from 'node:fs';
import type { ArchiveCursor } from '../replay/engine';

export class CursorCheckpoint {
  private last = Number.NEGATIVE_INFINITY;
  private written: string | undefined;

  constructor(
    readonly file: string,
    private readonly format: (c: ArchiveCursor) => string,
    private readonly intervalMs = 1_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** A progress report's cursor: written when the interval has passed and it moved. */
  update(cursor: ArchiveCursor | undefined): void {
    const t = this.now();
    if (!cursor || t - this.last < this.intervalMs) return;
    this.last = t;
    this.write(this.format(cursor));
  }

  /**
   * The end of the run: its cursor to continue from, or none (finished: the file is removed). A run with a failed
   * record and no cursor keeps the last cursor written, which is before that record: a resume puts it again.
   */
  finish(run: { readonly failed: number; readonly cursor?: ArchiveCursor }): void {
    if (run.cursor) this.write(this.format(run.cursor));
    else if (run.failed === 0) rmSync(this.file, { force: true });
  }

  private write(text: string): void {
    if (text === this.written) return;
    const tmp = `${this.file}.tmp`;
    writeFileSync(tmp, `${text}\n`);
    renameSync(tmp, this.file);
    this.written = text;
  }
}
