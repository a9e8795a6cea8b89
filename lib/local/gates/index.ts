/**
 * The emulator host's gate chain, built from its configuration: the IAM gate when an IAM configuration is given
 * (the template's policies and the run's principals), else every signed call acts as the operator.
 */
import { readFileSync } from 'node:fs';
import { GateChain } from './chain';
import type { CallPrincipal, RequestGate } from './types';
import { authenticationFailure, IamGate, type AccessDenial } from '../iam/gate';
import { buildIamModel, type IamModel, type IamTemplateData } from '../iam/policies';
import { operatorRoleArn, PrincipalRegistry, withOperatorRole, type PrincipalEntry } from '../iam/principals';
import { describeRequest, type RequestContextInfo } from '../iam/requests';

export { GateChain, type ChainResult, type EmulatorKind } from './chain';
export type { HttpReply } from './respond';

/** What the IAM gate needs: the template's IAM facts and the principals with their access keys. */
export interface IamGateConfig {
  readonly template: IamTemplateData;
  readonly principals: readonly PrincipalEntry[];
}

export interface HostGateOptions {
  readonly region: string;
  readonly account: string;
  /** IAM enforcement; undefined = off. */
  readonly iam?: IamGateConfig;
  readonly onDenied?: (denial: AccessDenial) => void;
  readonly decodeIterator?: RequestContextInfo['decodeIterator'];
  /** Further gates (service limits, latency) after IAM. */
  readonly gates?: readonly RequestGate[];
}

/** Reads an IAM gate configuration written by the parent (JSON). */
export function readIamGateConfig(file: string): IamGateConfig {
  return JSON.parse(readFileSync(file, 'utf8')) as IamGateConfig;
}

/** The IAM model and principal registry of a configuration (the operator role added). */
export function iamOf(config: IamGateConfig): { model: IamModel; registry: PrincipalRegistry } {
  return { model: buildIamModel(withOperatorRole(config.template)), registry: new PrincipalRegistry(config.principals) };
}

export function createHostGateChain(opts: HostGateOptions): GateChain {
  const iam = opts.iam ? iamOf(opts.iam) : undefined;
  const ctx: RequestContextInfo = {
    region: opts.region,
    account: opts.account,
    encryption: iam?.model.encryption ?? new Map(),
    decodeIterator: opts.decodeIterator,
  };
  const operator: CallPrincipal = { kind: 'role', arn: operatorRoleArn(opts.account), session: 'phoenix-local' };
  return new GateChain({
    describe: (emulator, req) => describeRequest(emulator, req, ctx),
    authenticate: (d) => {
      if (!iam) return operator;
      const principal = d.accessKeyId === undefined ? undefined : iam.registry.principalOf(d.accessKeyId);
      return principal ?? authenticationFailure(d.service, d.accessKeyId);
    },
    gates: [...(iam ? [new IamGate(iam.model, opts.onDenied)] : []), ...(opts.gates ?? [])],
  });
}
