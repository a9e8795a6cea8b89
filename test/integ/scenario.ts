/**
 * The deployed-pipeline scenario every example's integration test runs (test/integ/integ.<example>.ts), written with
 * @aws-cdk/integ-tests-alpha: put a valid record, the same record again and a poison record; assert the sink item under
 * the record's deterministic id, the duplicate counted, the poison's DLQ message with its reason, an in-cloud DLQ replay
 * that writes it, the canary arriving and the alarms OK.
 *
 * Records and their ids are fixed at synth (computed with the library's own lib/core/ids.ts), so the snapshot
 * integ-runner compares in CI is the same on every synth.
 */
import { IntegTest, ExpectedResult, InvocationType, Match, type IApiCall, type IDeployAssert } from '@aws-cdk/integ-tests-alpha';
import { Duration, type Stack } from 'aws-cdk-lib';
import type { DataPipeline, CorrelatedMonitor, DriftDetector } from '../../constructs';
import { idNamespaceFor, recordId } from '../../lib/core/ids';
import { CONFIG_DEFAULTS } from '../../lib/handlers/config';
import { compileValidator } from '../../lib/handlers/schema';

/** A fixed event time of the scenario's records (never the clock: the snapshot must not change between synths). */
export const INTEG_EVENT_TIME = '2026-01-01T00:00:00.000Z';

/** One example pipeline under test. */
export interface ExampleUnderTest {
  readonly stack: Stack;
  readonly pipeline: DataPipeline;
  /** The example's JSON Schema: the scenario's payloads are checked against it at synth (the handler's validator). */
  readonly schema: object;
  /** The example's natural key (its schema module's key fields): the ids the assertions expect are derived from it. */
  readonly keyFields: readonly string[];
  /** The payload field the example's producers use as the Kinesis partition key. */
  readonly partitionKeyField: string;
  /** The example's monitor and drift detector, when it has them (the canary and health-alarm assertions need them). */
  readonly monitoring?: { readonly monitor: CorrelatedMonitor; readonly drift: DriftDetector };
}

/** The two payloads of a scenario: both valid under the example's schema, with different ids. */
export interface ScenarioRecords {
  /** Put twice (the second time as a duplicate, byte for byte). */
  readonly valid: Record<string, unknown>;
  /** Put as an envelope already replayed more often than the stage allows (`replay-exhausted`), then replayed by name. */
  readonly poison: Record<string, unknown>;
}

/** How long the assertions that wait on the pipeline (Lambda polling, metrics, alarm evaluation) poll, and how often. */
const WAIT = { totalTimeout: Duration.minutes(30), interval: Duration.seconds(30), backoffRate: 1 };

/**
 * The poison record: its payload is valid, but it arrives marked as replayed one time more than the stage's
 * replayMaxCount (the handler's default: the examples do not set it), so the stage dead-letters it as
 * `replay-exhausted`; a replay that names that reason restarts the count and the stage writes it.
 */
export function poisonEnvelope(payload: Record<string, unknown>): Record<string, unknown> {
  return { v: 1, replay: { of: 'dlq', at: INTEG_EVENT_TIME, count: CONFIG_DEFAULTS.replayMaxCount + 1 }, payload };
}

/** The record id the pipeline gives `payload` (the handler's own function, namespace and key fields). */
export function expectedId(example: ExampleUnderTest, payload: Record<string, unknown>): string {
  return recordId(payload, idNamespaceFor(example.pipeline.pipelineName), example.keyFields);
}

