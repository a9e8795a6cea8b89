import { existsSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { KINESIS_MAX_RECORD_BYTES, POISON_KINDS, sha256, type PipelineRules, type PoisonKind, type Workload, type WorkloadOptions, type WorkloadRecord } from './types';
import { recordId } from '../../core';
import { InputError } from '../../replay/filter';
import { packageRoot } from '../paths';
import { Random } from '../random';

/**
 * Helpers a workload module gets as the third argument of `createWorkload`, so that it needs no import from this
 * package: records built with them carry the id, hash and expectations the run checks.
 */
export interface WorkloadKit {
  /** Seeded with the run's `--seed`: a module that draws only from it is reproducible per seed. */
  readonly random: Random;
  /** The poison kinds the built-in generators make (names for `poison(..., kind)`). */
  readonly poisonKinds: readonly PoisonKind[];
  /**
   * A record the pipeline must write to the sink: `payload` as JSON. Throws when the function's schema rejects the
   * payload or a key field is missing (a record the run would wrongly expect in the sink). `version` (e.g. the event
   * time in epoch ms) when the module puts several versions of one id: the sink is expected to hold the highest.
   */
  valid(payload: Record<string, unknown>, partitionKey: string, version?: number): WorkloadRecord;
  /** A record the pipeline must dead-letter: these bytes (a string is put as UTF-8). */
  poison(data: Buffer | string, partitionKey: string, kind?: PoisonKind | 'input'): WorkloadRecord;
  /** The same bytes as an earlier valid record, put again (the sink must keep one item). */
  duplicate(of: WorkloadRecord): WorkloadRecord;
}

/** The export a workload module must have: `createWorkload(options, rules, kit)`, returning a Workload. */
export type CreateWorkload = (options: WorkloadOptions, rules: PipelineRules, kit: WorkloadKit) => Workload;

/** File extensions a workload module may have (.ts, .cts and .mts are loaded with tsx). */
export const WORKLOAD_MODULE_EXTENSIONS = ['.js', '.cjs', '.mjs', '.ts', '.cts', '.mts'] as const;

/** Builds the kit of a module workload. */
export function workloadKit(options: WorkloadOptions, rules: PipelineRules): WorkloadKit {
  const record = (kind: WorkloadRecord['kind'], data: Buffer, partitionKey: string, extra: Partial<WorkloadRecord>): WorkloadRecord =>
    ({ index: 0, kind, data, partitionKey, hash: sha256(data), ...extra });
  return {
    random: new Random(options.seed),
    poisonKinds: POISON_KINDS,
    valid(payload, partitionKey, version) {
      const problem = rules.validate?.(payload);
      if (problem) throw new InputError(`kit.valid: the function's schema rejects the payload (${problem})`);
      const id = recordId(payload, rules.namespace, rules.keyFields);
      return record('valid', Buffer.from(JSON.stringify(payload), 'utf8'), partitionKey, { id, payload, ...(version !== undefined ? { version } : {}) });
    },
    poison(data, partitionKey, kind = 'input') {
      return record('poison', Buffer.isBuffer(data) ? data : Buffer.from(data, 'utf8'), partitionKey, { poisonKind: kind });
    },
    duplicate(of) {
      if (of.kind === 'poison' || of.id === undefined) throw new InputError('kit.duplicate: only a valid record can be duplicated');
      return { ...of, kind: 'duplicate' };
    },
  };
}

type Loaded = Record<string, unknown> & { default?: unknown };

/** Loads a module file: .js and .cjs with require (an ES module .js falls back to import), .mjs with import, TypeScript with tsx. */
async function loadModule(file: string, spec: string): Promise<Loaded> {
  const ext = path.extname(file);
  if (ext === '.ts' || ext === '.cts' || ext === '.mts') {
    let tsx: { require: (id: string, fromFile: string) => unknown } | undefined;
    for (const from of [file, path.join(packageRoot(), 'package.json')]) {
      try {
        tsx = createRequire(from)('tsx/cjs/api') as typeof tsx;
        break;
      } catch {
        // not resolvable from there
      }
    }
    if (!tsx) throw new InputError(`--workload ${spec}: loading a TypeScript module needs tsx (npm install --save-dev tsx), or compile it to .js`);
    return tsx.require(file, __filename) as Loaded;
  }
  if (ext !== '.mjs') {
    try {
      return createRequire(file)(file) as Loaded;
    } catch (e) {
      if ((e as { code?: string }).code !== 'ERR_REQUIRE_ESM') throw e;
    }
  }
  return await import(pathToFileURL(file).href) as Loaded;
}

/**
 * A team's workload module, loaded from `file` (`--workload <path>`): calls its `createWorkload(options, rules, kit)`
 * and checks every record it returns (kind, bytes, partition key, hash, and for valid records the id the pipeline
 * computes and the schema), so that a wrong expectation fails with the record's position instead of as a broken
 * invariant. Records are renumbered in the order they are returned.
 */
export async function loadWorkloadModule(spec: string, cwd: string, options: WorkloadOptions, rules: PipelineRules): Promise<Workload> {
  const file = path.resolve(cwd, spec);
  if (!existsSync(file) || !statSync(file).isFile()) throw new InputError(`--workload ${spec}: no such file (${file})`);
  if (!(WORKLOAD_MODULE_EXTENSIONS as readonly string[]).includes(path.extname(file))) {
    throw new InputError(`--workload ${spec}: a workload module must be a ${WORKLOAD_MODULE_EXTENSIONS.join(', ')} file (given ${path.extname(file) || 'no extension'})`);
  }
  let mod: Loaded;
  try {
    mod = await loadModule(file, spec);
  } catch (e) {
    const m = (e as Error).message.split('\n')[0];
    throw new InputError(m.startsWith('--workload') ? m : `--workload ${spec}: cannot load the module: ${m}`);
  }
  const create = (typeof mod.createWorkload === 'function' ? mod.createWorkload
    : (mod.default as Loaded | undefined)?.createWorkload) as CreateWorkload | undefined;
  if (typeof create !== 'function') {
    throw new InputError(`--workload ${spec}: the module exports no createWorkload function (it exports: ${Object.keys(mod).join(', ') || 'nothing'})`);
  }
  const inner = create(options, rules, workloadKit(options, rules));
  if (!inner || typeof inner.next !== 'function' || !Number.isInteger(inner.total) || inner.total < 0) {
    throw new InputError(`--workload ${spec}: createWorkload must return { total: a non-negative integer, notes: string[], next(): record | undefined }`);
  }
  return new CheckedWorkload(spec, inner, rules);
}

const KINDS = new Set(['valid', 'duplicate', 'poison']);

class CheckedWorkload implements Workload {
  readonly total: number;
  readonly notes: string[];
  private index = 0;

  constructor(private readonly spec: string, private readonly inner: Workload, private readonly rules: PipelineRules) {
    this.total = inner.total;
    this.notes = [`workload from the module ${spec}`, ...(Array.isArray(inner.notes) ? inner.notes.map(String) : [])];
  }

  next(): WorkloadRecord | undefined {
    const rec = this.inner.next();
    if (rec === undefined) return undefined;
    const index = this.index++;
    const bad = (why: string): never => { throw new InputError(`--workload ${this.spec}: record ${index}: ${why}`); };
    if (!rec || typeof rec !== 'object') return bad('next() must return a record object or undefined');
    if (!KINDS.has(rec.kind)) bad(`kind must be valid, duplicate or poison (given ${JSON.stringify(rec.kind)})`);
    if (!Buffer.isBuffer(rec.data) || rec.data.length === 0) bad('data must be a non-empty Buffer (Kinesis rejects records with no data)');
    if (rec.data.length > KINESIS_MAX_RECORD_BYTES - 256) bad(`${rec.data.length} bytes is above the Kinesis record limit`);
    if (typeof rec.partitionKey !== 'string' || rec.partitionKey.length < 1 || rec.partitionKey.length > 256) {
      bad(`partitionKey must be a string of 1-256 characters (given ${JSON.stringify(rec.partitionKey)})`);
    }
    const hash = sha256(rec.data);
    if (rec.hash !== undefined && rec.hash !== hash) bad('hash is not the sha256 of data (build records with the kit, or leave hash out)');
    if (rec.kind !== 'poison') {
      if (!rec.payload || typeof rec.payload !== 'object') bad(`a ${rec.kind} record needs its payload`);
      let id: string | undefined;
      try {
        id = recordId(rec.payload!, this.rules.namespace, this.rules.keyFields);
      } catch (e) {
        bad(`its payload lacks the function's key fields: ${(e as Error).message}`);
      }
      if (rec.id !== undefined && rec.id !== id) bad(`id ${rec.id} is not the id the pipeline computes (${id})`);
      const problem = this.rules.validate?.(rec.payload!);
      if (problem) bad(`it is marked ${rec.kind} but the function's schema rejects it (${problem})`);
      return { ...rec, index, hash, id };
    }
    return { ...rec, index, hash };
  }
}
