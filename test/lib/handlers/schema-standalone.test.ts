import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { buildSync } from 'esbuild';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { harnessPerTest } from './support/harness';
import { kinesisEvent, lambdaContext } from './support/kinesis';
import { HANDLER_ASSET_DIR, SCHEMA_FORMATS_FILE } from '../../../constructs/contract';
import { ConfigError } from '../../../lib/core/errors';
import { createIngestHandlerWith, standaloneSchemaResolver } from '../../../lib/handlers/create';
import { compileValidator } from '../../../lib/handlers/schema';
import { loadStandaloneValidator, schemaFingerprint, validatorFromModuleSource } from '../../../lib/handlers/schema-module';
import { compileStandaloneValidator } from '../../../lib/handlers/schema-standalone';
import { compileStandaloneValidator as fromRuntime } from '../../../lib/runtime';

const ORDER_SCHEMA = {
  type: 'object',
  required: ['orderId', 'price', 'eventTime'],
  additionalProperties: false,
  properties: {
    orderId: { type: 'string', minLength: 3, maxLength: 12, pattern: '^o-' },
    price: { type: 'number', minimum: 0 },
    eventTime: { type: 'string', format: 'date-time' },
    email: { type: 'string', format: 'email' },
    site: { type: 'string', format: 'uri' },
    id: { type: 'string', format: 'uuid' },
    tags: { type: 'array', items: { type: 'string' }, uniqueItems: true, maxItems: 3 },
    kind: { enum: ['a', 'b', { x: 1 }] },
    meta: { type: 'object', properties: { n: { type: 'integer' } }, required: ['n'] },
  },
};

const SCHEMA_2020 = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  type: 'object',
  properties: { items: { type: 'array', prefixItems: [{ type: 'string' }], items: { type: 'number' } }, d: { type: 'string', format: 'date' } },
  required: ['items'],
};

/** A function code directory as the construct stages it: the compiled validator and the format table it requires. */
function tempModule(schema: object, file = 'schema-validator.js'): string {
  const dir = mkdtempSync(join(tmpdir(), 'phx-schema-'));
  writeFileSync(join(dir, file), compileStandaloneValidator(schema));
  writeFileSync(join(dir, SCHEMA_FORMATS_FILE), readFileSync(resolve(__dirname, '../../..', HANDLER_ASSET_DIR.ajvFormats, 'index.js')));
  return dir;
}

/** The validator of `schema` loaded from a staged code directory. */
function standaloneOf(schema: object): ReturnType<typeof validatorFromModuleSource> {
  return loadStandaloneValidator(tempModule(schema), 'schema-validator.js');
}

const payloads = fc.record({
  orderId: fc.oneof(fc.constantFrom('o-1', 'o-123456789012', 'x-1', 'o'), fc.string()),
  price: fc.oneof(fc.double({ noNaN: true }), fc.integer(), fc.constant('10')),
  eventTime: fc.oneof(fc.constantFrom('2026-01-01T00:00:00Z', '2026-02-30T00:00:00Z', '2026-01-01 00:00', '2026-01-01T25:00:00Z'), fc.string()),
  email: fc.constantFrom('a@example.com', 'not-an-email'),
  site: fc.constantFrom('https://example.com/x?y=1', 'not a uri', '/relative'),
  id: fc.constantFrom('6f1c8f0e-3b5a-5d3e-9a77-2b1f0c9d4e10', 'nope'),
  tags: fc.array(fc.constantFrom('a', 'b', 'c', 'd'), { maxLength: 5 }),
  kind: fc.constantFrom('a', 'c', { x: 1 }, { x: 2 }),
  meta: fc.oneof(fc.record({ n: fc.oneof(fc.integer(), fc.double()) }), fc.constant({})),
  extra: fc.string(),
}, { requiredKeys: [] });

