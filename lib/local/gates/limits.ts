/**
 * The service-limit gate: refuses or partly fails a call where AWS would, with AWS's error type, message and status.
 * Figures and sources: docs/local-environment.md, "Service limits". Rate limits are divided by `limitsScale`.
 */
import { PerSecondBudget, ReadDebt, shardFor, type ShardShape } from './limits-shards';
import type { EntryFailure, LimitsCall, LimitsVerdict } from './limits-types';
import type { GateVerdict, RequestGate } from './types';
import { PhoenixError } from '../../core/errors';

const MiB = 1024 * 1024;
/** Kinesis: per shard, per second (Kinesis Data Streams quotas). */
export const KINESIS = {
  writeRecords: 1000,
  writeBytes: MiB,
  readCalls: 5,
  readBytes: 2 * MiB,
  efoReadBytes: 2 * MiB,
  recordBytes: MiB,
  putRecordsEntries: 500,
  partitionKeyChars: 256,
};
export const DYNAMODB_ITEM_BYTES = 400 * 1024;
export const LAMBDA_SYNC_PAYLOAD_BYTES = 6 * MiB;
/** Lambda's asynchronous (InvocationType Event) request payload limit: "1 MB" (API reference, Invoke). */
export const LAMBDA_ASYNC_PAYLOAD_BYTES = MiB;
export const FIREHOSE_RECORD_BYTES = 1000 * 1024;
/** SQS's default MaximumMessageSize (1 MiB) when a queue sets none. */
export const SQS_DEFAULT_MAX_MESSAGE_BYTES = MiB;

export interface LimitsOptions {
  readonly accountId: string;
  /** Divides every rate limit (not the size limits); >= 1. */
  readonly limitsScale?: number;
}

const allow: GateVerdict = { kind: 'allow' };
const reject = (status: number, errorType: string, message: string): GateVerdict => ({ kind: 'reject', status, errorType, message });
const validation = (path: string, max: number): GateVerdict =>
  reject(400, 'ValidationException', `1 validation error detected: Value at '${path}' failed to satisfy constraint: Member must have length less than or equal to ${max}`);

interface ShardBudgets {
  readonly records: PerSecondBudget;
  readonly bytes: PerSecondBudget;
  readonly reads: PerSecondBudget;
  readonly readDebt: ReadDebt;
}

export class LimitsGate implements RequestGate {
  readonly name = 'limits';
  private readonly scale: number;
  private readonly streams = new Map<string, readonly ShardShape[]>();
  private readonly budgets = new Map<string, ShardBudgets>();
  private readonly efo = new Map<string, ReadDebt>();
  private readonly queues = new Map<string, number>();

  constructor(private readonly opts: LimitsOptions) {
    this.scale = opts.limitsScale ?? 1;
    if (!Number.isFinite(this.scale) || this.scale < 1) {
      throw new PhoenixError('USAGE', `--limits-scale must be a number >= 1 (got ${String(opts.limitsScale)})`);
    }
  }

  /** Registers a stream's shards (ListShards output) under its ARN; again after a reshard. */
  setStream(streamArn: string, shards: readonly ShardShape[]): void {
    this.streams.set(streamArn, shards);
  }

  /** Registers a queue's MaximumMessageSize under its ARN. */
  setQueue(queueArn: string, maximumMessageSize: number): void {
    this.queues.set(queueArn, maximumMessageSize);
  }

  before(call: LimitsCall, nowMs: number): LimitsVerdict {
    switch (call.service) {
      case 'kinesis': return this.kinesis(call, nowMs);
      case 'dynamodb': return this.dynamodb(call);
      case 'sqs': return this.sqs(call);
      case 'lambda': return this.lambda(call);
      case 'firehose': return this.firehose(call);
      default: return allow;
    }
  }

