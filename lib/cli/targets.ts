/**
 * Where the tools find a pipeline's resources and how they build their AWS SDK clients:
 * - `--stack <name>`: the CloudFormation outputs of a deployed stack (DataPipeline emits `StreamName`, `StreamArn`,
 *   `ProcessorName`, `DlqUrl`, `DlqOverflowBucket`, `SinkKind`, `SinkTarget`; RawArchive emits `ArchiveBucket`,
 *   `ArchivePrefix`), each described `... (pipeline <name>)`;
 * - `--local <dir>`: a local environment directory holding `local-env.json` (endpoints, region, outputs);
 * - explicit flags (`--queue-url`, `--bucket`, `--target-stream`), and the SDK's own configuration: the standard
 *   credential chain and `AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_SQS`, `_S3`, `_KINESIS`, `_DYNAMODB`.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { cloudFormationClient, LOCAL_CREDENTIALS, serviceClients, type ServiceClients } from '../aws/clients';
import { LOCAL_ENV_FILE, type LocalEnvFile } from '../local/keep';
import { pipelineOutputs, type PipelineOutputs } from '../local/pipeline-outputs';
import { InputError } from '../replay/filter';

export interface Connection {
  readonly region: string;
  /** Set for a local environment. */
  readonly endpoints?: LocalEnvFile['endpoints'];
}

export type Clients = ServiceClients;

/** SDK clients of AWS, or of the local environment's emulators (local credentials) when it has endpoints. */
export function createClients(conn: Connection): Clients {
  const e = conn.endpoints;
  return serviceClients(
    { region: conn.region, maxAttempts: 5, ...(e ? { credentials: LOCAL_CREDENTIALS } : {}) },
    e ? { sqs: e.sqs, s3: e.s3, kinesis: e.kinesis, dynamodb: e.dynamodb } : {},
  );
}

/** Region of an SQS queue URL (`https://sqs.<region>.amazonaws.com/...`), if it names one. */
export function regionOfQueueUrl(url: string): string | undefined {
  return /^https?:\/\/sqs[.-]([a-z0-9-]+)\.amazonaws\.com/.exec(url)?.[1];
}

/** Undefined when `url` is an SQS queue URL (`http(s)://host/<account>/<queue>`), else the one-line problem. */
export function queueUrlProblem(url: string): string | undefined {
  // A pattern rather than new URL(): local endpoints such as http://sqs.us-east-1.127.0.0.1:4566/... are not WHATWG URLs.
  if (/^https?:\/\/[^/\s]+\/[^/\s]+\/[^/\s]+\/?$/.test(url)) return undefined;
  return `--queue-url ${JSON.stringify(url)} is not an SQS queue URL: allowed https://sqs.<region>.amazonaws.com/<account>/<queue> (or http://host:port/<account>/<queue> of a local endpoint)`;
}

/** Region: the flag, else AWS_REGION / AWS_DEFAULT_REGION, else the queue URL's, else us-east-1. */
export function chooseRegion(flag: string | undefined, queueUrl?: string): string {
  return flag ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? (queueUrl ? regionOfQueueUrl(queueUrl) : undefined) ?? 'us-east-1';
}

/** True when a process with this pid exists (signal 0 checks without signalling). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: it exists but belongs to another user.
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Where `phoenix local run` puts its run directories, relative to the project directory. */
export const LOCAL_RUNS_DIR = path.join('.phoenix', 'runs');

/** The run directories under `runsDir` that hold `file`, the most recently written `file` first. */
export function runDirsWith(runsDir: string, file: string): string[] {
  if (!existsSync(runsDir)) return [];
  return readdirSync(runsDir)
    .map((d) => path.join(runsDir, d))
    .filter((d) => existsSync(path.join(d, file)))
    .sort((a, b) => statSync(path.join(b, file)).mtimeMs - statSync(path.join(a, file)).mtimeMs);
}

/**
 * The run directory of the most recently kept local environment under `runsDir` that is still running (its
 * `local-env.json` exists and names a live pid), or undefined.
 */
export function findRunningLocalEnv(runsDir: string): string | undefined {
  for (const d of runDirsWith(runsDir, LOCAL_ENV_FILE)) {
    try {
      const pid = (JSON.parse(readFileSync(path.join(d, LOCAL_ENV_FILE), 'utf8')) as { pid?: unknown }).pid;
      if (typeof pid !== 'number' || processAlive(pid)) return d;
    } catch {
      // An unreadable file is not a running environment.
    }
  }
  return undefined;
}

