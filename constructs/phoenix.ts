import { RemovalPolicy, Stack, Token } from 'aws-cdk-lib';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type { IConstruct } from 'constructs';
import { validationError } from './private/errors';

/**
 * What `cdk destroy` (or a replacement) does to a pipeline's stateful resources.
 *
 * Chosen once per pipeline ({@link DataPipelineProps.phoenixMode}) or per scope ({@link Phoenix.configure});
 * every construct of the library asks {@link Phoenix.removalPolicyFor} for the removal policy of each stateful
 * resource it creates, unless that resource's own `removalPolicy` prop is set (an explicit prop always wins).
 */
export enum PhoenixMode {
  /**
   * Test, preview and per-developer environments: `cdk destroy` leaves nothing behind. Every stateful resource
   * gets `RemovalPolicy.DESTROY`, buckets are emptied on deletion (`autoDeleteObjects`), the archive included.
   */
  EPHEMERAL = 'EPHEMERAL',

  /**
   * Production: the raw archive (the source of truth every sink is rebuilt from) is retained, and so are the
   * sinks unless `retainSinks` is false; everything else (streams, dead letters, log groups, keys of data in
   * flight, profile history) is destroyed with the stack and recreated by the next deploy.
   */
  PRODUCTION = 'PRODUCTION',
}

/**
 * The kinds of stateful resources a Phoenix pipeline creates; {@link Phoenix.removalPolicyFor} maps each to a
 * removal policy under the scope's {@link PhoenixMode}.
 *
 * A resource that serves another one takes that one's kind: the access-log bucket and the KMS key of the archive
 * are `ARCHIVE` (a retained archive must stay readable and audited), the dead letters' access-log bucket is
 * `DEAD_LETTERS`.
 */
export enum StatefulKind {
  /** Kinesis streams created by a stage. Their records are in the archive (and in the producers). */
  STREAM = 'STREAM',
  /** The dead-letter queue, its overflow bucket and that bucket's access-log bucket. */
  DEAD_LETTERS = 'DEAD_LETTERS',
  /** Sinks created by the library, such as the table of `IngestSink.dynamoDb()`. Rebuildable from the archive by replay. */
  SINK = 'SINK',
  /** Log groups of the library's functions. */
  LOGS = 'LOGS',
  /** KMS keys of data in flight only (for example an alarm topic's key). A key of stored data takes that data's kind. */
  KEY = 'KEY',
  /** The raw archive (bucket, its access logs and its key): the source of truth for replay. */
  ARCHIVE = 'ARCHIVE',
  /** Data-quality profile history (derived from the records; recomputed by replay). */
  PROFILE_HISTORY = 'PROFILE_HISTORY',
}

/**
 * Phoenix settings of a scope. The network (`vpc`, `vpcSubnets`, `securityGroups`) applies to every Lambda function
 * the library creates in the scope (not CDK's own helper functions); a construct's own function options win.
 */
export interface PhoenixOptions extends FunctionNetwork {
  /**
   * What `cdk destroy` leaves behind.
   *
   * @default - the mode of the nearest configured enclosing scope, else the CDK context value `phoenix:mode`
   * (`EPHEMERAL` or `PRODUCTION`, e.g. `cdk deploy -c phoenix:mode=EPHEMERAL`), else `PhoenixMode.PRODUCTION`
   */
  readonly mode?: PhoenixMode;

  /**
   * Keep the sinks created by the library (the `IngestSink.dynamoDb()` table) when the stack is deleted.
   * Only with `PhoenixMode.PRODUCTION`: an ephemeral pipeline keeps nothing.
   *
   * @default - the value of the nearest configured enclosing scope, else true in PRODUCTION (a sink is rebuilt
   * from the archive by replay, but that takes time, and a pipeline without an archive could not rebuild it at all)
   */
  readonly retainSinks?: boolean;

  /**
   * The deployment a copy's custom metrics belong to (`Deployment` dimension of every metric the library's handlers
   * emit, and of every alarm and dashboard widget on them), so that two copies of a pipeline in one account (dev and
   * test, blue and green) never feed or trip each other's alarms. 1-128 characters of `[A-Za-z0-9_.-]`.
   *
   * @default - the nearest configured enclosing scope's, else `<stackName>-<region>` of the scope's stack
   */
  readonly deploymentId?: string;

