/**
 * Physical names as CloudFormation generates them for resources whose template sets no name:
 * `<stackName>-<logicalId>-<SUFFIX>`, shortened to the service's length limit, with a random suffix that is new on
 * every creation. Explicit names (the type's name property set in the template) are used as given.
 *
 * Three generation styles, from public sources (docs/local-environment.md, "Physical names"):
 * - `legacy` (types CloudFormation's own engine creates: Lambda, IAM, DynamoDB, SQS, SNS, Kinesis, alarms, rules):
 *   suffix = a random non-negative 63-bit integer in base 36, upper case (12-13 characters; 13-character suffixes
 *   start with `1`, as Long.MAX_VALUE = 1Y2P0IJ32E8E7). Stack name and logical id share what is left after 13
 *   suffix characters and two hyphens, the longer one cut first: the gist
 *   https://gist.github.com/christianklotz/468a240a75f4ae3e73bd52722f926acb shows
 *   `MyStackDev-MyNestedApplicationStack-MyLambdaFunctionName-1U44TLUZ7OR55` (70) created as
 *   `MyStackDev-MyNestedApplicatio-MyLambdaFunctionName-1U44TLUZ7OR55` (64).
 * - `registry` (resource-provider types): cloudformation-cli-java-plugin IdentifierUtils.generateResourceIdentifier
 *   (stackId, logicalId, token, max): stack name and logical id fair-split over `max - 14` characters, then `-` and
 *   12 random letters and digits (mixed case).
 * - `prefix` (AWS::Logs::LogGroup, AWS::KinesisFirehose::DeliveryStream providers): `<stack>-<logicalId>` cut at
 *   `max - 13`, then `-` and 12 random letters and digits.
 * S3 buckets: fair split, lower case, 12 random lower-case letters and digits, 63 characters (the CloudFormation
 * user guide's example `stack123123123123-s3bucket-abcdefghijk1`).
 */
import { PhoenixError } from '../../core/errors';

/** Uniform random numbers in [0, 1): injectable so that tests are deterministic. */
export type Rng = () => number;

/** Where a name must be unique: `global` (every region: S3 buckets, IAM, dashboards) or per `region`. */
export type NameScope = 'global' | 'region';

export interface NameRule {
  /** The property that sets an explicit name. */
  readonly nameProperty: string;
  readonly maxLength: number;
  readonly style: 'legacy' | 'registry' | 'prefix' | 's3';
  readonly scope: NameScope;
  /** Standard queues/topics vs FIFO: a FIFO name keeps `.fifo` at the end. */
  readonly fifoProperty?: string;
  /** Who answers a create of an existing name: CloudFormation's engine (`legacy`) or a resource provider. */
  readonly handler: 'legacy' | 'registry';
}

/** Named resource types of the templates, with the service's name length limit. */
export const NAME_RULES: Readonly<Record<string, NameRule>> = {
  'AWS::Kinesis::Stream': { nameProperty: 'Name', maxLength: 128, style: 'legacy', scope: 'region', handler: 'legacy' },
  'AWS::DynamoDB::Table': { nameProperty: 'TableName', maxLength: 255, style: 'legacy', scope: 'region', handler: 'legacy' },
  'AWS::S3::Bucket': { nameProperty: 'BucketName', maxLength: 63, style: 's3', scope: 'global', handler: 'legacy' },
  'AWS::SQS::Queue': { nameProperty: 'QueueName', maxLength: 80, style: 'legacy', scope: 'region', fifoProperty: 'FifoQueue', handler: 'legacy' },
  'AWS::SNS::Topic': { nameProperty: 'TopicName', maxLength: 256, style: 'legacy', scope: 'region', fifoProperty: 'FifoTopic', handler: 'legacy' },
  'AWS::Lambda::Function': { nameProperty: 'FunctionName', maxLength: 64, style: 'legacy', scope: 'region', handler: 'legacy' },
  'AWS::IAM::Role': { nameProperty: 'RoleName', maxLength: 64, style: 'legacy', scope: 'global', handler: 'legacy' },
  'AWS::IAM::ManagedPolicy': { nameProperty: 'ManagedPolicyName', maxLength: 128, style: 'legacy', scope: 'global', handler: 'legacy' },
  'AWS::Logs::LogGroup': { nameProperty: 'LogGroupName', maxLength: 512, style: 'prefix', scope: 'region', handler: 'registry' },
  'AWS::KinesisFirehose::DeliveryStream': { nameProperty: 'DeliveryStreamName', maxLength: 64, style: 'prefix', scope: 'region', handler: 'registry' },
  'AWS::CloudWatch::Alarm': { nameProperty: 'AlarmName', maxLength: 255, style: 'legacy', scope: 'region', handler: 'legacy' },
  'AWS::CloudWatch::CompositeAlarm': { nameProperty: 'AlarmName', maxLength: 255, style: 'registry', scope: 'region', handler: 'registry' },
  'AWS::CloudWatch::Dashboard': { nameProperty: 'DashboardName', maxLength: 255, style: 'registry', scope: 'global', handler: 'registry' },
  'AWS::Scheduler::Schedule': { nameProperty: 'Name', maxLength: 64, style: 'registry', scope: 'region', handler: 'registry' },
  'AWS::Events::Rule': { nameProperty: 'Name', maxLength: 64, style: 'legacy', scope: 'region', handler: 'legacy' },
};

/** Physical ids of unnamed types (policies, permissions, custom resources): `<stack>-<logicalId>-<SUFFIX>`. */
const OTHER_ID_RULE: NameRule = { nameProperty: '', maxLength: 255, style: 'legacy', scope: 'region', handler: 'legacy' };

/** Types whose physical id is a UUID the service assigns (KMS key ids, event source mapping ids). */
const UUID_TYPES = new Set(['AWS::KMS::Key', 'AWS::Lambda::EventSourceMapping']);

