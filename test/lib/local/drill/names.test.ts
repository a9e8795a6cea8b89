import { describe, expect, it } from 'vitest';
import { compareNames, type DeployedNames } from '../../../../lib/local/drill/names';

const names = (n: Record<string, string>, explicit: string[] = []): DeployedNames => ({ names: n, explicit: new Set(explicit) });

describe('compareNames', () => {
  it('every generated name new: namesChanged, explicit names listed as kept', () => {
    const r = compareNames(names({ S: 's-1', D: 'ops' }, ['D']), names({ S: 's-2', D: 'ops' }, ['D']));
    expect(r).toEqual({
      names: { before: { S: 's-1', D: 'ops' }, after: { S: 's-2', D: 'ops' } },
      namesChanged: true,
      unchanged: [{ logicalId: 'D', physicalName: 'ops', explicit: true }],
    });
  });

  it('a generated name kept (as the old drill kept its archive bucket): not namesChanged, and named', () => {
    const r = compareNames(names({ S: 's-1', B: 'b-1' }), names({ S: 's-2', B: 'b-1' }));
    expect(r.namesChanged).toBe(false);
    expect(r.unchanged).toEqual([{ logicalId: 'B', physicalName: 'b-1', explicit: false }]);
  });

  it('resources in only one deployment are not compared', () => {
    expect(compareNames(names({ S: 's-1', Old: 'o' }), names({ S: 's-2', New: 'o' })).unchanged).toEqual([]);
  });
});