  /**
   * Retention of every log group the library creates in the scope (functions, the archive's delivery errors, the
   * log groups of CDK's helper functions, which follow the setting of their stack or app). A construct's own
   * `logRetention` prop wins. AWS Control Tower's CT.CLOUDWATCH.PR.2 asks for at least one year.
   *
   * @default - the nearest configured enclosing scope's, else each log group's own default (three months; one month
   * for the synthetic canary)
   */
  readonly logRetention?: logs.RetentionDays;

  /**
   * Customer managed KMS key encrypting every log group the library creates in the scope (as `logRetention`). Its key
   * policy must allow the CloudWatch Logs service principal (`logs.<region>.amazonaws.com`) to use it. A construct's
   * own `logEncryptionKey` prop wins. AWS Control Tower's CT.CLOUDWATCH.PR.3 asks for one.
   *
   * @default - the nearest configured enclosing scope's, else CloudWatch Logs' service-managed encryption
   */
  readonly logEncryptionKey?: kms.IKey;

  /**
   * S3 Object Lock on every bucket the library creates in the scope, without a default retention: objects stay
   * deletable (the buckets stay destroyable, PhoenixMode.EPHEMERAL empties them) until you set a retention on them.
   * AWS Control Tower's CT.S3.PR.9 asks for it. Object Lock cannot be turned off once a bucket has it.
   *
   * @default - the nearest configured enclosing scope's, else false
   */
  readonly objectLock?: boolean;
}

/**
 * Where a Lambda function of the library runs (the function options of each construct, {@link Phoenix.functionNetworkOf}).
 * The functions reach Kinesis, SQS, S3, DynamoDB, CloudWatch and X-Ray: the subnets need a route to them (NAT or VPC
 * endpoints). With a VPC, the function's role may create, describe and delete its network interfaces.
 */
export interface FunctionNetwork {
  /**
   * VPC of the function.
   *
   * @default - `Phoenix.functionNetworkOf(scope)`: the nearest scope configured with a `vpc`, else no VPC
   */
  readonly vpc?: ec2.IVpc;
  /**
   * Subnets of the function; only with `vpc`.
   *
   * @default - the VPC's private subnets
   */
  readonly vpcSubnets?: ec2.SubnetSelection;
  /**
   * Security groups of the function; only with `vpc`.
   *
   * @default - one security group per function, all outbound traffic allowed
   */
  readonly securityGroups?: ec2.ISecurityGroup[];
}

/** CDK context key read when no scope configures a mode (`cdk synth -c phoenix:mode=EPHEMERAL`). */
const CONTEXT_KEY = 'phoenix:mode';
const OWNER = 'Phoenix';
const MODES = Object.values(PhoenixMode) as string[];

type Settings = PhoenixOptions;

const DEPLOYMENT_ID = /^[A-Za-z0-9_.-]{1,128}$/;

/** Settings configured on scopes. A WeakMap: no construct metadata, no ordering constraint on children. */
const configured = new WeakMap<IConstruct, Settings>();

/**
 * Phoenix mode: one setting that chooses the removal policy of every stateful resource of a pipeline.
 *
 * | kind | EPHEMERAL | PRODUCTION | PRODUCTION, `retainSinks: false` |
 * |---|---|---|---|
 * | `ARCHIVE` | DESTROY (emptied) | RETAIN | RETAIN |
 * | `SINK` | DESTROY | RETAIN | DESTROY |
 * | `STREAM`, `DEAD_LETTERS`, `LOGS`, `KEY`, `PROFILE_HISTORY` | DESTROY (buckets emptied) | DESTROY (buckets emptied) | DESTROY (buckets emptied) |
 *
 * The default is `PRODUCTION`: forgetting the setting then costs an orphaned archive bucket and table after a
 * `cdk destroy` (visible, billable, deletable by hand), never the archive a production pipeline is rebuilt from.
 *
 * Constructs of the library (and constructs written on top of it) call {@link Phoenix.removalPolicyFor}
 * and {@link Phoenix.autoDeleteObjectsFor} with the scope they create the resource in.
 *
 * @example
 * // a whole test stack, every pipeline and archive in it
 * Phoenix.configure(stack, { mode: PhoenixMode.EPHEMERAL });
 * // a construct creating an archive bucket
 * const removalPolicy = props.removalPolicy ?? Phoenix.removalPolicyFor(this, StatefulKind.ARCHIVE);
 */
