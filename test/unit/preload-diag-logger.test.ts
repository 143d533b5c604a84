import { describe, expect, it } from 'vitest';
import { createRateLimitedLogger, formatMessage } from '../../src/preload/diag-logger';

function harness(intervalMs?: number) {
  let now = 0;
  const lines: string[] = [];
  const logger = createRateLimitedLogger({ write: (line) => lines.push(line), intervalMs, now: () => now });
  return { logger, lines, advance: (ms: number) => (now += ms) };
}

describe('the preload diagnostics logger', () => {
  it('prints at most one line per minute, whatever the level', () => {
    const { logger, lines, advance } = harness();
    logger.warn('first');
    logger.error('second');
    advance(59_999);
    logger.warn('third');
    expect(lines).toEqual(['spanstat preload warn: first\n']);
  });

  it('prints again after a minute and says how many lines it held back', () => {
    const { logger, lines, advance } = harness();
    logger.warn('first');
    logger.warn('second');
    logger.warn('third');
    advance(60_000);
    logger.warn('fourth');
    expect(lines[1]).toBe('spanstat preload warn: fourth (2 more messages suppressed)\n');
  });

  it('prints everything when the interval is zero', () => {
    const { logger, lines } = harness(0);
    logger.debug('a');
    logger.debug('b');
    expect(lines).toHaveLength(2);
  });

  it('prints error messages and codes but not objects passed along', () => {
    const err = Object.assign(new Error('connect refused'), { code: 'ECONNREFUSED' });
    expect(formatMessage('export failed', [err, { attributes: { 'db.query.text': 'secret' } }])).toBe(
      'export failed connect refused (ECONNREFUSED)',
    );
  });

  it('keeps each message on one line', () => {
    expect(formatMessage('a\nb', ['c\r\nd'])).toBe('a b c d');
  });

  it('survives a sink that throws', () => {
    const logger = createRateLimitedLogger({
      write: () => {
        throw new Error('EPIPE');
      },
    });
    expect(() => logger.warn('x')).not.toThrow();
  });
});
