/**
 * The profiler's logic, free of the Lambda runtime and of the AWS SDK (the store and the metric sink are ports).
 *
 * Per shard, Lambda's tumbling windows carry a profile of the window in the invocation state (the serialized
 * profile, ~130 KB for 20 columns whatever the record count). On the final invocation of a window the shard's
 * profile is written to the history bucket, then the latest EARLIER window is evaluated:
 *
 *   1. list the windows of the last `historyWindows + 1` window lengths (one ListObjectsV2 with Delimiter);
 *   2. the target is the latest window before the current one (the previous window in steady traffic, an older one
 *      after a pause); its shard parts are listed, and the hash of their keys identifies what is being evaluated;
 *   3. when `results.json` of the target already names that hash, nothing is done (repeated final invocations,
 *      the other shards finishing the same window);
 *   4. otherwise the shard parts are merged, the rules are evaluated against the merged profiles of up to
 *      `historyWindows` earlier windows (oldest first), `merged.json` and `results.json` are written, and an
 *      evaluation marker for the hash is created with If-None-Match: only the invocation that creates it publishes
 *      the metrics, so a window is published once per distinct set of shard parts.
 *
 * Why the previous window and not the current one: shards close a window independently (each when its own reads
 * pass the window end), so evaluating a window when one shard closes it would merge a partial set and raise false
 * volume or drift alarms. Every shard that is not lagging has closed window W-1 by the time any shard closes W
 * (windows close on wall-clock boundaries), so evaluating W-1 then sees all of them. The cost is one window of
 * latency. A shard lagging by more than a window adds its part later; the window is then re-merged and published
 * again with the new hash (convergent). A window is only evaluated once a later window receives records: the
 * last window before traffic stops waits for the next record.
 */
import { createHash, randomUUID } from 'node:crypto';
import { ProfilerError, PROFILES_PREFIX, QUALITY_DIMENSIONS, QUALITY_METRIC, RULE_STATUS_VALUE, profileKeys, windowKey } from './profiler-contract';
import { deploymentDimension, METRIC_DIMENSIONS, METRICS_NAMESPACE } from '../../constructs/contract';

export { ProfilerError };
import { QualityMetric, type QualityRule } from '../../constructs/quality-rules';
import { isCanary } from '../core/canary';
import {
  conditionsForRules,
  priorityColumnsForRules,
  createProfile,
  deserializeProfile,
  evaluateRules,
  mergeProfiles,
  metricValue,
  profileToSerialized,
  type Profile,
  type RuleResult,
  type SerializedProfile,
  updateProfile,
} from '../core/profile';

/** Object store port (S3 in Lambda; in memory or fauxqs in tests). */
export interface ProfileStore {
  /** Object text, or undefined when the key does not exist. */
  get(key: string): Promise<string | undefined>;
  /** Writes an object. With `ifNoneMatch`, only when the key does not exist: returns false when it did. */
  put(key: string, body: string, opts?: { ifNoneMatch?: boolean }): Promise<boolean>;
  /** Keys under a prefix, ascending. */
  listKeys(prefix: string): Promise<string[]>;
  /** Common prefixes (ending in '/') under `prefix` after `startAfter`, ascending. */
  listFolders(prefix: string, startAfter: string): Promise<string[]>;
}

export interface ProfilerConfig {
  readonly pipeline: string;
  /** Deployment id (PHX_DEPLOYMENT): the `Deployment` dimension of every quality metric; undefined = none. */
  readonly deployment?: string;
  readonly rules: readonly QualityRule[];
  /**
   * Window length the construct configured (TumblingWindowInSeconds). Final invocations use the length of their
   * event's window, so that a mapping with another window (e.g. shortened by the local environment) stays consistent.
   */
  readonly windowSeconds: number;
  /** Merged profiles of earlier windows the rules see (k). */
  readonly historyWindows: number;
  readonly eventTimeField?: string;
}

export interface ProfilerDeps {
  readonly store: ProfileStore;
  /** Writes one log line (EMF documents and structured logs). */
  readonly emit: (line: string) => void;
  readonly now?: () => number;
}

/** A Kinesis record as Lambda delivers it (only what the profiler reads). */
export interface WindowRecord {
  readonly kinesis: { readonly data: string; readonly sequenceNumber: string };
}

/** The tumbling-window event (only what the profiler reads). */
export interface WindowEvent {
  readonly Records?: readonly WindowRecord[];
  readonly window?: { readonly start: string; readonly end: string };
  readonly state?: Record<string, unknown>;
  readonly shardId?: string;
  readonly isFinalInvokeForWindow?: boolean;
  readonly isWindowTerminatedEarly?: boolean;
}

export interface WindowResponse {
  /** A {@link ProfilerState}, or `{}` when the window has no records yet or was closed. */
  state: Record<string, unknown>;
  batchItemFailures: Array<{ itemIdentifier: string }>;
}

