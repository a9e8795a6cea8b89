/**
 * `phoenix profile show <file|dir|s3://bucket/key>`: prints a window's profile (merged.json or a shard profile) as a
 * table, or the rule results of a window (results.json); a window folder (ending in '/') prints both.
 * `phoenix profile suggest --input FILE.jsonl`: prints a starter rule set (JSON, or TypeScript with --format ts).
 * See docs/quality.md.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as readline from 'node:readline';
import type { Command } from 'commander';
import { validateQualityRules } from '../../../constructs/quality-rules';
import {
  ProfileError,
  createProfile,
  deserializeProfile,
  formatProfileTable,
  formatResultsTable,
  formatRulesTypeScript,
  suggestRules,
  updateProfile,
  type RuleResult,
} from '../../core/profile';
import { UsageError } from '../errors';

interface ShowFlags {
  top: string;
}

interface SuggestFlags {
  input?: string;
  format: string;
  maxCategories: string;
}

function intOption(flag: string, text: string, lo: number, hi: number): number {
  const v = Number(text);
  if (!Number.isInteger(v) || v < lo || v > hi) throw new UsageError(`${flag} must be an integer between ${lo} and ${hi} (given '${text}')`);
  return v;
}

/** `s3://bucket/key` -> { bucket, key }; undefined for anything else. */
export function parseS3Url(source: string): { bucket: string; key: string } | undefined {
  const m = /^s3:\/\/([^/]+)\/(.*)$/.exec(source);
  return m ? { bucket: m[1], key: m[2] } : undefined;
}

/** Reads the documents named by `source`: [name, text] pairs, a missing optional document omitted. */
async function readSource(source: string): Promise<Array<[string, string]>> {
  const s3 = parseS3Url(source);
  if (s3) {
    const { GetObjectCommand, S3Client } = await import('@aws-sdk/client-s3');
    const client = new S3Client({});
    const get = async (key: string, optional: boolean): Promise<[string, string] | undefined> => {
      try {
        const res = await client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: key }));
        return [`s3://${s3.bucket}/${key}`, await res.Body!.transformToString('utf-8')];
      } catch (e) {
        const name = (e as Error).name;
        if (name === 'NoSuchKey' || name === 'NotFound') {
          if (optional) return undefined;
          throw new UsageError(`s3://${s3.bucket}/${key} does not exist`);
        }
        if (name === 'NoSuchBucket') throw new UsageError(`bucket ${s3.bucket} does not exist`);
        throw e;
      }
    };
    try {
      if (s3.key === '' || s3.key.endsWith('/')) {
        const merged = await get(`${s3.key}merged.json`, false);
        const results = await get(`${s3.key}results.json`, true);
        return [merged!, ...(results ? [results] : [])];
      }
      return [(await get(s3.key, false))!];
    } finally {
      client.destroy();
    }
  }
  let stat: fs.Stats;
  try {
    stat = fs.statSync(source);
  } catch {
    throw new UsageError(`${source}: no such file or directory`);
  }
  if (stat.isDirectory()) {
    const merged = path.join(source, 'merged.json');
    const results = path.join(source, 'results.json');
    if (!fs.existsSync(merged)) throw new UsageError(`${source}: a window folder must contain merged.json`);
    return [[merged, fs.readFileSync(merged, 'utf8')], ...(fs.existsSync(results) ? [[results, fs.readFileSync(results, 'utf8')] as [string, string]] : [])];
  }
  return [[source, fs.readFileSync(source, 'utf8')]];
}

