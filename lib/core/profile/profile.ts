/**
 * Mergeable data-quality profile of a window of records (the whylogs/Deequ metric set, see
 * docs of the QualityProfiler): rows, unparseable records, and per column (dot paths) counts, nulls,
 * non-finite numbers, type counts, min/max/mean/variance, KLL quantiles, HLL distinct count, Misra-Gries
 * frequent items, string lengths, declared conditions (pattern and allowed values) and the latest event time.
 *
 * Profiles are built per shard (Lambda tumbling-window state, capped at 1 MB), serialized compactly
 * (`serializeProfile`, versioned JSON `{ v: 1, ... }`), and merged downstream (`mergeProfiles`: counts add,
 * min/max combine, moments by the parallel formula, sketches by union). Pure: no I/O, no AWS SDK.
 */
import { DEFAULT_FREQUENT_ITEMS, FrequentState, MAX_ITEM_CHARS, MisraGries } from './frequent';
import { hashBoolean, hashNumberWords, hashOut, hashString } from './hash';
import { DEFAULT_HLL_LG_K, HyperLogLog } from './hll';
import { DEFAULT_KLL_K, KllSketch, KllState } from './kll';
import { Moments, emptyMoments, mergeMoments, variance } from './moments';

export const PROFILE_VERSION = 1;
/** Default nesting depth: top-level keys and one level of nested objects (`a.b`). */
export const DEFAULT_MAX_DEPTH = 2;
/** Default cap on tracked columns; values of further columns are counted in `columnOverflow`. */
export const DEFAULT_MAX_COLUMNS = 200;
/** Numbers queued per column before they are applied to its sketches (see ColumnProfile.queueNumber). */
const NUMBER_BATCH = 256;
/** Strings queued per column before they are applied to its sketches (see ColumnProfile.queueString). */
const STRING_BATCH = 256;

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
  /** @default 200 */
  readonly maxColumns?: number;
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
  eventTimeField: string | null;
  kllK: number;
  hllLgK: number;
  frequentItems: number;
  conditions: ConditionSpec[];
}

/** Value types counted per column. */
export type ValueType = 'int' | 'frac' | 'bool' | 'str' | 'obj' | 'array';
export const VALUE_TYPES: readonly ValueType[] = ['int', 'frac', 'bool', 'str', 'obj', 'array'];

export interface ConditionCounts {
  /** Non-null values the condition was evaluated on. */
  checked: number;
  /** Values that satisfied it. */
  matched: number;
}

/** Profile of one column (dot path). */
export class ColumnProfile {
  /** Records in which the key was present (null included). */
  count = 0;
  nulls = 0;
  /** NaN and +-Infinity (possible in records given as objects; JSON has none). */
  nonFinite = 0;
  int = 0;
  frac = 0;
  bool = 0;
  str = 0;
  obj = 0;
  array = 0;
  trues = 0;
  lenMin = Infinity;
  lenMax = -Infinity;
  lenSum = 0;
  conditions: Map<string, ConditionCounts> | null = null;

  private momentsState: Moments = emptyMoments();
  private kllSketch: KllSketch | null = null;
  private hllSketch: HyperLogLog | null = null;
  /**
   * Finite numbers added but not yet in the moments, quantile and distinct-count sketches (see {@link addNumber}).
   * The accessors below apply them first, so every reader sees the same state as if each number had been added
   * on arrival.
   */
  private pending: Float64Array | null = null;
  /** The same buffer as 32-bit words (the float64 bits hashed for the HLL). */
  private pendingWords: Uint32Array | null = null;
  private nPending = 0;
  private freqSketch: MisraGries | null = null;
  /** Strings added but not yet in the HLL and frequent-items sketches (see {@link queueString}). */
  private strings: Array<string | undefined> | null = null;
  private nStrings = 0;

  /** Applies the queued numbers and strings, if any: every accessor below reads or replaces settled sketches. */
  private settle(): void {
    if (this.nPending !== 0 || this.nStrings !== 0) this.applyPending();
  }

