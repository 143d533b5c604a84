import { describe, expect, it } from 'vitest';
import { isRedisRedirection, isRedisRedirectionBytes } from '../../src/model/redis-redirection';

const bytes = (text: string) => {
  const buf = Buffer.from(`xx${text}yy`, 'utf8');
  return isRedisRedirectionBytes(buf, 2, buf.length - 2);
};

describe('isRedisRedirection', () => {
  it('tells the replies a cluster redirects with, as a client reports them and as the preload does', () => {
    for (const [text, redirected] of [
      ['MOVED 3999 127.0.0.1:7001', true],
      ['ASK 3999 127.0.0.1:7001', true],
      ['TRYAGAIN Multiple keys request during rehashing of slot', true],
      ['CLUSTERDOWN The cluster is down', true],
      ['ErrorReply MOVED', true],
      ['ReplyError ASK', true],
      ['MOVED', true],
      ['MOVEDX 1', false],
      ['moved 1 a:1', false],
      ['ASKING', false],
      ['failed', false],
      ['ReplyError WRONGTYPE', false],
      ['WRONGTYPE Operation against a key holding the wrong kind of value', false],
      [`${'C'.repeat(64)} ASK`, true],
      [`${'C'.repeat(65)} ASK`, false],
      ['Error: MOVED 1 a:1', true],
      ['Error: the order MOVED', false],
      ['', false],
    ] as const) {
      expect([text, isRedisRedirection(text)]).toEqual([text, redirected]);
      // The decoder's byte form agrees.
      expect([text, bytes(text)]).toEqual([text, redirected]);
    }
  });
});
