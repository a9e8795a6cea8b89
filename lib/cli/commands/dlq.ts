/**
 * `phoenix dlq stats | list | show`: inspect dead letters without consuming them; `phoenix dlq redrive-failures`:
 * normalize again the events the failure normalizer could not process (lib/cli/redrive-failures.ts).
 *
 * Reading is non-destructive: messages are received with a short visibility timeout (`--visibility-timeout`,
 * default 30 s, long enough to go through the queue once) and made visible again with ChangeMessageVisibility 0 as
 * soon as the command is done (also on Ctrl-C); nothing is deleted. A consumer of the DLQ sees them again at once.
 */
import type { Command } from 'commander';
import { describeError, type DlqMessage } from '../../core';
import { DlqReader, type DlqEntry } from '../../replay/dlq-reader';
import { dlqPayloadBytes } from '../../replay/engine';
import { InputError, matchesDlq, parseFilter, type RawFilter } from '../../replay/filter';
import { UsageError } from '../errors';
import { dlqStats, formatListLine, formatStats, LIST_HEADER, renderPayload } from '../inspect';
import { addFilterOptions, addTargetOptions, interruptible, intFlag, visibilityOption } from '../options';
import { formatRedrive, redriveConfig, redriveFailures } from '../redrive-failures';
import { createClients, resolveTargets, type Clients, type TargetFlags } from '../targets';

interface CommonFlags extends TargetFlags, RawFilter {
  json?: boolean;
  visibilityTimeout: string;
}

function usage(e: unknown): never {
  if (e instanceof InputError) throw new UsageError(e.message, { cause: e });
  throw e;
}

/** Resolves the queue and the clients; usage errors for missing targets. */
async function openQueue(f: CommonFlags): Promise<{ clients: Clients; queueUrl: string; visibility: number }> {
  const visibility = intFlag('--visibility-timeout', f.visibilityTimeout, 1, 43_200, (m) => new UsageError(m));
  if (f.queueUrl === undefined && f.stack === undefined && f.local === undefined) {
    throw new UsageError('say which DLQ: --stack <name>, --queue-url <url> or --local <dir>');
  }
  const r = await resolveTargets(f).catch(usage);
  const queueUrl = f.queueUrl ?? r.outputs.DlqUrl;
  if (!queueUrl) throw new UsageError(`${r.from} has no DlqUrl output: pass --queue-url`);
  return { clients: createClients(r.conn), queueUrl, visibility };
}

/** Reads the whole queue (bounded by `stop`), then releases every message read. */
async function readAll(
  clients: Clients,
  queueUrl: string,
  visibility: number,
  stop?: (entries: DlqEntry[]) => boolean,
): Promise<{ entries: DlqEntry[]; interrupted: boolean }> {
  const intr = interruptible();
  const reader = new DlqReader(clients.sqs, queueUrl, { visibilityTimeoutSec: visibility, signal: intr.signal });
  const entries: DlqEntry[] = [];
  try {
    for await (const batch of reader.read()) {
      entries.push(...batch);
      if (stop?.(entries)) break;
    }
  } catch (e) {
    if (!intr.signal.aborted) throw e;
  } finally {
    const failed = await reader.releaseAll();
    if (failed > 0) process.stderr.write(`phoenix: ${failed} message(s) could not be made visible again; they reappear after ${visibility} s\n`);
    intr.dispose();
  }
  return { entries, interrupted: intr.signal.aborted };
}

interface RedriveFlags extends TargetFlags {
  json?: boolean;
  dryRun?: boolean;
  visibilityTimeout: string;
}

/** `phoenix dlq redrive-failures`: flags checked before any AWS call, then the queue read once. */
async function redriveCommand(f: RedriveFlags): Promise<void> {
  const visibility = intFlag('--visibility-timeout', f.visibilityTimeout, 1, 43_200, (m) => new UsageError(m));
  if (f.stack === undefined && f.local === undefined) throw new UsageError('say which pipeline: --stack <name> or --local <dir>');
  const r = await resolveTargets(f).catch(usage);
  const queueUrl = r.outputs.FailedEventsUrl;
  if (!queueUrl) throw new UsageError(`${r.from} has no FailedEventsUrl output: deploy the pipeline with this version (DataPipeline adds it)`);
  const config = redriveConfig(r.outputs.FailureNormalizerConfig, r.from);
  const clients = createClients(r.conn);
  const intr = interruptible();
  try {
    const dryRun = f.dryRun ?? false;
    const report = await redriveFailures({ clients, queueUrl, config, visibilityTimeoutSec: visibility, dryRun, signal: intr.signal });
    process.stdout.write(f.json ? `${JSON.stringify(report)}\n` : formatRedrive(report));
    if (report.interrupted) process.exitCode = 130;
    else if (report.failed > 0) process.exitCode = 1;
  } finally {
    intr.dispose();
    clients.destroy();
  }
}

function registerRedrive(dlq: Command): void {
  addTargetOptions(dlq.command('redrive-failures')
    .description('normalize again the S3 events the failure normalizer could not process (its FailedEvents queue); each message is deleted after success'), { queueUrl: false })
    .addOption(visibilityOption(300, 'a message not redriven is made visible again when done'))
    .option('--dry-run', 'list the failed events and their objects; normalize and delete nothing')
    .option('--json', 'one JSON object on stdout: counts and one item per event')
    .action(redriveCommand);
}

