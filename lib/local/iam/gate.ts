/**
 * The IAM gate: authorizes every AwsCall against the template's policies (evaluate.ts) and rejects a denied one the
 * way the service does (its error name, status and AWS's `User: ... is not authorized to perform: ...` message).
 * Also the in-process `authorize` for calls the orchestrator makes itself (Lambda invoke by S3 notifications and
 * EventBridge Scheduler). Every denial is reported to `onDenied` (the run report's accessDenied).
 */
import { deniedMessage, evaluate, sessionArn, type ApplicablePolicies, type Decision, type EvalRequest } from './evaluate';
import type { IamModel } from './policies';
import type { Policy } from './policy';
import type { AwsCall, AwsService, GateVerdict, RequestGate } from '../gates/types';

/** One denied call, as the run report counts it. */
export interface AccessDenial {
  readonly principal: string;
  readonly action: string;
  readonly resource: string;
  readonly errorType: string;
  readonly message: string;
}

type Reject = Extract<GateVerdict, { kind: 'reject' }>;

/** Error name and HTTP status each service answers an authorization failure with (KMS: when its key denies). */
const DENIED: Record<AwsService, { type: string; status: number; kmsType: string; kmsStatus: number }> = {
  kinesis: { type: 'AccessDeniedException', status: 400, kmsType: 'KMSAccessDeniedException', kmsStatus: 400 },
  dynamodb: { type: 'AccessDeniedException', status: 400, kmsType: 'AccessDeniedException', kmsStatus: 400 },
  sqs: { type: 'AccessDenied', status: 403, kmsType: 'KMS.AccessDeniedException', kmsStatus: 400 },
  sns: { type: 'AuthorizationError', status: 403, kmsType: 'KMSAccessDenied', kmsStatus: 400 },
  s3: { type: 'AccessDenied', status: 403, kmsType: 'AccessDenied', kmsStatus: 403 },
  firehose: { type: 'AccessDeniedException', status: 400, kmsType: 'KMSAccessDeniedException', kmsStatus: 400 },
  lambda: { type: 'AccessDeniedException', status: 403, kmsType: 'KMSAccessDeniedException', kmsStatus: 502 },
  kms: { type: 'AccessDeniedException', status: 400, kmsType: 'AccessDeniedException', kmsStatus: 400 },
  cloudwatch: { type: 'AccessDenied', status: 403, kmsType: 'AccessDenied', kmsStatus: 403 },
  logs: { type: 'AccessDeniedException', status: 400, kmsType: 'AccessDeniedException', kmsStatus: 400 },
  scheduler: { type: 'AccessDeniedException', status: 403, kmsType: 'AccessDeniedException', kmsStatus: 403 },
};

/** The SDK's error names for the rejections above: the SQS client names `KMS.AccessDeniedException` `KmsAccessDenied`. */
const DENIED_NAMES = new Set([...Object.values(DENIED).flatMap((d) => [d.type, d.kmsType]), 'KmsAccessDenied']);

/** Whether an error (by its name, as the wire or the SDK names it) is a call the gate denied. */
export function isAccessDeniedError(name: string): boolean {
  return DENIED_NAMES.has(name);
}

/** The rejection for a request whose access key is missing or unknown, as each service words it. */
export function authenticationFailure(service: AwsService, accessKeyId: string | undefined): Reject {
  if (accessKeyId === undefined) {
    if (service === 's3') return { kind: 'reject', status: 403, errorType: 'AccessDenied', message: 'Access Denied' };
    const json = service === 'kinesis' || service === 'dynamodb';
    return { kind: 'reject', status: json ? 400 : 403, errorType: json ? 'MissingAuthenticationTokenException' : 'MissingAuthenticationToken', message: 'Missing Authentication Token' };
  }
  if (service === 's3') return { kind: 'reject', status: 403, errorType: 'InvalidAccessKeyId', message: 'The AWS Access Key Id you provided does not exist in our records.' };
  const json = service === 'kinesis' || service === 'dynamodb';
  return {
    kind: 'reject',
    status: json ? 400 : 403,
    errorType: json ? 'UnrecognizedClientException' : 'InvalidClientTokenId',
    message: 'The security token included in the request is invalid.',
  };
}

/** The ARN resource-based policies are attached to: a bucket for its objects, a function for its versions and aliases. */
function policyHolder(resource: string): string {
  if (resource.startsWith('arn:aws:s3:::')) return resource.split('/')[0];
  const fn = /^(arn:aws:lambda:[^:]*:[^:]*:function:[^:]+)(:.*)?$/.exec(resource);
  return fn ? fn[1] : resource;
}

export class IamGate implements RequestGate {
  readonly name = 'iam';

  constructor(private readonly model: IamModel, private readonly onDenied?: (denial: AccessDenial) => void) {}

  private policiesFor(call: AwsCall, resource: string): ApplicablePolicies {
    const identity: readonly Policy[] = call.principal.kind === 'role' ? this.model.roles.get(call.principal.arn)?.policies ?? [] : [];
    const resourcePolicies = this.model.resourcePolicies.get(policyHolder(resource)) ?? [];
    if (call.service !== 'kms') return { identity, resource: resourcePolicies };
    return { identity, resource: [], keyPolicy: this.model.keyPolicies.get(resource) ?? null };
  }

  /** Decides a call: every resource it names must be allowed. */
  authorize(call: AwsCall): GateVerdict {
    for (const resource of call.resources) {
      const req: EvalRequest = { principal: call.principal, action: call.action, resource, context: call.context };
      const decision: Decision = evaluate(req, this.policiesFor(call, resource));
      if (!decision.allowed) return this.reject(req, decision, call.via ?? call.service, call.via !== undefined);
    }
    return { kind: 'allow' };
  }

  before(call: AwsCall): GateVerdict {
    return this.authorize(call);
  }

  private reject(req: EvalRequest, decision: Extract<Decision, { allowed: false }>, service: AwsService, kms: boolean): Reject {
    const shape = DENIED[service];
    // SNS spells its actions `SNS:Publish` in the message; S3 quotes the resource.
    const actionAs = !kms && service === 'sns' ? `SNS:${req.action.slice(4)}` : undefined;
    const message = deniedMessage(req, decision, { actionAs, quoteResource: !kms && service === 's3' });
    const errorType = kms ? shape.kmsType : shape.type;
    this.onDenied?.({ principal: sessionArn(req.principal), action: req.action, resource: req.resource, errorType, message });
    return { kind: 'reject', status: kms ? shape.kmsStatus : shape.status, errorType, message };
  }
}