export class Phoenix {
  /** The CDK context key read when no scope configures a mode. */
  public static readonly CONTEXT_KEY = CONTEXT_KEY;

  /**
   * Sets the Phoenix settings of `scope` and everything below it (a stack, a stage, a pipeline). Settings left
   * undefined are inherited from the enclosing scopes. Configuring the same scope twice merges the settings.
   *
   * @param scope the scope
   * @param options the settings
   */
  public static configure(scope: IConstruct, options: PhoenixOptions): void {
    if (options.mode !== undefined && !MODES.includes(options.mode)) {
      throw validationError(scope, `mode must be one of ${MODES.join(', ')} (given '${options.mode}')`, OWNER);
    }
    if (options.objectLock !== undefined && typeof options.objectLock !== 'boolean') {
      throw validationError(scope, `objectLock must be a boolean (given ${typeof options.objectLock})`, OWNER);
    }
    if (options.retainSinks !== undefined && typeof options.retainSinks !== 'boolean') {
      throw validationError(scope, `retainSinks must be a boolean (given ${typeof options.retainSinks})`, OWNER);
    }
    if (options.deploymentId !== undefined && !Token.isUnresolved(options.deploymentId) && !DEPLOYMENT_ID.test(options.deploymentId)) {
      throw validationError(scope, `deploymentId must be 1-128 characters of [A-Za-z0-9_.-] (given '${options.deploymentId}')`, OWNER);
    }
    const merged: Settings = { ...configured.get(scope), ...definedOnly(options) };
    const mode = merged.mode ?? Phoenix.modeOf(scope);
    if (mode === PhoenixMode.EPHEMERAL && merged.retainSinks === true) {
      throw validationError(scope, 'retainSinks applies to PhoenixMode.PRODUCTION only: an ephemeral pipeline keeps nothing (given retainSinks true with mode EPHEMERAL)', OWNER);
    }
    if ((merged.vpcSubnets !== undefined || merged.securityGroups !== undefined) && merged.vpc === undefined) {
      throw validationError(scope, `${merged.vpcSubnets !== undefined ? 'vpcSubnets' : 'securityGroups'} needs a vpc in the same configuration (given no vpc)`, OWNER);
    }
    configured.set(scope, merged);
  }

  /**
   * The Phoenix mode in effect at `scope`: the nearest configured enclosing scope's, else the CDK context value
   * `phoenix:mode`, else `PhoenixMode.PRODUCTION`.
   *
   * @param scope the scope
   */
  public static modeOf(scope: IConstruct): PhoenixMode {
    const mode = nearest(scope, (s) => s.mode);
    if (mode !== undefined) {
      return mode;
    }
    const context: unknown = scope.node.tryGetContext(CONTEXT_KEY);
    if (context === undefined) {
      return PhoenixMode.PRODUCTION;
    }
    const value = String(context).toUpperCase();
    if (!MODES.includes(value)) {
      throw validationError(scope, `context ${CONTEXT_KEY} must be one of ${MODES.join(', ')} (given '${String(context)}')`, OWNER);
    }
    return value as PhoenixMode;
  }

  /**
   * The deployment id in effect at `scope` (the `Deployment` metric dimension): the nearest configured enclosing
   * scope's `deploymentId`, else `<stackName>-<region>` of the scope's stack (region a token in an environment-agnostic
   * stack, resolved at deployment), unique among the deployments of an account.
   *
   * @param scope the scope
   */
  public static deploymentIdOf(scope: IConstruct): string {
    const stack = Stack.of(scope);
    return nearest(scope, (s) => s.deploymentId) ?? `${stack.stackName}-${stack.region}`;
  }

  /**
   * Retention of the log groups the library creates at `scope`: the nearest configured `logRetention`, else undefined
   * (each log group's own default).
   *
   * @param scope the scope
   */
  public static logRetentionOf(scope: IConstruct): logs.RetentionDays | undefined {
    return nearest(scope, (s) => s.logRetention);
  }

