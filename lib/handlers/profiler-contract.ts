/**
 * Contract between the QualityProfiler construct (constructs/quality-profiler.ts) and the profiler handler:
 * environment variables, metric names, the S3 layout of profiles, and the rules encoding.
 *
 * The names (env vars, metrics, dimensions, prefixes) live in constructs/contract.ts, imported by both sides.
 */
import { gunzipSync } from 'node:zlib';
import { PROFILER_ENV, PROFILES_PREFIX } from '../../constructs/contract';
import type { QualityRule } from '../../constructs/quality-rules';
import { PhoenixError } from '../core/errors';

/** A profiler that cannot run: bad configuration (PHX_QUALITY_RULES, window sizes) or a window event it cannot use. */
export class ProfilerError extends PhoenixError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('PROFILER', message, options);
  }
}

export { PROFILER_ENV, QUALITY_METRIC, QUALITY_DIMENSIONS, PROFILES_PREFIX } from '../../constructs/contract';

/** Status values of QualityRuleStatus. */
export const RULE_STATUS_VALUE = { pass: 0, warn: 1, fail: 2 } as const;


/** Rules longer than this (JSON bytes) are passed gzip-compressed (`gz:` + base64), for Lambda's 4 KB environment limit. */
export const RULES_COMPRESS_ABOVE_BYTES = 1024;

/** `2020-12-09T07:04:00Z`: window bounds as Lambda writes them (whole seconds, UTC). */
export function windowKey(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** Layout of the history bucket (window = the window start as {@link windowKey}). */
export const profileKeys = {
  /** Folder of one window. */
  window: (window: string) => `${PROFILES_PREFIX}${window}/`,
  /** Folder of the shard profiles of one window. */
  shards: (window: string) => `${PROFILES_PREFIX}${window}/shards/`,
  /**
   * Profile of one shard's part of a window. A part starts at its first record: usually one part per shard and
   * window; more when Lambda terminates a window early (state above 1 MB) or with ParallelizationFactor > 1.
   */
  shard: (window: string, shardId: string, firstSequenceNumber: string) =>
    `${PROFILES_PREFIX}${window}/shards/${shardId}-${firstSequenceNumber}.json`,
  /** Merged profile of all shard parts (rewritten when a late shard part arrives). */
  merged: (window: string) => `${PROFILES_PREFIX}${window}/merged.json`,
  /** Rule results of the merged profile (same lifecycle as merged.json). */
  results: (window: string) => `${PROFILES_PREFIX}${window}/results.json`,
  /** Marker created once per (window, set of shard parts) with If-None-Match: only its creator publishes metrics. */
  evaluation: (window: string, setHash: string) => `${PROFILES_PREFIX}${window}/evaluations/${setHash}.json`,
};

/** Encodes rules for PHX_QUALITY_RULES: JSON, or `gz:` + base64(gzip(JSON)) above {@link RULES_COMPRESS_ABOVE_BYTES}. */
export function decodeRules(text: string): QualityRule[] {
  const json = text.startsWith('gz:') ? gunzipSync(Buffer.from(text.slice(3), 'base64')).toString('utf8') : text;
  const rules = JSON.parse(json) as unknown;
  if (!Array.isArray(rules)) throw new ProfilerError(`${PROFILER_ENV.rules} must be a JSON array of rules (given ${typeof rules})`);
  return rules as QualityRule[];
}
