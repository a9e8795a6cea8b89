/**
 * Batch calls that fail some entries and go on with the others (a `partial` verdict): the emulator sees only the
 * allowed entries, and the answer reports every entry as the service does. Kinesis PutRecords: `Records` in request
 * order, failed ones with `ErrorCode`/`ErrorMessage`, and `FailedRecordCount`; SQS SendMessageBatch: `Failed[]` with
 * the entry's `Id`, `SenderFault`, `Code` and `Message`.
 */
import type { EntryFailure } from './types';
import { PhoenixError } from '../../core/errors';

type Json = Record<string, unknown>;

/** The batch field of each operation that can fail partly. */
const BATCH_FIELD: Readonly<Record<string, string>> = { PutRecords: 'Records', SendMessageBatch: 'Entries' };

function entriesOf(operation: string, request: Json): unknown[] {
  const field = BATCH_FIELD[operation];
  const entries = field ? request[field] : undefined;
  if (Array.isArray(entries)) return entries;
  const allowed = Object.keys(BATCH_FIELD).join(', ');
  throw new PhoenixError('GATE_PARTIAL', `${operation} cannot fail partly: no ${field ?? 'batch'} field in the request (partial operations: ${allowed})`);
}

/** The request without the failed entries; undefined when every entry failed (nothing goes to the emulator). */
export function withoutFailed(operation: string, request: Json, failures: readonly EntryFailure[]): Json | undefined {
  const entries = entriesOf(operation, request);
  const failed = new Set(failures.map((f) => f.index));
  const kept = entries.filter((_, i) => !failed.has(i));
  return kept.length === 0 ? undefined : { ...request, [BATCH_FIELD[operation]]: kept };
}

/**
 * The answer to the whole request: the emulator's answer for the allowed entries (undefined when none went) with the
 * failed entries merged back in.
 */
export function mergeFailed(operation: string, request: Json, response: Json | undefined, failures: readonly EntryFailure[]): Json {
  const entries = entriesOf(operation, request);
  if (operation === 'PutRecords') return mergePutRecords(entries.length, response, failures);
  const idOf = (index: number): unknown => (entries[index] as { Id?: unknown }).Id;
  const failed = failures.map((f) => ({ Id: idOf(f.index), SenderFault: true, Code: f.errorCode, Message: f.errorMessage }));
  return {
    ...response,
    Successful: (response?.Successful as unknown[] | undefined) ?? [],
    Failed: [...((response?.Failed as unknown[] | undefined) ?? []), ...failed],
  };
}

function mergePutRecords(total: number, response: Json | undefined, failures: readonly EntryFailure[]): Json {
  const answered = [...((response?.Records as Json[] | undefined) ?? [])];
  if (answered.length !== total - failures.length) {
    throw new PhoenixError('GATE_PARTIAL', `PutRecords: the emulator answered ${answered.length} records for ${total - failures.length} sent`);
  }
  const byIndex = new Map(failures.map((f) => [f.index, f]));
  const records: Json[] = [];
  for (let i = 0; i < total; i++) {
    const f = byIndex.get(i);
    records.push(f ? { ErrorCode: f.errorCode, ErrorMessage: f.errorMessage } : answered.shift()!);
  }
  return { ...response, FailedRecordCount: Number(response?.FailedRecordCount ?? 0) + failures.length, Records: records };
}