export function registerDlq(program: Command): void {
  const dlq = program.command('dlq').description('inspect dead letters (non-destructive); redrive the failure normalizer\'s failed events');

  addTargetOptions(dlq.command('stats').description('counts by reason, stage and hour'))
    .addOption(visibilityOption(30, 'made visible again when done'))
    .option('--json', 'one JSON object on stdout')
    .action(async (f: CommonFlags) => {
      const { clients, queueUrl, visibility } = await openQueue(f);
      try {
        const { entries, interrupted } = await readAll(clients, queueUrl, visibility);
        const msgs = entries.filter((e) => e.msg).map((e) => e.msg!);
        const stats = dlqStats(msgs, entries.length - msgs.length);
        if (f.json) process.stdout.write(`${JSON.stringify({ queueUrl, ...stats, interrupted })}\n`);
        else process.stdout.write(formatStats(stats, queueUrl) + (interrupted ? '(interrupted: partial counts)\n' : ''));
        if (interrupted) process.exitCode = 130;
      } finally {
        clients.destroy();
      }
    });

  addFilterOptions(addTargetOptions(dlq.command('list').description('list dead letters, filtered')))
    .addOption(visibilityOption(30, 'made visible again when done'))
    .option('--json', 'JSON lines on stdout: one DLQ message v1 per line (payload included) with messageId, receiveCount, sentAt')
    .action(async (f: CommonFlags) => {
      let filter;
      try {
        filter = parseFilter(f);
      } catch (e) {
        usage(e);
      }
      const { clients, queueUrl, visibility } = await openQueue(f);
      try {
        const matched: Array<{ e: DlqEntry; msg: DlqMessage }> = [];
        let done = 0;
        const { interrupted } = await readAll(clients, queueUrl, visibility, (entries) => {
          for (; done < entries.length; done++) {
            const e = entries[done];
            if (e.msg && matchesDlq(filter, e.msg)) matched.push({ e, msg: e.msg });
          }
          return filter.limit !== undefined && matched.length >= filter.limit;
        });
        const shown = filter.limit !== undefined ? matched.slice(0, filter.limit) : matched;
        if (f.json) {
          for (const { e, msg } of shown) {
            process.stdout.write(`${JSON.stringify({ messageId: e.messageId, receiveCount: e.receiveCount, sentAt: e.sentAt, ...msg, payloadBytes: msg.payload !== null ? Math.floor((msg.payload.length * 3) / 4) : null })}\n`);
          }
        } else {
          process.stdout.write(`${LIST_HEADER}\n`);
          for (const { e, msg } of shown) process.stdout.write(`${formatListLine(e.messageId, msg)}\n`);
          process.stderr.write(`${shown.length} dead letter(s) listed${interrupted ? ' (interrupted)' : ''}\n`);
        }
        if (interrupted) process.exitCode = 130;
      } finally {
        clients.destroy();
      }
    });

  registerRedrive(dlq);

  addTargetOptions(dlq.command('show').description('one dead letter with its payload decoded').argument('<messageOrRecordId>', 'SQS message id or record id'))
    .addOption(visibilityOption(30, 'made visible again when done'))
    .option('--json', 'one JSON object on stdout')
    .action(async (which: string, f: CommonFlags) => {
      const { clients, queueUrl, visibility } = await openQueue(f);
      try {
        const found = (entries: DlqEntry[]): DlqEntry | undefined => entries.find((e) => e.messageId === which || e.msg?.id === which);
        const { entries } = await readAll(clients, queueUrl, visibility, (es) => found(es) !== undefined);
        const e = found(entries);
        if (!e) {
          throw new UsageError(`no dead letter with message id or record id ${which} in ${queueUrl}`);
        }
        let view;
        let payloadError: string | undefined;
        if (e.msg) {
          try {
            view = renderPayload(await dlqPayloadBytes(e.msg, clients.s3));
          } catch (err) {
            payloadError = describeError(err);
          }
        }
        if (f.json) {
          process.stdout.write(`${JSON.stringify({ messageId: e.messageId, receiveCount: e.receiveCount, sentAt: e.sentAt, message: e.msg ?? null, invalid: e.invalid, payload: view ?? null, payloadError })}\n`);
          return;
        }
        const out: string[] = [`messageId      ${e.messageId}`];
        if (!e.msg) {
          out.push(`not a DLQ message v1: ${e.invalid}`, '', e.body);
        } else {
          const m = e.msg;
          out.push(
            `id             ${m.id ?? '-'}`,
            `correlationId  ${m.correlationId ?? '-'}`,
            `stage          ${m.stage}`,
            `reason         ${m.reason.class}: ${m.reason.message}`,
            `attempts       ${m.attempts}`,
            `failed         first ${m.firstFailedAt}, last ${m.lastFailedAt}`,
            `source         ${m.source.streamArn ?? '-'} ${m.source.shardId ?? '-'} seq ${m.source.sequenceNumber ?? '-'} key ${m.source.partitionKey ?? '-'} arrived ${m.source.arrivedAt ?? '-'}`,
            `payloadRef     ${m.payloadRef ?? '-'}`,
            `receiveCount   ${e.receiveCount ?? '-'}  sentAt ${e.sentAt ?? '-'}`,
            '',
          );
          if (payloadError) out.push(`payload: cannot be read: ${payloadError}`);
          else if (!view || view.encoding === 'none') out.push('payload: none (the records could not be read back; not replayable)');
          else out.push(`payload (${view.bytes} bytes, ${view.encoding}):`, view.text);
        }
        process.stdout.write(`${out.join('\n')}\n`);
      } finally {
        clients.destroy();
      }
    });
}
