/**
 * Mergeable data-quality profile of a window of records (the whylogs/Deequ metric set, see
 * docs of the QualityProfiler): rows, unparseable records, and per column (dot paths) counts, nulls,
 * non-finite numbers, type counts, min/max/mean/variance, KLL quantiles, HLL distinct count, Misra-Gries
 * frequent items, string lengths, declared conditions (pattern and allowed values) and the latest event time.
 *
 * This module builds profiles (createProfile, updateProfile); merge.ts merges them, profile-codec.ts serializes
 * them (versioned JSON `{ v: 1, ... }`), summary.ts derives statistics and the text summary. Pure: no I/O, no AWS SDK.
 */
import { ColumnProfile } from './column';
import { DEFAULT_FREQUENT_ITEMS } from './frequent';
import { hashBoolean } from './hash';
import { DEFAULT_HLL_LG_K } from './hll';
import { DEFAULT_KLL_K } from './kll';
import { ProfileError } from '../errors';

export const PROFILE_VERSION = 1;
/** Default nesting depth: top-level keys and one level of nested objects (`a.b`). */
export const DEFAULT_MAX_DEPTH = 2;
/** Default cap on tracked columns; values of further columns are counted in `columnOverflow`. */
export const DEFAULT_MAX_COLUMNS = 200;
/** Default cap on the new columns one record may add (a junk record with hundreds of keys cannot fill the profile). */
export const DEFAULT_MAX_NEW_COLUMNS_PER_RECORD = 64;
/** Most dropped columns a profile names (the values of all of them are counted in `columnOverflow`). */
export const MAX_DROPPED_COLUMNS_NAMED = 20;

/**
 * Why a column was not tracked: `max-columns` (the profile already holds maxColumns columns besides the priority
 * ones), `record-budget` (the record had already added maxNewColumnsPerRecord new columns).
 */
export type DropReason = 'max-columns' | 'record-budget';

/** A column a profile did not track, and why (the first reason met). */
export interface DroppedColumn {
  readonly column: string;
  readonly reason: DropReason;
}

/** A declared condition, counted per value because it cannot be recovered from sketches. */
export interface ConditionSpec {
  /** Unique key of the condition in the profile (rules refer to it). */
  readonly id: string;
  /** Column (dot path) the condition applies to. */
  readonly column: string;
  /** Regular expression a value (as a string) must match. */
  readonly pattern?: string;
  /** Values (compared as strings) a value must be one of. */
  readonly allowedValues?: readonly string[];
}

export interface ProfileConfig {
  /** @default 2 (top-level keys and one level of nesting) */
  readonly maxDepth?: number;
  /** Columns tracked besides the priority columns. @default 200 */
  readonly maxColumns?: number;
  /**
   * Columns tracked from the start of the window, whatever the records hold (the columns the rules read): no other
   * column can take their place.
   * @default []
   */
  readonly priorityColumns?: readonly string[];
  /** New columns one record may add. @default 64 */
  readonly maxNewColumnsPerRecord?: number;
  /** Dot path of the event-time field (epoch ms number or ISO-8601 string). @default - no freshness tracking */
  readonly eventTimeField?: string;
  /** KLL k. @default 256 (rank error ~0.7% at 99% confidence) */
  readonly kllK?: number;
  /** HLL lgK. @default 12 (4096 registers, ~1.6% relative standard error) */
  readonly hllLgK?: number;
  /** Frequent items kept per string column. @default 64 */
  readonly frequentItems?: number;
  /** Declared conditions (usually derived from the quality rules). @default [] */
  readonly conditions?: readonly ConditionSpec[];
}

/** Config with every default applied (stored in the profile; merges check it). */
export interface ResolvedProfileConfig {
  maxDepth: number;
  maxColumns: number;
  priorityColumns: string[];
  maxNewColumnsPerRecord: number;
  eventTimeField: string | null;
  kllK: number;
  hllLgK: number;
  frequentItems: number;
  conditions: ConditionSpec[];
}

