/**
 * Chained ingest stages (IngestSink.kinesis to another stage's stream): both must derive ids alike. Synth side: an
 * incompatible chain fails naming both stages. Handler side: why (the next stage keeps an envelope's id only when it
 * recomputes the same id, else dead-letters the record).
 */
import * as kinesis from 'aws-cdk-lib/aws-kinesis';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { afterEach, describe, expect, it } from 'vitest';
import { IngestSink, IngestStage, type IngestStageProps } from '../../../constructs';
import { harness, type Harness } from '../../lib/handlers/support/harness';
import { kinesisEvent } from '../../lib/handlers/support/kinesis';
import { testStack } from '../../support/stacks';

type StageProps = Omit<IngestStageProps, 'sink'>;

/** Builds the next stage and the stage feeding it in the given order; returns what the second construction threw. */
function chain(first: StageProps, next: StageProps, order: 'next-first' | 'first-first' = 'next-first'): unknown {
  const stack = testStack();
  try {
    if (order === 'next-first') {
      const n = new IngestStage(stack, 'Enrich', { stageName: 'enrich', sink: IngestSink.none(), ...next });
      new IngestStage(stack, 'Ingest', { ...first, sink: IngestSink.kinesis(n.stream) });
    } else {
      // The first stage writes to a stream the next stage is then given.
      const between = new kinesis.Stream(stack, 'Between', { encryption: kinesis.StreamEncryption.MANAGED });
      new IngestStage(stack, 'Ingest', { ...first, sink: IngestSink.kinesis(between) });
      new IngestStage(stack, 'Enrich', { stageName: 'enrich', sink: IngestSink.none(), ...next, stream: between });
    }
    return undefined;
  } catch (e) {
    return e;
  }
}

const CODE = lambda.Code.fromInline('exports.handler = async () => ({ batchItemFailures: [] })');

describe('chained stages at synth', () => {
  it('accepts stages with the same pipelineName and keyFields, also with the first stage\'s own code', () => {
    expect(chain({ pipelineName: 'orders', keyFields: ['orderId'] }, { pipelineName: 'orders', keyFields: ['orderId'] })).toBeUndefined();
    expect(chain({ pipelineName: 'orders', keyFields: ['orderId'], code: CODE }, { pipelineName: 'orders', keyFields: ['orderId'] })).toBeUndefined();
    expect(chain({ pipelineName: 'orders' }, { pipelineName: 'orders' })).toBeUndefined();
  });

  it('refuses other pipelineNames, naming both stages and what to change', () => {
    const e = chain({ pipelineName: 'orders' }, { pipelineName: 'enriched' }) as Error;
    expect(e.message).toBe('IngestStage at Test/Ingest: IngestStage at Test/Ingest writes (IngestSink.kinesis) to the stream that IngestStage at Test/Enrich reads, '
      + 'which recomputes each record\'s id and dead-letters every envelope whose id differs: their id namespaces differ '
      + '(given pipelineName \'orders\' and \'enriched\'; allowed: the same pipelineName on both stages)');
  });

  it('refuses other keyFields, whichever stage is built first', () => {
    const e = chain({ pipelineName: 'p', keyFields: ['a', 'b'] }, { pipelineName: 'p', keyFields: ['b', 'a'] }, 'first-first') as Error;
    expect(e.message).toMatch(/^IngestStage at Test\/Enrich: IngestStage at Test\/Ingest writes .* that IngestStage at Test\/Enrich reads, .*their key fields differ \(given \["a","b"\] and \["b","a"\]/);
  });

  it('refuses keyFields [] when the first stage runs its own code (a transform would change the ids)', () => {
    const e = chain({ pipelineName: 'p', code: CODE }, { pipelineName: 'p' }) as Error;
    expect(e.message).toMatch(/the first stage runs its own code .* with keyFields \[\] .*allowed: keyFields naming fields the transform keeps, on both stages\)$/);
  });

  it('ignores a Kinesis sink to a stream no stage of the app reads, and stages sharing a source stream', () => {
    const stack = testStack();
    const downstream = new kinesis.Stream(stack, 'Downstream', { encryption: kinesis.StreamEncryption.MANAGED });
    expect(() => new IngestStage(stack, 'Ingest', { pipelineName: 'orders', sink: IngestSink.kinesis(downstream) })).not.toThrow();
    const n = new IngestStage(stack, 'N', { pipelineName: 'n', sink: IngestSink.none() });
    expect(() => new IngestStage(stack, 'M', { pipelineName: 'm', sink: IngestSink.none(), stream: n.stream })).not.toThrow();
  });
});

describe('chained stages at run time (why the synth check)', () => {
  let open: Harness | undefined;
  afterEach(() => {
    open?.restore();
    open = undefined;
  });
  /** Runs `records` through a stage of `env`; returns its harness (restored after the test). */
  async function run(env: Record<string, string>, records: Parameters<typeof kinesisEvent>[0]): Promise<Harness> {
    open?.restore();
    open = harness(env);
    await open.run(kinesisEvent(records));
    return open;
  }

  it('the next stage keeps the id of a compatible stage and dead-letters the envelopes of another pipelineName', async () => {
    const first = await run({ PHX_PIPELINE: 'orders' }, [{ orderId: 'o-1', amount: 5 }]);
    const envelope = first.sink.envelopes[0];
    const same = await run({ PHX_PIPELINE: 'orders', PHX_STAGE: 'enrich' }, [envelope as never]);
    expect(same.sink.envelopes.map((e) => e.id)).toEqual([envelope.id]);
    const other = await run({ PHX_PIPELINE: 'enriched', PHX_STAGE: 'enrich' }, [envelope as never]);
    expect(other.sink.envelopes).toEqual([]);
    expect(other.dlqMessages().map((m) => m.reason.class)).toEqual(['decode']);
    expect(other.dlqMessages()[0].reason.message).toMatch(/is not the id of its payload/);
  });
});
