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
import type { AwsCall, GateVerdict } from '../gates/types';
import type { LocalStack } from '../template/stack';

export type { AccessDenial } from './gate';
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
