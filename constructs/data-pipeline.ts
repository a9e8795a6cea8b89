import { CfnOutput } from 'aws-cdk-lib';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import type { IDlqWithReplay } from './dlq-with-replay';
import { IngestSink } from './ingest-sink';
import { IngestStage, type IngestStageOptions } from './ingest-stage';
import { Phoenix, PhoenixMode } from './phoenix';
import { checkName } from './private/validate';


/**
 * Properties of a {@link DataPipeline}.
 */
export interface DataPipelineProps {
  /**
   * Pipeline name: seeds the record id namespace and is the `Pipeline` metric dimension.
   * 1-64 characters of `[A-Za-z0-9_-]`. Renaming a pipeline changes every record id.
   */
  readonly pipelineName: string;

  /**
   * Options of the ingest stage (stream, schema, key fields, function, event source mapping, dead letters).
   *
   * @default - the {@link IngestStage} defaults
   */
  readonly ingest?: IngestStageOptions;

  /**
   * SNS topic notified by the pipeline's alarms (dead-letter depth and age). Not allowed together with
   * `ingest.deadLetterProps.alarmTopic` or `ingest.deadLetters`.
   *
   * @default - alarms without actions
   */
  readonly alarmTopic?: sns.ITopic;

  /**
   * Where the pipeline writes its envelopes.
   *
   * @default IngestSink.dynamoDb() - a created table (partition key `pk`, on-demand, PITR; retained in
   * PhoenixMode.PRODUCTION unless `retainSinks` is false)
   */
  readonly sink?: IngestSink;

  /**
   * What `cdk destroy` leaves behind: the removal policy of every stateful resource the pipeline and its
   * children create (stream, dead-letter queue and buckets, log groups, the created sink, and the archive,
   * profile history and keys of the stages attached to it). A `removalPolicy` set on a resource's own props wins.
   *
   * - `PhoenixMode.EPHEMERAL`: nothing is left (DESTROY everywhere, buckets emptied, the archive included).
   * - `PhoenixMode.PRODUCTION`: the archive is retained, and the sinks unless `retainSinks` is false;
   *   everything else is destroyed and recreated by the next deploy.
   *
   * PRODUCTION is the default because the two possible mistakes are not symmetric: a test pipeline deployed
   * without the setting leaves an archive and a table to delete by hand after `cdk destroy`, while a production
   * pipeline deployed with a destroying default would lose the archive every sink is rebuilt from.
   *
   * @default - the mode of the nearest enclosing scope configured with `Phoenix.configure`, else the CDK context
   * value `phoenix:mode`, else PhoenixMode.PRODUCTION
   */
  readonly phoenixMode?: PhoenixMode;

  /**
   * Keep the created sinks (the `IngestSink.dynamoDb()` table) when the stack is deleted. Only with
   * PhoenixMode.PRODUCTION (an ephemeral pipeline keeps nothing). With false, a rebuilt pipeline refills its
   * sink from the archive by replay.
   *
   * @default true in PhoenixMode.PRODUCTION (or the value configured on an enclosing scope)
   */
  readonly retainSinks?: boolean;
}

/**
 * A Phoenix data pipeline: an {@link IngestStage} (stream, processor, dead letters with replay) writing to a sink,
 * plus stack outputs for tooling (the `phoenix` CLI reads them): `StreamName`, `StreamArn`, `ProcessorName`,
 * `DlqUrl`, `DlqOverflowBucket`, `SinkKind`, `SinkTarget`.
 *
 * Later stages (archive, profiler, monitor) attach here, each as a child construct reading `ingest`.
 *
 * @example
 * const pipeline = new DataPipeline(this, 'Clickstream', {
 *   pipelineName: 'clickstream',
 *   ingest: { schema: clickSchema, keyFields: ['userId', 'sessionId', 'seq'] },
 * });
 * pipeline.ingest.grantWrite(producer);
 */
export class DataPipeline extends Construct {
  /** Pipeline name. */
  public readonly pipelineName: string;
  /** The ingest stage. */
  public readonly ingest: IngestStage;
  /** The ingest stage's dead letters. */
  public readonly deadLetters: IDlqWithReplay;
  /** The sink. */
  public readonly sink: IngestSink;
  /** The topic the pipeline's alarms notify, if any. */
  public readonly alarmTopic?: sns.ITopic;
  /** The Phoenix mode in effect for the pipeline's resources. */
  public readonly phoenixMode: PhoenixMode;

  constructor(scope: Construct, id: string, props: DataPipelineProps) {
    super(scope, id);
    checkName('DataPipeline', 'pipelineName', props.pipelineName);
    this.pipelineName = props.pipelineName;
    if (props.retainSinks === true && (props.phoenixMode ?? Phoenix.modeOf(this)) === PhoenixMode.EPHEMERAL) {
      throw new Error(`DataPipeline retainSinks applies to PhoenixMode.PRODUCTION only: an ephemeral pipeline keeps nothing (given retainSinks true with phoenixMode EPHEMERAL${props.phoenixMode ? '' : ' inherited'})`);
    }
    // Before any child: every stateful child asks Phoenix.removalPolicyFor(itself, kind).
    Phoenix.configure(this, { mode: props.phoenixMode, retainSinks: props.retainSinks });
    this.phoenixMode = Phoenix.modeOf(this);
    this.sink = props.sink ?? IngestSink.dynamoDb();

    const ingest = props.ingest ?? {};
    if (props.alarmTopic && (ingest.deadLetters || ingest.deadLetterProps?.alarmTopic)) {
      throw new Error(`DataPipeline alarmTopic cannot be combined with ${ingest.deadLetters ? 'ingest.deadLetters' : 'ingest.deadLetterProps.alarmTopic'} (given both)`);
    }
    this.alarmTopic = props.alarmTopic;

    this.ingest = new IngestStage(this, 'Ingest', {
      ...ingest,
      deadLetterProps: props.alarmTopic ? { ...ingest.deadLetterProps, alarmTopic: props.alarmTopic } : ingest.deadLetterProps,
      pipelineName: props.pipelineName,
      sink: this.sink,
    });
    this.deadLetters = this.ingest.deadLetters;

    // Extension point: archive, profiler and monitor stages are added here as children ('Archive', 'Profiler',
    // 'Monitor'), consuming this.ingest (stream, metrics, dead letters). Their stateful resources take their
    // removal policy from Phoenix.removalPolicyFor(child, StatefulKind.ARCHIVE | PROFILE_HISTORY | KEY | LOGS).

    this.output('StreamName', this.ingest.stream.streamName, 'Kinesis stream producers write to');
    this.output('StreamArn', this.ingest.stream.streamArn, 'ARN of the Kinesis stream producers write to');
    this.output('ProcessorName', this.ingest.processor.functionName, 'Ingest processor function');
    this.output('DlqUrl', this.deadLetters.queue.queueUrl, 'Dead-letter queue URL (DLQ message v1)');
    this.output('DlqOverflowBucket', this.deadLetters.overflowBucket.bucketName, 'Bucket of oversize dead-letter payloads and on-failure batches');
    this.output('SinkKind', this.ingest.sinkConfig.kind, 'Sink kind: dynamodb, s3, kinesis or none');
    if (this.ingest.sinkConfig.target !== '') {
      this.output('SinkTarget', this.ingest.sinkConfig.target, 'Sink table name, bucket[/prefix] or stream ARN');
    }
  }

  private output(id: string, value: string, what: string): void {
    new CfnOutput(this, id, { value, description: `${what} (pipeline ${this.pipelineName})` });
  }
}
