/** IPC messages between a local function (parent) and one of its execution environments (child process). */

export type ParentToRunner = {
  type: 'invoke';
  requestId: string;
  /** The event, serialized once by the parent (JSON). */
  eventJson: string;
  /** Epoch ms when the invocation times out (the parent enforces it; the context reports it). */
  deadlineMs: number;
  /** Fault injection: the environment kills itself this many ms into the invocation (or before replying). */
  crashAfterMs?: number;
};

export type RunnerToParent =
  | { type: 'ready'; initMs: number }
  | { type: 'init-error'; errorType: string; errorMessage: string }
  | { type: 'result'; requestId: string; ok: true; payloadJson: string }
  | { type: 'result'; requestId: string; ok: false; errorType: string; errorMessage: string };
