import { type Duration, Token } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';
import { validationError } from './errors';
import type { IMonitorablePipeline } from '../monitoring/pipeline';

/*
 * Prop checks shared by the constructs. Each takes the construct whose prop it checks (its class and path lead
 * the message), skips unresolved tokens (known only at deploy time), and says what was given and what is allowed.
 */

/** Characters of pipeline, stage and dashboard names (metric dimension values, resource names). */
const NAME_CHARS = /^[A-Za-z0-9_-]+$/;

/** A plausible e-mail address for an SNS email subscription. */
const EMAIL = /^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$/;

/** The one way numbers are written in messages. */
export function formatNumber(n: number): string {
  return String(n);
}

/** Throws unless `value` (resolved) is an integer in `[min, max]`. */
export function checkRange(scope: IConstruct, prop: string, value: number | undefined, min: number, max: number, unit = ''): void {
  if (value === undefined || Token.isUnresolved(value)) return;
  if (!Number.isInteger(value) || value < min || value > max) {
    const u = unit ? ` ${unit}` : '';
    throw validationError(scope, `${prop} must be an integer between ${formatNumber(min)} and ${formatNumber(max)}${u} (given ${formatNumber(value)}${u})`);
  }
}

/** Throws unless `value` (resolved) is a number in `(0, max]`. */
export function checkPositive(scope: IConstruct, prop: string, value: number, max: number, unit = ''): void {
  if (Token.isUnresolved(value)) return;
  if (!Number.isFinite(value) || value <= 0 || value > max) {
    const u = unit ? ` ${unit}` : '';
    throw validationError(scope, `${prop} must be greater than 0 and at most ${formatNumber(max)}${u} (given ${formatNumber(value)}${u})`);
  }
}

/** Throws unless `value` (resolved) is a whole number of seconds in `[min, max]` seconds. */
export function checkSeconds(scope: IConstruct, prop: string, value: Duration | undefined, min: number, max: number): void {
  if (value === undefined || value.isUnresolved()) return;
  const ms = value.toMilliseconds();
  if (ms < min * 1000 || ms > max * 1000 || ms % 1000 !== 0) {
    throw validationError(scope, `${prop} must be a whole number of seconds between ${formatNumber(min)} and ${formatNumber(max)} seconds (given ${value.toHumanString()})`);
  }
}

/** Throws unless `value` (resolved) is between `min` and `max` milliseconds. */
export function checkMillis(scope: IConstruct, prop: string, value: Duration | undefined, min: number, max: number): void {
  if (value === undefined || value.isUnresolved()) return;
  const ms = value.toMilliseconds();
  if (ms < min || ms > max) {
    throw validationError(scope, `${prop} must be between ${formatNumber(min)} and ${formatNumber(max)} milliseconds (given ${value.toHumanString()})`);
  }
}

/** Throws unless `value` (resolved) is a whole number of minutes in `[minMinutes, maxMinutes]`. */
export function checkWholeMinutes(scope: IConstruct, prop: string, value: Duration, minMinutes: number, maxMinutes: number): void {
  if (value.isUnresolved()) return;
  const ms = value.toMilliseconds();
  if (ms % 60_000 !== 0 || ms < minMinutes * 60_000 || ms > maxMinutes * 60_000) {
    throw validationError(scope, `${prop} must be a whole number of minutes between ${formatNumber(minMinutes)} and ${formatNumber(maxMinutes)} minutes (given ${value.toHumanString()})`);
  }
}

/** Name check: 1 to `maxLength` (default 64) characters of `[A-Za-z0-9_-]`. */
export function checkName(scope: IConstruct, prop: string, value: string, maxLength = 64): void {
  if (Token.isUnresolved(value)) return;
  if (typeof value !== 'string' || value.length < 1 || value.length > maxLength || !NAME_CHARS.test(value)) {
    throw validationError(scope, `${prop} must be 1-${formatNumber(maxLength)} characters of A-Z, a-z, 0-9, '-' and '_' (given '${value}')`);
  }
}

/** E-mail addresses of SNS email subscriptions: at most `max`, each plausible, no repeats. Tokens are skipped. */
export function checkEmails(scope: IConstruct, prop: string, emails: readonly string[], max: number): void {
  if (Token.isUnresolved(emails)) return;
  if (emails.length > max) {
    throw validationError(scope, `${prop} must list at most ${formatNumber(max)} addresses; subscribe a distribution list instead (given ${formatNumber(emails.length)})`);
  }
  const seen = new Set<string>();
  for (const email of emails) {
    if (Token.isUnresolved(email)) continue;
    if (typeof email !== 'string' || email.length > 254 || !EMAIL.test(email)) {
      throw validationError(scope, `${prop} entries must be e-mail addresses such as oncall@example.com (given '${String(email)}')`);
    }
    const key = email.toLowerCase();
    if (seen.has(key)) {
      throw validationError(scope, `${prop} must not repeat an address: SNS would reject the second subscription (given '${email}' twice)`);
    }
    seen.add(key);
  }
}

/**
 * A pipeline to monitor: a valid name, at least one stage, distinct stage names, and every stage of the same
 * pipeline (the `Pipeline` dimension of its metrics).
 */
export function checkPipeline(scope: IConstruct, pipeline: IMonitorablePipeline): void {
  checkName(scope, 'pipeline.pipelineName', pipeline.pipelineName);
  if (!Array.isArray(pipeline.stages) || pipeline.stages.length === 0) {
    throw validationError(scope, `pipeline.stages must list at least one stage, in flow order (given ${Array.isArray(pipeline.stages) ? 'none' : String(pipeline.stages)})`);
  }
  const seen = new Set<string>();
  for (const stage of pipeline.stages) {
    checkName(scope, 'stage stageName', stage.stageName);
    if (Token.isUnresolved(stage.stageName)) continue;
    if (seen.has(stage.stageName)) {
      throw validationError(scope, `pipeline.stages must have distinct stage names: the Stage metric dimension tells them apart (given '${stage.stageName}' twice)`);
    }
    seen.add(stage.stageName);
    if (!Token.isUnresolved(stage.pipelineName) && !Token.isUnresolved(pipeline.pipelineName) && stage.pipelineName !== pipeline.pipelineName) {
      throw validationError(scope, `every stage must belong to pipeline '${pipeline.pipelineName}': its metrics carry Pipeline=${stage.pipelineName} (given stage '${stage.stageName}' of pipeline '${stage.pipelineName}')`);
    }
  }
}
