/**
 * The gate chain in front of the emulators: a request is described as AWS calls (the API call and the KMS calls it
 * implies), its signer identified by access key, then every call goes through every gate in order. The first
 * rejection answers the request in the service's error shape; delays add up (each gate models time of its own);
 * failed entries of a batch (partial verdicts) are collected for the host to leave out and report (./partial.ts).
 */
import { rejectionReply, type HttpReply } from './respond';
import type { AwsCall, CallPrincipal, EntryFailure, GateVerdict, RequestGate } from './types';
import type { HttpRequestInfo, RequestDescription } from '../iam/requests';

export type EmulatorKind = 'kinesis' | 'dynamodb' | 'fauxqs';

export type ChainResult =
  /** `failures`: entries of a batch that fail while the others go on (by index, request order; empty when none). */
  | { readonly kind: 'forward'; readonly delayMs: number; readonly calls: readonly AwsCall[]; readonly failures: readonly EntryFailure[] }
  /** `calls`: the request's calls when a gate rejected one of them (empty when the signer was not recognized). */
  | { readonly kind: 'reject'; readonly reply: HttpReply; readonly calls: readonly AwsCall[]; readonly errorType: string };

export interface GateChainOptions {
  readonly describe: (emulator: EmulatorKind, req: HttpRequestInfo) => RequestDescription;
  /** Access key id -> principal, or a rejection (missing or unknown key). */
  readonly authenticate: (description: RequestDescription) => CallPrincipal | Extract<GateVerdict, { kind: 'reject' }>;
  readonly gates: readonly RequestGate[];
}

export class GateChain {
  constructor(private readonly options: GateChainOptions) {}

  check(emulator: EmulatorKind, req: HttpRequestInfo, nowMs: number): ChainResult {
    const description = this.options.describe(emulator, req);
    const who = this.options.authenticate(description);
    if (who.kind === 'reject') return { kind: 'reject', reply: rejectionReply(description.protocol, description.service, who), calls: [], errorType: who.errorType };
    const calls: AwsCall[] = description.calls.map((c) => ({ ...c, principal: who }));
    let delayMs = 0;
    const failures = new Map<number, EntryFailure>();
    for (const call of calls) {
      for (const gate of this.options.gates) {
        const verdict = gate.before(call, nowMs);
        if (verdict.kind === 'reject') {
          return { kind: 'reject', reply: rejectionReply(description.protocol, description.service, verdict), calls, errorType: verdict.errorType };
        }
        if (verdict.kind === 'delay') delayMs += verdict.ms;
        if (verdict.kind === 'partial') for (const f of verdict.failures) if (!failures.has(f.index)) failures.set(f.index, f);
      }
    }
    return { kind: 'forward', delayMs, calls, failures: [...failures.values()].sort((a, b) => a.index - b.index) };
  }

  /** Tells the gates the size of the response of a forwarded request (the API call only, not its implied KMS calls). */
  after(calls: readonly AwsCall[], responseBytes: number, nowMs: number): void {
    if (calls.length === 0) return;
    for (const gate of this.options.gates) gate.after?.(calls[0], responseBytes, nowMs);
  }
}
