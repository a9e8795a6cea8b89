import { describe, expect, it } from 'vitest';
import { isResourceName } from '../../../lib/core/names';

describe('isResourceName', () => {
  it('accepts 1-64 characters of A-Z a-z 0-9 _ -', () => {
    expect(isResourceName('orders_v2-eu')).toBe(true);
    expect(isResourceName('a'.repeat(64))).toBe(true);
  });
  it('rejects empty, too long, other characters and non-strings', () => {
    for (const bad of ['', 'a'.repeat(65), 'a.b', 'a b', 'ö', undefined, 7]) expect(isResourceName(bad)).toBe(false);
  });
});
