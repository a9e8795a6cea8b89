/**
 * The QualityProfiler Lambda function (bundled into assets/lib/handlers/profiler/index.js): a Kinesis consumer with
 * tumbling windows that profiles each shard's records in the window state, writes the shard's profile to the
 * history bucket on the window's final invocation, merges the shard profiles of the previous window, evaluates the
 * quality rules against the history and publishes EMF metrics (see profiler-window.ts for the design).
 *
 * Configuration (set by the construct): PHX_PIPELINE, PHX_PROFILE_BUCKET, PHX_QUALITY_RULES (JSON or gz:base64),
 * PHX_PROFILE_WINDOW_SECONDS, PHX_PROFILE_HISTORY_WINDOWS, PHX_PROFILE_EVENT_TIME_FIELD (empty: none).
 */
import { PROFILER_ENV, decodeRules } from './profiler-contract';
import { S3ProfileStore } from './profiler-s3';
import { ProfilerError, WindowProfiler, type ProfilerConfig, type WindowEvent, type WindowResponse } from './profiler-window';
import { ENV } from '../../constructs/contract';
import { validateQualityRules } from '../../constructs/quality-rules';
import { s3Client } from '../aws/clients';

/** Reads and checks the configuration; throws ProfilerError naming the variable, its value and what is allowed. */
export function profilerConfigFromEnv(env: NodeJS.ProcessEnv): ProfilerConfig & { bucket: string } {
  const required = (name: string): string => {
    const v = env[name];
    if (v === undefined || v === '') throw new ProfilerError(`${name} must be set`);
    return v;
  };
  const int = (name: string, lo: number, hi: number): number => {
    const text = required(name);
    const v = Number(text);
    if (!Number.isInteger(v) || v < lo || v > hi) throw new ProfilerError(`${name} must be an integer between ${lo} and ${hi} (given '${text}')`);
    return v;
  };
  const pipeline = required(ENV.pipeline);
  const bucket = required(PROFILER_ENV.bucket);
  const windowSeconds = int(PROFILER_ENV.windowSeconds, 1, 900);
  const historyWindows = int(PROFILER_ENV.historyWindows, 1, 100);
  let rules;
  try {
    rules = decodeRules(required(PROFILER_ENV.rules));
  } catch (e) {
    throw new ProfilerError(`${PROFILER_ENV.rules} is not a valid rule list: ${(e as Error).message}`, { cause: e });
  }
  const errors = validateQualityRules(rules, undefined, windowSeconds);
  if (errors.length > 0) throw new ProfilerError(`${PROFILER_ENV.rules}: ${errors.join('; ')}`);
  const eventTimeField = env[PROFILER_ENV.eventTimeField] || undefined;
  return { pipeline, deployment: env[ENV.deployment] || undefined, bucket, windowSeconds, historyWindows, rules, eventTimeField };
}

let instance: WindowProfiler | undefined;

/** Lambda entry point (the construct's handler `index.handler`). */
export async function handler(event: WindowEvent): Promise<WindowResponse> {
  if (!instance) {
    const config = profilerConfigFromEnv(process.env);
    instance = new WindowProfiler(config, {
      store: new S3ProfileStore(s3Client(), config.bucket),
      // EMF and logs as bare JSON lines (console.log would prefix them, and CloudWatch extracts EMF from JSON lines).
      emit: (line) => process.stdout.write(line + '\n'),
    });
  }
  return instance.handle(event);
}
