import * as fs from 'fs';
import * as path from 'path';
import * as lambda from 'aws-cdk-lib/aws-lambda';

/**
 * Code of a pre-bundled handler (`<dir>/index.js`, built by `projen bundle` and shipped in the npm package).
 * Fails with the fix when the bundle is missing, instead of CDK's bare "Cannot find asset".
 *
 * Callers pass `path.join(__dirname, '..', HANDLER_ASSET_DIR.x)`: `__dirname` is constructs/ when running from
 * sources (tests, the example app) and dist/ once compiled, both one level below the package root.
 */
export function handlerAssetCode(owner: string, dir: string): lambda.Code {
  const entry = path.join(dir, 'index.js');
  if (!fs.existsSync(entry)) {
    throw new Error(`${owner} handler asset not found (given ${entry}): run \`npx projen bundle\` to build the handler bundles`);
  }
  return lambda.Code.fromAsset(dir);
}