/** Reads `<dir>/local-env.json`. */
export function readLocalEnv(dir: string): LocalEnvFile {
  const file = path.join(path.resolve(dir), LOCAL_ENV_FILE);
  if (!existsSync(file)) throw new InputError(`--local ${dir}: no ${LOCAL_ENV_FILE} there (is a local environment running in that directory?)`);
  let parsed: LocalEnvFile;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8')) as LocalEnvFile;
  } catch (e) {
    throw new InputError(`--local ${dir}: ${LOCAL_ENV_FILE} is not valid JSON (${(e as Error).message})`);
  }
  if (!parsed?.endpoints?.sqs || !parsed.endpoints.kinesis || !parsed.endpoints.s3 || typeof parsed.region !== 'string') {
    throw new InputError(`--local ${dir}: ${LOCAL_ENV_FILE} lacks region or endpoints.{kinesis,sqs,s3}`);
  }
  if (typeof parsed.pid === 'number' && !processAlive(parsed.pid)) {
    throw new InputError(`--local ${dir}: the local environment that wrote ${LOCAL_ENV_FILE} (pid ${parsed.pid}) is no longer running; start one with \`phoenix local run --keep\``);
  }
  return { ...parsed, outputs: parsed.outputs ?? {} };
}

/** Outputs of a deployed stack (CloudFormation DescribeStacks). */
export async function stackOutputs(region: string, stack: string, pipeline?: string): Promise<PipelineOutputs> {
  const cfn = cloudFormationClient({ region });
  try {
    const res = await cfn.send(new DescribeStacksCommand({ StackName: stack }));
    const s = res.Stacks?.[0];
    if (!s) throw new InputError(`stack ${stack} not found in ${region}`);
    return pipelineOutputs(s.Outputs ?? [], stack, pipeline);
  } catch (e) {
    if ((e as Error).name === 'ValidationError' && /does not exist/.test((e as Error).message)) throw new InputError(`stack ${stack} does not exist in ${region}`);
    throw e;
  } finally {
    cfn.destroy();
  }
}

/** Common target flags of the dlq and replay commands. */
export interface TargetFlags {
  readonly stack?: string;
  readonly pipeline?: string;
  /** A local environment directory, or `true` for the most recent running one under `.phoenix/runs`. */
  readonly local?: string | true;
  readonly region?: string;
  readonly queueUrl?: string;
}

export interface Resolved {
  readonly conn: Connection;
  readonly outputs: PipelineOutputs;
  /** Where the outputs came from, for messages. */
  readonly from: string;
}

/** Resolves the connection and the pipeline outputs from the flags. */
export async function resolveTargets(f: TargetFlags): Promise<Resolved> {
  const badQueueUrl = f.queueUrl !== undefined ? queueUrlProblem(f.queueUrl) : undefined;
  if (badQueueUrl) throw new InputError(badQueueUrl);
  if (f.local !== undefined && f.stack !== undefined) throw new InputError('--local and --stack cannot be combined');
  if (f.local !== undefined) {
    const dir = f.local === true ? findRunningLocalEnv(path.resolve(LOCAL_RUNS_DIR)) : f.local;
    if (dir === undefined) {
      throw new InputError(`--local: no running local environment under ${LOCAL_RUNS_DIR} (start one with \`phoenix local run --keep\`, or pass --local <dir>)`);
    }
    const env = readLocalEnv(dir);
    // The SDK's notice that releases after January 2027 need Node 22 concerns AWS; here every client talks to a
    // local emulator (as in `phoenix local run`), so it is kept out of the operator's output.
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
    return { conn: { region: env.region, endpoints: env.endpoints }, outputs: env.outputs, from: `local environment ${path.relative(process.cwd(), path.resolve(dir)) || '.'}` };
  }
  const region = chooseRegion(f.region, f.queueUrl);
  if (f.stack !== undefined) {
    return { conn: { region }, outputs: await stackOutputs(region, f.stack, f.pipeline), from: `stack ${f.stack}` };
  }
  return { conn: { region }, outputs: {}, from: 'flags' };
}
