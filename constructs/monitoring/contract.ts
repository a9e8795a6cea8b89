/**
 * Contracts of the monitoring constructs and their handlers (lib/handlers/canary.ts, lib/handlers/drift-detector.ts).
 * Same rules as constructs/contract.ts: lib/ imports these, constructs/ never imports lib/. Not part of the jsii API.
 *
 * To be merged into constructs/contract.ts (METRIC, ENV, HANDLER_ASSET_DIR); kept here while the monitoring
 * constructs land so that the shared contract changes in one reviewed step.
 */

/** Metrics of the synthetic canary's sender (dimensions `{ Pipeline, Stage }`, Stage = the stage the canary enters). */
export const CANARY_METRIC = {
  /** Canary envelopes put into the entry stream (1 per run; 0 when the put failed). */
  canariesSent: 'CanariesSent',
} as const;

/** Extra dimension of the per-stack drift metrics. */
export const STACK_NAME_DIMENSION = 'StackName';

/**
 * Metrics of the drift detector. Per stack (dimensions `{ Pipeline, StackName }`): `StackDrifted`,
 * `DriftedResources`. Per run (dimensions `{ Pipeline }`): `StacksDrifted`, `DriftDetectionFailures`.
 */
export const DRIFT_METRIC = {
  /** 1 when the stack's drift status is DRIFTED, else 0. Per stack. */
  stackDrifted: 'StackDrifted',
  /** Number of resources whose actual configuration differs from the template (MODIFIED or DELETED). Per stack. */
  driftedResources: 'DriftedResources',
  /** Number of checked stacks found DRIFTED in this run. Per run. */
  stacksDrifted: 'StacksDrifted',
  /** Number of stacks whose detection failed or did not finish in time in this run (0 when all finished). Per run. */
  driftDetectionFailures: 'DriftDetectionFailures',
} as const;

/** Environment variables of the monitoring handlers. */
export const MONITOR_ENV = {
  /** ARN of the stream the canary writes to. */
  canaryStreamArn: 'PHX_CANARY_STREAM_ARN',
  /** Stage the canary enters (`Stage` dimension of CanariesSent). */
  canaryEntryStage: 'PHX_CANARY_ENTRY_STAGE',
  /** JSON array of the stack names the drift detector checks. */
  driftStacks: 'PHX_DRIFT_STACKS',
  /** Delay between two DescribeStackDriftDetectionStatus calls of one stack, in milliseconds. */
  driftPollMs: 'PHX_DRIFT_POLL_MS',
} as const;

/** Relative location (from the package root) of the pre-bundled monitoring handler assets. */
export const MONITOR_ASSET_DIR = {
  canary: 'assets/lib/handlers/canary',
  driftDetector: 'assets/lib/handlers/drift-detector',
} as const;
