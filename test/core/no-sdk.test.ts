import { readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * lib/core is pure logic: no AWS SDK (v3 clients or v2), no CDK. The handlers reach AWS through ports in lib/handlers.
 * This keeps the core testable without mocks and keeps it out of the construct (jsii) world.
 */
const CORE_DIR = join(__dirname, '..', '..', 'lib', 'core');
const FORBIDDEN = [/^@aws-sdk\//, /^aws-sdk(\/|$)/, /^aws-cdk-lib(\/|$)/, /^@smithy\//];

// Module specifiers of static imports/exports, side-effect imports, dynamic import() and require().
const SPECIFIER = /(?:\bfrom\s*|\bimport\s*\(\s*|\brequire\s*\(\s*|^\s*import\s+)(['"`])([^'"`]+)\1/gm;

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) {
      return tsFiles(p);
    }
    return e.isFile() && e.name.endsWith('.ts') ? [p] : [];
  });
}

/** Forbidden module specifiers in TypeScript source text. */
function forbiddenImports(source: string): string[] {
  const found: string[] = [];
  for (const m of source.matchAll(SPECIFIER)) {
    if (FORBIDDEN.some((re) => re.test(m[2]))) {
      found.push(m[2]);
    }
  }
  return found;
}

describe('lib/core imports no AWS SDK and no CDK', () => {
  it('detects every form of import (self-check of the scanner)', () => {
    expect(forbiddenImports("import { KinesisClient } from '@aws-sdk/client-kinesis';")).toEqual(['@aws-sdk/client-kinesis']);
    expect(forbiddenImports('import type { Stack } from "aws-cdk-lib";')).toEqual(['aws-cdk-lib']);
    expect(forbiddenImports("export * from 'aws-cdk-lib/aws-lambda';")).toEqual(['aws-cdk-lib/aws-lambda']);
    expect(forbiddenImports("import '@aws-sdk/client-sqs';")).toEqual(['@aws-sdk/client-sqs']);
    expect(forbiddenImports("const s3 = await import('@aws-sdk/client-s3');")).toEqual(['@aws-sdk/client-s3']);
    expect(forbiddenImports("const AWS = require('aws-sdk');")).toEqual(['aws-sdk']);
    expect(forbiddenImports("import {\n  DynamoDBClient,\n} from '@aws-sdk/client-dynamodb';")).toEqual(['@aws-sdk/client-dynamodb']);
    expect(forbiddenImports("import { v5 } from 'uuid';\nimport { ENV } from '../../constructs/contract';")).toEqual([]);
  });

  it('holds for every file under lib/core', () => {
    const files = tsFiles(CORE_DIR);
    expect(files.map((f) => relative(CORE_DIR, f))).toContain('index.ts');
    const offenders = files
      .map((f) => ({ file: relative(CORE_DIR, f), imports: forbiddenImports(readFileSync(f, 'utf8')) }))
      .filter((o) => o.imports.length > 0);
    expect(offenders).toEqual([]);
  });
});
