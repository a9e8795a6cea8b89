/** The clock the replay parts wait and time on: the real one unless a test injects its own. */
import { setTimeout as delay } from 'node:timers/promises';

/** Options of a replay part that waits or reads the time. */
export interface ReplayClock {
  /** Waits `ms` milliseconds. Default: a timer. */
  readonly sleep?: (ms: number) => Promise<void>;
  /** Milliseconds since the epoch. Default: `Date.now`. */
  readonly now?: () => number;
}

/** The clock of `opts`, defaults filled in. */
export function clockOf(opts: ReplayClock): Required<ReplayClock> {
  return { sleep: opts.sleep ?? delay, now: opts.now ?? Date.now };
}
