#!/usr/bin/env node
/** Entry point of the `phoenix` CLI (bundled to assets/bin/phoenix/index.js). */
import { main } from '../lib/cli';

main(process.argv).then(
  (code) => { process.exitCode = code; },
  (err: unknown) => {
    // One clear line, non-zero exit (details with PHOENIX_DEBUG=1).
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`phoenix: ${message}\n`);
    if (process.env.PHOENIX_DEBUG && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
    process.exitCode = process.exitCode && process.exitCode !== 0 ? process.exitCode : 1;
  },
);
