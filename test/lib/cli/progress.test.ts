import { describe, expect, it } from 'vitest';
import { formatDuration, progressLine, replayProgress } from '../../../lib/cli/progress';
import type { ReplayProgress } from '../../../lib/replay/engine';

function archive(done: number, bytesDone: number, replayed: number): ReplayProgress {
  return { scanned: replayed, matched: replayed, replayed, deleted: 0, failed: 0, objects: { done, total: 10, bytesDone, bytesTotal: 1000 } };
}

describe('replay progress on a stderr that is not a TTY', () => {
  it('writes one line per interval with objects, records, records/s and an ETA from the objects\' bytes, and one at the end', () => {
    const lines: string[] = [];
    let t = 0;
    const r = replayProgress({ stream: { write: (s: string) => lines.push(s), isTTY: false }, intervalMs: 5_000, now: () => t });
    t = 1_000;
    r.update(archive(1, 100, 1_000));
    expect(lines).toEqual([]);
    t = 5_000;
    r.update(archive(2, 250, 2_500));
    // 250 of 1,000 bytes in 5 s: 15 s left
    expect(lines).toEqual(['replay: 2/10 objects, 2500 scanned, 2500 replayed, 500 records/s, ETA 15s\n']);
    t = 6_000;
    r.update(archive(3, 300, 3_000));
    expect(lines).toHaveLength(1);
    t = 20_000;
    r.update(archive(10, 1000, 10_000));
    r.stop();
    expect(lines.slice(1)).toEqual([
      'replay: 10/10 objects, 10000 scanned, 10000 replayed, 500 records/s, ETA 0s\n',
      'replay: 10/10 objects, 10000 scanned, 10000 replayed, 500 records/s, ETA 0s\n',
    ]);
  });

  it('a DLQ replay shows scanned of the queue depth, deletions, failures, and an ETA from the depth', () => {
    const p: ReplayProgress = { scanned: 300, matched: 300, replayed: 280, deleted: 270, failed: 2, total: 1200 };
    expect(progressLine(p, 2_000)).toBe('replay: 300/1200 scanned, 280 replayed, 270 deleted, 2 failed, 140 records/s, ETA 6s');
    expect(progressLine({ ...p, scanned: 0, replayed: 0 }, 0)).toMatch(/ETA \?$/);
  });

  it('writes nothing at the end of a replay that never reported (it failed before reading)', () => {
    const lines: string[] = [];
    replayProgress({ stream: { write: (s: string) => lines.push(s), isTTY: false } }).stop();
    expect(lines).toEqual([]);
  });

  it('with --json on a terminal: plain lines on stderr, no live bar', () => {
    const lines: string[] = [];
    let t = 0;
    const r = replayProgress({ stream: { write: (s: string) => lines.push(s), isTTY: true }, json: true, intervalMs: 5_000, now: () => t });
    t = 5_000;
    r.update(archive(2, 250, 2_500));
    r.stop();
    expect(lines).toEqual(['replay: 2/10 objects, 2500 scanned, 2500 replayed, 500 records/s, ETA 15s\n', 'replay: 2/10 objects, 2500 scanned, 2500 replayed, 500 records/s, ETA 15s\n']);
  });

  it('formats durations', () => {
    expect([formatDuration(12_400), formatDuration(187_000), formatDuration(3_725_000)]).toEqual(['12s', '3m 07s', '1h 02m']);
  });
});
