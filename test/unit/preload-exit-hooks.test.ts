import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { installExitHooks } from '../../src/preload/exit-hooks';

/** Enough of `process` for the hooks: events plus a recorded `kill`. */
class FakeProcess extends EventEmitter {
  pid = 4242;
  kills: Array<[number, string]> = [];
  kill(pid: number, signal: string): boolean {
    this.kills.push([pid, signal]);
    return true;
  }
}

function target() {
  const calls = { flushes: 0, exitFlushes: [] as number[] };
  let finish: () => void = () => {};
  return {
    calls,
    finish: () => finish(),
    flushable: {
      flushOnExit: (timeoutMs: number) => {
        calls.exitFlushes.push(timeoutMs);
      },
      flush: () => {
        calls.flushes++;
        return new Promise<void>((resolve) => {
          finish = resolve;
        });
      },
    },
  };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('exit hooks', () => {
  it('flushes on SIGTERM and re-raises it when the app has no handler of its own', async () => {
    const proc = new FakeProcess();
    const t = target();
    installExitHooks(t.flushable, { timeoutMs: 5_000, proc: proc as unknown as NodeJS.Process });
    proc.emit('SIGTERM');
    expect(t.calls.flushes).toBe(1);
    expect(proc.kills).toEqual([]);
    t.finish();
    await settle();
    expect(proc.kills).toEqual([[4242, 'SIGTERM']]);
    expect(proc.listenerCount('SIGTERM')).toBe(0);
  });

  it('flushes but leaves the process alone when the app handles the signal', async () => {
    const proc = new FakeProcess();
    const t = target();
    installExitHooks(t.flushable, { timeoutMs: 5_000, proc: proc as unknown as NodeJS.Process });
    let appHandled = 0;
    proc.on('SIGINT', () => appHandled++);
    proc.emit('SIGINT');
    t.finish();
    await settle();
    expect(t.calls.flushes).toBe(1);
    expect(appHandled).toBe(1);
    expect(proc.kills).toEqual([]);
  });

  it('re-raises at once on a second signal during the flush', () => {
    const proc = new FakeProcess();
    const t = target();
    installExitHooks(t.flushable, { timeoutMs: 5_000, proc: proc as unknown as NodeJS.Process });
    proc.emit('SIGINT');
    proc.emit('SIGINT');
    expect(proc.kills).toEqual([[4242, 'SIGINT']]);
  });

  it('stops waiting for a flush that outlasts the timeout', async () => {
    const proc = new FakeProcess();
    const t = target();
    installExitHooks(t.flushable, { timeoutMs: 20, proc: proc as unknown as NodeJS.Process });
    proc.emit('SIGTERM');
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(proc.kills).toEqual([[4242, 'SIGTERM']]);
  });

  it('flushes synchronously at exit, and never at beforeExit (the app’s listeners would run twice)', () => {
    const proc = new FakeProcess();
    const t = target();
    installExitHooks(t.flushable, { timeoutMs: 700, proc: proc as unknown as NodeJS.Process });
    proc.emit('beforeExit', 0);
    expect(t.calls.flushes + t.calls.exitFlushes.length).toBe(0);
    proc.emit('exit', 0);
    expect(t.calls.exitFlushes).toEqual([700]);
  });

  it('does not wait at exit for a sidecar that let a signal’s flush run out of time', async () => {
    const proc = new FakeProcess();
    const t = target();
    installExitHooks(t.flushable, { timeoutMs: 10, proc: proc as unknown as NodeJS.Process });
    proc.on('SIGTERM', () => {}); // the app's own handler: the process lives on after the flush
    proc.emit('SIGTERM');
    await new Promise((resolve) => setTimeout(resolve, 40));
    proc.emit('exit', 0);
    expect(t.calls.exitFlushes).toEqual([]);
  });

  it('removes every listener it added when uninstalled', () => {
    const proc = new FakeProcess();
    const uninstall = installExitHooks(target().flushable, {
      timeoutMs: 5_000,
      proc: proc as unknown as NodeJS.Process,
    });
    uninstall();
    expect(proc.listenerCount('SIGTERM') + proc.listenerCount('SIGINT') + proc.listenerCount('exit')).toBe(0);
  });
});
