/**
 * Flushes queued spans when the process is about to end, without changing how it ends:
 * - SIGTERM / SIGINT: flush (at most `timeoutMs`), then, if the app registered no handler of its
 *   own for that signal, re-raise it with the default disposition so the process dies by the
 *   signal exactly as it would have without the preload. An app with its own handler keeps
 *   full control: the preload only flushes.
 * - `exit` (the loop ran dry, or `process.exit()`): what is still queued goes synchronously
 *   (exit-flush.ts), at most `timeoutMs`. Not from `beforeExit`: asynchronous work there makes Node
 *   emit `beforeExit` again, and the app's own listeners would run twice.
 */

export interface Flushable {
  flush(): Promise<void>;
  /** Sends what is queued before returning, blocking at most `timeoutMs`. */
  flushOnExit(timeoutMs: number): void;
}

export interface ExitHookOptions {
  timeoutMs: number;
  signals?: readonly NodeJS.Signals[];
  proc?: NodeJS.Process;
}

/** Installs the hooks; returns a function that removes them. */
export function installExitHooks(target: Flushable, options: ExitHookOptions): () => void {
  const proc = options.proc ?? process;
  const signals = options.signals ?? ['SIGTERM', 'SIGINT'];
  let flushing = false;
  // After a signal's flush ran out of time, the exit does not wait for the sidecar again.
  let gaveUp = false;

  const boundedFlush = (): Promise<boolean> => {
    let timer: NodeJS.Timeout | undefined;
    // This timer is ref'd on purpose: it keeps the process alive for the flush, no longer.
    const timeout = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), options.timeoutMs);
    });
    const flushed = target.flush().then(
      () => true,
      () => true,
    );
    return Promise.race([flushed, timeout]).finally(() => clearTimeout(timer));
  };

  const onExit = () => {
    if (gaveUp) return;
    try {
      target.flushOnExit(options.timeoutMs);
    } catch {
      // Never in the way of the exit.
    }
  };

  const handlers = new Map<NodeJS.Signals, () => void>();
  for (const signal of signals) {
    const handler = () => {
      const appHandles = proc.listeners(signal).some((listener) => listener !== handler);
      if (flushing) {
        // A second signal while flushing: stop waiting.
        if (!appHandles) reraise(proc, signal, handler);
        return;
      }
      flushing = true;
      void boundedFlush().then((completed) => {
        flushing = false;
        if (!completed) gaveUp = true;
        if (!appHandles) reraise(proc, signal, handler);
      });
    };
    handlers.set(signal, handler);
    proc.on(signal, handler);
  }
  proc.on('exit', onExit);

  return () => {
    proc.removeListener('exit', onExit);
    for (const [signal, handler] of handlers) proc.removeListener(signal, handler);
  };
}

function reraise(proc: NodeJS.Process, signal: NodeJS.Signals, handler: () => void): void {
  proc.removeListener(signal, handler);
  // Another listener added meanwhile takes over; otherwise the default action ends the process.
  proc.kill(proc.pid, signal);
}
