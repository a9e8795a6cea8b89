/**
 * Helpers shared by the `phoenix dlq`, `replay` and `drill` commands: target flags, the progress bar (stderr, off
 * with --json or without a TTY) and interruption handling.
 */
import { SingleBar } from 'cli-progress';
import { Option, type Command } from 'commander';

/** Adds `--stack`, `--pipeline`, `--local`, `--region`, `--queue-url` to a command. */
export function addTargetOptions(cmd: Command, opts: { queueUrl?: boolean } = {}): Command {
  cmd
    .option('--stack <name>', 'deployed stack whose outputs name the resources (CloudFormation DescribeStacks)')
    .option('--pipeline <name>', 'pipeline within the stack, when it has several')
    .option('--local [dir]', 'a local environment kept by `phoenix local run --keep`: its run directory, or none for the latest running one')
    .option('--region <region>', 'AWS region (default: AWS_REGION, the queue URL\'s region, us-east-1)');
  if (opts.queueUrl !== false) cmd.option('--queue-url <url>', 'DLQ queue URL (instead of the stack output DlqUrl)');
  return cmd;
}

/** Adds the filter flags. */
export function addFilterOptions(cmd: Command): Command {
  const collect = (v: string, prev: string[] = []): string[] => [...prev, v];
  return cmd
    .option('--id <id>', 'record id (repeatable, or comma-separated)', collect)
    .option('--correlation-id <id>', 'correlation id (repeatable, or comma-separated)', collect)
    .option('--reason <class>', 'reason class, e.g. schema, esm-exhausted (repeatable, or comma-separated)', collect)
    .option('--since <time>', 'from this time (ISO-8601 with zone, a date, epoch ms, or 15m/2h/7d ago)')
    .option('--until <time>', 'up to this time (inclusive; same forms as --since)')
    .option('--limit <n>', 'at most n records');
}

/** Adds `--visibility-timeout` with a default. */
export function visibilityOption(defaultSec: number, what: string): Option {
  return new Option('--visibility-timeout <seconds>', `how long messages read stay hidden from other consumers (${what})`).default(String(defaultSec));
}

export interface Progress {
  update(value: number, total: number | undefined, payload: Record<string, unknown>): void;
  stop(): void;
}

/** A cli-progress bar on stderr when it is a TTY and not --json; otherwise a no-op. */
export function progressBar(format: string, enabled: boolean): Progress {
  if (!enabled || !process.stderr.isTTY) return { update: () => undefined, stop: () => undefined };
  const bar = new SingleBar({
    format,
    stream: process.stderr,
    hideCursor: true,
    clearOnComplete: false,
    etaBuffer: 50,
    fps: 5,
  });
  let started = false;
  return {
    update(value, total, payload) {
      if (!started) {
        bar.start(Math.max(total ?? value, value, 1), value, payload);
        started = true;
        return;
      }
      if (total !== undefined) bar.setTotal(Math.max(total, value, 1));
      bar.update(value, payload);
    },
    stop() {
      if (started) bar.stop();
    },
  };
}

/** An AbortController aborted by the first SIGINT/SIGTERM (a second one exits at once); `dispose` removes the handlers. */
export function interruptible(): { signal: AbortSignal; dispose(): void } {
  const ac = new AbortController();
  const onSignal = (sig: NodeJS.Signals): void => {
    if (ac.signal.aborted) process.exit(130);
    process.stderr.write(`\nphoenix: ${sig}: finishing the current batch and releasing the messages read (again to quit at once)\n`);
    ac.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    signal: ac.signal,
    dispose: () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}

/** Parses a positive integer flag within bounds; throws the given error type with one line. */
export function intFlag(name: string, v: string, min: number, max: number, err: (m: string) => Error): number {
  if (!/^\d+$/.test(v.trim()) || Number(v) < min || Number(v) > max) throw err(`${name} must be an integer between ${min} and ${max}; got ${JSON.stringify(v)}`);
  return Number(v);
}
