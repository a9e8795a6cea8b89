import { expect } from 'vitest';

/** The error of class `kind` that `fn` throws; fails the test when it returns or throws something else. */
export function thrownBy<E extends Error>(kind: abstract new (...args: never[]) => E, fn: () => unknown): E {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(kind);
    return err as E;
  }
  throw new Error(`expected ${kind.name} to be thrown`);
}
