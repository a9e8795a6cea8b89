import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import type { RunContext } from './context';
import type { Pipeline } from './pipeline';
import type { LocalServices } from './provision';
import { ESM_ON_FAILURE_PREFIX } from '../../../constructs/contract';
import { account, type Accounting, type ProducedLog } from '../accounting';
import type { ProvisionedStack } from '../provision';
import { readDeadLetters, readSink, type SinkEnvelope } from '../verify';

/**
 * Verify phase: reads the sink and the pipeline's dead letters (its DLQ, and its mapping's on-failure queue or bucket),
 * accounts every record produced, and writes `sink.jsonl` and `dlq.jsonl` into the run directory.
 */
export async function verifyRun(
  ctx: RunContext,
  services: LocalServices,
  provisioned: ProvisionedStack,
  pipeline: Pipeline,
  produced: ProducedLog,
): Promise<{ sink: SinkEnvelope[]; accounting: Accounting }> {
  const { clients, emulators } = services;
  const { config, mapping } = pipeline;
  const sink = config.sinkKind === 'none' ? [] : await ctx.guard(readSink(clients, config.sinkKind, config.sinkTarget!));
  const dlqQueues = provisioned.queues.filter((q) => q.url === config.dlqUrl
    || (mapping.onFailure?.kind === 'sqs' && mapping.onFailure.queueArn === q.arn));
  if (config.dlqUrl && dlqQueues.length === 0) ctx.log(`PHX_DLQ_URL ${config.dlqUrl} is not a queue of this stack: its dead letters cannot be read`);
  const onFailureBuckets = mapping.onFailure?.kind === 's3' ? [{ bucket: mapping.onFailure.bucket, prefix: `${ESM_ON_FAILURE_PREFIX}${mapping.uuid}/` }] : [];
  const letters = await ctx.guard(readDeadLetters(clients, emulators.endpoints.fauxqs, dlqQueues, onFailureBuckets));
  const accounting = account(produced, sink, letters);
  writeJsonLines(path.join(ctx.runDir, 'sink.jsonl'), sink.map((e) => ({ ...e, producedAt: produced.valid.get(e.id)?.firstAttemptAt })));
  writeJsonLines(path.join(ctx.runDir, 'dlq.jsonl'), letters.map((l) => ({ ...l, data: l.data?.toString('base64') })));
  return { sink, accounting };
}

function writeJsonLines(file: string, items: readonly unknown[]): void {
  writeFileSync(file, items.map((i) => JSON.stringify(i)).join('\n') + (items.length ? '\n' : ''));
}
