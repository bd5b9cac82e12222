/**
 * Ctrl-C for a long-running command: the first SIGINT (or SIGTERM) aborts the returned signal, so the command
 * stops at its next step and cleans up; a second one exits at once (130). Only the CLI handles signals.
 */
export interface Interruptible {
  readonly signal: AbortSignal;
  /** Stop listening (always call it, in a finally). */
  dispose(): void;
}

export function interruptible(onFirst?: () => void): Interruptible {
  const controller = new AbortController();
  const handler = (): void => {
    if (controller.signal.aborted) process.exit(130);
    onFirst?.();
    controller.abort();
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return {
    signal: controller.signal,
    dispose() {
      process.off('SIGINT', handler);
      process.off('SIGTERM', handler);
    },
  };
}
