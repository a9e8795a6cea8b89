import { CfnOutput } from 'aws-cdk-lib';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import type { IDlqWithReplay } from './dlq-with-replay';
import { IngestSink } from './ingest-sink';
import { IngestStage, type IngestStageOptions } from './ingest-stage';
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
   * @default IngestSink.dynamoDb() - a created table (partition key `pk`, on-demand, PITR, retained)
   */
  readonly sink?: IngestSink;
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

  constructor(scope: Construct, id: string, props: DataPipelineProps) {
    super(scope, id);
    checkName('DataPipeline', 'pipelineName', props.pipelineName);
    this.pipelineName = props.pipelineName;
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
    // 'Monitor'), consuming this.ingest (stream, metrics, dead letters).

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
