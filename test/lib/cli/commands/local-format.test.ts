/** `phoenix local run` output: plain progress lines where no live line can be drawn; where the dead letters were read. */
import { describe, expect, it } from 'vitest';
import { deadLetterSources, plainRunProgress } from '../../../../lib/cli/commands/local';
import type { LocalRunReport, RunProgress } from '../../../../lib/local/run';

const at = (phase: RunProgress['phase'], elapsedMs: number, produced = 0): RunProgress => ({
  phase, total: 100, produced, written: produced, deadLettered: 0, duplicatesSuppressed: 0, retries: 0, invocations: 1, functionErrors: 0, elapsedMs,
});

describe('plainRunProgress', () => {
  it('writes a line when the phase changes and then every 5 s within a phase, with the phase, counts and clock', () => {
    const lines: string[] = [];
    const report = plainRunProgress({ write: (s: string) => lines.push(s) });
    for (const ms of [0, 250, 4_750, 5_000, 9_000]) report(at('synth', ms));
    report(at('start', 9_250));
    report(at('produce', 12_000, 10));
    report(at('produce', 16_500, 40));
    report(at('produce', 17_000, 45));
    expect(lines).toEqual([
      'phoenix local: synthesizing the app... 0.0s\n',
      'phoenix local: synthesizing the app... 5.0s\n',
      'phoenix local: starting emulators and resources... 9.3s\n',
      'phoenix local: produce 10/100 put | 10 written | 0 dead-lettered | 0 dup suppressed | 0 retries | 1 invocations (0 failed) | 12.0s\n',
      'phoenix local: produce 45/100 put | 45 written | 0 dead-lettered | 0 dup suppressed | 0 retries | 1 invocations (0 failed) | 17.0s\n',
    ]);
  });
});

describe('the summary\'s dead-letter sources', () => {
  const report = (records: number, queue: number, captures: number): LocalRunReport =>
    ({ dlqRecords: records, dlqMessages: queue + captures, dlqQueueMessages: queue, dlqOnFailureCaptures: captures }) as LocalRunReport;

  it('separates the queue messages (as dlq stats counts them) from the on-failure captures', () => {
    expect(deadLetterSources(report(100, 100, 100))).toBe('  (100 DLQ messages, as `phoenix dlq stats` counts them + 100 on-failure captures in S3)');
    expect(deadLetterSources(report(10, 12, 0))).toBe('  (12 DLQ messages, as `phoenix dlq stats` counts them)');
  });

  it('says nothing more when each dead-lettered record is one queue message', () => {
    expect(deadLetterSources(report(7, 7, 0))).toBe('');
  });
});
