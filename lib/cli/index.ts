import { Command, CommanderError } from 'commander';
import { COMMANDS } from './commands';
import { UsageError } from './errors';

/** Builds the `phoenix` program. Each command module registers itself in ./commands/index.ts. */
export function buildProgram(): Command {
  const program = new Command('phoenix')
    .description('cdk-phoenix-pipelines: run pipelines locally, inspect dead letters, replay, drill')
    .exitOverride()
    .showHelpAfterError(false)
    .configureOutput({ outputError: (str, write) => write(str.split('\n')[0] + '\n') });
  for (const register of COMMANDS) register(program);
  return program;
}

/** Runs the CLI; resolves to the exit code. */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version exit 0; usage errors were already printed as one line.
      return err.exitCode === 0 ? 0 : 2;
    }
    if (err instanceof UsageError) {
      // One line, whatever the message quotes (e.g. the input JSON.parse rejected).
      process.stderr.write(`phoenix: ${err.message.replace(/\s*[\r\n]+\s*/g, ' ')}\n`);
      return 2;
    }
    throw err;
  }
}
