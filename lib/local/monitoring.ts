import type { SQSClient } from '@aws-sdk/client-sqs';
import { AlarmEvaluator, alarmsOf, type AlarmDef, type AlarmReport, type AlarmStateValue } from './alarms';
import { LocalSnsError, type LocalSns } from './clients';
import type { EventSourcePoller } from './esm';
import { isPipelineStage, type LocalFunction } from './functions';
import { summarize, type LatencySummary, type MetricsStore } from './metrics';
import type { ProvisionedStack } from './provision';
import { ServiceMetrics } from './service-metrics';
import type { LocalStack } from './template/stack';
import { CANARY_METRIC, ENV, METRIC, METRICS_NAMESPACE } from '../../constructs/contract';
import type { AlarmObservation } from '../core/verify';

/**
 * The local run's monitoring: service metrics sampled into the metrics store, the template's alarms evaluated every
 * `evaluateEveryMs` and at the end, alarm notifications published to the emulated SNS topics, and the canary's
 * figures. run.ts starts it once the resources exist and stops it before verifying.
 */

/** Defaults of the local monitoring options. */
export const LOCAL_MONITORING_DEFAULTS = {
  /** CloudWatch's timing. */
  timeScale: 1,
  fireSchedulesAtStart: true,
  evaluateEveryMs: 1000,
} as const;

export interface LocalAlarmsReport {
  /** Time compression of alarm periods, duration thresholds and rate() schedules (1 = AWS timing). */
  timeScale: number;
  evaluatedEveryMs: number;
  evaluations: number;
  /** Alarms by final state. */
  states: Record<AlarmStateValue, number>;
  alarms: AlarmReport[];
  /** `denied`: publishes the topic policy or the topic key's policy refused (IAM on), also counted in `failed`. */
  notifications: { published: number; failed: number; denied: number; notEmulated: number };
}

export interface LocalCanaryReport {
  /** CanariesSent (EMF of the canary function). */
  sent: number;
  /** CanariesReceived at the terminal stage. */
  received: number;
  /** CanaryLatencyMs: sent to terminal stage. */
  latencyMs: LatencySummary;
}

export interface LocalMonitoringOptions {
  readonly stack: LocalStack;
  readonly provisioned: ProvisionedStack;
  readonly metrics: MetricsStore;
  readonly functions: readonly LocalFunction[];
  readonly kinesisPollers: ReadonlyArray<{ poller: EventSourcePoller; fn: string }>;
  readonly consumedQueueUrls: ReadonlySet<string>;
  readonly sqs: SQSClient;
  /** SNS as CloudWatch publishes an alarm's notifications (signed for that alarm: aws:SourceArn = the alarm). */
  readonly snsOfAlarm: (alarmArn: string) => LocalSns;
  readonly unemulatedCalls: (functionName: string) => string[];
  readonly timeScale: number;
  readonly evaluateEveryMs: number;
  readonly log: (line: string) => void;
}

/** SNS's answers to a publish IAM refused: the topic policy (AuthorizationError) or the topic key's policy. */
const DENIED_ERRORS = new Set(['AuthorizationError', 'KMSAccessDenied']);

export class LocalMonitoring {
  private readonly service: ServiceMetrics;
  private readonly evaluator: AlarmEvaluator;
  private readonly startMs = Date.now();
  private timer?: NodeJS.Timeout;
  private readonly publishing = new Set<Promise<void>>();
  private readonly notifications = { published: 0, failed: 0, denied: 0, notEmulated: 0 };
  private evaluations = 0;
  private stopped = false;
  private readonly defs: readonly AlarmDef[];

  constructor(private readonly o: LocalMonitoringOptions) {
    this.service = new ServiceMetrics({
      metrics: o.metrics,
      functions: o.functions,
      kinesisPollers: o.kinesisPollers,
      queues: o.provisioned.queues,
      consumedQueueUrls: o.consumedQueueUrls,
      sqs: o.sqs,
      unemulatedCalls: o.unemulatedCalls,
      log: o.log,
    });
    this.defs = alarmsOf(o.stack);
    this.evaluator = new AlarmEvaluator(this.defs, o.metrics, {
      startMs: this.startMs,
      timeScale: o.timeScale,
      unavailable: (ref, series) => this.service.unavailable(ref, series),
    });
  }

