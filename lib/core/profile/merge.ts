/**
 * Merging profiles (per-shard window profiles into one): counts add, min/max combine, moments by the parallel
 * formula, sketches by union.
 */
import { ColumnProfile, VALUE_TYPES } from './column';
import { MisraGries } from './frequent';
import { HyperLogLog } from './hll';
import { KllSketch } from './kll';
import { mergeMoments } from './moments';
import { ConditionSpec, Profile, ResolvedProfileConfig, createProfile, noteDropped } from './profile';
import { ProfileError } from '../errors';

function sameSketchConfig(a: ResolvedProfileConfig, b: ResolvedProfileConfig): string | null {
  for (const key of ['kllK', 'hllLgK', 'frequentItems', 'maxDepth'] as const) {
    if (a[key] !== b[key]) return `${key} differs (${a[key]} and ${b[key]})`;
  }
  if (a.eventTimeField !== b.eventTimeField) return `eventTimeField differs (${a.eventTimeField} and ${b.eventTimeField})`;
  return null;
}

function mergeConditionSpecs(a: readonly ConditionSpec[], b: readonly ConditionSpec[]): ConditionSpec[] {
  const byId = new Map<string, ConditionSpec>();
  for (const c of [...a, ...b]) {
    const prev = byId.get(c.id);
    if (prev && JSON.stringify(prev) !== JSON.stringify(c)) {
      throw new ProfileError(`cannot merge profiles: condition '${c.id}' is defined differently`);
    }
    byId.set(c.id, c);
  }
  return [...byId.values()].sort((x, y) => (x.id < y.id ? -1 : x.id > y.id ? 1 : 0));
}

function mergeColumn(a: ColumnProfile, b: ColumnProfile): void {
  a.count += b.count;
  a.nulls += b.nulls;
  a.nonFinite += b.nonFinite;
  for (const t of VALUE_TYPES) a[t] += b[t];
  a.trues += b.trues;
  mergeMoments(a.moments, b.moments);
  if (b.kll) a.kll = a.kll ? a.kll.merge(b.kll) : KllSketch.deserialize(b.kll.serialize());
  if (b.hll) a.hll = a.hll ? a.hll.merge(b.hll) : HyperLogLog.deserialize(b.hll.serialize());
  a.lenMin = Math.min(a.lenMin, b.lenMin);
  a.lenMax = Math.max(a.lenMax, b.lenMax);
  a.lenSum += b.lenSum;
  if (b.freq) a.freq = a.freq ? a.freq.merge(b.freq) : MisraGries.deserialize(b.freq.serialize());
  if (b.conditions) {
    a.conditions ??= new Map();
    for (const [id, c] of b.conditions) {
      const prev = a.conditions.get(id);
      if (prev) {
        prev.checked += c.checked;
        prev.matched += c.matched;
      } else {
        a.conditions.set(id, { ...c });
      }
    }
  }
}

/** Merges column profiles into a fresh one (inputs untouched); all must come from profiles with the same sketch config. */
export function mergeColumnProfiles(cols: readonly ColumnProfile[]): ColumnProfile {
  const out = new ColumnProfile();
  for (const c of cols) mergeColumn(out, c);
  return out;
}

function maxNullable(a: number | null, b: number | null): number | null {
  return a === null ? b : b === null ? a : Math.max(a, b);
}
function minNullable(a: number | null, b: number | null): number | null {
  return a === null ? b : b === null ? a : Math.min(a, b);
}

/**
 * Merges two profiles into a new one (inputs untouched). Associative and commutative: counts, min/max, HLL and
 * conditions exactly; mean/variance up to floating-point rounding; KLL and frequent items within their error
 * bounds. Throws ProfileError when the sketch sizes differ. When the union has more than `maxColumns` columns,
 * the columns with the most values are kept (ties by name) and the others are counted in `columnOverflow`.
 */
export function mergeProfiles(a: Profile, b: Profile): Profile {
  const why = sameSketchConfig(a.config, b.config);
  if (why) throw new ProfileError(`cannot merge profiles: ${why}`);
  const conditions = mergeConditionSpecs(a.config.conditions, b.config.conditions);
  const maxColumns = Math.min(a.config.maxColumns, b.config.maxColumns);
  const priorityColumns = [...new Set([...a.config.priorityColumns, ...b.config.priorityColumns])];
  const out = createProfile({ ...a.config, eventTimeField: a.config.eventTimeField ?? undefined, maxColumns, conditions, priorityColumns });
  out.rows = a.rows + b.rows;
  out.unparseable = a.unparseable + b.unparseable;
  out.columnOverflow = a.columnOverflow + b.columnOverflow;
  for (const d of [...a.droppedColumns, ...b.droppedColumns]) noteDropped(out, d.column, d.reason);
  out.eventTimeMax = maxNullable(a.eventTimeMax, b.eventTimeMax);
  out.eventTimeInvalid = a.eventTimeInvalid + b.eventTimeInvalid;
  out.windowStart = minNullable(a.windowStart, b.windowStart);
  out.windowEnd = maxNullable(a.windowEnd, b.windowEnd);
  const merged = new Map<string, ColumnProfile>();
  for (const src of [a, b]) {
    for (const [name, col] of src.columns) {
      let target = merged.get(name);
      if (!target) {
        target = new ColumnProfile();
        merged.set(name, target);
      }
      mergeColumn(target, col);
    }
  }
  const priority = new Set(priorityColumns);
  const names = [...merged.keys()].filter((n) => !priority.has(n));
  if (names.length > maxColumns) {
    names.sort((x, y) => merged.get(y)!.count - merged.get(x)!.count || (x < y ? -1 : 1));
    for (const dropped of names.slice(maxColumns)) {
      out.columnOverflow += merged.get(dropped)!.count;
      noteDropped(out, dropped, 'max-columns');
    }
    names.length = maxColumns;
  }
  for (const name of [...names, ...priority].sort()) out.columns.set(name, merged.get(name) ?? new ColumnProfile());
  return out;
}