  /**
   * Counts the data bytes a read returned (the records' data, not the base64 JSON answer): GetRecords against the
   * shard's shared 2 MiB/s, SubscribeToShard against the consumer's own. The emulator host calls it with each answer.
   */
  read(call: LimitsCall, dataBytes: number, nowMs: number): void {
    if (call.service !== 'kinesis' || call.shardId === undefined) return;
    if (call.operation === 'GetRecords') this.shard(call.resources[0], call.shardId).readDebt.add(dataBytes, nowMs);
    if (call.operation === 'SubscribeToShard') this.efoDebt(call.resources[0], call.shardId).add(dataBytes, nowMs);
  }

  private kinesis(call: LimitsCall, nowMs: number): LimitsVerdict {
    switch (call.operation) {
      case 'PutRecord': return this.putRecord(call, nowMs);
      case 'PutRecords': return this.putRecords(call, nowMs);
      case 'GetRecords': return this.getRecords(call, nowMs);
      case 'SubscribeToShard': {
        const wait = this.efoDebt(call.resources[0], this.requireShard(call)).waitMs(nowMs);
        return wait > 0 ? { kind: 'delay', ms: wait } : allow;
      }
      default: return allow;
    }
  }

  private putRecord(call: LimitsCall, nowMs: number): GateVerdict {
    const [record] = this.records(call);
    const invalid = recordInvalid(record, 'data', 'partitionKey');
    if (invalid) return invalid;
    const shardId = shardFor(this.shards(call.resources[0]), record.partitionKey, record.explicitHashKey);
    return this.write(call.resources[0], shardId, record.bytes, nowMs) ? allow : this.throttled(400, call.resources[0], shardId);
  }

  /** PutRecords: a malformed request fails whole; throttled entries fail one by one (the call itself succeeds). */
  private putRecords(call: LimitsCall, nowMs: number): LimitsVerdict {
    const records = this.records(call);
    if (records.length > KINESIS.putRecordsEntries) return validation('records', KINESIS.putRecordsEntries);
    for (let i = 0; i < records.length; i++) {
      const invalid = recordInvalid(records[i], `records.${i + 1}.member.data`, `records.${i + 1}.member.partitionKey`);
      if (invalid) return invalid;
    }
    const failures: EntryFailure[] = [];
    records.forEach((r, index) => {
      const shardId = shardFor(this.shards(call.resources[0]), r.partitionKey, r.explicitHashKey);
      if (!this.write(call.resources[0], shardId, r.bytes, nowMs)) {
        failures.push({ index, errorCode: 'ProvisionedThroughputExceededException', errorMessage: this.rateMessage(call.resources[0], shardId) });
      }
    });
    return failures.length > 0 ? { kind: 'partial', failures } : allow;
  }

  /** Takes a record from the shard's per-second record and byte budgets, both or neither. */
  private write(streamArn: string, shardId: string, bytes: number, nowMs: number): boolean {
    const b = this.shard(streamArn, shardId);
    if (!b.records.take(1, nowMs)) return false;
    if (b.bytes.take(bytes, nowMs)) return true;
    b.records.take(-1, nowMs);
    return false;
  }

  /** GetRecords: 5 calls per second per shard and 2 MiB/s per shard, shared by every polling consumer. */
  private getRecords(call: LimitsCall, nowMs: number): GateVerdict {
    const b = this.shard(call.resources[0], this.requireShard(call));
    if (b.readDebt.waitMs(nowMs) > 0 || !b.reads.take(1, nowMs)) return this.throttled(400, call.resources[0], call.shardId!);
    return allow;
  }

  private dynamodb(call: LimitsCall): GateVerdict {
    const items = call.sizes?.dynamodbItems ?? [];
    if (items.some((n) => n > DYNAMODB_ITEM_BYTES)) return reject(400, 'ValidationException', 'Item size has exceeded the maximum allowed size');
    return allow;
  }

  private sqs(call: LimitsCall): LimitsVerdict {
    if (call.operation !== 'SendMessage' && call.operation !== 'SendMessageBatch') return allow;
    const max = this.queues.get(call.resources[0]) ?? SQS_DEFAULT_MAX_MESSAGE_BYTES;
    const message = `One or more parameters are invalid. Reason: Message must be shorter than ${max} bytes.`;
    const sizes = call.sizes?.sqsMessages ?? [];
    if (call.operation === 'SendMessage') return sizes.some((n) => n > max) ? reject(400, 'InvalidParameterValue', message) : allow;
    const failures = sizes.flatMap((n, index) => (n > max ? [{ index, errorCode: 'InvalidParameterValue', errorMessage: message }] : []));
    return failures.length > 0 ? { kind: 'partial', failures } : allow;
  }