  start(): void {
    this.service.start();
    if (this.defs.length > 0) {
      this.o.log(`${this.defs.length} alarm(s) evaluated locally every ${this.o.evaluateEveryMs / 1000} s${this.o.timeScale !== 1 ? ` (time scale ${this.o.timeScale}: periods and duration thresholds / ${this.o.timeScale})` : ''}`);
    }
    this.timer = setInterval(() => this.evaluate(), this.o.evaluateEveryMs);
  }

  private evaluate(final = false): void {
    this.evaluations++;
    this.evaluator.evaluate(Date.now(), final);
    for (const n of this.evaluator.takeNotifications()) {
      const topic = this.o.provisioned.topics.find((t) => t.arn === n.target);
      if (!topic) { this.notifications.notEmulated++; continue; }
      const p = this.o.snsOfAlarm(n.alarmArn).publish({ TopicArn: topic.arn, Message: JSON.stringify(n.message) })
        .then(() => { this.notifications.published++; })
        .catch((e: unknown) => {
          this.notifications.failed++;
          if (e instanceof LocalSnsError && DENIED_ERRORS.has(e.errorType)) this.notifications.denied++;
          this.o.log(`alarm notification of ${n.alarm} to ${topic.name} failed: ${(e as Error).message}`);
        })
        .finally(() => this.publishing.delete(p));
      this.publishing.add(p);
    }
  }

  /** Stops sampling and the periodic evaluation after a last sample and evaluation; waits for notifications. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.service.stop();
    this.evaluate(true);
    await Promise.allSettled([...this.publishing]);
  }

  /** Samples and evaluates again after {@link stop} (a kept environment): the alarms go on from their states. */
  resume(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.service.start();
    this.timer = setInterval(() => this.evaluate(), this.o.evaluateEveryMs);
  }

  /** Every alarm's current state, with its single metric and threshold (none for composite and metric-math alarms). */
  alarmObservations(): AlarmObservation[] {
    const states = new Map(this.evaluator.report().map((a) => [a.name, a.state]));
    return this.defs.map((d) => ({
      name: d.name,
      state: states.get(d.name) ?? 'INSUFFICIENT_DATA',
      ...(d.kind === 'metric' && d.metric ? { metric: { namespace: d.metric.namespace, name: d.metric.name, dimensions: d.metric.dimensions }, threshold: d.threshold } : {}),
    }));
  }

  alarmsReport(): LocalAlarmsReport {
    const alarms = this.evaluator.report();
    const states: Record<AlarmStateValue, number> = { OK: 0, ALARM: 0, INSUFFICIENT_DATA: 0 };
    for (const a of alarms) states[a.state]++;
    return {
      timeScale: this.o.timeScale,
      evaluatedEveryMs: this.o.evaluateEveryMs,
      evaluations: this.evaluations,
      states,
      alarms,
      notifications: { ...this.notifications },
    };
  }

  canaryReport(): LocalCanaryReport {
    const m = this.o.metrics;
    const latency: number[] = [];
    for (const s of m.all()) if (s.namespace === METRICS_NAMESPACE && s.name === METRIC.canaryLatencyMs) latency.push(...s.samples);
    return {
      sent: m.total(CANARY_METRIC.canariesSent, METRICS_NAMESPACE),
      received: m.total(METRIC.canariesReceived, METRICS_NAMESPACE),
      latencyMs: summarize(latency),
    };
  }
}

/** The sink services a stalled sink fails: those of the stack's pipeline ingest functions (PHX_SINK_KIND). */
export function stalledSinkServices(provisioned: ProvisionedStack): Array<'dynamodb' | 's3'> {
  const kinds = new Set<string>();
  for (const f of provisioned.functions) {
    if (isPipelineStage(f.environment)) kinds.add(f.environment[ENV.sinkKind]);
  }
  return (['dynamodb', 's3'] as const).filter((k) => kinds.has(k));
}

/** The sink tables or buckets (PHX_SINK_TARGET) of the stack's pipeline stages that write to `service`. */
export function sinkTargets(provisioned: ProvisionedStack, service: 'dynamodb' | 's3'): Set<string> {
  const targets = new Set<string>();
  for (const f of provisioned.functions) {
    if (isPipelineStage(f.environment) && f.environment[ENV.sinkKind] === service) targets.add(f.environment[ENV.sinkTarget]);
  }
  return targets;
}
