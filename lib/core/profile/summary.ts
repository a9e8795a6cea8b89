/** Statistics derived from a profile, and its human-readable summary. */
import { ValueType } from './column';
import { formatNumber, formatTextTable } from './format';
import { variance } from './moments';
import { MAX_DROPPED_COLUMNS_NAMED, Profile } from './profile';

/** Derived statistics of one column. */
export interface ColumnStats {
  readonly column: string;
  /** Non-null values / rows (a missing key counts as null). */
  readonly completeness: number;
  readonly nullFraction: number;
  readonly dominantType: ValueType | null;
  readonly distinct: number;
  readonly min: number;
  readonly max: number;
  readonly mean: number;
  readonly stddev: number;
  readonly numericCount: number;
}

export function columnStats(profile: Profile, name: string): ColumnStats | undefined {
  const col = profile.columns.get(name);
  if (!col) return undefined;
  const nonNull = col.count - col.nulls;
  return {
    column: name,
    completeness: profile.rows === 0 ? NaN : nonNull / profile.rows,
    nullFraction: profile.rows === 0 ? NaN : 1 - nonNull / profile.rows,
    dominantType: col.dominantType(),
    distinct: col.hll ? Math.round(col.hll.estimate()) : 0,
    min: col.kll && col.kll.n ? col.kll.min : NaN,
    max: col.kll && col.kll.n ? col.kll.max : NaN,
    mean: col.moments.n ? col.moments.mean : NaN,
    stddev: Math.sqrt(variance(col.moments)),
    numericCount: col.moments.n,
  };
}

/** `dropped columns: a (max-columns), b (record-budget)`: the columns a window did not track, and why. */
export function droppedColumnsLine(profile: Profile): string {
  const named = profile.droppedColumns.map((d) => `${d.column} (${d.reason})`).join(', ');
  return `dropped columns: ${named}${profile.droppedColumns.length >= MAX_DROPPED_COLUMNS_NAMED ? ', ...' : ''}`;
}

/** Human-readable multi-line summary (for the CLI and logs). */
export function profileSummary(profile: Profile, opts: { topItems?: number } = {}): string {
  const top = opts.topItems ?? 3;
  const lines: string[] = [];
  const et = profile.eventTimeMax === null ? '-' : new Date(profile.eventTimeMax).toISOString();
  lines.push(`rows ${profile.rows}  unparseable ${profile.unparseable}  columns ${profile.columns.size}` +
    (profile.columnOverflow ? `  untracked values ${profile.columnOverflow}` : '') + `  latest event ${et}`);
  if (profile.droppedColumns.length > 0) lines.push(droppedColumnsLine(profile));
  const header = ['column', 'type', 'complete', 'distinct', 'min', 'p50', 'p95', 'max', 'mean', 'stddev', 'top'];
  const rows: string[][] = [];
  for (const name of [...profile.columns.keys()].sort()) {
    const col = profile.columns.get(name)!;
    const st = columnStats(profile, name)!;
    const kll = col.kll;
    const topItems = col.freq ? col.freq.top(top).map((t) => `${t.value}(${t.count})`).join(' ') : col.bool ? `true(${col.trues}) false(${col.bool - col.trues})` : '';
    rows.push([
      name,
      st.dominantType ?? 'null',
      `${(st.completeness * 100).toFixed(1)}%`,
      String(st.distinct),
      formatNumber(st.min),
      kll && kll.n ? formatNumber(kll.quantile(0.5)) : '-',
      kll && kll.n ? formatNumber(kll.quantile(0.95)) : '-',
      formatNumber(st.max),
      formatNumber(st.mean),
      formatNumber(st.stddev),
      topItems,
    ]);
  }
  lines.push(...formatTextTable(header, rows));
  return lines.join('\n');
}
