/**
 * CloudWatch Logs Insights queries over the JSON lines the handlers write with Powertools Logger
 * (lib/handlers/processor.ts, lib/handlers/canary.ts). Field names are the handlers' log keys:
 *
 * - every line: `level`, `message`, `timestamp`, `service`, `pipeline`, `stage` (persistent keys), `xray_trace_id`,
 *   `function_request_id` (Lambda context);
 * - per record: `recordId`, `correlationId`, `sequenceNumber`, `partitionKey`, `attempts`; dead letters add
 *   `reason.class`, `reason.message` (WARN 'record dead-lettered'); failures add `exhausted`, `error` (ERROR 'record
 *   failed after in-process retries'); applied records add `latencyMs` (DEBUG 'record written' / 'record duplicate' /
 *   'record stale' / 'record filtered', only at log level DEBUG or TRACE);
 * - per batch (INFO 'batch processed'): `records`, `written`, `deadLettered`, `retries`, `durationMs`, `shardId`,
 *   `failedSequenceNumber`;
 * - canaries: 'canary sent' (canary function) and 'canary received' (terminal stage, with `canaryLatencyMs`).
 */

/** Placeholder the user replaces with a correlation id before running a journey query. */
export const CORRELATION_ID_PLACEHOLDER = 'REPLACE-WITH-CORRELATION-ID';

/** Log messages the queries filter on (lib/handlers/processor.ts, lib/handlers/canary.ts). */
export const LOG_MESSAGE = {
  deadLettered: 'record dead-lettered',
  recordFailed: 'record failed after in-process retries',
  batchProcessed: 'batch processed',
  canarySent: 'canary sent',
  canaryReceived: 'canary received',
} as const;

/** Every line of one correlation id, across the stages, in time order. */
export function journeyQuery(): string {
  return [
    'fields @timestamp, stage, level, message, recordId, attempts, latencyMs, canaryLatencyMs, reason.class, reason.message, sequenceNumber, @logStream',
    `| filter correlationId = "${CORRELATION_ID_PLACEHOLDER}"`,
    '| sort @timestamp asc',
    '| limit 1000',
  ].join('\n');
}

/** Per-hop times of one correlation id: when each stage first and last saw it, its attempts and processing time. */
export function hopsQuery(): string {
  return [
    `filter correlationId = "${CORRELATION_ID_PLACEHOLDER}"`,
    '| stats min(@timestamp) as firstSeen, max(@timestamp) as lastSeen, max(attempts) as maxAttempts, max(latencyMs) as processingMs, '
      + 'max(canaryLatencyMs) as canaryLatencyMs, count(*) as lines by stage, recordId',
    '| sort firstSeen asc',
  ].join('\n');
}

/**
 * Records retried across deliveries: per record, the attempts of every logged delivery summed up (in-process
 * attempts, then Lambda redeliveries after a batch stopped on it), kept when above `minAttempts`.
 */
export function retryLoopsQuery(minAttempts: number): string {
  return [
    'filter ispresent(attempts) and ispresent(recordId)',
    '| stats sum(attempts) as totalAttempts, max(attempts) as maxAttemptsPerDelivery, count(*) as deliveries, '
      + 'latest(message) as lastOutcome, latest(error) as lastError, latest(reason.class) as deadLetterReason by stage, recordId, correlationId',
    `| filter totalAttempts > ${minAttempts}`,
    '| sort totalAttempts desc',
    '| limit 100',
  ].join('\n');
}

/** Dead letters by stage and reason class, with one example message and correlation id each. */
export function deadLetterReasonsQuery(): string {
  return [
    `filter message = "${LOG_MESSAGE.deadLettered}"`,
    '| stats count(*) as deadLetters, latest(reason.message) as exampleMessage, latest(correlationId) as exampleCorrelationId by stage, reason.class',
    '| sort deadLetters desc',
    '| limit 50',
  ].join('\n');
}

/** The slowest record hops (per-record `latencyMs`, logged at DEBUG) and canaries (`canaryLatencyMs`). */
export function slowestHopsQuery(): string {
  return [
    'filter ispresent(latencyMs) or ispresent(canaryLatencyMs)',
    '| fields @timestamp, stage, message, recordId, correlationId, coalesce(latencyMs, canaryLatencyMs) as hopMs, attempts',
    '| sort hopMs desc',
    '| limit 50',
  ].join('\n');
}

/** The slowest batches (INFO 'batch processed', always logged). */
export function slowestBatchesQuery(): string {
  return [
    `filter message = "${LOG_MESSAGE.batchProcessed}"`,
    '| fields @timestamp, stage, shardId, records, written, deadLettered, retries, durationMs, failedSequenceNumber',
    '| sort durationMs desc',
    '| limit 50',
  ].join('\n');
}

/** Distribution of attempts per record delivery (lines that carry `attempts`), for a dashboard widget. */
export function attemptsDistributionQuery(): string {
  return [
    'filter ispresent(attempts)',
    '| stats count(*) as records by attempts',
    '| sort attempts asc',
  ].join('\n');
}