interface CompiledCondition {
  readonly id: string;
  readonly regex: RegExp | null;
  readonly allowed: ReadonlySet<string> | null;
}

export interface Profile {
  readonly v: 1;
  readonly config: ResolvedProfileConfig;
  /** Records that parsed to a JSON object. */
  rows: number;
  /** Records that could not be parsed or were not an object (a shape signal, never an error). */
  unparseable: number;
  /** Values of columns not tracked (maxColumns reached, or a record over its new-column budget). */
  columnOverflow: number;
  /** The first {@link MAX_DROPPED_COLUMNS_NAMED} columns not tracked, with the reason. */
  readonly droppedColumns: DroppedColumn[];
  /** Latest event time seen (epoch ms), null when none. */
  eventTimeMax: number | null;
  /** Records whose event-time field was absent or not a valid time. */
  eventTimeInvalid: number;
  /** Window bounds (epoch ms) when the caller sets them; merges take the union. */
  windowStart: number | null;
  windowEnd: number | null;
  readonly columns: Map<string, ColumnProfile>;
  /** Compiled conditions by column (derived from config, not serialized). */
  readonly compiled: Map<string, CompiledCondition[]>;
  readonly eventTimePath: readonly string[] | null;
  /** Key cache of the record loop (see {@link Shape}; not serialized). */
  readonly shape: Shape;
  /** New columns added by the record being visited (not serialized). */
  newInRecord: number;
}

function resolveConfig(config: ProfileConfig): ResolvedProfileConfig {
  const intIn = (name: string, v: number | undefined, dflt: number, lo: number, hi: number): number => {
    const x = v ?? dflt;
    if (!Number.isInteger(x) || x < lo || x > hi) {
      throw new ProfileError(`${name} must be an integer between ${lo} and ${hi} (given ${x})`);
    }
    return x;
  };
  const conditions = [...(config.conditions ?? [])].map((c) => ({
    id: c.id,
    column: c.column,
    ...(c.pattern !== undefined ? { pattern: c.pattern } : {}),
    ...(c.allowedValues !== undefined ? { allowedValues: [...c.allowedValues] } : {}),
  }));
  const ids = new Set<string>();
  for (const c of conditions) {
    if (ids.has(c.id)) throw new ProfileError(`duplicate condition id '${c.id}'`);
    ids.add(c.id);
  }
  return {
    maxDepth: intIn('maxDepth', config.maxDepth, DEFAULT_MAX_DEPTH, 1, 8),
    maxColumns: intIn('maxColumns', config.maxColumns, DEFAULT_MAX_COLUMNS, 1, 10_000),
    priorityColumns: [...new Set(config.priorityColumns ?? [])].sort(),
    maxNewColumnsPerRecord: intIn('maxNewColumnsPerRecord', config.maxNewColumnsPerRecord, DEFAULT_MAX_NEW_COLUMNS_PER_RECORD, 1, 10_000),
    eventTimeField: config.eventTimeField ?? null,
    kllK: intIn('kllK', config.kllK, DEFAULT_KLL_K, 8, 65535),
    hllLgK: intIn('hllLgK', config.hllLgK, DEFAULT_HLL_LG_K, 4, 16),
    frequentItems: intIn('frequentItems', config.frequentItems, DEFAULT_FREQUENT_ITEMS, 1, 4096),
    conditions,
  };
}

function compileConditions(conditions: readonly ConditionSpec[]): Map<string, CompiledCondition[]> {
  const out = new Map<string, CompiledCondition[]>();
  for (const c of conditions) {
    let regex: RegExp | null = null;
    if (c.pattern !== undefined) {
      try {
        regex = new RegExp(c.pattern);
      } catch (e) {
        throw new ProfileError(`condition '${c.id}': invalid pattern ${JSON.stringify(c.pattern)} (${(e as Error).message})`);
      }
    }
    const compiled: CompiledCondition = { id: c.id, regex, allowed: c.allowedValues ? new Set(c.allowedValues) : null };
    const list = out.get(c.column);
    if (list) list.push(compiled);
    else out.set(c.column, [compiled]);
  }
  return out;
}

