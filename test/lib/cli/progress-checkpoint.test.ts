import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { formatCursor } from '../../../lib/cli/commands/replay';
import { CursorCheckpoint } from '../../../lib/cli/progress-checkpoint';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function file(): string {
  const d = mkdtempSync(path.join(tmpdir(), 'phx-checkpoint-'));
  dirs.push(d);
  return path.join(d, 'cursor');
}

describe('CursorCheckpoint', () => {
  it('writes the cursor as --resume takes it, at most once per interval; a finished replay removes the file', () => {
    const f = file();
    let t = 0;
    const c = new CursorCheckpoint(f, formatCursor, 1_000, () => t);
    c.update(undefined);
    expect(existsSync(f)).toBe(false);
    c.update({ key: 'raw/a.gz', line: 5 });
    expect(readFileSync(f, 'utf8')).toBe('raw/a.gz:5\n');
    t = 500;
    c.update({ key: 'raw/a.gz', line: 9 });
    expect(readFileSync(f, 'utf8')).toBe('raw/a.gz:5\n');
    t = 1_000;
    c.update({ key: 'raw/b.gz', line: 0 });
    expect(readFileSync(f, 'utf8')).toBe('raw/b.gz:0\n');
    expect(existsSync(`${f}.tmp`)).toBe(false);
    c.finish({ failed: 0 });
    expect(existsSync(f)).toBe(false);
  });

  it('a stopped replay leaves its cursor; one with a failed record keeps the last cursor written', () => {
    const f = file();
    const c = new CursorCheckpoint(f, formatCursor, 1_000, () => 0);
    c.finish({ failed: 0, cursor: { key: 'raw/c.gz', line: 7 } });
    expect(readFileSync(f, 'utf8')).toBe('raw/c.gz:7\n');
    c.finish({ failed: 1 });
    expect(readFileSync(f, 'utf8')).toBe('raw/c.gz:7\n');
  });
});
