/**
 * Everything the local environment starts is registered here and stopped by the code that started it:
 * - cleanups run in reverse order of registration (`stopAll`), each bounded in time;
 * - child pids are tracked so that, if the process exits without the cleanups having run (a second Ctrl-C,
 *   an uncaught error), a synchronous `exit` handler still SIGKILLs them. Negative pids are process groups.
 */
export class Lifecycle {
  private readonly cleanups: Array<{ name: string; fn: () => Promise<void> | void }> = [];
  private readonly pids = new Set<number>();
  private stopping: Promise<void> | undefined;
  private readonly onExit: () => void;

  constructor() {
    this.onExit = () => this.killTrackedSync();
    process.on('exit', this.onExit);
  }

  /** Registers a cleanup; returns a function that runs it now (once) and unregisters it. */
  add(name: string, fn: () => Promise<void> | void): () => Promise<void> {
    const entry = { name, fn };
    this.cleanups.push(entry);
    let ran = false;
    return async () => {
      if (ran) return;
      ran = true;
      const i = this.cleanups.indexOf(entry);
      if (i >= 0) this.cleanups.splice(i, 1);
      await fn();
    };
  }

  /** Tracks a child pid (or -pgid); returns the function to call when it exited. */
  track(pid: number): () => void {
    this.pids.add(pid);
    return () => { this.pids.delete(pid); };
  }

  get trackedPids(): number[] {
    return [...this.pids];
  }

  /** Runs every cleanup (newest first), each bounded by `timeoutMs`; errors are collected, not thrown. */
  stopAll(timeoutMs = 10_000): Promise<void> {
    this.stopping ??= (async () => {
      const errors: string[] = [];
      while (this.cleanups.length > 0) {
        const { name, fn } = this.cleanups.pop()!;
        let timer: NodeJS.Timeout | undefined;
        try {
          await Promise.race([
            Promise.resolve().then(fn),
            new Promise<void>((_, reject) => { timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms`)), timeoutMs); }),
          ]);
        } catch (e) {
          errors.push(`${name}: ${(e as Error).message}`);
        } finally {
          clearTimeout(timer);
        }
      }
      this.killTrackedSync();
      process.off('exit', this.onExit);
      if (errors.length > 0) process.stderr.write(`phoenix: cleanup problems: ${errors.join('; ')}\n`);
    })();
    return this.stopping;
  }

  /** SIGKILLs every tracked pid that is still registered (synchronous: usable in an `exit` handler). */
  killTrackedSync(): void {
    for (const pid of this.pids) {
      try { process.kill(pid, 'SIGKILL'); } catch { /* already gone */ }
    }
    this.pids.clear();
  }
}

/** Resolves after `ms` (at once when `ms` <= 0), or early when `signal` aborts; leaves no listener behind either way. */
export function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted || ms <= 0) return Promise.resolve();
  return new Promise((resolve) => {
    const onAbort = (): void => { clearTimeout(timer); resolve(); };
    const timer = setTimeout(() => { signal?.removeEventListener('abort', onAbort); resolve(); }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