  get moments(): Moments {
    this.settle();
    return this.momentsState;
  }
  set moments(m: Moments) {
    this.settle();
    this.momentsState = m;
  }
  get kll(): KllSketch | null {
    this.settle();
    return this.kllSketch;
  }
  set kll(k: KllSketch | null) {
    this.settle();
    this.kllSketch = k;
  }
  get freq(): MisraGries | null {
    this.settle();
    return this.freqSketch;
  }
  set freq(f: MisraGries | null) {
    this.settle();
    this.freqSketch = f;
  }
  get hll(): HyperLogLog | null {
    this.settle();
    return this.hllSketch;
  }
  set hll(h: HyperLogLog | null) {
    this.settle();
    this.hllSketch = h;
  }

  /** The HLL sketch for the hot path (no pending numbers to apply: the order of HLL updates does not matter). */
  hllFor(lgK: number): HyperLogLog {
    return (this.hllSketch ??= new HyperLogLog(lgK));
  }

  /**
   * Queues a finite number for the moments, KLL and HLL sketches (created here on the first number). Numbers are
   * applied in batches of {@link NUMBER_BATCH}: one tight loop per batch (Welford update, float64-bit hash and HLL
   * register update interleaved) and a bulk copy into the KLL level-0 buffer cost measurably less than the same
   * work value by value through the record loop. The sketches end up identical: same Welford sequence, same hashes,
   * same KLL update order.
   */
  queueNumber(x: number, kllK: number, hllLgK: number): void {
    if (this.nPending === 0) {
      if (this.pending === null) {
        this.pending = new Float64Array(NUMBER_BATCH);
        this.pendingWords = new Uint32Array(this.pending.buffer);
      }
      this.kllSketch ??= new KllSketch(kllK);
      this.hllSketch ??= new HyperLogLog(hllLgK);
    }
    this.pending![this.nPending++] = x;
    if (this.nPending === NUMBER_BATCH) this.applyNumbers();
  }

  /**
   * Queues a string for the HLL and frequent-items sketches (created here on the first string), applied in
   * batches of {@link STRING_BATCH} for the same reason as numbers: the hashing, HLL and frequent-items work of a
   * batch runs in one loop over sketches that stay in cache, instead of touching every column's sketches for every
   * record. The frequent items see the strings in the same order, so the sketches are identical. Strings longer than
   * MAX_ITEM_CHARS are applied at once (after the queue, keeping the order) so that the queue never holds large
   * strings alive.
   */
  queueString(s: string, hllLgK: number, frequentItems: number): void {
    if (this.nStrings === 0) {
      this.strings ??= new Array<string | undefined>(STRING_BATCH).fill(undefined);
      this.hllSketch ??= new HyperLogLog(hllLgK);
      this.freqSketch ??= new MisraGries(frequentItems);
    }
    this.strings![this.nStrings++] = s;
    if (this.nStrings === STRING_BATCH || s.length > MAX_ITEM_CHARS) this.applyStrings();
  }

  private applyStrings(): void {
    const n = this.nStrings;
    this.nStrings = 0;
    const strings = this.strings!;
    const hll = this.hllSketch!;
    const freq = this.freqSketch!;
    for (let i = 0; i < n; i++) {
      const s = strings[i]!;
      strings[i] = undefined;
      hashString(s);
      hll.addHash();
      freq.update(s, 1, hashOut.h1);
    }
  }

  private applyPending(): void {
    if (this.nStrings !== 0) this.applyStrings();
    if (this.nPending !== 0) this.applyNumbers();
  }

  private applyNumbers(): void {
    const n = this.nPending;
    this.nPending = 0;
    const buf = this.pending!;
    const words = this.pendingWords!;
    const m = this.momentsState;
    const hll = this.hllSketch!;
    let count = m.n;
    let mean = m.mean;
    let m2 = m.m2;
    for (let i = 0; i < n; i++) {
      const x = buf[i];
      // Welford, as addValue.
      const dx = x - mean;
      mean += dx / ++count;
      m2 += dx * (x - mean);
      // hashNumber(x) from the stored bits (-0 hashes as 0), then the HLL update.
      hashNumberWords(words[2 * i], x === 0 ? 0 : words[2 * i + 1]);
      hll.addHash();
    }
    m.n = count;
    m.mean = mean;
    m.m2 = m2;
    this.kllSketch!.updateBatch(buf, n);
  }