describe('compileStandaloneValidator (synth) + the standalone module (run time)', () => {
  it('validates exactly like the run-time ajv validator: same verdict and same DLQ reason (property)', () => {
    const ajv = compileValidator(ORDER_SCHEMA);
    const standalone = standaloneOf(ORDER_SCHEMA);
    fc.assert(fc.property(payloads, (p) => {
      expect(standalone(p)).toBe(ajv(p));
    }), { numRuns: 500 });
    expect(standalone({ orderId: 'o-1', price: 1, eventTime: '2026-01-01T00:00:00Z' })).toBeNull();
    expect(standalone({ orderId: 'o-1', price: 'x', eventTime: 'nope' })).toBe(ajv({ orderId: 'o-1', price: 'x', eventTime: 'nope' }));
  });

  it('handles draft 2020-12 schemas like ajv', () => {
    const ajv = compileValidator(SCHEMA_2020);
    const standalone = standaloneOf(SCHEMA_2020);
    for (const p of [{ items: ['a', 1, 2] }, { items: [1] }, { items: ['a', 'b'] }, {}, { items: [], d: '2026-02-29' }, { items: [], d: '2028-02-29' }]) {
      expect(standalone(p)).toBe(ajv(p));
    }
  });

  it('is pure (same schema, same text), self-describing and exported by the runtime subpath', () => {
    const a = compileStandaloneValidator(ORDER_SCHEMA);
    expect(compileStandaloneValidator(ORDER_SCHEMA)).toBe(a);
    expect(fromRuntime).toBe(compileStandaloneValidator);
    expect(a).toContain(`module.exports.phxSchemaFingerprint = "${schemaFingerprint(ORDER_SCHEMA)}"`);
    // Only the runtime helpers the handler serves, and the format table shipped next to the module, are required.
    const required = [...a.matchAll(/require\("([^"]+)"\)/g)].map((m) => m[1]);
    expect(new Set(required)).toEqual(new Set([`./${SCHEMA_FORMATS_FILE}`, 'ajv/dist/runtime/ucs2length', 'ajv/dist/runtime/equal']));
    // Without the table next to it, a module that needs formats is refused with what it needs.
    expect(() => validatorFromModuleSource(a)).toThrow(/requires "\.\/ajv-formats\.js", which the handler does not provide/);
  });

  it('rejects invalid schemas at synth like the run-time compiler (strict mode)', () => {
    expect(() => compileStandaloneValidator({ type: 'object', properties: { a: { type: 'strng' } } })).toThrow(ConfigError);
    expect(() => compileStandaloneValidator({ type: 'object', properties: { a: { type: 'string', format: 'no-such-format' } } })).toThrow(/unknown format/);
    expect(() => compileStandaloneValidator({ type: 'object', foo: 1 })).toThrow(/strict mode: unknown keyword/);
  });

  it('refuses a module compiled from another schema, a module path with directories, a missing file, broken code', () => {
    const dir = tempModule(ORDER_SCHEMA);
    expect(() => loadStandaloneValidator(dir, 'schema-validator.js', schemaFingerprint({ type: 'object' }))).toThrow(/synthesize and deploy again/);
    expect(() => loadStandaloneValidator(dir, '../schema-validator.js')).toThrow(/file name \(no directory\)/);
    expect(() => loadStandaloneValidator(dir, 'missing.js')).toThrow(ConfigError);
    expect(() => validatorFromModuleSource('module.exports = 42;')).toThrow(/exports no validate function/);
    expect(() => validatorFromModuleSource('require("ajv/dist/runtime/uri");')).toThrow(/does not provide/);
    expect(loadStandaloneValidator(dir, 'schema-validator.js', schemaFingerprint(JSON.parse(JSON.stringify(ORDER_SCHEMA))))({})).toMatch(/required property/);
  });
});

describe('default ingest asset: schema validation from the module compiled at synth', () => {
  const harness = harnessPerTest();

  it('dead-letters schema violations with the same reason as ajv, writes valid records', async () => {
    const schema = { type: 'object', required: ['orderId', 'price'], properties: { orderId: { type: 'string' }, price: { type: 'number' } } };
    const dir = tempModule(schema);
    const env = { PHX_SCHEMA: JSON.stringify(schema), PHX_SCHEMA_MODULE: 'schema-validator.js' };
    const h = harness(env);
    const sink = h.sink;
    const options = { env: { ...process.env, ...harnessEnv(), ...env }, clock: h.clock, sink };
    const handler = createIngestHandlerWith(options, standaloneSchemaResolver(dir));
    const res = await handler(kinesisEvent([{ orderId: 'o-1', price: 1 }, { orderId: 'o-2', price: 'ten' }]), lambdaContext(h.clock, 60_000));
    expect(res.batchItemFailures).toEqual([]);
    expect(sink.envelopes.map((e) => e.payload.orderId)).toEqual(['o-1']);
    const [dead] = h.dlqMessages();
    expect(dead.reason).toEqual({ class: 'schema', message: compileValidator(schema)({ orderId: 'o-2', price: 'ten' }) });
    expect(dead.reason.message).toBe('/price must be number');
  });

  it('fails at cold start when PHX_SCHEMA is set without a module (records are never left unvalidated)', () => {
    const env = { ...harnessEnv(), PHX_SCHEMA: '{"type":"object"}' };
    expect(() => createIngestHandlerWith({ env, sink: { write: async () => 'written' } }, standaloneSchemaResolver(tmpdir())))
      .toThrow(/PHX_SCHEMA_MODULE=<unset>; allowed: the validator module compiled at synth from PHX_SCHEMA/);
  });

  it('the standalone-only ingest entry bundles without ajv (only its runtime helpers), under 100 KB minified', () => {
    // What lib/handlers/ingest.ts exports once the construct writes PHX_SCHEMA_MODULE (its transitional ajv fallback removed).
    const out = buildSync({
      stdin: {
        contents: "import { createIngestHandlerWith, standaloneSchemaResolver } from './create';\n"
          + 'export const handler = createIngestHandlerWith({}, standaloneSchemaResolver(__dirname));\n',
        resolveDir: resolve(__dirname, '../../../lib/handlers'),
        sourcefile: 'ingest-standalone.ts',
        loader: 'ts',
      },
      bundle: true,
      minify: true,
      platform: 'node',
      target: 'node22',
      format: 'cjs',
      external: ['@aws-sdk/*'],
      write: false,
      metafile: true,
      logLevel: 'silent',
    });
    const inputs = Object.keys(out.metafile.inputs);
    expect(inputs.filter((i) => /node_modules\/ajv\//.test(i)).map((i) => i.replace(/.*node_modules\//, '')).sort())
      .toEqual(['ajv/dist/runtime/equal.js', 'ajv/dist/runtime/ucs2length.js', 'ajv/dist/runtime/validation_error.js']);
    expect(out.outputFiles[0].contents.length).toBeLessThanOrEqual(100 * 1024);
  });
});

function harnessEnv(): Record<string, string> {
  return {
    PHX_PIPELINE: 'orders',
    PHX_STAGE: 'ingest',
    PHX_KEY_FIELDS: '["orderId"]',
    PHX_DLQ_URL: 'https://sqs.us-east-2.amazonaws.com/123456789012/orders-dlq',
    PHX_DLQ_OVERFLOW_BUCKET: 'orders-dlq-overflow',
  };
}
