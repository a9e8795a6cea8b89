/**
 * Data quality in the local environment (`phoenix local run`): the QualityProfiler's tumbling windows shortened to a
 * local length, closed at the end of the run, and the rule results read back from the profiler's history bucket
 * into the run's report and summary.
 *
 * - Window length: a mapping's TumblingWindowInSeconds runs as `--window-seconds` (default: 5 s when the template's
 *   window is longer). The profiler takes the window length of each final invocation from its event's window, so the
 *   function itself is unchanged (docs/quality.md, "Local").
 * - End of the run: the profiler's mapping is drained (every record of the stream in a window), then
 *   `closeWindows()` sends the final invocations of the open windows and one for the window after the last one,
 *   with which the profiler evaluates that last window (it evaluates a window when the next one closes).
 * - Results: `profiles/<window>/results.json` of the function's history bucket (PHX_PROFILE_BUCKET).
 */
import type { S3Client } from '@aws-sdk/client-s3';
import type { KinesisEventSourcePoller, KinesisMappingConfig } from './esm';
import type { PhasedWorkload } from './phased-workload';
import { PROFILER_ENV, PROFILES_PREFIX } from '../../constructs/contract';
import { formatNumber, formatResultsTable, formatTextTable, type RuleResult, type RuleStatus } from '../core/profile';
import { S3ProfileStore } from '../handlers/profiler-s3';
import type { ResultsDocument } from '../handlers/profiler-window';

/** Local tumbling window when the template's is longer and `--window-seconds` is not given. */
export const DEFAULT_LOCAL_WINDOW_SECONDS = 5;

/** The tumbling window a mapping runs with locally (0: the mapping has none). Throws on an invalid request. */
export function localWindowSeconds(templateSeconds: number, requested?: number): number {
  if (requested !== undefined && (!Number.isInteger(requested) || requested < 1 || requested > 900)) {
    throw new RangeError(`--window-seconds must be an integer between 1 and 900 (given ${requested})`);
  }
  if (templateSeconds <= 0) return 0;
  return requested ?? Math.min(templateSeconds, DEFAULT_LOCAL_WINDOW_SECONDS);
}

/** One evaluated window of a profiler. */
export interface QualityWindow {
  readonly start: string;
  readonly end: string;
  readonly rows: number;
  readonly unparseable: number;
  /** Shard parts merged. */
  readonly parts: number;
  /** Earlier windows the rules saw. */
  readonly historyWindows: number;
  /** The workload's phase of this window (phased workloads only). */
  readonly phase?: string;
  /** Records the phased workload put in this window: `rows + unparseable` differs when records arrived in another window. */
  readonly recordsPut?: number;
  readonly results: RuleResult[];
}

export interface ProfilerQualityReport {
  /** Logical id of the tumbling-window mapping. */
  readonly mapping: string;
  readonly function: string;
  readonly pipeline: string;
  readonly bucket: string;
  readonly windowSeconds: number;
  readonly templateWindowSeconds: number;
  /** Every record of the stream reached the profiler before its windows were closed. */
  readonly drained: boolean;
  /** Open windows closed at the end of the run, follow-up final invocations, and whether all succeeded. */
  readonly closed: { windows: number; followUps: number; complete: boolean };
  readonly windows: QualityWindow[];
  /** Per rule: windows by status. */
  readonly rules: Record<string, Record<RuleStatus, number>>;
  /** Every warn and fail, in window order. */
  readonly failures: Array<{ window: string; phase?: string; rule: string; status: 'warn' | 'fail'; observed: number | null; reason?: string }>;
}

export interface LocalQualityReport {
  readonly profilers: ProfilerQualityReport[];
  readonly notes: string[];
}

interface Tracked {
  readonly logicalId: string;
  readonly functionName: string;
  readonly environment: Readonly<Record<string, string>>;
  readonly templateWindowSeconds: number;
  readonly windowSeconds: number;
  poller?: KinesisEventSourcePoller;
}

