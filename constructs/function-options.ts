import type { Duration, RemovalPolicy } from 'aws-cdk-lib';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type { FunctionNetwork } from './phoenix';

/** Log levels of the library's handlers (Powertools `POWERTOOLS_LOG_LEVEL`). */
export enum LogLevel {
  TRACE = 'TRACE',
  DEBUG = 'DEBUG',
  INFO = 'INFO',
  WARN = 'WARN',
  ERROR = 'ERROR',
  CRITICAL = 'CRITICAL',
  SILENT = 'SILENT',
}

/**
 * Settings of the Lambda function a construct creates (each function has its own role and log group, and X-Ray
 * tracing). The props of {@link IngestStage}, {@link QualityProfiler}, {@link SyntheticCanary},
 * {@link DriftDetector} and {@link ReplayFunction} extend it; defaults and allowed values are per construct. The
 * log and network settings fall back to those configured on an enclosing scope with `Phoenix.configure`.
 */
export interface PipelineFunctionOptions extends FunctionNetwork {
  /**
   * Memory of the function, in MiB. Allowed: 128-10,240.
   *
   * @default - 512 (IngestStage, QualityProfiler), 256 (SyntheticCanary, DriftDetector), 1024 (ReplayFunction)
   */
  readonly memorySize?: number;

  /**
   * Timeout of the function. Allowed: 1 second to 15 minutes (DriftDetector: at least 1 minute; ReplayFunction:
   * at least 30 seconds, and a replay stops starting work 10 seconds before it).
   *
   * @default - Duration.minutes(1) (IngestStage, QualityProfiler), Duration.seconds(30) (SyntheticCanary),
   * Duration.minutes(10) (DriftDetector), Duration.minutes(15) (ReplayFunction)
   */
  readonly timeout?: Duration;

  /**
   * Log level of the handler (`POWERTOOLS_LOG_LEVEL`). The QualityProfiler's handler has no log level (it logs
   * rule warnings and failures only) and rejects this prop.
   *
   * @default - LogLevel.INFO (IngestStage); Powertools' default, INFO, elsewhere (the variable is not set)
   */
  readonly logLevel?: LogLevel;

  /**
   * Retention of the function's log group.
   *
   * @default - `Phoenix.logRetentionOf(this)`, else logs.RetentionDays.THREE_MONTHS; logs.RetentionDays.ONE_MONTH for
   * the SyntheticCanary
   */
  readonly logRetention?: logs.RetentionDays;

  /**
   * Customer managed KMS key encrypting the function's log group. Its key policy must allow the CloudWatch Logs
   * service principal (`logs.<region>.amazonaws.com`) to use it.
   *
   * @default - `Phoenix.logEncryptionKeyOf(this)`, else CloudWatch Logs' service-managed encryption
   */
  readonly logEncryptionKey?: kms.IKey;

  /**
   * Removal policy of the function's log group.
   *
   * @default - `Phoenix.removalPolicyFor(scope, StatefulKind.LOGS)`: RemovalPolicy.DESTROY in both Phoenix modes
   * (set RemovalPolicy.RETAIN to keep logs after a teardown until their retention expires)
   */
  readonly logRemovalPolicy?: RemovalPolicy;
}
