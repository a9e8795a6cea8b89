/**
 * The safe cursor of an archive replay while it runs: every archived record before it was accepted by Kinesis (or
 * skipped), so a replay killed at any moment and resumed from the last cursor it reported loses nothing; records
 * after it that were accepted are put again, which the idempotent sinks absorb. Records are numbered in read order;
 * memory holds the records in flight and the objects they belong to, not the archive.
 */
/**
 * Where an archive replay stopped: the object key and the number of its archive records (blank and invalid lines not
 * counted) already put. Every record before it was accepted by Kinesis.
 */
export interface ArchiveCursor {
  readonly key: string;
  readonly line: number;
}

export class ArchiveWatermark {
  /** The objects from the one holding the oldest record not yet accepted on: key and first record number. */
  private readonly objects: Array<{ key: string; base: number; total: number }> = [];
  /** Numbers of the records put and not yet accepted (a failed record stays: the cursor never passes it). */
  private readonly pending = new Set<number>();
  /** Number of the next record to read. */
  private next = 0;

  /** Starts an object of `total` records whose first `from` were done by an earlier run; returns its first number. */
  beginObject(key: string, total: number, from: number): number {
    const base = this.next;
    this.objects.push({ key, base, total });
    this.next = base + Math.min(from, total);
    return base;
  }

  /** Record `pos` was read (skipped, or handed to the putter after {@link put}). */
  read(pos: number): void {
    this.next = pos + 1;
  }

  put(pos: number): void {
    this.pending.add(pos);
  }

  accepted(pos: number): void {
    this.pending.delete(pos);
  }

  /** Where a resume continues: the oldest record not accepted, or the next to read. undefined before any object. */
  cursor(): ArchiveCursor | undefined {
    let low = this.next;
    for (const p of this.pending) if (p < low) low = p;
    while (this.objects.length > 1 && this.objects[0].base + this.objects[0].total <= low) this.objects.shift();
    const o = this.objects[0];
    return o && { key: o.key, line: low - o.base };
  }
}
