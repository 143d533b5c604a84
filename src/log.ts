import pino, { type Logger } from 'pino';

export type { Logger };

/** JSON lines on stdout (pino); the level comes from `log.level` in the config. */
export function createLogger(level: string, name = 'spanstat'): Logger {
  return pino({ name, level, base: { pid: process.pid } }, stdoutForLogs());
}

let epipeIgnored = false;

/**
 * process.stdout, whose reader may have gone (`spanstat sidecar | head -1`): pino's default destination,
 * sonic-boom 4.2, retried a write that failed with EPIPE every 100 ms for ever, so the sidecar never
 * exited, SIGTERM or not. Here the lines a closed pipe refuses are dropped and the sidecar goes on (and
 * stops) as without its log. Writes to a pipe or file are synchronous on Linux, and the sidecar logs
 * a few lines a minute at most, so sonic-boom's speed is not needed.
 */
function stdoutForLogs(): NodeJS.WriteStream {
  if (!epipeIgnored) {
    epipeIgnored = true;
    process.stdout.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EPIPE') throw err;
    });
  }
  return process.stdout;
}