/**
 * What `runLocal` does for tumbling-window mappings: `mapping()` while creating the pollers, `track()` for each,
 * `finish()` after the pipeline drained.
 */
export class LocalQuality {
  private readonly tracked: Tracked[] = [];
  readonly notes: string[] = [];

  constructor(private readonly requestedWindowSeconds: number | undefined) {
    localWindowSeconds(0, requestedWindowSeconds); // validates the request
  }

  /** The mapping as it runs locally: its tumbling window shortened (noted). */
  mapping(
    config: KinesisMappingConfig,
    logicalId: string,
    fn: { functionName: string; def: { environment: Readonly<Record<string, string>> } },
  ): KinesisMappingConfig {
    const templateWindowSeconds = config.tumblingWindowInSeconds;
    if (templateWindowSeconds <= 0) return config;
    const windowSeconds = localWindowSeconds(templateWindowSeconds, this.requestedWindowSeconds);
    this.tracked.push({ logicalId, functionName: fn.functionName, environment: fn.def.environment, templateWindowSeconds, windowSeconds });
    if (windowSeconds !== templateWindowSeconds) {
      this.notes.push(`${logicalId}: tumbling windows of ${windowSeconds} s instead of the template's ${templateWindowSeconds} s (--window-seconds)`);
    }
    return { ...config, tumblingWindowInSeconds: windowSeconds };
  }

  /** Registers the poller of a mapping passed to mapping(). */
  track(logicalId: string, poller: KinesisEventSourcePoller): void {
    const t = this.tracked.find((x) => x.logicalId === logicalId);
    if (t) t.poller = poller;
  }

  /** The local window of the tumbling-window mappings (the first one's), or undefined when there is none. */
  windowSeconds(): number | undefined {
    return this.tracked[0]?.windowSeconds;
  }

  /**
   * Drains the tumbling-window mappings, closes their windows, and reads the profilers' results (mappings into
   * functions with PHX_PROFILE_BUCKET). Undefined when the stack has no tumbling-window mapping.
   */
  async finish(s3: S3Client, opts: { deadline: number; workload?: PhasedWorkload }): Promise<LocalQualityReport | undefined> {
    if (this.tracked.length === 0) return undefined;
    const profilers: ProfilerQualityReport[] = [];
    const remaining = (): number => Math.max(0, opts.deadline - Date.now());
    for (const t of this.tracked) {
      if (!t.poller) continue;
      const drained = await t.poller.drain({ timeoutMs: remaining() });
      const closed = await t.poller.closeWindows({ timeoutMs: remaining() });
      if (!drained) this.notes.push(`${t.logicalId}: not every record reached the function before its windows were closed (drain timeout)`);
      if (!closed.complete) this.notes.push(`${t.logicalId}: a final window invocation did not succeed before the drain timeout`);
      const bucket = t.environment[PROFILER_ENV.bucket];
      if (!bucket) {
        this.notes.push(`${t.logicalId}: ${t.functionName} is not a QualityProfiler (no ${PROFILER_ENV.bucket}); its windows were closed, no results read`);
        continue;
      }
      let windows: QualityWindow[] = [];
      try {
        windows = await readWindows(s3, bucket, opts.workload);
      } catch (e) {
        this.notes.push(`${t.logicalId}: the rule results in s3://${bucket}/${PROFILES_PREFIX} could not be read: ${(e as Error).message.split('\n')[0]}`);
      }
      const mixed = opts.workload ? windows.filter((w) => w.rows + w.unparseable !== (w.recordsPut ?? 0)) : [];
      if (mixed.length > 0) {
        this.notes.push(`${t.logicalId}: ${mixed.length} window(s) hold other than the records put for them (records arrived in a neighbouring window): ${mixed.map((w) => `${w.start} ${w.rows + w.unparseable}/${w.recordsPut ?? 0}`).join(', ')}`);
      }
      profilers.push(summarize({
        mapping: t.logicalId,
        function: t.functionName,
        pipeline: t.environment.PHX_PIPELINE ?? '',
        bucket,
        windowSeconds: t.windowSeconds,
        templateWindowSeconds: t.templateWindowSeconds,
        drained,
        closed: { windows: closed.closed, followUps: closed.followUps, complete: closed.complete },
      }, windows));
    }
    return { profilers, notes: [...this.notes] };
  }
}