/** Creates an empty profile. Throws ProfileError on an invalid config (bad sizes, invalid regex, duplicate ids). */
export function createProfile(config: ProfileConfig = {}): Profile {
  const resolved = resolveConfig(config);
  const columns = new Map<string, ColumnProfile>();
  for (const c of resolved.priorityColumns) columns.set(c, new ColumnProfile());
  return {
    v: 1,
    config: resolved,
    rows: 0,
    unparseable: 0,
    columnOverflow: 0,
    droppedColumns: [],
    eventTimeMax: null,
    eventTimeInvalid: 0,
    windowStart: null,
    windowEnd: null,
    columns,
    compiled: compileConditions(resolved.conditions),
    eventTimePath: resolved.eventTimeField ? resolved.eventTimeField.split('.') : null,
    shape: newShape(''),
    newInRecord: 0,
  };
}

const textDecoder = new TextDecoder('utf-8', { fatal: true });

/**
 * Adds one record. A string or bytes record is parsed as JSON; anything that does not parse to a JSON object
 * (invalid JSON, invalid UTF-8, arrays, scalars, null) is counted in `unparseable`. Never throws for bad data.
 * Returns the profile (mutated in place).
 */
export function updateProfile(profile: Profile, record: unknown): Profile {
  let obj = record;
  if (typeof obj === 'string' || obj instanceof Uint8Array) {
    try {
      obj = JSON.parse(typeof obj === 'string' ? obj : textDecoder.decode(obj));
    } catch {
      profile.unparseable++;
      return profile;
    }
  }
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) {
    profile.unparseable++;
    return profile;
  }
  profile.rows++;
  profile.newInRecord = 0;
  visit(profile, obj as Record<string, unknown>, profile.shape, 1);
  if (profile.eventTimePath) trackEventTime(profile, obj as Record<string, unknown>, profile.eventTimePath);
  return profile;
}

function trackEventTime(profile: Profile, obj: Record<string, unknown>, path: readonly string[]): void {
  let v: unknown = obj[path[0]]; // path has at least one segment; index loop (no array iterator per record)
  for (let i = 1; i < path.length; i++) {
    if (v === null || typeof v !== 'object') {
      v = undefined;
      break;
    }
    v = (v as Record<string, unknown>)[path[i]];
  }
  const t = typeof v === 'number' ? v : typeof v === 'string' ? Date.parse(v) : NaN;
  if (!Number.isFinite(t)) {
    profile.eventTimeInvalid++;
    return;
  }
  if (profile.eventTimeMax === null || t > profile.eventTimeMax) profile.eventTimeMax = t;
}

/**
 * The keys met at one object level, by position, with their columns and paths: records of a stream usually share
 * their key order, so a key at the same position as in the previous record is resolved by one string comparison
 * instead of a path concatenation and a map lookup. Not serialized; one per profile (held by the profile itself, not
 * in a WeakMap: no lookup per record) and per nested column position.
 */
export interface Shape {
  readonly prefix: string;
  readonly keys: string[];
  readonly cols: ColumnProfile[];
  readonly paths: string[];
  readonly children: Array<Shape | undefined>;
}

function newShape(prefix: string): Shape {
  return { prefix, keys: [], cols: [], paths: [], children: [] };
}


