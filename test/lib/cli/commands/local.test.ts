/** `phoenix local run` misuse: exit 2 with one line, before any synth or emulator start. */
import { describe, expect, it } from 'vitest';
import { cli } from '../../../support/cli';

/** Runs `phoenix local ...` and checks it was refused as a usage error: exit 2, one line on stderr, nothing on stdout. */
async function refused(args: string[]): Promise<string> {
  const started = Date.now();
  const r = await cli(['local', ...args]);
  expect(r.code, r.stderr).toBe(2);
  expect(r.stdout).toBe('');
  expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
  // Synthesizing the example takes more than 10 s here: a refusal this fast started nothing.
  expect(Date.now() - started).toBeLessThan(5000);
  return r.stderr;
}

describe('phoenix local run: usage errors', () => {
  it.each([
    [['run', '--hostile-rate', '2'], /--hostile-rate must be a number between 0 and 1; got "2"/],
    [['run', '--hostile-rate', 'lots'], /--hostile-rate must be a number between 0 and 1; got "lots"/],
    [['run', '--hostile-rate', '0.02', '--input', 'package.json'], /--input and --hostile-rate exclude each other/],
    [['run', '--hostile-rate', '0.02', '--phases', 'clean', '--rate', '10'], /--phases and --hostile-rate exclude each other/],
  ])('%j', async (args, message) => {
    expect(await refused(args)).toMatch(message);
  });
});
