/** The serialized profile, version 1: compact JSON, lossless (a deserialized profile answers every query alike). */
import { ColumnProfile, VALUE_TYPES } from './column';
import { FrequentState, MisraGries } from './frequent';
import { HyperLogLog } from './hll';
import { KllSketch, KllState } from './kll';
import { DropReason, PROFILE_VERSION, Profile, ResolvedProfileConfig, createProfile, noteDropped } from './profile';
import { ProfileError } from '../errors';

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
  /** Named dropped columns and why (absent in states written before it existed). */
  dropped?: Array<[string, DropReason]>;
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
    ...(profile.droppedColumns.length > 0 ? { dropped: profile.droppedColumns.map((d): [string, DropReason] => [d.column, d.reason]) } : {}),
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
    for (const [column, reason] of s.dropped ?? []) noteDropped(p, column, reason);
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

