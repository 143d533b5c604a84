import { type Span, SpanStatusCode } from '@opentelemetry/api';
import { ReplyError as IoredisReplyError } from 'ioredis';
import { DatabaseError } from 'pg';
import { describe, expect, it } from 'vitest';
import { endSpan, errorStatusMessage } from '../../src/preload/end-span';

/** ioredis's own reply error class (redis-errors'), which its typings leave untyped. */
const ReplyError = IoredisReplyError as new (message: string) => Error;

function pgError(message: string, code: string): DatabaseError {
  const err = new DatabaseError(message, message.length, 'error');
  err.code = code;
  return err;
}

/** A span that keeps the status it is given. */
function recordingSpan(): { span: Span; status: () => { code: number; message?: string } | undefined } {
  let status: { code: number; message?: string } | undefined;
  const span = {
    setStatus(s: { code: number; message?: string }) {
      status = s;
      return span;
    },
    end() {},
  } as unknown as Span;
  return { span, status: () => status };
}

describe('the error status of a preload client span', () => {
  it('never carries a pg error message, which quotes parameter values and RAISE text', () => {
    // pg names its DatabaseError after the protocol message, 'error'.
    const cases: Array<[DatabaseError, string]> = [
      [pgError('invalid input syntax for type integer: "abc123SECRET_P1"', '22P02'), 'error 22P02'],
      [pgError('SECRET_RAISE_3', 'P0001'), 'error P0001'],
      [pgError('password authentication failed for user "SECRET_USER"', '28P01'), 'error 28P01'],
    ];
    for (const [err, expected] of cases) {
      const { span, status } = recordingSpan();
      endSpan(span, err, 'query failed');
      expect(status()).toEqual({ code: SpanStatusCode.ERROR, message: expected });
      expect(status()?.message).not.toMatch(/SECRET/);
    }
  });

  it('keeps a Redis reply error to its prefix, never the arguments it quotes', () => {
    const quoting = new ReplyError("ERR unknown command 'nosuchcmd', with args beginning with: 'SECRET_ARG'");
    expect(errorStatusMessage(quoting, 'command failed')).toBe('ReplyError ERR');
    const lua = new ReplyError('ERR user_script:1: SECRET_LUA script: abc, on @user_script:1.');
    expect(errorStatusMessage(lua, 'command failed')).toBe('ReplyError ERR');
    expect(errorStatusMessage(new ReplyError('WRONGTYPE Operation against a key'), 'x')).toBe(
      'ReplyError WRONGTYPE',
    );
  });

  it('says the class alone when the error has no code, and the fallback for a non-Error', () => {
    expect(errorStatusMessage(new Error('Connection to SECRET_HOST is closed.'), 'connect failed')).toBe(
      'Error',
    );
    expect(errorStatusMessage('SECRET_STRING', 'query failed')).toBe('query failed');
    const odd = new Error('x');
    odd.name = 'SECRET with spaces: "value"';
    expect(errorStatusMessage(odd, 'query failed')).toBe('Error');
    const network = Object.assign(new Error('connect ECONNREFUSED 10.0.0.5:5432'), { code: 'ECONNREFUSED' });
    expect(errorStatusMessage(network, 'connect failed')).toBe('Error ECONNREFUSED');
  });
});
