import { describe, expect, it } from 'vitest';
import { mergeFailed, withoutFailed } from '../../../../lib/local/gates/partial';
import type { EntryFailure } from '../../../../lib/local/gates/types';

const THROTTLED = 'ProvisionedThroughputExceededException';
const failure = (index: number, shard = 'shardId-000000000000'): EntryFailure => ({ index, errorCode: THROTTLED, errorMessage: `Rate exceeded for shard ${shard}` });
const records = (n: number) => ({ StreamName: 's', Records: Array.from({ length: n }, (_, i) => ({ Data: `ZA${i}`, PartitionKey: `k${i}` })) });

describe('partial batches: PutRecords', () => {
  it('the emulator gets only the allowed entries, in request order', () => {
    expect(withoutFailed('PutRecords', records(4), [failure(1), failure(3)])).toEqual({
      StreamName: 's', Records: [{ Data: 'ZA0', PartitionKey: 'k0' }, { Data: 'ZA2', PartitionKey: 'k2' }],
    });
    expect(withoutFailed('PutRecords', records(2), [failure(0), failure(1)])).toBeUndefined();
  });

  it('the answer has every entry at its request index, the failed ones with ErrorCode/ErrorMessage, and FailedRecordCount', () => {
    const emulator = {
      FailedRecordCount: 0,
      Records: [{ SequenceNumber: '10', ShardId: 'shardId-000000000000' }, { SequenceNumber: '11', ShardId: 'shardId-000000000001' }],
    };
    expect(mergeFailed('PutRecords', records(4), emulator, [failure(0), failure(2, 'shardId-000000000001')])).toEqual({
      FailedRecordCount: 2,
      Records: [
        { ErrorCode: THROTTLED, ErrorMessage: 'Rate exceeded for shard shardId-000000000000' },
        { SequenceNumber: '10', ShardId: 'shardId-000000000000' },
        { ErrorCode: THROTTLED, ErrorMessage: 'Rate exceeded for shard shardId-000000000001' },
        { SequenceNumber: '11', ShardId: 'shardId-000000000001' },
      ],
    });
  });

  it('every entry failed: the answer is made without the emulator; a count mismatch is an error, not a silent merge', () => {
    expect(mergeFailed('PutRecords', records(2), undefined, [failure(0), failure(1)])).toEqual({
      FailedRecordCount: 2,
      Records: [{ ErrorCode: THROTTLED, ErrorMessage: expect.any(String) }, { ErrorCode: THROTTLED, ErrorMessage: expect.any(String) }],
    });
    expect(() => mergeFailed('PutRecords', records(3), { Records: [{}] }, [failure(0)])).toThrow(/answered 1 records for 2 sent/);
  });
});

describe('partial batches: SendMessageBatch', () => {
  const batch = { QueueUrl: 'q', Entries: [{ Id: 'a', MessageBody: 'x' }, { Id: 'b', MessageBody: 'y'.repeat(10) }, { Id: 'c', MessageBody: 'z' }] };
  const tooBig: EntryFailure = { index: 1, errorCode: 'InvalidParameterValue', errorMessage: 'Message must be shorter than 5 bytes.' };

  it('the failed entries are left out and answered in Failed[] with their Id', () => {
    expect(withoutFailed('SendMessageBatch', batch, [tooBig])).toEqual({ QueueUrl: 'q', Entries: [batch.Entries[0], batch.Entries[2]] });
    const emulator = { Successful: [{ Id: 'a', MessageId: '1' }, { Id: 'c', MessageId: '2' }], Failed: [] };
    expect(mergeFailed('SendMessageBatch', batch, emulator, [tooBig])).toEqual({
      Successful: emulator.Successful,
      Failed: [{ Id: 'b', SenderFault: true, Code: 'InvalidParameterValue', Message: 'Message must be shorter than 5 bytes.' }],
    });
  });

  it('an operation without a batch cannot fail partly', () => {
    expect(() => withoutFailed('PutItem', { Item: {} }, [tooBig])).toThrow(/PutItem cannot fail partly/);
  });
});
