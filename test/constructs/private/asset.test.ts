import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Construct } from 'constructs';
import { describe, expect, it } from 'vitest';
import { HANDLER_ASSET_DIR } from '../../../constructs/contract';
import { handlerAssetCode, handlerAssetDir } from '../../../constructs/private/asset';
import { testStack } from '../../support/stacks';

class Owner extends Construct {}

describe('handler assets', () => {
  it('fails with the fix when the bundle is missing, naming the construct', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'phx-asset-'));
    expect(() => handlerAssetCode(new Owner(testStack(), 'Stage'), dir))
      .toThrow(/^Owner at Test\/Stage: handler asset not found \(given .*index\.js\): run `npx projen bundle`/);
  });
  it('resolves every bundle below the package root (constructs/private/ or dist/private/)', () => {
    for (const handler of Object.keys(HANDLER_ASSET_DIR) as Array<keyof typeof HANDLER_ASSET_DIR>) {
      const dir = handlerAssetDir(handler);
      expect(dir).toBe(path.join(__dirname, '..', '..', '..', HANDLER_ASSET_DIR[handler]));
      expect(fs.existsSync(path.join(dir, 'index.js'))).toBe(true);
      expect(() => handlerAssetCode(new Owner(testStack(), 'Stage'), dir)).not.toThrow();
    }
  });
});
