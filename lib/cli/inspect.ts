/**
 * DLQ inspection: counts by reason, stage and hour, one-line summaries and payload rendering. Pure: no AWS SDK.
 */
import type { DlqMessage } from '../core';

export interface DlqStats {
  total: number;
  /** Messages whose body is not a DLQ message v1 (counted, never deleted). */
  invalid: number;
  byReason: Record<string, number>;
  byStage: Record<string, number>;
  /** `YYYY-MM-DDTHH:00Z` of lastFailedAt -> count, in time order. */
  byHour: Record<string, number>;
  /** Payload stored in the overflow bucket. */
  withPayloadRef: number;
  /** Neither payload nor payloadRef (e.g. expired on-failure batches): cannot be replayed. */
  withoutPayload: number;
  oldest: string | null;
  newest: string | null;
}

function bump(m: Record<string, number>, k: string): void {
  m[k] = (m[k] ?? 0) + 1;
}

function sorted(m: Record<string, number>, byKey: boolean): Record<string, number> {
  const entries = Object.entries(m);
  entries.sort(byKey ? (a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0) : (a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
  return Object.fromEntries(entries);
}

export function dlqStats(messages: readonly DlqMessage[], invalid = 0): DlqStats {
  const byReason: Record<string, number> = {};
  const byStage: Record<string, number> = {};
  const byHour: Record<string, number> = {};
  let withPayloadRef = 0;
  let withoutPayload = 0;
  let oldest: string | null = null;
  let newest: string | null = null;
  for (const m of messages) {
    bump(byReason, m.reason.class);
    bump(byStage, m.stage);
    const t = new Date(Date.parse(m.lastFailedAt)).toISOString();
    bump(byHour, `${t.slice(0, 13)}:00Z`);
    if (m.payloadRef !== null) withPayloadRef++;
    else if (m.payload === null) withoutPayload++;
    if (oldest === null || t < oldest) oldest = t;
    if (newest === null || t > newest) newest = t;
  }
  return {
    total: messages.length,
    invalid,
    byReason: sorted(byReason, false),
    byStage: sorted(byStage, false),
    byHour: sorted(byHour, true),
    withPayloadRef,
    withoutPayload,
    oldest,
    newest,
  };
}

/** Human-readable stats (what `phoenix dlq stats` prints without --json). */
export function formatStats(s: DlqStats, target: string): string {
  const lines: string[] = [`${s.total} dead letter(s) in ${target}${s.invalid ? ` (+${s.invalid} message(s) that are not DLQ message v1)` : ''}`];
  if (s.total === 0) return `${lines[0]}\n`;
  lines.push(`oldest ${s.oldest}, newest ${s.newest}; ${s.withPayloadRef} with the payload in the overflow bucket, ${s.withoutPayload} without payload (not replayable)`);
  const table = (title: string, m: Record<string, number>): void => {
    lines.push('', title);
    const w = Math.max(...Object.keys(m).map((k) => k.length));
    for (const [k, v] of Object.entries(m)) lines.push(`  ${k.padEnd(w)}  ${String(v).padStart(7)}`);
  };
  table('by reason', s.byReason);
  table('by stage', s.byStage);
  table('by hour (UTC, last failure)', s.byHour);
  return `${lines.join('\n')}\n`;
}

/** One line per message for `phoenix dlq list`. */
export function formatListLine(messageId: string, m: DlqMessage): string {
  const reason = m.reason.message.replace(/\s+/g, ' ');
  return [
    messageId,
    m.lastFailedAt,
    m.stage,
    m.reason.class,
    m.id ?? '-',
    m.correlationId ?? '-',
    m.payloadRef !== null ? 'ref' : m.payload === null ? 'none' : `${Math.floor((m.payload.length * 3) / 4)}B`,
    reason.length > 100 ? `${reason.slice(0, 97)}...` : reason,
  ].join('\t');
}

export const LIST_HEADER = ['messageId', 'lastFailedAt', 'stage', 'reason', 'id', 'correlationId', 'payload', 'message'].join('\t');

export interface PayloadView {
  /** `json`: pretty-printed JSON; `text`: UTF-8 text that is not JSON; `hex`: a hex dump; `base64`: large binary. */
  readonly encoding: 'json' | 'text' | 'hex' | 'base64' | 'none';
  readonly bytes: number;
  readonly text: string;
}

/** Binary payloads up to this size are shown as a hex dump, larger ones as base64. */
export const HEX_DUMP_MAX_BYTES = 4096;
const UTF8 = new TextDecoder('utf-8', { fatal: true });

function hexDump(b: Buffer): string {
  const lines: string[] = [];
  for (let off = 0; off < b.length; off += 16) {
    const row = b.subarray(off, off + 16);
    const hex = [...row].map((x) => x.toString(16).padStart(2, '0')).join(' ');
    const ascii = [...row].map((x) => (x >= 0x20 && x < 0x7f ? String.fromCharCode(x) : '.')).join('');
    lines.push(`${off.toString(16).padStart(8, '0')}  ${hex.padEnd(47)}  |${ascii}|`);
  }
  return lines.join('\n');
}

/** Renders payload bytes: pretty JSON, else UTF-8 text, else hex (small) or base64 (large). */
export function renderPayload(bytes: Buffer | null): PayloadView {
  if (bytes === null) return { encoding: 'none', bytes: 0, text: '' };
  let text: string | undefined;
  try {
    text = UTF8.decode(bytes);
  } catch {
    text = undefined;
  }
  if (text !== undefined) {
    try {
      return { encoding: 'json', bytes: bytes.length, text: JSON.stringify(JSON.parse(text), null, 2) };
    } catch {
      // not JSON: plain text when it has no control characters besides whitespace
    }
    // eslint-disable-next-line no-control-regex
    if (!/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/.test(text)) return { encoding: 'text', bytes: bytes.length, text };
  }
  if (bytes.length <= HEX_DUMP_MAX_BYTES) return { encoding: 'hex', bytes: bytes.length, text: hexDump(bytes) };
  return { encoding: 'base64', bytes: bytes.length, text: bytes.toString('base64') };
}
