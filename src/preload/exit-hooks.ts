/**
 * Flushes queued spans when the process is about to end, without changing how it ends:
 * - `beforeExit` (the event loop ran dry): flush, holding the loop open at most `timeoutMs`;
 * - SIGTERM / SIGINT: flush (at most `timeoutMs`), then, if the app registered no handler of its
 *   own for that signal, re-raise it with the default disposition so the process dies by the
 *   signal exactly as it would have without the preload. An app with its own handler keeps
 *   full control: the preload only flushes.
 * `process.exit()` cannot be waited for; spans still queued then are lost.
 */

export interface Flushable {
  flush(): Promise<void>;
  hasPending(): boolean;
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
  // After a flush that ran out of time at beforeExit, do not try again: the loop would never end.
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

  const onBeforeExit = () => {
    if (flushing || gaveUp || !target.hasPending()) return;
    flushing = true;
    void boundedFlush().then((completed) => {
      flushing = false;
      gaveUp = !completed;
    });
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
      void boundedFlush().then(() => {
        flushing = false;
        if (!appHandles) reraise(proc, signal, handler);
      });
    };
    handlers.set(signal, handler);
    proc.on(signal, handler);
  }
  proc.on('beforeExit', onBeforeExit);

  return () => {
    proc.removeListener('beforeExit', onBeforeExit);
    for (const [signal, handler] of handlers) proc.removeListener(signal, handler);
  };
}

function reraise(proc: NodeJS.Process, signal: NodeJS.Signals, handler: () => void): void {
  proc.removeListener(signal, handler);
  // Another listener added meanwhile takes over; otherwise the default action ends the process.
  proc.kill(proc.pid, signal);
}
