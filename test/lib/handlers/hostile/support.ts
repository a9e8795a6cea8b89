/** Shared imports of the hostile-record tests. */
import { REASON_CLASSES } from '../../../../constructs/contract';

export { decodeDlqMessage } from '../../../../lib/core';
export const REASON_CLASSES_LIST: readonly string[] = REASON_CLASSES;
