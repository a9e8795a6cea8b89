/** IPC messages between the local environment (parent) and its emulator host child process. */

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
  | { type: 'accessDenied'; denial: AccessDeniedReport };

export type ParentToHost = { type: 'stop' };
