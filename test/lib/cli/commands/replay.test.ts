import { describe, expect, it } from 'vitest';
import { formatCursor, parseCursor } from '../../../../lib/cli/commands/replay';
import { UsageError } from '../../../../lib/cli/errors';
import { thrownBy } from '../../../support/errors';

describe('--resume cursor', () => {
  it('round-trips what a stopped replay prints; the last ":" separates the key (which may hold ":")', () => {
    const c = { key: 'raw/2025/01/01/00/a:b.gz', line: 120 };
    expect(formatCursor(c)).toBe('raw/2025/01/01/00/a:b.gz:120');
    expect(parseCursor(formatCursor(c))).toEqual(c);
  });

  it('refuses a cursor without a key or a record number, naming the form', () => {
    for (const bad of ['raw/x.gz', ':12', 'raw/x.gz:', 'raw/x.gz:-1', 'raw/x.gz:1.5']) {
      expect(thrownBy(UsageError, () => parseCursor(bad)).message).toBe(
        `--resume must be <object key>:<record number> as a replay printed it (e.g. raw/2025/01/01/00/x.gz:120); got ${JSON.stringify(bad)}`,
      );
    }
  });
});