/** Tumbling-window state: the profile of this shard's part of the window. */
export interface ProfilerState {
  readonly v: 1;
  /** Sequence number of the part's first record (names the shard part in the bucket). */
  readonly first: string;
  /** Identifies this state: a container that produced it may reuse its in-memory profile instead of parsing it. */
  readonly token: string;
  readonly p: SerializedProfile;
}

/** What a final invocation did (logged, returned for tests). */
export interface FinishOutcome {
  readonly shardKey?: string;
  readonly evaluated?: WindowEvaluation;
  /** Why nothing was evaluated. */
  readonly note?: string;
}

export interface WindowEvaluation {
  readonly window: string;
  readonly setHash: string;
  readonly parts: number;
  readonly rows: number;
  readonly historyWindows: number;
  readonly results: RuleResult[];
  /** False when another invocation published this evaluation first. */
  readonly published: boolean;
}

/** The results document (`results.json`). */
export interface ResultsDocument {
  readonly v: 1;
  readonly pipeline: string;
  readonly window: { readonly start: string; readonly end: string };
  readonly setHash: string;
  readonly parts: string[];
  readonly rows: number;
  readonly unparseable: number;
  readonly history: string[];
  readonly evaluatedAt: string;
  readonly results: RuleResult[];
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** What {@link recordPayload} returns for a synthetic canary: not data, never profiled. */
export const CANARY_RECORD: unique symbol = Symbol('canary record');

/**
 * A record's payload: the `payload` of an envelope v1, else the record itself; undefined when not JSON;
 * {@link CANARY_RECORD} for a SyntheticCanary's envelope (one every few minutes would count as a row missing every
 * column, enough to trip completeness rules on small windows).
 */
export function recordPayload(data: string): unknown {
  let text: string;
  try {
    text = utf8.decode(Buffer.from(data, 'base64'));
  } catch {
    return undefined;
  }
  let obj: unknown;
  try {
    obj = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (obj !== null && typeof obj === 'object' && !Array.isArray(obj)) {
    const env = obj as { v?: unknown; payload?: unknown };
    if (env.v === 1 && isCanary(obj)) return CANARY_RECORD;
    if (env.v === 1 && env.payload !== null && typeof env.payload === 'object' && !Array.isArray(env.payload)) return env.payload;
  }
  return obj;
}

/**
 * The profiler of one function container: keeps the last profile it returned, so that the next invocation of the
 * same shard (whose state carries the same token) continues from it without parsing the state.
 */
export class WindowProfiler {
  private cached: { token: string; profile: Profile } | undefined;
  private readonly now: () => number;

  constructor(private readonly config: ProfilerConfig, private readonly deps: ProfilerDeps) {
    this.now = deps.now ?? Date.now;
    if (!Number.isInteger(config.windowSeconds) || config.windowSeconds < 1 || config.windowSeconds > 900) {
      throw new ProfilerError(`window must be 1-900 seconds (given ${config.windowSeconds})`);
    }
    if (!Number.isInteger(config.historyWindows) || config.historyWindows < 1 || config.historyWindows > 100) {
      throw new ProfilerError(`history windows must be 1-100 (given ${config.historyWindows})`);
    }
    this.newProfile(); // fails fast on an invalid rule pattern
  }

  /** Handles one tumbling-window invocation. */
  async handle(event: WindowEvent): Promise<WindowResponse> {
    if (!event.window) {
      throw new ProfilerError('the event has no tumbling window: the event source mapping must set TumblingWindowInSeconds');
    }
    if (event.isFinalInvokeForWindow) {
      await this.finish(event);
      return { state: {}, batchItemFailures: [] };
    }
    const records = event.Records ?? [];
    const prior = this.take(event.state);
    const profile = prior?.profile ?? this.newProfile();
    for (const r of records) {
      // Not JSON / not an object: counted as unparseable (a quality signal, never a failure). Canaries: skipped.
      const payload = recordPayload(r.kinesis.data);
      if (payload !== CANARY_RECORD) updateRecord(profile, payload);
    }
    const first = prior?.first ?? records[0]?.kinesis.sequenceNumber;
    if (first === undefined) return { state: {}, batchItemFailures: [] };
    const token = randomUUID();
    const state: ProfilerState = { v: 1, first, token, p: profileToSerialized(profile) };
    this.cached = { token, profile };
    return { state: state as unknown as Record<string, unknown>, batchItemFailures: [] };
  }

  /**
   * The final invocation of a window: writes the shard part, then evaluates the latest earlier window. A final
   * invocation without state (no records) only evaluates: the local environment sends one for the window after the
   * last one to evaluate that last window at the end of a run.
   */
  async finish(event: WindowEvent): Promise<FinishOutcome> {
    const startMs = Date.parse(event.window!.start);
    const endMs = Date.parse(event.window!.end);
    if (!Number.isFinite(startMs) || !Number.isFinite(endMs)) {
      throw new ProfilerError(`invalid window ${JSON.stringify(event.window)}`);
    }
    const window = windowKey(startMs);
    const prior = this.take(event.state);
    let shardKey: string | undefined;
    if (prior) {
      prior.profile.windowStart = startMs;
      prior.profile.windowEnd = endMs;
      shardKey = profileKeys.shard(window, event.shardId ?? 'shard', prior.first);
      await this.deps.store.put(shardKey, JSON.stringify(profileToSerialized(prior.profile)));
    }
    const outcome = await this.evaluateBefore(window, endMs - startMs);
    this.log('INFO', 'window closed', {
      window,
      shardId: event.shardId,
      terminatedEarly: event.isWindowTerminatedEarly === true,
      shardKey,
      rows: prior?.profile.rows ?? 0,
      evaluated: outcome.evaluated?.window,
      note: outcome.note,
    });
    return { ...(shardKey ? { shardKey } : {}), ...outcome };
  }

  /**
   * Evaluates the latest window before `current` that has shard parts (see the module comment).
   * @param windowMs window length (default: the configured windowSeconds)
   */
  async evaluateBefore(current: string, windowMs = this.config.windowSeconds * 1000): Promise<Omit<FinishOutcome, 'shardKey'>> {
    const currentMs = Date.parse(current);
    const lookbackMs = (this.config.historyWindows + 1) * windowMs;
    // Keys sort chronologically (fixed-width ISO-8601): list the folders from just before the lookback start.
    const startAfter = profileKeys.window(windowKey(currentMs - lookbackMs - 1000)).slice(0, -1);
    const folders = (await this.deps.store.listFolders(PROFILES_PREFIX, startAfter))
      .map((f) => f.slice(PROFILES_PREFIX.length, -1))
      .filter((w) => Number.isFinite(Date.parse(w)) && Date.parse(w) < currentMs && Date.parse(w) >= currentMs - lookbackMs)
      .sort();
    if (folders.length === 0) return { note: 'no earlier window to evaluate' };
    const target = folders[folders.length - 1];
    const history = folders.slice(0, -1).slice(-this.config.historyWindows);
    return { evaluated: await this.evaluateWindow(target, history, windowMs) };
  }

  /** Merges the shard parts of `window`, evaluates the rules against `history` (window keys, oldest first), publishes. */
  async evaluateWindow(window: string, history: readonly string[], windowMs = this.config.windowSeconds * 1000): Promise<WindowEvaluation> {
    const store = this.deps.store;
    const parts = (await store.listKeys(profileKeys.shards(window))).filter((k) => k.endsWith('.json')).sort();
    const setHash = createHash('sha256').update(parts.join('\n')).digest('hex').slice(0, 32);
    const previous = await store.get(profileKeys.results(window));
    if (previous !== undefined) {
      const doc = safeParse(previous) as ResultsDocument | undefined;
      if (doc?.setHash === setHash) {
        return { window, setHash, parts: parts.length, rows: doc.rows, historyWindows: doc.history.length, results: doc.results, published: false };
      }
    }
    const texts = await Promise.all(parts.map((k) => store.get(k)));
    let merged: Profile | undefined;
    for (let i = 0; i < parts.length; i++) {
      if (texts[i] === undefined) continue;
      try {
        const p = deserializeProfile(texts[i]!);
        merged = merged ? mergeProfiles(merged, p) : p;
      } catch (e) {
        // A part written by another deployment (different rules or sketch sizes) cannot be merged: skip it, say so.
        this.log('WARN', 'shard profile skipped', { key: parts[i], error: (e as Error).message });
      }
    }
    merged ??= this.newProfile();
    const startMs = Date.parse(window);
    merged.windowStart = startMs;
    merged.windowEnd = startMs + windowMs;

    const historyTexts = await Promise.all(history.map((w) => store.get(profileKeys.merged(w))));
    const historyProfiles: Profile[] = [];
    const historyUsed: string[] = [];
    historyTexts.forEach((t, i) => {
      if (t === undefined) return; // a window that was never evaluated
      try {
        historyProfiles.push(deserializeProfile(t));
        historyUsed.push(history[i]);
      } catch (e) {
        this.log('WARN', 'history profile skipped', { window: history[i], error: (e as Error).message });
      }
    });
    const results = evaluateRules(this.config.rules, merged, historyProfiles);
    const doc: ResultsDocument = {
      v: 1,
      pipeline: this.config.pipeline,
      window: { start: window, end: windowKey(merged.windowEnd) },
      setHash,
      parts,
      rows: merged.rows,
      unparseable: merged.unparseable,
      history: historyUsed,
      evaluatedAt: new Date(this.now()).toISOString(),
      results,
    };
    await store.put(profileKeys.merged(window), JSON.stringify(profileToSerialized(merged)));
    await store.put(profileKeys.results(window), JSON.stringify(doc));
    const marker = JSON.stringify({ evaluatedAt: doc.evaluatedAt, parts });
    const published = await store.put(profileKeys.evaluation(window, setHash), marker, { ifNoneMatch: true });
    if (published) {
      this.publish(merged, results);
      for (const r of results) {
        if (r.status === 'warn' || r.status === 'fail') {
          this.log('WARN', `quality rule ${r.status}`, { window, rule: r.rule, kind: r.kind, column: r.column, observed: r.observed, warn: r.warn, fail: r.fail, reason: r.reason });
        }
      }
    }
    return { window, setHash, parts: parts.length, rows: merged.rows, historyWindows: historyUsed.length, results, published };
  }

  /** EMF: per rule { Deployment, Pipeline, Rule }, per rule column { Deployment, Pipeline, Column }, per window { Deployment, Pipeline }. */
  private publish(merged: Profile, results: readonly RuleResult[]): void {
    const timestamp = this.now();
    const pipeline = { ...deploymentDimension(this.config.deployment), [METRIC_DIMENSIONS.pipeline]: this.config.pipeline };
    const doc = (dims: Record<string, string>, metrics: Array<[string, number, string]>) => {
      const body: Record<string, unknown> = {
        _aws: {
          Timestamp: timestamp,
          CloudWatchMetrics: [{
            Namespace: METRICS_NAMESPACE,
            Dimensions: [Object.keys(dims)],
            Metrics: metrics.map(([name, , unit]) => ({ Name: name, Unit: unit })),
          }],
        },
        ...dims,
      };
      for (const [name, value] of metrics) body[name] = value;
      this.deps.emit(JSON.stringify(body));
    };
    let failures = 0;
    let warnings = 0;
    let skipped = 0;
    for (const r of results) {
      if (r.status === 'skipped' || r.observed === null || !Number.isFinite(r.observed)) {
        skipped++;
        continue;
      }
      if (r.status === 'fail') failures++;
      if (r.status === 'warn') warnings++;
      doc({ ...pipeline, [QUALITY_DIMENSIONS.rule]: r.rule }, [
        [QUALITY_METRIC.ruleStatus, RULE_STATUS_VALUE[r.status], 'None'],
        [QUALITY_METRIC.ruleObserved, r.observed, 'None'],
      ]);
    }
    const columns = [...new Set(this.config.rules.map((r) => r.column).filter((c): c is string => typeof c === 'string' && c !== ''))].sort();
    for (const column of columns) {
      const completeness = metricValue(merged, QualityMetric.COMPLETENESS, column);
      if (!Number.isFinite(completeness)) continue;
      doc({ ...pipeline, [QUALITY_DIMENSIONS.column]: column }, [[QUALITY_METRIC.columnCompleteness, completeness, 'None']]);
    }
    doc(pipeline, [
      [QUALITY_METRIC.rowsPerWindow, merged.rows, 'Count'],
      [QUALITY_METRIC.unparseablePerWindow, merged.unparseable, 'Count'],
      [QUALITY_METRIC.failures, failures, 'Count'],
      [QUALITY_METRIC.warnings, warnings, 'Count'],
      [QUALITY_METRIC.skipped, skipped, 'Count'],
    ]);
  }

  private newProfile(): Profile {
    const rules = this.config.rules;
    return createProfile({
      conditions: conditionsForRules(rules), priorityColumns: priorityColumnsForRules(rules), eventTimeField: this.config.eventTimeField,
    });
  }

  /**
   * The profile of an incoming state: the cached object when the state is the one this container returned last,
   * else parsed. The cache is cleared either way: if this invocation fails after mutating the profile, the retry
   * (same state) parses the state instead of reusing a half-updated object.
   */
  private take(state: Record<string, unknown> | undefined): { first: string; profile: Profile } | undefined {
    const cached = this.cached;
    this.cached = undefined;
    if (!state || state.v !== 1 || typeof state.first !== 'string' || state.p === undefined) return undefined;
    const s = state as unknown as ProfilerState;
    if (cached && cached.token === s.token) return { first: s.first, profile: cached.profile };
    return { first: s.first, profile: deserializeProfile(s.p) };
  }

  private log(level: 'INFO' | 'WARN', message: string, fields: Record<string, unknown>): void {
    this.deps.emit(JSON.stringify({ level, message, pipeline: this.config.pipeline, timestamp: new Date(this.now()).toISOString(), ...fields }));
  }
}

function updateRecord(profile: Profile, payload: unknown): void {
  // updateProfile counts null (not JSON) and non-objects as unparseable.
  updateProfile(profile, payload === undefined ? null : payload);
}

function safeParse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
