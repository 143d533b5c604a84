import pino, { type Logger } from 'pino';

export type { Logger };

/** JSON lines on stdout (pino); the level comes from `log.level` in the config. */
export function createLogger(level: string, name = 'spanstat'): Logger {
  return pino({ name, level, base: { pid: process.pid } });
}