/** Every results document of the bucket, oldest window first, with the workload's phase of each window. */
export async function readWindows(s3: S3Client, bucket: string, workload?: PhasedWorkload): Promise<QualityWindow[]> {
  const store = new S3ProfileStore(s3, bucket);
  const folders = await store.listFolders(PROFILES_PREFIX, '');
  const docs = await Promise.all(folders.map(async (f) => store.get(`${f}results.json`)));
  const planned = new Map((workload?.windows ?? []).filter((w) => w.startMs !== undefined).map((w) => [w.startMs!, w]));
  const out: QualityWindow[] = [];
  for (const text of docs) {
    if (text === undefined) continue; // a window not evaluated (no later window closed)
    const doc = JSON.parse(text) as ResultsDocument;
    const plan = planned.get(Date.parse(doc.window.start));
    out.push({
      start: doc.window.start,
      end: doc.window.end,
      rows: doc.rows,
      unparseable: doc.unparseable,
      parts: doc.parts.length,
      historyWindows: doc.history.length,
      ...(plan ? { phase: plan.phase, recordsPut: plan.put } : {}),
      results: doc.results,
    });
  }
  return out.sort((a, b) => a.start.localeCompare(b.start));
}

function summarize(head: Omit<ProfilerQualityReport, 'windows' | 'rules' | 'failures'>, windows: QualityWindow[]): ProfilerQualityReport {
  const rules: ProfilerQualityReport['rules'] = {};
  const failures: ProfilerQualityReport['failures'] = [];
  for (const w of windows) {
    for (const r of w.results) {
      (rules[r.rule] ??= { pass: 0, warn: 0, fail: 0, skipped: 0 })[r.status]++;
      if (r.status === 'warn' || r.status === 'fail') {
        const phase = w.phase ? { phase: w.phase } : {};
        failures.push({ window: w.start, ...phase, rule: r.rule, status: r.status, observed: r.observed, ...(r.reason ? { reason: r.reason } : {}) });
      }
    }
  }
  return { ...head, windows, rules, failures };
}

/** Lines of the run summary: per profiler the windows, per rule the outcomes, then each window that warned or failed. */
export function formatQuality(q: LocalQualityReport): string[] {
  const lines: string[] = [];
  for (const p of q.profilers) {
    const fails = p.failures.filter((f) => f.status === 'fail').length;
    const warns = p.failures.length - fails;
    const shortened = p.windowSeconds !== p.templateWindowSeconds ? ` (template: ${p.templateWindowSeconds} s)` : '';
    lines.push(`quality           ${p.function}: ${p.windows.length} window(s) of ${p.windowSeconds} s${shortened} evaluated; `
      + `${fails} rule failure(s), ${warns} warning(s); results s3://${p.bucket}/${PROFILES_PREFIX}`);
    if (p.windows.length === 0) continue;
    const rows = Object.entries(p.rules).map(([rule, c]) => [rule, String(c.pass), String(c.warn), String(c.fail), String(c.skipped)]);
    for (const l of formatTextTable(['rule', 'pass', 'warn', 'fail', 'skipped'], rows)) lines.push(`  ${l}`);
    for (const w of p.windows) {
      const bad = w.results.filter((r) => r.status === 'warn' || r.status === 'fail');
      if (bad.length === 0) continue;
      const unparseable = w.unparseable ? `, ${formatNumber(w.unparseable)} unparseable` : '';
      lines.push(`  window ${w.start} .. ${w.end}${w.phase ? ` (${w.phase})` : ''}: ${w.rows} rows${unparseable}, ${w.historyWindows} history window(s)`);
      for (const l of formatResultsTable(bad).split('\n')) lines.push(`    ${l}`);
    }
  }
  for (const n of q.notes) lines.push(`note              ${n}`);
  return lines;
}
