/**
 * The service-limit gate's view of the gate types (types.ts): its verdicts include `partial` (failed entries of a
 * batch) and its calls carry payload sizes.
 */
import type { AwsCall, GateVerdict } from './types';

export type { EntryFailure, PayloadSizes } from './types';

export type LimitsVerdict = GateVerdict;

export type LimitsCall = AwsCall;