function visit(profile: Profile, obj: Record<string, unknown>, shape: Shape, depth: number): void {
  // for-in (no key array allocated); records are plain JSON objects, inherited keys are skipped.
  let i = 0;
  for (const key in obj) {
    if (!hasOwn.call(obj, key)) continue;
    const value = obj[key];
    let col: ColumnProfile | undefined;
    let path: string;
    if (shape.keys[i] === key) {
      col = shape.cols[i];
      path = shape.paths[i];
    } else {
      path = shape.prefix === '' ? key : shape.prefix + key;
      col = profile.columns.get(path);
      if (col === undefined) {
        col = newColumn(profile, path);
        if (col === undefined) {
          i++;
          continue;
        }
      }
      shape.keys[i] = key;
      shape.cols[i] = col;
      shape.paths[i] = path;
      shape.children[i] = undefined;
    }
    const position = i++;
    col.count++;
    switch (typeof value) {
      case 'number':
        addNumber(profile, col, value);
        break;
      case 'string':
        addString(profile, col, value);
        break;
      case 'boolean':
        // A boolean hashes to one of two constants: once the column's HLL holds it, adding it again changes
        // nothing (register = max), so it is added only the first time each value is seen.
        if (value ? col.trues === 0 : col.bool === col.trues) {
          hashBoolean(value);
          col.hllFor(profile.config.hllLgK).addHash();
        }
        col.bool++;
        if (value) col.trues++;
        break;
      case 'undefined':
        col.nulls++;
        continue;
      case 'object':
        if (value === null) {
          col.nulls++;
          continue;
        }
        if (Array.isArray(value)) {
          col.array++;
        } else {
          col.obj++;
          if (depth < profile.config.maxDepth) {
            const child = shape.children[position] ?? (shape.children[position] = newShape(path + '.'));
            visit(profile, value as Record<string, unknown>, child, depth + 1);
          }
        }
        break;
      default: // bigint, function, symbol: not JSON; counted as objects
        col.obj++;
    }
    if (profile.compiled.size !== 0) checkConditions(profile, path, col, value);
  }
}

const hasOwn = Object.prototype.hasOwnProperty;

/** A new tracked column at `path`, or undefined (its value counted in columnOverflow) when the caps leave no room. */
function newColumn(profile: Profile, path: string): ColumnProfile | undefined {
  const cfg = profile.config;
  const reason: DropReason | undefined = profile.columns.size - cfg.priorityColumns.length >= cfg.maxColumns ? 'max-columns'
    : profile.newInRecord >= cfg.maxNewColumnsPerRecord ? 'record-budget' : undefined;
  if (reason !== undefined) {
    profile.columnOverflow++;
    noteDropped(profile, path, reason);
    return undefined;
  }
  profile.newInRecord++;
  const col = new ColumnProfile();
  profile.columns.set(path, col);
  return col;
}

/** Names a dropped column (the first MAX_DROPPED_COLUMNS_NAMED, each once). */
export function noteDropped(profile: Profile, column: string, reason: DropReason): void {
  const list = profile.droppedColumns;
  if (list.length >= MAX_DROPPED_COLUMNS_NAMED || list.some((d) => d.column === column)) return;
  list.push({ column, reason });
}

function addNumber(profile: Profile, col: ColumnProfile, x: number): void {
  if (!Number.isFinite(x)) {
    col.nonFinite++;
    return;
  }
  if (Number.isInteger(x)) col.int++;
  else col.frac++;
  col.queueNumber(x, profile.config.kllK, profile.config.hllLgK);
}

function addString(profile: Profile, col: ColumnProfile, s: string): void {
  col.str++;
  const len = s.length;
  if (len < col.lenMin) col.lenMin = len;
  if (len > col.lenMax) col.lenMax = len;
  col.lenSum += len;
  col.queueString(s, profile.config.hllLgK, profile.config.frequentItems);
}

function checkConditions(profile: Profile, path: string, col: ColumnProfile, value: unknown): void {
  const conds = profile.compiled.get(path);
  if (conds === undefined) return;
  const text = typeof value === 'string' ? value : typeof value === 'number' || typeof value === 'boolean' ? String(value) : null;
  col.conditions ??= new Map();
  for (const c of conds) {
    let counts = col.conditions.get(c.id);
    if (counts === undefined) {
      counts = { checked: 0, matched: 0 };
      col.conditions.set(c.id, counts);
    }
    counts.checked++;
    if (text === null) continue;
    if (c.regex !== null) {
      c.regex.lastIndex = 0;
      if (!c.regex.test(text)) continue;
    }
    if (c.allowed !== null && !c.allowed.has(text)) continue;
    counts.matched++;
  }
}

