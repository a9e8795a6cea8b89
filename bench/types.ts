/** What every benchmark returns to bench/run.ts. */
export interface BenchTarget {
  readonly name: string;
  readonly value: number;
  readonly target: number;
  readonly op: '>=' | '<=';
  /** Measured, never assumed: MISS is reported as such. */
  readonly pass: boolean;
}

export interface BenchResult {
  readonly name: string;
  /** Every measured figure (printed by --json). */
  readonly figures: Record<string, unknown>;
  readonly targets: readonly BenchTarget[];
  /** Human-readable report lines. */
  readonly lines: readonly string[];
}

/** A benchmark entry: options come from `--name=value` flags. */
export type Benchmark = (flags: Readonly<Record<string, string>>) => Promise<BenchResult>;
