import { Duration, Token } from 'aws-cdk-lib';
import { checkName } from '../../private/validate';
import type { IMonitorablePipeline } from '../pipeline';

/**
 * Checks a pipeline to monitor: a valid name, at least one stage, distinct stage names, and every stage of the
 * same pipeline (the `Pipeline` dimension of its metrics). Unresolved tokens are skipped.
 */
export function checkPipeline(owner: string, pipeline: IMonitorablePipeline): void {
  checkName(owner, 'pipeline.pipelineName', pipeline.pipelineName);
  if (!Array.isArray(pipeline.stages) || pipeline.stages.length === 0) {
    throw new Error(`${owner} pipeline.stages must list at least one stage, in flow order (given ${Array.isArray(pipeline.stages) ? 'none' : String(pipeline.stages)})`);
  }
  const seen = new Set<string>();
  for (const stage of pipeline.stages) {
    checkName(owner, 'stage stageName', stage.stageName);
    if (Token.isUnresolved(stage.stageName)) continue;
    if (seen.has(stage.stageName)) {
      throw new Error(`${owner} pipeline.stages must have distinct stage names: the Stage metric dimension tells them apart (given '${stage.stageName}' twice)`);
    }
    seen.add(stage.stageName);
    if (!Token.isUnresolved(stage.pipelineName) && !Token.isUnresolved(pipeline.pipelineName) && stage.pipelineName !== pipeline.pipelineName) {
      throw new Error(`${owner} every stage must belong to pipeline '${pipeline.pipelineName}': its metrics carry Pipeline=${stage.pipelineName} (given stage '${stage.stageName}' of pipeline '${stage.pipelineName}')`);
    }
  }
}

/** Throws unless `value` (resolved) is a whole number of minutes in [minMinutes, maxMinutes]. */
export function checkWholeMinutes(owner: string, prop: string, value: Duration, minMinutes: number, maxMinutes: number): void {
  if (value.isUnresolved()) return;
  const ms = value.toMilliseconds();
  if (ms % 60_000 !== 0 || ms < minMinutes * 60_000 || ms > maxMinutes * 60_000) {
    throw new Error(`${owner} ${prop} must be a whole number of minutes between ${minMinutes} and ${maxMinutes} minutes (given ${value.toHumanString()})`);
  }
}

const EMAIL = /^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$/;

/** Checks e-mail addresses for SNS email subscriptions: a plausible address each, no repeats. Tokens are skipped. */
export function checkEmails(owner: string, prop: string, emails: readonly string[]): void {
  const seen = new Set<string>();
  for (const email of emails) {
    if (Token.isUnresolved(email)) continue;
    if (typeof email !== 'string' || email.length > 254 || !EMAIL.test(email)) {
      throw new Error(`${owner} ${prop} entries must be e-mail addresses such as oncall@example.com (given '${String(email)}')`);
    }
    const key = email.toLowerCase();
    if (seen.has(key)) {
      throw new Error(`${owner} ${prop} must not repeat an address: SNS would reject the second subscription (given '${email}' twice)`);
    }
    seen.add(key);
  }
}

/** Throws unless `value` (resolved) is a number in (min, max] (exclusive lower bound). */
export function checkPositive(owner: string, prop: string, value: number, max: number, unit = ''): void {
  if (Token.isUnresolved(value)) return;
  if (!Number.isFinite(value) || value <= 0 || value > max) {
    const u = unit ? ` ${unit}` : '';
    throw new Error(`${owner} ${prop} must be greater than 0 and at most ${max}${u} (given ${value}${u})`);
  }
}