  /** Number of values of a type. */
  typeCount(t: ValueType): number {
    return this[t];
  }

  /** Most frequent non-null type, or null when the column only held nulls. Ties resolve in VALUE_TYPES order. */
  dominantType(): ValueType | null {
    let best: ValueType | null = null;
    let bestCount = 0;
    for (const t of VALUE_TYPES) {
      if (this[t] > bestCount) {
        best = t;
        bestCount = this[t];
      }
    }
    return best;
  }
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
  /** Values of columns not tracked because `maxColumns` was reached. */
  columnOverflow: number;
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
}

export class ProfileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProfileError';
  }
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
  return {
    v: 1,
    config: resolved,
    rows: 0,
    unparseable: 0,
    columnOverflow: 0,
    eventTimeMax: null,
    eventTimeInvalid: 0,
    windowStart: null,
    windowEnd: null,
    columns: new Map(),
    compiled: compileConditions(resolved.conditions),
    eventTimePath: resolved.eventTimeField ? resolved.eventTimeField.split('.') : null,
    shape: newShape(''),
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
 * instead of a path concatenation and a map lookup. Not serialized; one per profile (held by the profile itself: a
 * WeakMap lookup per record was a measurable cost) and per nested column position.
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
        if (profile.columns.size >= profile.config.maxColumns) {
          profile.columnOverflow++;
          i++;
          continue;
        }
        col = new ColumnProfile();
        profile.columns.set(path, col);
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

// ---------------------------------------------------------------------------------------------------------------
// Merge

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
  const out = createProfile({ ...a.config, eventTimeField: a.config.eventTimeField ?? undefined, maxColumns, conditions });
  out.rows = a.rows + b.rows;
  out.unparseable = a.unparseable + b.unparseable;
  out.columnOverflow = a.columnOverflow + b.columnOverflow;
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
  const names = [...merged.keys()];
  if (names.length > maxColumns) {
    names.sort((x, y) => merged.get(y)!.count - merged.get(x)!.count || (x < y ? -1 : 1));
    for (const dropped of names.slice(maxColumns)) out.columnOverflow += merged.get(dropped)!.count;
    names.length = maxColumns;
  }
  for (const name of names.sort()) out.columns.set(name, merged.get(name)!);
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Serialization

interface SerializedColumn {
  c: number;
  nl: number;
  nf: number;
  /** Type counts in VALUE_TYPES order. */
  t: number[];
  tr: number;
  num?: { n: number; mean: number; m2: number; kll: KllState };
  hll?: string;
  len?: [number, number, number];
  fi?: FrequentState;
  cond?: Record<string, [number, number]>;
}

/** The serialized profile, version 1 (JSON). */
export interface SerializedProfile {
  v: 1;
  cfg: ResolvedProfileConfig;
  rows: number;
  unparseable: number;
  overflow: number;
  eventTimeMax: number | null;
  eventTimeInvalid: number;
  window: [number | null, number | null];
  cols: Record<string, SerializedColumn>;
}

/** Serializes a profile to compact JSON text (lossless: deserialize(serialize(p)) answers every query alike). */
export function serializeProfile(profile: Profile): string {
  return JSON.stringify(toSerialized(profile));
}

/** The serialized form as an object (to embed in a larger JSON document without escaping it as a string). */
export function profileToSerialized(profile: Profile): SerializedProfile {
  return toSerialized(profile);
}

function toSerialized(profile: Profile): SerializedProfile {
  const cols: Record<string, SerializedColumn> = {};
  for (const [name, col] of profile.columns) {
    const s: SerializedColumn = {
      c: col.count,
      nl: col.nulls,
      nf: col.nonFinite,
      t: VALUE_TYPES.map((t) => col[t]),
      tr: col.trues,
    };
    if (col.moments.n > 0 && col.kll) s.num = { ...col.moments, kll: col.kll.serialize() };
    if (col.hll) s.hll = col.hll.serialize();
    if (col.str > 0) s.len = [col.lenMin, col.lenMax, col.lenSum];
    if (col.freq) s.fi = col.freq.serialize();
    if (col.conditions) {
      s.cond = {};
      for (const [id, c] of col.conditions) s.cond[id] = [c.checked, c.matched];
    }
    cols[name] = s;
  }
  return {
    v: 1,
    cfg: profile.config,
    rows: profile.rows,
    unparseable: profile.unparseable,
    overflow: profile.columnOverflow,
    eventTimeMax: profile.eventTimeMax,
    eventTimeInvalid: profile.eventTimeInvalid,
    window: [profile.windowStart, profile.windowEnd],
    cols,
  };
}

/** Parses {@link serializeProfile} output (text or the parsed object). Throws ProfileError on another version or a corrupt state. */
export function deserializeProfile(input: string | SerializedProfile): Profile {
  let s: SerializedProfile;
  try {
    s = typeof input === 'string' ? (JSON.parse(input) as SerializedProfile) : input;
  } catch (e) {
    throw new ProfileError(`profile is not valid JSON: ${(e as Error).message}`);
  }
  if (s === null || typeof s !== 'object' || s.v !== PROFILE_VERSION) {
    throw new ProfileError(`unsupported profile version ${JSON.stringify((s as { v?: unknown } | null)?.v)} (expected ${PROFILE_VERSION})`);
  }
  try {
    const p = createProfile({ ...s.cfg, eventTimeField: s.cfg.eventTimeField ?? undefined });
    p.rows = s.rows;
    p.unparseable = s.unparseable;
    p.columnOverflow = s.overflow;
    p.eventTimeMax = s.eventTimeMax;
    p.eventTimeInvalid = s.eventTimeInvalid;
    p.windowStart = s.window[0];
    p.windowEnd = s.window[1];
    for (const [name, sc] of Object.entries(s.cols)) {
      const col = new ColumnProfile();
      col.count = sc.c;
      col.nulls = sc.nl;
      col.nonFinite = sc.nf;
      VALUE_TYPES.forEach((t, i) => (col[t] = sc.t[i]));
      col.trues = sc.tr;
      if (sc.num) {
        col.moments = { n: sc.num.n, mean: sc.num.mean, m2: sc.num.m2 };
        col.kll = KllSketch.deserialize(sc.num.kll);
      }
      if (sc.hll) col.hll = HyperLogLog.deserialize(sc.hll);
      if (sc.len) [col.lenMin, col.lenMax, col.lenSum] = sc.len;
      if (sc.fi) col.freq = MisraGries.deserialize(sc.fi);
      if (sc.cond) {
        col.conditions = new Map(Object.entries(sc.cond).map(([id, [checked, matched]]) => [id, { checked, matched }]));
      }
      p.columns.set(name, col);
    }
    return p;
  } catch (e) {
    if (e instanceof ProfileError) throw e;
    throw new ProfileError(`corrupt profile state: ${(e as Error).message}`);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Queries

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

function fmt(x: number): string {
  if (!Number.isFinite(x)) return Number.isNaN(x) ? '-' : String(x);
  if (Number.isInteger(x) && Math.abs(x) < 1e15) return String(x);
  const a = Math.abs(x);
  return a !== 0 && (a < 1e-3 || a >= 1e9) ? x.toExponential(3) : String(Number(x.toPrecision(5)));
}

/** Human-readable multi-line summary (for the CLI and logs). */
export function profileSummary(profile: Profile, opts: { topItems?: number } = {}): string {
  const top = opts.topItems ?? 3;
  const lines: string[] = [];
  const et = profile.eventTimeMax === null ? '-' : new Date(profile.eventTimeMax).toISOString();
  lines.push(`rows ${profile.rows}  unparseable ${profile.unparseable}  columns ${profile.columns.size}` +
    (profile.columnOverflow ? `  untracked values ${profile.columnOverflow}` : '') + `  latest event ${et}`);
  const header = ['column', 'type', 'complete', 'distinct', 'min', 'p50', 'p95', 'max', 'mean', 'stddev', 'top'];
  const rows: string[][] = [header];
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
      fmt(st.min),
      kll && kll.n ? fmt(kll.quantile(0.5)) : '-',
      kll && kll.n ? fmt(kll.quantile(0.95)) : '-',
      fmt(st.max),
      fmt(st.mean),
      fmt(st.stddev),
      topItems,
    ]);
  }
  const widths = header.map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  for (const r of rows) lines.push(r.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd());
  return lines.join('\n');
}
