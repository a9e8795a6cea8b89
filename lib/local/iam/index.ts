/**
 * IAM enforcement for a local run: the gate configuration of a stack (policies + principals) for the emulator host,
 * and the in-process authorizer for the calls the orchestrator makes itself (Lambda invoke by S3 notifications and
 * EventBridge Scheduler, sts:AssumeRole by a service).
 */
import type { IamGateConfig } from '../gates';
import { iamOf } from '../gates';
import { IamGate, type AccessDenial } from './gate';
import { collectIam } from './policies';
import { principalsOf, type PrincipalRegistry } from './principals';
import { PhoenixError } from '../../core/errors';
import type { MappingAccessCall, MappingAccessVerdict } from '../esm/types';
import type { AwsCall, CallPrincipal, GateVerdict } from '../gates/types';
import type { LocalStack } from '../template/stack';

export type { AccessDenial } from './gate';
export { isAccessDeniedError } from './gate';
export { OPERATOR_ACCESS_KEY_ID } from './principals';

/** The IAM gate configuration of a stack; throws IamTemplateError / IamPolicyError for what it cannot evaluate. */
export function iamGateConfig(stack: LocalStack): IamGateConfig {
  const config: IamGateConfig = { template: collectIam(stack), principals: principalsOf(stack) };
  iamOf(config); // parse every policy now: a policy the evaluator cannot read fails the run before anything starts
  return config;
}

export interface InProcessAuthorizer {
  readonly registry: PrincipalRegistry;
  /** Decides a call the orchestrator makes on a principal's behalf; a denial is also reported to `onDenied`. */
  authorize(call: AwsCall): GateVerdict;
}

export function inProcessAuthorizer(config: IamGateConfig, onDenied?: (denial: AccessDenial) => void): InProcessAuthorizer {
  const { model, registry } = iamOf(config);
  const gate = new IamGate(model, onDenied);
  return { registry, authorize: (call) => gate.authorize(call) };
}

/**
 * The event source mapping's set-up checks of `functionName`'s execution role (PollerOptions.authorize); none when
 * IAM is off. A denial is reported like any other.
 */
export function mappingAuthorizer(
  authz: InProcessAuthorizer | undefined, functionName: string,
): { authorize?: (c: MappingAccessCall) => MappingAccessVerdict } {
  if (!authz) return {};
  const principal = authz.registry.principalOf(authz.registry.keyOfFunction(functionName));
  if (!principal) throw new PhoenixError('IAM_PRINCIPAL', `no principal for function ${functionName}`);
  return {
    authorize: ({ action, resource }) => {
      const verdict = authz.authorize({ service: 'kinesis', operation: action.split(':')[1], action, resources: [resource], principal, requestBytes: 0 });
      return verdict.kind === 'reject' ? { allowed: false, message: verdict.message } : { allowed: true };
    },
  };
}

/** Lambda invoking a function on behalf of `principal` (a service with its source, or a role). */
export function invokeCall(functionArn: string, principal: CallPrincipal): AwsCall {
  return { service: 'lambda', operation: 'Invoke', action: 'lambda:InvokeFunction', resources: [functionArn], principal, requestBytes: 0 };
}

/** A service assuming a role (EventBridge Scheduler its target's RoleArn): the role's trust policy decides. */
export function assumeRoleCall(service: 'scheduler', roleArn: string, principal: CallPrincipal): AwsCall {
  return { service, operation: 'AssumeRole', action: 'sts:AssumeRole', resources: [roleArn], principal, requestBytes: 0 };
}

/** The run report's accessDenied: how many calls IAM denied, by `<principal> <action> <resource>`. */
export interface AccessDeniedSummary {
  count: number;
  byPrincipalActionResource: Record<string, number>;
}

export function summarizeDenials(denials: readonly AccessDenial[]): AccessDeniedSummary {
  const byPrincipalActionResource: Record<string, number> = {};
  for (const d of denials) {
    const key = `${d.principal} ${d.action} ${d.resource}`;
    byPrincipalActionResource[key] = (byPrincipalActionResource[key] ?? 0) + 1;
  }
  return { count: denials.length, byPrincipalActionResource };
}
