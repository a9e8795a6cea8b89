/** IPC messages between the local environment (parent) and its emulator host child process. */
import type { LatencyMode } from '../gates/latency';
import type { ShardShape } from '../gates/limits-shards';
import type { TrafficReport } from '../gates/traffic';

/** Which emulator serves which AWS service. */
export type EmulatorName = 'kinesis' | 'dynamodb' | 'fauxqs';

export const EMULATOR_LABEL: Record<EmulatorName, string> = {
  kinesis: 'Kinesis emulator (kinesalite)',
  dynamodb: 'DynamoDB emulator (dynalite)',
  fauxqs: 'SQS/SNS/S3 emulator (fauxqs)',
};

/** Configuration passed to the host in the PHX_EMULATOR_HOST_CONFIG environment variable (JSON). */
export interface EmulatorHostConfig {
  /** 0 = any free port. */
  readonly ports: Record<EmulatorName, number>;
  /** Absolute path of fauxqs' ESM entry (dist/app.js): ESM resolution ignores NODE_PATH. */
  readonly fauxqsEntry: string;
  /** Region used by fauxqs for queue ARNs and URLs. */
  readonly region: string;
  /** Maximum shards per account in kinesalite (its default of 10 is too low for several streams). */
  readonly kinesisShardLimit: number;
  /** JSON file of the IAM gate configuration (lib/local/gates IamGateConfig); absent = IAM not enforced. */
  readonly iamConfigFile?: string;
  /** Service limits and latency model in front of the emulators; absent = neither. */
  readonly limits?: LimitsHostConfig;
}

/** `--limits-scale` (rate limits divided by it), `--latency`, and the seed of the latency draws. */
export interface LimitsHostConfig {
  readonly scale: number;
  readonly latency: LatencyMode;
  readonly seed: number;
}

/** What the limit gate must know of the provisioned resources: each stream's shards, each queue's MaximumMessageSize. */
export interface LimitsRegistration {
  readonly streams: ReadonlyArray<{ readonly arn: string; readonly shards: readonly ShardShape[] }>;
  readonly queues: ReadonlyArray<{ readonly arn: string; readonly maximumMessageSize: number }>;
}

/** A call the IAM gate denied (principal, action, resource), for the run report's accessDenied. */
export interface AccessDeniedReport {
  readonly principal: string;
  readonly action: string;
  readonly resource: string;
  readonly errorType: string;
  readonly message: string;
}

export type HostToParent =
  | { type: 'ready'; ports: Record<EmulatorName, number> }
  | { type: 'error'; emulator?: EmulatorName; message: string }
  | { type: 'accessDenied'; denial: AccessDeniedReport }
  /** Answer to a request of the parent that carries an `id`. */
  | { type: 'reply'; id: number; traffic?: TrafficReport; error?: string };

export type ParentToHost =
  | { type: 'stop' }
  | { type: 'limits'; id: number; registration: LimitsRegistration }
  | { type: 'traffic'; id: number }
  /** Replaces the IAM gate's configuration (a redeployed stack: new names, new principals). */
  | { type: 'iam'; id: number; configFile: string };