/** Adds the integration test of `example` to its app: the stack under test and the assertions on it. */
export function pipelineIntegTest(example: ExampleUnderTest, records: ScenarioRecords): IntegTest {
  checkRecords(example, records);
  // Named after the stack under test: the assertion stack's name derives from it, so the examples' tests can share a region.
  const integ = new IntegTest(example.stack.node.scope!, example.stack.stackName, {
    testCases: [example.stack],
    // asset hashes (the bundled handlers) are left out of the snapshot comparison: the templates are what is checked
    diffAssets: false,
    // no deployment of the committed snapshot before this one: snapshots hold templates only, not the handler assets
    stackUpdateWorkflow: false,
  });
  const a = integ.assertions;
  const validId = expectedId(example, records.valid);
  const poisonId = expectedId(example, records.poison);
  const steps: IApiCall[] = [
    putRecord(a, example, records.valid),
    putRecord(a, example, records.valid),
    putRecord(a, example, records.poison, poisonEnvelope(records.poison)),
    ...probeMonitoring(a, example),
    sinkItem(a, example, validId, Match.objectLike({ id: validId, payload: Match.objectLike(records.valid) })),
    duplicateCounted(a, example),
    deadLetter(a, example, poisonId, 'replay-exhausted'),
    replayByName(a, example, poisonId, 'replay-exhausted'),
    sinkItem(a, example, poisonId, Match.objectLike({ id: poisonId, replay: Match.objectLike({ of: 'dlq', count: 1 }) })),
    ...alarmsOk(a, example),
  ];
  steps.reduce((prev, next) => prev.next(next));
  return integ;
}

/** Both payloads must pass the example's schema (else the scenario would test a dead letter of another reason). */
function checkRecords(example: ExampleUnderTest, records: ScenarioRecords): void {
  const validate = compileValidator(example.schema);
  for (const [name, payload] of Object.entries(records)) {
    const problem = validate(payload);
    if (problem !== null) throw new Error(`integ scenario of '${example.pipeline.pipelineName}': the ${name} payload must be valid under the example's schema; ${problem}`);
  }
  for (const payload of Object.values(records)) partitionKeyOf(example, payload);
  if (expectedId(example, records.valid) === expectedId(example, records.poison)) {
    throw new Error(`integ scenario of '${example.pipeline.pipelineName}': the valid and poison payloads must have different ids (key fields ${JSON.stringify(example.keyFields)})`);
  }
}

/** Puts `data` (by default the payload itself) on the ingest stream, under the payload's partition key. */
function putRecord(a: IDeployAssert, example: ExampleUnderTest, payload: Record<string, unknown>, data: object = payload): IApiCall {
  return a.awsApiCall('Kinesis', 'putRecord', {
    StreamARN: example.pipeline.ingest.stream.streamArn,
    PartitionKey: partitionKeyOf(example, payload),
    Data: JSON.stringify(data),
  });
}

function partitionKeyOf(example: ExampleUnderTest, payload: Record<string, unknown>): string {
  const key = payload[example.partitionKeyField];
  if (typeof key !== 'string' || key === '') {
    throw new Error(`integ scenario of '${example.pipeline.pipelineName}': the partition key field '${example.partitionKeyField}' must be a non-empty string; got ${JSON.stringify(key)}`);
  }
  return key;
}

/** Waits for the sink item of `id` whose stored envelope (JSON text) matches the matcher `envelope`. */
function sinkItem(a: IDeployAssert, example: ExampleUnderTest, id: string, envelope: object): IApiCall {
  const table = example.pipeline.ingest.sinkConfig.table;
  if (table === undefined) throw new Error(`pipeline '${example.pipeline.pipelineName}': the integration scenario needs a DynamoDB sink`);
  return a.awsApiCall('DynamoDB', 'getItem', { TableName: table.tableName, Key: { pk: { S: id } }, ConsistentRead: true })
    .expect(ExpectedResult.objectLike({ Item: { pk: { S: id }, envelope: { S: Match.serializedJson(envelope) } } }))
    .waitForAssertions(WAIT);
}

/** Waits for a `batch processed` line of the ingest function that counted at least one duplicate. */
function duplicateCounted(a: IDeployAssert, example: ExampleUnderTest): IApiCall {
  return a.awsApiCall('CloudWatchLogs', 'filterLogEvents', {
    logGroupName: example.pipeline.ingest.logGroup.logGroupName,
    filterPattern: '{ $.message = "batch processed" && $.duplicates >= 1 }',
  }).expect(ExpectedResult.objectLike({
    events: Match.arrayWith([Match.objectLike({ message: Match.serializedJson(Match.objectLike({ message: 'batch processed' })) })]),
  })).waitForAssertions(WAIT);
}

