/**
 * Text renderings of profiles, rule results and suggested rules (for `phoenix profile show | suggest`). Pure.
 */
import { VALUE_TYPES } from './column';
import { formatNumber, formatTextTable } from './format';
import type { Profile } from './profile';
import type { RuleResult } from './rules';
import { columnStats, droppedColumnsLine } from './summary';
import { QualityRule, QualityRuleKind, QualityMetric, DriftMethod, QualityValueType } from '../../../constructs/quality-rules';

function truncate(s: string, max: number): string {
  return s.length <= max ? s : s.slice(0, max - 1) + '…';
}

/**
 * A window's profile as a table: one line per column with count, nulls %, types, min, p50, p99, max, mean, stddev,
 * distinct and top values; a header line with rows, unparseable records, window and latest event time.
 */
export function formatProfileTable(profile: Profile, opts: { topItems?: number } = {}): string {
  const top = opts.topItems ?? 3;
  const iso = (ms: number | null) => (ms === null ? '-' : new Date(ms).toISOString());
  const lines = [
    `window ${iso(profile.windowStart)} .. ${iso(profile.windowEnd)}`,
    `rows ${profile.rows}  unparseable ${profile.unparseable}  columns ${profile.columns.size}` +
      (profile.columnOverflow ? `  untracked values ${profile.columnOverflow}` : '') +
      `  latest event ${iso(profile.eventTimeMax)}` + (profile.eventTimeInvalid ? `  invalid event times ${profile.eventTimeInvalid}` : ''),
    ...(profile.droppedColumns.length > 0 ? [droppedColumnsLine(profile)] : []),
    '',
  ];
  const rows: string[][] = [];
  for (const name of [...profile.columns.keys()].sort()) {
    const col = profile.columns.get(name)!;
    const st = columnStats(profile, name)!;
    const kll = col.kll && col.kll.n > 0 ? col.kll : null;
    const types = VALUE_TYPES.filter((t) => col[t] > 0).map((t) => (col[t] === col.count - col.nulls ? t : `${t}:${col[t]}`)).join(' ');
    const nullPct = profile.rows === 0 ? '-' : `${(st.nullFraction * 100).toFixed(1)}%`;
    const topValues = col.freq
      ? col.freq.top(top).map((t) => `${truncate(t.value, 24)}(${t.count})`).join(' ')
      : col.bool ? `true(${col.trues}) false(${col.bool - col.trues})` : '';
    rows.push([
      name,
      String(col.count),
      nullPct,
      types || 'null',
      formatNumber(st.min),
      kll ? formatNumber(kll.quantile(0.5)) : '-',
      kll ? formatNumber(kll.quantile(0.99)) : '-',
      formatNumber(st.max),
      formatNumber(st.mean),
      kll ? formatNumber(st.stddev) : '-',
      String(st.distinct),
      topValues,
    ]);
  }
  lines.push(...formatTextTable(['column', 'count', 'nulls', 'types', 'min', 'p50', 'p99', 'max', 'mean', 'stddev', 'distinct', 'top values'], rows));
  return lines.join('\n');
}

/** Rule results as a table (status, rule, kind, column, observed, bounds, reason). */
export function formatResultsTable(results: readonly RuleResult[]): string {
  const b = (x?: { min?: number; max?: number }) => (x ? `[${x.min ?? ''}, ${x.max ?? ''}]` : '-');
  const rows = results.map((r) => [
    r.status.toUpperCase(), r.rule, r.kind, r.column ?? '-', r.observed === null ? '-' : formatNumber(r.observed), b(r.warn), b(r.fail), r.reason ?? '',
  ]);
  return formatTextTable(['status', 'rule', 'kind', 'column', 'observed', 'warn', 'fail', 'reason'], rows).join('\n');
}

function enumRef(enumName: string, e: Record<string, string>, value: string): string {
  const key = Object.keys(e).find((k) => e[k] === value);
  return key ? `${enumName}.${key}` : JSON.stringify(value);
}

function tsValue(key: string, value: unknown): string {
  switch (key) {
    case 'kind':
      return enumRef('QualityRuleKind', QualityRuleKind as unknown as Record<string, string>, value as string);
    case 'metric':
      return enumRef('QualityMetric', QualityMetric as unknown as Record<string, string>, value as string);
    case 'driftMethod':
      return enumRef('DriftMethod', DriftMethod as unknown as Record<string, string>, value as string);
    case 'expectedType':
      return enumRef('QualityValueType', QualityValueType as unknown as Record<string, string>, value as string);
    default:
      return tsLiteral(value);
  }
}

function tsLiteral(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(tsLiteral).join(', ')}]`;
  if (value !== null && typeof value === 'object') {
    return `{ ${Object.entries(value).map(([k, v]) => `${/^[A-Za-z_$][\w$]*$/.test(k) ? k : JSON.stringify(k)}: ${tsLiteral(v)}`).join(', ')} }`;
  }
  return typeof value === 'string' ? `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'` : String(value);
}

/** Rules as a TypeScript module that imports the enums from the library (output of `phoenix profile suggest --format ts`). */
export function formatRulesTypeScript(rules: readonly QualityRule[], source = 'cdk-phoenix-pipelines'): string {
  const used = new Set<string>(['QualityRule', 'QualityRuleKind']);
  for (const r of rules) {
    if (r.metric) used.add('QualityMetric');
    if (r.driftMethod) used.add('DriftMethod');
    if (r.expectedType) used.add('QualityValueType');
  }
  const lines = [`import { ${[...used].sort().join(', ')} } from '${source}';`, '', 'export const qualityRules: QualityRule[] = ['];
  for (const r of rules) {
    const fields = Object.entries(r).filter(([, v]) => v !== undefined).map(([k, v]) => `${k}: ${tsValue(k, v)}`);
    lines.push(`  { ${fields.join(', ')} },`);
  }
  lines.push('];', '');
  return lines.join('\n');
}