const LOWER_ALNUM = 'abcdefghijklmnopqrstuvwxyz0123456789';
const MIXED_ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

function randomString(rng: Rng, alphabet: string, length: number): string {
  let out = '';
  for (let i = 0; i < length; i++) out += alphabet[Math.min(alphabet.length - 1, Math.floor(rng() * alphabet.length))];
  return out;
}

/** A uniform integer in [0, 2^63) in base 36, upper case: CloudFormation's legacy suffix. */
function legacySuffix(rng: Rng): string {
  const hi = BigInt(Math.floor(rng() * 2 ** 31));
  const lo = BigInt(Math.floor(rng() * 2 ** 32));
  return (hi * 2n ** 32n + lo).toString(36).toUpperCase();
}

/** IdentifierUtils.fairSplit: each part gets an even share of `cap`, a part shorter than its share gives the rest away. */
export function fairSplit(cap: number, wanted: readonly number[]): number[] {
  const got = wanted.map(() => 0);
  let remaining = cap;
  while (remaining > 0) {
    const share = remaining < wanted.length ? 1 : Math.floor(remaining / wanted.length);
    let satisfied = 0;
    for (let i = 0; i < wanted.length && remaining > 0; i++) {
      if (got[i] >= wanted[i]) { satisfied++; continue; }
      const add = Math.min(share, wanted[i] - got[i]);
      got[i] += add;
      remaining -= add;
    }
    if (satisfied === wanted.length) break;
  }
  return got;
}

function splitPrefix(stackName: string, logicalId: string, room: number): string {
  const stack = stackName.replace(/^-+/, '').replace(/-{2,}/g, '-');
  const [s, l] = fairSplit(room, [stack.length, logicalId.length]);
  return `${stack.slice(0, s)}-${logicalId.slice(0, l)}`;
}

function generate(rule: NameRule, stackName: string, logicalId: string, rng: Rng, end: string): string {
  return `${generateBody(rule, rule.maxLength - end.length, stackName, logicalId, rng)}${end}`;
}

function generateBody(rule: NameRule, max: number, stackName: string, logicalId: string, rng: Rng): string {
  switch (rule.style) {
    case 'legacy': return `${splitPrefix(stackName, logicalId, max - 13 - 2)}-${legacySuffix(rng)}`;
    case 'registry': return `${splitPrefix(stackName, logicalId, max - 14)}-${randomString(rng, MIXED_ALNUM, 12)}`;
    case 'prefix': return `${`${stackName}-${logicalId}`.slice(0, max - 13)}-${randomString(rng, MIXED_ALNUM, 12)}`;
    case 's3': return `${splitPrefix(stackName, logicalId, max - 12 - 2)}-${randomString(rng, LOWER_ALNUM, 12)}`.toLowerCase();
  }
}

/** A random UUID (version 4 layout) from `rng`. */
export function randomUuid(rng: Rng): string {
  const hex = randomString(rng, '0123456789abcdef', 32).split('');
  hex[12] = '4';
  hex[16] = '89ab'[Math.floor(rng() * 4)];
  const h = hex.join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** The name a resource of a named type gets when its template sets none; a new one on every call. */
export function generatePhysicalName(type: string, stackName: string, logicalId: string, rng: Rng, opts: { fifo?: boolean } = {}): string {
  const rule = NAME_RULES[type];
  if (!rule) {
    throw new PhoenixError('CFN_UNNAMED_TYPE', `${type} has no generated name in the local CloudFormation model; named types: ${Object.keys(NAME_RULES).join(', ')}`);
  }
  return generate(rule, stackName, logicalId, rng, opts.fifo ? '.fifo' : '');
}

/** The explicit name of a resource (its name property, already resolved to a string), if the template sets one. */
export function explicitName(type: string, properties: Readonly<Record<string, unknown>> | undefined): string | undefined {
  const rule = NAME_RULES[type];
  const value = rule ? properties?.[rule.nameProperty] : undefined;
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** A stream consumer's physical id: `<name>:<creation epoch seconds>`, the tail of its ARN (`<stream ARN>/consumer/<id>`). */
export function consumerPhysicalId(consumerName: string, nowMs: number): string {
  return `${consumerName}:${Math.floor(nowMs / 1000)}`;
}

export interface PhysicalId {
  readonly id: string;
  /** The id is a name the template set (it must not exist yet, and the resource cannot be replaced). */
  readonly explicit: boolean;
}

/**
 * The physical id CloudFormation gives a resource: the explicit name, a generated name for named types, a UUID for
 * key and mapping ids, and for other types (policies, permissions, custom resources) a generated id in the legacy style.
 */
export function physicalId(
  type: string, stackName: string, logicalId: string, properties: Readonly<Record<string, unknown>> | undefined, rng: Rng,
): PhysicalId {
  const given = explicitName(type, properties);
  if (given !== undefined) return { id: given, explicit: true };
  if (UUID_TYPES.has(type)) return { id: randomUuid(rng), explicit: false };
  // A consumer name is unique within its stream only: its id carries the creation time, as its ARN does.
  if (type === 'AWS::Kinesis::StreamConsumer') return { id: consumerPhysicalId(String(properties?.ConsumerName ?? logicalId), Date.now()), explicit: false };
  const rule = NAME_RULES[type];
  if (!rule) return { id: generate(OTHER_ID_RULE, stackName, logicalId, rng, ''), explicit: false };
  const fifo = rule.fifoProperty !== undefined && isTrue(properties?.[rule.fifoProperty]);
  return { id: generate(rule, stackName, logicalId, rng, fifo ? '.fifo' : ''), explicit: false };
}

function isTrue(v: unknown): boolean {
  return v === true || v === 'true';
}
