import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { describe, expect, it } from 'vitest';
import { HANDLER_ASSET_DIR } from '../../constructs/contract';
import { handlerAssetCode } from '../../constructs/private/asset';

describe('handler assets', () => {
  it('fails with the fix when the bundle is missing', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'phx-asset-'));
    expect(() => handlerAssetCode('IngestStage', dir))
      .toThrow(/IngestStage handler asset not found \(given .*index\.js\): run `npx projen bundle`/);
  });
  it('resolves the ingest bundle one level below the package root (constructs/ or dist/)', () => {
    const dir = path.join(__dirname, '..', '..', 'constructs', '..', HANDLER_ASSET_DIR.ingest);
    expect(fs.existsSync(path.join(dir, 'index.js'))).toBe(true);
    expect(() => handlerAssetCode('IngestStage', dir)).not.toThrow();
  });
});
