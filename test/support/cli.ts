import { main } from '../../lib/cli';

/** Runs the CLI in-process; captures stdout/stderr and the exit code. */
export async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const ow = process.stdout.write.bind(process.stdout);
  const ew = process.stderr.write.bind(process.stderr);
  process.stdout.write = ((c: string | Uint8Array) => { stdout += c.toString(); return true; }) as typeof process.stdout.write;
  process.stderr.write = ((c: string | Uint8Array) => { stderr += c.toString(); return true; }) as typeof process.stderr.write;
  const prevExit = process.exitCode;
  process.exitCode = undefined;
  let code: number;
  try {
    code = await main(['node', 'phoenix', ...args]);
  } catch (e) {
    stderr += `phoenix: ${(e as Error).message}\n`;
    code = 1;
  } finally {
    process.stdout.write = ow;
    process.stderr.write = ew;
    process.exitCode = prevExit;
  }
  return { code, stdout, stderr };
}