  /**
   * Key encrypting the log groups the library creates at `scope`: the nearest configured `logEncryptionKey`, else
   * undefined (service-managed encryption).
   *
   * @param scope the scope
   */
  public static logEncryptionKeyOf(scope: IConstruct): kms.IKey | undefined {
    return nearest(scope, (s) => s.logEncryptionKey);
  }

  /**
   * Whether the buckets the library creates at `scope` have S3 Object Lock (without a default retention): the nearest
   * configured `objectLock`, else false.
   *
   * @param scope the scope
   */
  public static objectLockOf(scope: IConstruct): boolean {
    return nearest(scope, (s) => s.objectLock) ?? false;
  }

  /**
   * Network of the functions the library creates at `scope`: the nearest configured `vpc` with the `vpcSubnets` and
   * `securityGroups` of the same scope, else an empty placement (no VPC).
   *
   * @param scope the scope
   */
  public static functionNetworkOf(scope: IConstruct): FunctionNetwork {
    const settings = nearestSettings(scope, (s) => s.vpc);
    return settings === undefined ? {} : { vpc: settings.vpc, vpcSubnets: settings.vpcSubnets, securityGroups: settings.securityGroups };
  }

  /**
   * Whether sinks are retained at `scope`: false in EPHEMERAL mode; in PRODUCTION the nearest configured
   * `retainSinks`, default true.
   *
   * @param scope the scope
   */
  public static retainsSinks(scope: IConstruct): boolean {
    if (Phoenix.modeOf(scope) === PhoenixMode.EPHEMERAL) {
      return false;
    }
    return nearest(scope, (s) => s.retainSinks) ?? true;
  }

  /**
   * The removal policy of a stateful resource of kind `kind` created in `scope` (see the table of {@link Phoenix}).
   * Use it as the default of the resource's `removalPolicy` prop.
   *
   * @param scope the scope the resource is created in
   * @param kind what the resource holds
   */
  public static removalPolicyFor(scope: IConstruct, kind: StatefulKind): RemovalPolicy {
    switch (kind) {
      case StatefulKind.ARCHIVE:
        return Phoenix.modeOf(scope) === PhoenixMode.PRODUCTION ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;
      case StatefulKind.SINK:
        return Phoenix.retainsSinks(scope) ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;
      case StatefulKind.STREAM:
      case StatefulKind.DEAD_LETTERS:
      case StatefulKind.LOGS:
      case StatefulKind.KEY:
      case StatefulKind.PROFILE_HISTORY:
        return RemovalPolicy.DESTROY;
      default:
        throw validationError(scope, `kind must be one of ${Object.values(StatefulKind).join(', ')} (given '${String(kind)}')`, OWNER);
    }
  }

  /**
   * Whether a bucket with this removal policy is emptied on deletion (`autoDeleteObjects`): true exactly for
   * `RemovalPolicy.DESTROY` (CloudFormation cannot delete a bucket that still holds objects).
   *
   * @param removalPolicy the bucket's removal policy
   */
  public static autoDeleteObjects(removalPolicy: RemovalPolicy): boolean {
    return removalPolicy === RemovalPolicy.DESTROY;
  }

  private constructor() {}
}

/**
 * The hook stateful constructs call (same as {@link Phoenix.removalPolicyFor}): the removal policy of a resource
 * of kind `kind` created in `scope`, under the scope's Phoenix mode.
 */
export function removalPolicyFor(scope: IConstruct, kind: StatefulKind): RemovalPolicy {
  return Phoenix.removalPolicyFor(scope, kind);
}

/** The settings of the nearest configured scope where `pick` is defined. */
function nearestSettings<T>(scope: IConstruct, pick: (s: Settings) => T | undefined): Settings | undefined {
  const scopes = scope.node.scopes; // root first
  for (let i = scopes.length - 1; i >= 0; i--) {
    const s = configured.get(scopes[i]);
    if (s !== undefined && pick(s) !== undefined) {
      return s;
    }
  }
  return undefined;
}

function nearest<T>(scope: IConstruct, pick: (s: Settings) => T | undefined): T | undefined {
  const settings = nearestSettings(scope, pick);
  return settings === undefined ? undefined : pick(settings);
}

function definedOnly(o: PhoenixOptions): Settings {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Settings;
}
