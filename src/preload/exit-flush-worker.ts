/**
 * Worker thread for the preload's last export (exit-flush.ts): POSTs one OTLP body with node:http(s),
 * then stores the answer's status (or -1 on a network error) in the shared flag and wakes the main
 * thread, which waits in `Atomics.wait` inside its `exit` listener.
 */
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { workerData } from 'node:worker_threads';
import { gzipBodySync } from '../gzip-body';
import type { ExitFlushRequest } from './exit-flush';

const job = workerData as ExitFlushRequest;
const flag = new Int32Array(job.flag);

function settle(status: number): void {
  if (Atomics.load(flag, 0) !== 0) return;
  Atomics.store(flag, 0, status);
  Atomics.notify(flag, 0);
}

try {
  const url = new URL(job.url);
  const body = job.gzip ? gzipBodySync(job.body) : job.body;
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  const req = send(
    url,
    { method: 'POST', headers: { ...job.headers, 'content-length': String(body.length) }, ...job.tls },
    (res) => {
      res.resume();
      res.on('end', () => settle(res.statusCode ?? -1));
      res.on('error', () => settle(-1));
    },
  );
  req.on('error', () => settle(-1));
  req.end(body);
} catch {
  settle(-1);
}
