import { Stack, type StackProps } from 'aws-cdk-lib';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type { Construct } from 'constructs';
import { orderEventKeyFields, orderEventSchema } from './schema';
import { DataPipeline, IngestSink, type PhoenixMode } from '../../constructs';
import { phoenixStack } from '../shared';

/** Properties of an {@link OrdersStack}. */
export interface OrdersStackProps extends StackProps {
  /**
   * What `cdk destroy` leaves behind (see docs/runbook.md, Phoenix teardown).
   *
   * @default PhoenixMode.PRODUCTION - the orders table is retained
   */
  readonly phoenixMode?: PhoenixMode;
}

/**
 * The orders pipeline: the order service puts one event per change of an order (a new version) on a Kinesis
 * stream, partition key = orderId. The ingest stage validates it, derives the record id from `orderId` alone and
 * writes it to a DynamoDB table with a conditional put that keeps the version with the newest `eventTime`:
 * versions may arrive late, twice or out of order (retries, replays from the dead letters or the archive) and the
 * table still ends up with the newest version of every order.
 */
export class OrdersStack extends Stack {
  /** The pipeline. */
  public readonly pipeline: DataPipeline;
  /** Topic notified by the pipeline's alarms (subscribe the on-call channel to it). */
  public readonly alarmTopic: sns.Topic;

  constructor(scope: Construct, id: string, props: OrdersStackProps = {}) {
    super(scope, id, { description: 'Phoenix orders pipeline with out-of-order replay (cdk-phoenix-pipelines example)', ...props });
    // The pipeline, the alarm topic and its key follow the stack's Phoenix mode.
    this.alarmTopic = phoenixStack(this, props.phoenixMode, 'orders');

    this.pipeline = new DataPipeline(this, 'Orders', {
      pipelineName: 'orders',
      alarmTopic: this.alarmTopic,
      ingest: {
        schema: orderEventSchema,
        keyFields: orderEventKeyFields,
        // versions of one order share a partition key (orderId) and stay in order; ten orders of a batch at once
        recordConcurrency: 10,
      },
      sink: IngestSink.dynamoDb(),
    });
  }
}
