/**
 * The preload's last export, made synchronously in the process's `exit` event: `process.exit()` ends
 * the process before any asynchronous work can run, and a flush from `beforeExit` makes Node empty
 * the loop again and emit `beforeExit` a second time, running the app's own listeners twice. So
 * what is still queued goes as one body to a worker thread (exit-flush-worker.ts), which POSTs it
 * while this thread waits in `Atomics.wait` for its answer, `timeoutMs` at most.
 */
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { ExportTls } from './export-tls';

export interface ExitFlushRequest {
  url: string;
  headers: Record<string, string>;
  body: Uint8Array;
  gzip: boolean;
  tls: ExportTls | undefined;
  /** An Int32Array's buffer: 0 while waiting, then the HTTP status, or -1 for a network error. */
  flag: SharedArrayBuffer;
}

export type ExitFlushOutcome = { status: number } | { timedOut: true } | { error: string };

/** Blocks up to `timeoutMs` while a worker thread POSTs `request`; never throws. */
export function exportOnExit(request: Omit<ExitFlushRequest, 'flag'>, timeoutMs: number): ExitFlushOutcome {
  try {
    const flag = new SharedArrayBuffer(4);
    const status = new Int32Array(flag);
    const worker = new Worker(join(__dirname, 'exit-flush-worker.js'), {
      workerData: { ...request, flag } satisfies ExitFlushRequest,
      // No preload in the worker, whether it comes from --require or NODE_OPTIONS.
      execArgv: [],
      env: { ...process.env, OTEL_SDK_DISABLED: 'true' },
      stdout: true,
      stderr: true,
    });
    worker.unref();
    if (Atomics.wait(status, 0, 0, timeoutMs) === 'timed-out') return { timedOut: true };
    return { status: Atomics.load(status, 0) };
  } catch (err) {
    return { error: err instanceof Error ? err.message : String(err) };
  }
}
