import { describe, expect, it } from 'vitest';
import { ArchiveWatermark } from '../../../lib/replay/watermark';

describe('ArchiveWatermark', () => {
  it('the cursor is the oldest record not accepted, whatever order the puts settle in, across objects', () => {
    const w = new ArchiveWatermark();
    expect(w.cursor()).toBeUndefined();
    const a = w.beginObject('a', 3, 0);
    for (let i = 0; i < 3; i++) {
      w.read(a + i);
      w.put(a + i);
    }
    const b = w.beginObject('b', 2, 0);
    w.read(b); // skipped (not matching): never pending
    w.read(b + 1);
    w.put(b + 1);
    expect(w.cursor()).toEqual({ key: 'a', line: 0 });
    w.accepted(a + 2);
    w.accepted(a);
    expect(w.cursor()).toEqual({ key: 'a', line: 1 });
    w.accepted(a + 1);
    expect(w.cursor()).toEqual({ key: 'b', line: 1 });
    w.accepted(b + 1);
    expect(w.cursor()).toEqual({ key: 'b', line: 2 });
  });

  it('a record never accepted (failed) holds the cursor; a resumed object starts at its cursor line', () => {
    const w = new ArchiveWatermark();
    const a = w.beginObject('a', 10, 4);
    expect(w.cursor()).toEqual({ key: 'a', line: 4 });
    w.read(a + 4);
    w.put(a + 4);
    for (let i = 5; i < 10; i++) w.read(a + i);
    const b = w.beginObject('b', 5, 0);
    for (let i = 0; i < 5; i++) w.read(b + i);
    expect(w.cursor()).toEqual({ key: 'a', line: 4 });
  });
});
