import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { validateQualityRules, type QualityRule } from '../../../../constructs/quality-rules';
import { XorShift32, createProfile, profileToSerialized, updateProfile } from '../../../../lib/core/profile';
import { cli } from '../../../support/cli';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'phx-profile-cli-'));
const rng = new XorShift32(7);
const records = Array.from({ length: 500 }, (_, i) => ({
  id: `r${i}`, amount: Math.round(100 + 10 * rng.normal()), country: ['de', 'fr', 'it'][i % 3], note: i % 10 === 0 ? null : 'ok',
}));
const sample = path.join(dir, 'sample.jsonl');
fs.writeFileSync(sample, records.map((r, i) => JSON.stringify(i % 2 ? r : { v: 1, id: `e${i}`, payload: r })).join('\n') + '\nnot json\n\n');

function writeProfile(name: string): string {
  const p = createProfile();
  for (const r of records) updateProfile(p, r);
  p.windowStart = Date.parse('2026-03-01T10:00:00Z');
  p.windowEnd = Date.parse('2026-03-01T10:05:00Z');
  const file = path.join(dir, name);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, JSON.stringify(profileToSerialized(p)));
  return file;
}

describe('phoenix profile show', () => {
  it('prints a profile as a table: count, nulls %, types, min, p50, p99, max, mean, stddev, distinct, top values', async () => {
    const file = writeProfile('merged.json');
    const r = await cli(['profile', 'show', file]);
    expect(r.code).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines[0]).toBe('window 2026-03-01T10:00:00.000Z .. 2026-03-01T10:05:00.000Z');
    expect(lines[1]).toMatch(/^rows 500 {2}unparseable 0 {2}columns 4/);
    expect(lines[3].split(/\s{2,}/)).toEqual(['column', 'count', 'nulls', 'types', 'min', 'p50', 'p99', 'max', 'mean', 'stddev', 'distinct', 'top values']);
    const country = lines.find((l) => l.startsWith('country'))!.split(/\s{2,}/);
    expect(country.slice(0, 4)).toEqual(['country', '500', '0.0%', 'str']);
    expect(country[country.length - 1]).toMatch(/de\(167\)/);
    const note = lines.find((l) => l.startsWith('note'))!.split(/\s{2,}/);
    expect(note[2]).toBe('10.0%');
    const amount = lines.find((l) => l.startsWith('amount'))!.split(/\s{2,}/);
    expect(Number(amount[5])).toBeGreaterThan(90); // p50
    expect(Number(amount[5])).toBeLessThan(110);
  });

  it('prints the profile and the rule results of a window folder', async () => {
    writeProfile('window/merged.json');
    fs.writeFileSync(path.join(dir, 'window', 'results.json'), JSON.stringify({
      v: 1,
      window: { start: '2026-03-01T10:00:00Z', end: '2026-03-01T10:05:00Z' },
      rows: 500,
      parts: ['a'],
      history: [],
      setHash: 'x',
      results: [{ rule: 'volume', kind: 'volume', column: null, status: 'fail', observed: 0.2, fail: { min: 0.3 }, reason: 'ratio' }],
    }));
    const r = await cli(['profile', 'show', path.join(dir, 'window')]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('rows 500');
    expect(r.stdout).toContain('rule results of window 2026-03-01T10:00:00Z .. 2026-03-01T10:05:00Z: 500 rows from 1 shard part(s), 0 history window(s)');
    expect(r.stdout).toMatch(/FAIL\s+volume\s+volume\s+-\s+0\.2\s+-\s+\[0\.3, \]\s+ratio/);
  });

  it('bad input: one line on stderr, exit 2', async () => {
    const junk = path.join(dir, 'junk.json');
    fs.writeFileSync(junk, '{"v": 7}');
    // JSON.parse quotes the input in its message: text with line breaks must still print as one line.
    const text = path.join(dir, 'notes.txt');
    fs.writeFileSync(text, 'not json\nat all\n');
    for (const [args, message] of [
      [['profile', 'show', path.join(dir, 'missing.json')], /missing.json: no such file or directory/],
      [['profile', 'show', junk], /junk.json: not a profile or a results document \(unsupported profile version 7/],
      [['profile', 'show', sample], /sample.jsonl: not JSON/],
      [['profile', 'show', text], /notes.txt: not JSON/],
      [['profile', 'show', dir, '--top', 'x'], /--top must be an integer between 0 and 64 \(given 'x'\)/],
    ] as Array<[string[], RegExp]>) {
      const r = await cli(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    }
  });
});

describe('phoenix profile suggest', () => {
  it('prints a valid starter rule set as JSON (envelopes unwrapped, unparseable lines counted)', async () => {
    const r = await cli(['profile', 'suggest', '--input', sample]);
    expect(r.code).toBe(0);
    const rules = JSON.parse(r.stdout) as QualityRule[];
    expect(validateQualityRules(rules, undefined, 300)).toEqual([]);
    expect(rules.map((x) => x.name)).toEqual(expect.arrayContaining(['volume', 'schema:required', 'amount:completeness', 'amount:drift', 'country:allowed', 'note:completeness']));
    expect(rules.find((x) => x.name === 'country:allowed')!.allowedValues!.sort()).toEqual(['de', 'fr', 'it']);
    expect(r.stderr).toBe('suggested ' + rules.length + ' rule(s) from 500 record(s) (1 unparseable line(s) ignored)\n');
  });

  it('prints a TypeScript module with --format ts', async () => {
    const r = await cli(['profile', 'suggest', '--input', sample, '--format', 'ts']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^import \{ DriftMethod, QualityMetric, QualityRule, QualityRuleKind, QualityValueType \} from 'cdk-phoenix-pipelines';/);
    expect(r.stdout).toContain("{ name: 'volume', kind: QualityRuleKind.VOLUME, fail: { min: 1 } },");
    expect(r.stdout).toContain("allowedValues: ['de', 'fr', 'it']");
    expect(r.stdout).toContain('driftMethod: DriftMethod.PSI');
  });

  it('bad input: one line on stderr, exit 2', async () => {
    const empty = path.join(dir, 'empty.jsonl');
    fs.writeFileSync(empty, 'nope\n[1]\n');
    for (const [args, message] of [
      [['profile', 'suggest'], /--input <file> is required/],
      [['profile', 'suggest', '--input', path.join(dir, 'nothing.jsonl')], /nothing.jsonl: no such file/],
      [['profile', 'suggest', '--input', empty], /no JSON object records \(2 line\(s\), 2 unparseable\)/],
      [['profile', 'suggest', '--input', sample, '--format', 'yaml'], /--format must be json or ts \(given 'yaml'\)/],
    ] as Array<[string[], RegExp]>) {
      const r = await cli(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    }
  });
});
