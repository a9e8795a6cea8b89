/**
 * DynamoDB sink: one item per record id, written with a conditional PutItem so that only a newer version replaces
 * the stored one (docs/ARCHITECTURE.md, "Idempotent sinks").
 *
 * Item: pk (S, record id), eventTime (S, ISO UTC), contentHash (S), correlationId (S), source (S), envelope (S, JSON).
 */
import {
  ConditionalCheckFailedException,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  type AttributeValue,
} from '@aws-sdk/client-dynamodb';
import type { SinkPort, SinkWriteMeta, WriteResult } from './types';
import { compareVersions, notAppliedOutcome, sortableEventTime, type Version } from './version';
import type { Envelope } from '../../core/envelope';
import { PermanentError, TransientError } from '../../core/failure';

export const DYNAMODB_CONDITION = 'attribute_not_exists(pk) OR eventTime < :et OR (eventTime = :et AND contentHash < :h)';

/** Rounds of write / re-read when the stored item changes between the conditional failure and the read. */
const MAX_ROUNDS = 3;

function storedVersion(item: Record<string, AttributeValue> | undefined): Version | undefined {
  const et = item?.eventTime?.S;
  const h = item?.contentHash?.S;
  return et !== undefined && h !== undefined ? { eventTime: et, contentHash: h } : undefined;
}

export class DynamoDbSink implements SinkPort {
  constructor(
    private readonly client: DynamoDBClient,
    private readonly tableName: string,
  ) {}

  async write(env: Envelope, meta: SinkWriteMeta): Promise<WriteResult> {
    const incoming: Version = { eventTime: sortableEventTime(env.eventTime), contentHash: meta.contentHash };
    const item: Record<string, AttributeValue> = {
      pk: { S: env.id },
      eventTime: { S: incoming.eventTime },
      contentHash: { S: incoming.contentHash },
      correlationId: { S: env.correlationId },
      source: { S: env.source },
      envelope: { S: meta.envelopeJson ?? JSON.stringify(env) },
    };
    for (let round = 1; round <= MAX_ROUNDS; round++) {
      let stored: Version | undefined;
      try {
        await this.client.send(new PutItemCommand({
          TableName: this.tableName,
          Item: item,
          ConditionExpression: DYNAMODB_CONDITION,
          ExpressionAttributeValues: { ':et': { S: incoming.eventTime }, ':h': { S: incoming.contentHash } },
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }));
        return 'written';
      } catch (err) {
        if (err instanceof ConditionalCheckFailedException || (err as Error)?.name === 'ConditionalCheckFailedException') {
          stored = storedVersion((err as ConditionalCheckFailedException).Item);
          // Emulators that ignore ReturnValuesOnConditionCheckFailure: read the stored version.
          stored ??= await this.read(env.id);
        } else if ((err as Error)?.name === 'ValidationException') {
          // Item too large (400 KB) or an attribute DynamoDB cannot store: retrying cannot help.
          throw new PermanentError('sink-rejected', `DynamoDB rejected item ${env.id} in ${this.tableName}: ${(err as Error).message}`, { cause: err });
        } else {
          throw err;
        }
      }
      if (stored !== undefined && compareVersions(incoming, stored) <= 0) return notAppliedOutcome(incoming, stored);
      // The stored item changed (deleted, or replaced by an older version) between the conditional failure and the
      // read: write again.
    }
    throw new TransientError(`DynamoDB item ${env.id} in ${this.tableName} kept changing during ${MAX_ROUNDS} conditional writes`);
  }

  private async read(id: string): Promise<Version | undefined> {
    const out = await this.client.send(new GetItemCommand({
      TableName: this.tableName,
      Key: { pk: { S: id } },
      ConsistentRead: true,
      ProjectionExpression: 'eventTime, contentHash',
    }));
    return storedVersion(out.Item);
  }
}
