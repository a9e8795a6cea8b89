/** The `none` sink (PHX_SINK_KIND=none): validation and dead-lettering only; every valid record counts as written. */
import type { SinkPort, WriteResult } from './types';

export class NoneSink implements SinkPort {
  async write(): Promise<WriteResult> {
    return 'written';
  }
}