/** Renders one document: a results document (rule results) or a serialized profile. */
export function renderDocument(name: string, text: string, topItems: number): string {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new UsageError(`${name}: not JSON (${(e as Error).message})`);
  }
  interface ResultsLike {
    v?: unknown;
    results?: unknown;
    window?: { start?: string; end?: string };
    rows?: number;
    parts?: unknown[];
    history?: unknown[];
  }
  const d = doc as ResultsLike;
  if (d !== null && typeof d === 'object' && d.v === 1 && Array.isArray(d.results)) {
    const head = `rule results of window ${d.window?.start ?? '?'} .. ${d.window?.end ?? '?'}: ${d.rows ?? '?'} rows from ${d.parts?.length ?? '?'} shard part(s), ${d.history?.length ?? 0} history window(s)`;
    return `${head}\n\n${formatResultsTable(d.results as RuleResult[])}`;
  }
  try {
    return formatProfileTable(deserializeProfile(doc as never), { topItems });
  } catch (e) {
    if (e instanceof ProfileError) throw new UsageError(`${name}: not a profile or a results document (${e.message})`);
    throw e;
  }
}

/** Profiles a JSON Lines file (envelopes v1 are unwrapped to their payload). */
async function profileJsonLines(file: string) {
  if (!fs.existsSync(file) || !fs.statSync(file).isFile()) throw new UsageError(`--input ${file}: no such file`);
  const profile = createProfile();
  let lines = 0;
  const rl = readline.createInterface({ input: fs.createReadStream(file, 'utf8'), crlfDelay: Infinity });
  for await (const line of rl) {
    if (line.trim() === '') continue;
    lines++;
    let rec: unknown;
    try {
      rec = JSON.parse(line);
    } catch {
      rec = null; // counted as unparseable
    }
    const env = rec as { v?: unknown; payload?: unknown } | null;
    if (env && typeof env === 'object' && env.v === 1 && env.payload && typeof env.payload === 'object' && !Array.isArray(env.payload)) rec = env.payload;
    updateProfile(profile, rec);
  }
  return { profile, lines };
}

export function registerProfile(program: Command): void {
  const profile = program.command('profile').description('data-quality profiles: show a window, suggest rules from a sample');

  profile.command('show')
    .description('print a window profile (merged.json, a shard profile, or a window folder) or its rule results (results.json)')
    .argument('<source>', 'file, window folder, or s3://bucket/key (a key ending in / is a window folder)')
    .option('--top <n>', 'top values shown per column', '3')
    .action(async (source: string, f: ShowFlags) => {
      const top = intOption('--top', f.top, 0, 64);
      const docs = await readSource(source);
      process.stdout.write(docs.map(([name, text]) => renderDocument(name, text, top)).join('\n\n') + '\n');
    });

  profile.command('suggest')
    .description('suggest a starter rule set from a sample of records (JSON Lines)')
    .option('--input <file>', 'JSON Lines file, one record (or envelope) per line')
    .option('--format <format>', 'json or ts', 'json')
    .option('--max-categories <n>', 'strings with at most this many distinct values get an allowed-values rule', '20')
    .action(async (f: SuggestFlags) => {
      if (!f.input) throw new UsageError('--input <file> is required (a JSON Lines sample)');
      if (f.format !== 'json' && f.format !== 'ts') throw new UsageError(`--format must be json or ts (given '${f.format}')`);
      const maxCategories = intOption('--max-categories', f.maxCategories, 1, 1000);
      const { profile: p, lines } = await profileJsonLines(f.input);
      if (p.rows === 0) throw new UsageError(`--input ${f.input}: no JSON object records (${lines} line(s), ${p.unparseable} unparseable)`);
      const rules = suggestRules(p, { maxCategories });
      const problems = validateQualityRules(rules, undefined, 300);
      if (problems.length > 0) process.stderr.write(`phoenix: review the suggestion: ${problems.join('; ')}\n`);
      process.stdout.write(f.format === 'ts' ? formatRulesTypeScript(rules) : JSON.stringify(rules, null, 2) + '\n');
      process.stderr.write(`suggested ${rules.length} rule(s) from ${p.rows} record(s)` + (p.unparseable ? ` (${p.unparseable} unparseable line(s) ignored)` : '') + '\n');
    });
}
