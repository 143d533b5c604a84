import { createContextKey, INVALID_SPAN_CONTEXT, ROOT_CONTEXT, trace } from '@opentelemetry/api';
import { describe, expect, it } from 'vitest';
import { ContextFrame, MAX_DEPTH, setSpan, withValue } from '../../src/preload/context-frame';

const A = createContextKey('test a');
const B = createContextKey('test b');

describe('context frames', () => {
  it('read like the BaseContext they stand for: set, overwrite, delete, parent values', () => {
    const base = ROOT_CONTEXT.setValue(A, 'base-a');
    const one = withValue(base, B, 'b1');
    const two = one.setValue(A, 'a2');
    const three = two.deleteValue(B);
    expect([one.getValue(A), one.getValue(B)]).toEqual(['base-a', 'b1']);
    expect([two.getValue(A), two.getValue(B)]).toEqual(['a2', 'b1']);
    expect([three.getValue(A), three.getValue(B)]).toEqual(['a2', undefined]);
    // Parents are unchanged, as contexts are immutable.
    expect(base.getValue(B)).toBeUndefined();
    expect(one.getValue(A)).toBe('base-a');
  });

  it('flatten into a BaseContext past MAX_DEPTH with the newest values winning', () => {
    let context = withValue(ROOT_CONTEXT, A, 0);
    for (let i = 1; i <= 3 * MAX_DEPTH; i++) context = context.setValue(i % 2 ? B : A, i);
    expect(context).toBeInstanceOf(ContextFrame);
    expect((context as ContextFrame).depth).toBeLessThanOrEqual(MAX_DEPTH);
    expect(context.getValue(A)).toBe(3 * MAX_DEPTH);
    expect(context.getValue(B)).toBe(3 * MAX_DEPTH - 1);
    const deleted = context.deleteValue(A);
    expect(deleted.getValue(A)).toBeUndefined();
    expect((deleted as ContextFrame).flatten().getValue(A)).toBeUndefined();
    expect((deleted as ContextFrame).flatten().getValue(B)).toBe(3 * MAX_DEPTH - 1);
  });

  it('carry spans where the OpenTelemetry API looks for them', () => {
    const span = trace.wrapSpanContext({
      ...INVALID_SPAN_CONTEXT,
      traceId: 'a'.repeat(32),
      spanId: 'b'.repeat(16),
    });
    const context = setSpan(ROOT_CONTEXT.setValue(A, 1), span);
    expect(trace.getSpan(context)).toBe(span);
    expect(context.getValue(A)).toBe(1);
    expect(trace.getSpan(trace.deleteSpan(context))).toBeUndefined();
  });
});
