import type * as kinesis from 'aws-cdk-lib/aws-kinesis';
import type { IConstruct } from 'constructs';
import { validationError } from './errors';

/**
 * Synth-time compatibility of chained ingest stages. A stage whose sink is `IngestSink.kinesis(stream)` feeds the
 * stage that reads `stream`; that next stage keeps an envelope's id only when it equals the id it recomputes from the
 * payload with its own namespace and key fields (a producer must not be able to choose ids), so both stages must derive
 * ids alike or every record is dead-lettered. The rule (docs/ARCHITECTURE.md, "Chained stages"):
 * - the same `pipelineName` (the id namespace);
 * - the same `keyFields`, in the same order;
 * - not `keyFields: []` with a team's own `code` in the first stage: ids of the whole payload change with a transform.
 */

/** What determines the ids a stage gives and checks. */
export interface StageIdRules {
  readonly pipelineName: string;
  readonly keyFields: readonly string[];
  /** The stage runs a team's own code (`code`), which may transform the payload. */
  readonly customCode: boolean;
}

interface Registered extends StageIdRules {
  readonly stage: IConstruct;
}

interface Chains {
  /** Stages reading each stream, by stream ARN (a token string is stable for one stream, created or imported from it). */
  readonly readers: Map<string, Registered[]>;
  /** Stages writing each stream through a Kinesis sink, by stream ARN. */
  readonly writers: Map<string, Registered[]>;
}

const chainsOfApp = new WeakMap<IConstruct, Chains>();

/**
 * Registers `stage` as the reader of `reads` and, with a Kinesis sink, a writer of `writesTo`; throws a validation
 * error naming both stages when it is chained to an already registered stage with other id rules.
 */
export function registerStageChain(stage: IConstruct, rules: StageIdRules, reads: kinesis.IStream, writesTo?: kinesis.IStream): void {
  const root = stage.node.root;
  const chains = chainsOfApp.get(root) ?? { readers: new Map(), writers: new Map() };
  chainsOfApp.set(root, chains);
  const me: Registered = { ...rules, stage };
  for (const writer of chains.writers.get(reads.streamArn) ?? []) checkChain(writer, me, stage);
  for (const reader of writesTo ? chains.readers.get(writesTo.streamArn) ?? [] : []) checkChain(me, reader, stage);
  add(chains.readers, reads.streamArn, me);
  if (writesTo !== undefined) add(chains.writers, writesTo.streamArn, me);
}

function add(map: Map<string, Registered[]>, key: string, stage: Registered): void {
  map.set(key, [...map.get(key) ?? [], stage]);
}

/** Throws (as an error of `current`, the stage being built) on the first id rule the two stages do not share. */
function checkChain(first: Registered, next: Registered, current: IConstruct): void {
  const problem = idRuleProblem(first, next);
  if (problem === undefined) return;
  throw validationError(current, `IngestStage at ${first.stage.node.path} writes (IngestSink.kinesis) to the stream that IngestStage at `
    + `${next.stage.node.path} reads, which recomputes each record's id and dead-letters every envelope whose id differs: ${problem}`);
}

function idRuleProblem(first: StageIdRules, next: StageIdRules): string | undefined {
  if (first.pipelineName !== next.pipelineName) {
    return `their id namespaces differ (given pipelineName '${first.pipelineName}' and '${next.pipelineName}'; allowed: the same pipelineName on both stages)`;
  }
  if (JSON.stringify(first.keyFields) !== JSON.stringify(next.keyFields)) {
    return `their key fields differ (given ${JSON.stringify(first.keyFields)} and ${JSON.stringify(next.keyFields)}; allowed: the same keyFields, in the same order, on both stages)`;
  }
  if (first.customCode && first.keyFields.length === 0) {
    return 'the first stage runs its own code (a transform may change the payload) with keyFields [] (ids of the whole payload), '
      + 'so the next stage computes other ids (given keyFields [] with code; allowed: keyFields naming fields the transform keeps, on both stages)';
  }
  return undefined;
}
