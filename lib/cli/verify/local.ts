/**
 * `phoenix verify --local`: the observations of a local environment kept by `phoenix local run --keep`, from its
 * `kept-status.json` (alarm states as evaluated locally, mapping states, canary latency and `AWS/Lambda` IteratorAge
 * datapoints; lib/local/keep.ts) and its SQS endpoint (the DLQ's depth). Drift cannot be detected locally: SKIP.
 */
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import type { SQSClient } from '@aws-sdk/client-sqs';
import { deadLetters } from './dlq';
import {
  canaryLatencyAlarm, iteratorAgeAlarmThreshold, observe,
  type Datapoint, type MetricId, type Observed, type VerifyObservations,
} from '../../core/verify';
import { KEPT_STATUS_FILE, type KeptMetricSeries, type KeptStatus, type LocalEnvFile } from '../../local/keep';
import { InputError } from '../../replay/filter';

/** Oldest `kept-status.json` taken as current: the environment refreshes it every 2 s. */
const STALE_STATUS_MS = 30_000;

export const LOCAL_DRIFT_SKIP = 'the local environment cannot detect drift: it emulates no CloudFormation drift detection '
  + '(its resources are created from the template and nothing else changes them)';

/** Reads `<dir>/kept-status.json`; an InputError when it is missing, unreadable or older than {@link STALE_STATUS_MS}. */
export function readKeptStatus(dir: string, now: number): KeptStatus {
  const file = path.join(path.resolve(dir), KEPT_STATUS_FILE);
  if (!existsSync(file)) throw new InputError(`--local ${dir}: no ${KEPT_STATUS_FILE} there (kept by an older phoenix? run \`phoenix local run --keep\` again)`);
  let status: KeptStatus;
  try {
    status = JSON.parse(readFileSync(file, 'utf8')) as KeptStatus;
  } catch (e) {
    throw new InputError(`--local ${dir}: ${KEPT_STATUS_FILE} is not valid JSON (${(e as Error).message})`);
  }
  const at = Date.parse(status?.at);
  if (!Number.isFinite(at) || !Array.isArray(status.alarms) || !Array.isArray(status.mappings) || !Array.isArray(status.metrics)) {
    throw new InputError(`--local ${dir}: ${KEPT_STATUS_FILE} lacks at, alarms, mappings or metrics`);
  }
  if (now - at > STALE_STATUS_MS) throw new InputError(`--local ${dir}: ${KEPT_STATUS_FILE} was last written ${Math.round((now - at) / 1000)} s ago: is the environment still serving?`);
  return status;
}

const sameDimensions = (a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean =>
  Object.keys(a).length === Object.keys(b).length && Object.entries(a).every(([k, v]) => b[k] === v);

function pointsOf(series: readonly KeptMetricSeries[], metric: MetricId): Datapoint[] {
  return series.filter((s) => s.namespace === metric.namespace && s.name === metric.name && sameDimensions(s.dimensions, metric.dimensions))
    .flatMap((s) => s.points.map(([at, value]) => ({ at, value })));
}

function canary(status: KeptStatus, pipeline: string | undefined): VerifyObservations['canary'] {
  const alarm = canaryLatencyAlarm(status.alarms, pipeline);
  if (!alarm?.metric) return { skip: 'the stack has no canary latency alarm (a CorrelatedMonitor with its canary enabled) for this pipeline' };
  return { metric: alarm.metric, points: pointsOf(status.metrics, alarm.metric), alarmThreshold: alarm.threshold };
}

/** Locally the iterator age is the mapping's `AWS/Lambda` `IteratorAge` of the pipeline's processor (recorded per invocation). */
function iteratorAge(status: KeptStatus, processor: string | undefined): VerifyObservations['iteratorAge'] {
  if (!processor) return { error: 'the kept environment names no ProcessorName output for this pipeline' };
  const metric: MetricId = { namespace: 'AWS/Lambda', name: 'IteratorAge', dimensions: { FunctionName: processor } };
  return { what: `IteratorAge of ${processor}`, points: pointsOf(status.metrics, metric), alarmThreshold: iteratorAgeAlarmThreshold(status.alarms, [processor]) };
}

/** Every observation of the kept environment (`env`: its local-env.json; `pipeline`: --pipeline, else the kept one's). */
export async function gatherLocal(
  dir: string, env: LocalEnvFile, sqs: SQSClient, pipeline?: string, now: number = Date.now(),
): Promise<VerifyObservations> {
  const status = readKeptStatus(dir, now);
  const outputs = env.outputs;
  const dlq: Observed<{ queue: string; messages: number }> = await observe(() => deadLetters(sqs, outputs.DlqUrl));
  return {
    now,
    canary: canary(status, pipeline ?? outputs.PipelineName),
    deadLetters: dlq,
    alarms: status.alarms,
    drift: { skip: LOCAL_DRIFT_SKIP },
    mappings: status.mappings,
    iteratorAge: iteratorAge(status, outputs.ProcessorName),
  };
}
