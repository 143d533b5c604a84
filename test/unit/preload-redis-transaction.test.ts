import type { Span, SpanStatus } from '@opentelemetry/api';
import { describe, expect, it } from 'vitest';
import { MAX_QUEUED_COMMANDS, OpenTransaction } from '../../src/preload/redis-transaction';

/** A span that records what the transaction did to it. */
function fakeSpan() {
  const record = { ended: 0, status: undefined as SpanStatus | undefined, marked: [] as unknown[] };
  const span = {
    end: () => {
      record.ended++;
    },
    setStatus: (status: SpanStatus) => {
      record.status = status;
      return span;
    },
  } as unknown as Span;
  return { span, record };
}

const markInto = (span: Span, _command: unknown, reply: unknown) => {
  (span as unknown as { reply?: unknown }).reply = reply;
};

describe('commands queued in a Redis transaction', () => {
  it('ends each queued span once with its own entry of EXEC’s reply, an error entry as an error status', () => {
    const tx = new OpenTransaction();
    const a = fakeSpan();
    const b = fakeSpan();
    tx.add(a.span, { name: 'get', args: ['k:1'] });
    tx.add(b.span, { name: 'hget', args: ['k:2', 'f'] });
    tx.settle(
      [null, new Error('WRONGTYPE Operation against a key holding the wrong kind of value')],
      markInto,
    );
    expect(a.record.ended).toBe(1);
    expect((a.span as unknown as { reply?: unknown }).reply).toBeNull();
    expect(a.record.status).toBeUndefined();
    expect(b.record.ended).toBe(1);
    expect(b.record.status?.message).toBe('Error WRONGTYPE');
    expect(tx.queued).toHaveLength(0);
  });

  it('skips a command that ended at queue time and ends the rest without outcome when EXEC’s reply does not match', () => {
    const tx = new OpenTransaction();
    const early = fakeSpan();
    const late = fakeSpan();
    tx.add(early.span, { name: 'get', args: ['a'] }).ended = true;
    tx.add(late.span, { name: 'get', args: ['b'] });
    tx.settle(null, markInto); // a WATCHed key changed: nothing ran
    expect(early.record.ended).toBe(0);
    expect(late.record.ended).toBe(1);
    expect((late.span as unknown as { reply?: unknown }).reply).toBeUndefined();
    expect(late.record.status).toBeUndefined();
  });

  it('marks every open span with the error when the transaction is abandoned with one', () => {
    const tx = new OpenTransaction();
    const a = fakeSpan();
    tx.add(a.span, { name: 'set', args: ['a', 'v'] });
    tx.abandon(new Error('EXECABORT Transaction discarded because of previous errors.'));
    expect(a.record.ended).toBe(1);
    expect(a.record.status?.message).toBe('Error EXECABORT');
  });

  it('holds at most MAX_QUEUED_COMMANDS spans open: past that the older ones end without outcome', () => {
    const tx = new OpenTransaction();
    const spans = Array.from({ length: MAX_QUEUED_COMMANDS + 1 }, fakeSpan);
    for (const { span } of spans) tx.add(span, { name: 'get', args: ['k'] });
    expect(spans.slice(0, MAX_QUEUED_COMMANDS).every((s) => s.record.ended === 1)).toBe(true);
    expect(spans[MAX_QUEUED_COMMANDS].record.ended).toBe(0);
    expect(tx.queued).toHaveLength(1);
  });
});