/** Waits for the DLQ message v1 of `id` with reason class `reason` (received without hiding it: visibility 0). */
function deadLetter(a: IDeployAssert, example: ExampleUnderTest, id: string, reason: string): IApiCall {
  return a.awsApiCall('SQS', 'receiveMessage', {
    QueueUrl: example.pipeline.deadLetters.queue.queueUrl,
    MaxNumberOfMessages: 10,
    VisibilityTimeout: 0,
    WaitTimeSeconds: 5,
  }).expect(ExpectedResult.objectLike({
    Messages: Match.arrayWith([
      Match.objectLike({ Body: Match.serializedJson(Match.objectLike({ v: 1, id, reason: Match.objectLike({ class: reason }) })) }),
    ]),
  })).waitForAssertions(WAIT);
}

/** Invokes the pipeline's ReplayFunction for the dead letter `id`; expects it put back and deleted from the DLQ. */
function replayByName(a: IDeployAssert, example: ExampleUnderTest, id: string, reason: string): IApiCall {
  const replay = example.pipeline.replay;
  if (replay === undefined) throw new Error(`pipeline '${example.pipeline.pipelineName}': the integration scenario needs its ReplayFunction`);
  return a.invokeFunction({
    functionName: replay.lambdaFunction.functionName,
    invocationType: InvocationType.REQUEST_RESPONSE,
    payload: JSON.stringify({ from: 'dlq', id: [id], reason: [reason] }),
  }).expect(ExpectedResult.objectLike({ Payload: { matched: 1, replayed: 1, deleted: 1, failed: 0 } }));
}

/**
 * With a monitor: sends a canary now (the schedule's first one may be minutes away) and starts a drift detection
 * (its detection alarm treats a missing run as breaching); the alarm assertions then see both.
 */
function probeMonitoring(a: IDeployAssert, example: ExampleUnderTest): IApiCall[] {
  const m = example.monitoring;
  if (m === undefined) return [];
  const canary = m.monitor.canary;
  if (canary === undefined) throw new Error(`pipeline '${example.pipeline.pipelineName}': the integration scenario needs the monitor's canary`);
  return [
    a.invokeFunction({ functionName: canary.canaryFunction.functionName, invocationType: InvocationType.REQUEST_RESPONSE })
      .expect(ExpectedResult.objectLike({ Payload: { correlationId: Match.stringLikeRegexp(`^canary-${example.pipeline.pipelineName}-`) } })),
    a.invokeFunction({ functionName: m.drift.detectorFunction.functionName, invocationType: InvocationType.EVENT }),
  ];
}

/**
 * No metric alarm of the stack in ALARM (CloudFormation names them `<stack name>-...`); with a monitor, the canary's
 * missing-canary alarm OK (a canary reached the terminal stage within its window: missing data is breaching) and the
 * pipeline-health composite OK.
 */
function alarmsOk(a: IDeployAssert, example: ExampleUnderTest): IApiCall[] {
  const calls = [
    a.awsApiCall('CloudWatch', 'describeAlarms', { AlarmNamePrefix: example.stack.stackName, StateValue: 'ALARM' })
      .expect(ExpectedResult.objectLike({ MetricAlarms: [], CompositeAlarms: [] }))
      .waitForAssertions(WAIT),
  ];
  const m = example.monitoring;
  if (m === undefined) return calls;
  return [
    a.awsApiCall('CloudWatch', 'describeAlarms', { AlarmNames: [m.monitor.canary!.missingAlarm.alarmName] })
      .expect(ExpectedResult.objectLike({ MetricAlarms: [Match.objectLike({ StateValue: 'OK' })] }))
      .waitForAssertions(WAIT),
    ...calls,
    a.awsApiCall('CloudWatch', 'describeAlarms', { AlarmNames: [m.monitor.healthAlarm.alarmName], AlarmTypes: ['CompositeAlarm'] })
      .expect(ExpectedResult.objectLike({ CompositeAlarms: [Match.objectLike({ StateValue: 'OK' })] }))
      .waitForAssertions(WAIT),
  ];
}