  private lambda(call: LimitsCall): GateVerdict {
    if (call.operation !== 'Invoke' || call.requestBytes <= LAMBDA_SYNC_PAYLOAD_BYTES) return allow;
    return reject(413, 'RequestEntityTooLargeException', `Request must be smaller than ${LAMBDA_SYNC_PAYLOAD_BYTES} bytes for the InvokeFunction operation`);
  }

  private firehose(call: LimitsCall): GateVerdict {
    const sizes = call.sizes?.firehoseRecords ?? [];
    const i = sizes.findIndex((n) => n > FIREHOSE_RECORD_BYTES);
    if (i < 0) return allow;
    return validation(call.operation === 'PutRecordBatch' ? `records.${i + 1}.member.data` : 'record.data', FIREHOSE_RECORD_BYTES);
  }

  private throttled(status: number, streamArn: string, shardId: string): GateVerdict {
    return reject(status, 'ProvisionedThroughputExceededException', this.rateMessage(streamArn, shardId));
  }

  private rateMessage(streamArn: string, shardId: string): string {
    return `Rate exceeded for shard ${shardId} in stream ${streamName(streamArn)} under account ${this.opts.accountId}.`;
  }

  private records(call: LimitsCall): NonNullable<LimitsCall['kinesisRecords']> {
    if (!call.kinesisRecords?.length) throw new PhoenixError('LIMITS_BAD_CALL', `kinesis ${call.operation} call without kinesisRecords`);
    return call.kinesisRecords;
  }

  private requireShard(call: LimitsCall): string {
    if (call.shardId === undefined) throw new PhoenixError('LIMITS_BAD_CALL', `kinesis ${call.operation} call without shardId`);
    return call.shardId;
  }

  private shards(streamArn: string): readonly ShardShape[] {
    const shards = this.streams.get(streamArn);
    if (!shards) throw new PhoenixError('LIMITS_UNKNOWN_STREAM', `stream ${streamArn} has no registered shards (setStream); registered: ${[...this.streams.keys()].join(', ') || 'none'}`);
    return shards;
  }

  private shard(streamArn: string, shardId: string): ShardBudgets {
    const key = `${streamArn}/${shardId}`;
    let b = this.budgets.get(key);
    if (!b) {
      b = {
        records: new PerSecondBudget(KINESIS.writeRecords / this.scale),
        bytes: new PerSecondBudget(KINESIS.writeBytes / this.scale),
        reads: new PerSecondBudget(KINESIS.readCalls / this.scale),
        readDebt: new ReadDebt(KINESIS.readBytes / this.scale),
      };
      this.budgets.set(key, b);
    }
    return b;
  }

  private efoDebt(consumerArn: string, shardId: string): ReadDebt {
    const key = `${consumerArn}/${shardId}`;
    let d = this.efo.get(key);
    if (!d) this.efo.set(key, (d = new ReadDebt(KINESIS.efoReadBytes / this.scale)));
    return d;
  }
}

/** A record too large or with too long a partition key fails the whole request (validated before any write). */
function recordInvalid(r: { readonly partitionKey: string; readonly bytes: number }, dataPath: string, keyPath: string): GateVerdict | undefined {
  if (r.partitionKey.length > KINESIS.partitionKeyChars) return validation(keyPath, KINESIS.partitionKeyChars);
  const dataBytes = r.bytes - Buffer.byteLength(r.partitionKey, 'utf8');
  return dataBytes > KINESIS.recordBytes ? validation(dataPath, KINESIS.recordBytes) : undefined;
}

/** `arn:aws:kinesis:<region>:<account>:stream/<name>[/consumer/...]` -> `<name>`. */
function streamName(arn: string): string {
  return arn.split(':stream/')[1]?.split('/')[0] ?? arn;
}
