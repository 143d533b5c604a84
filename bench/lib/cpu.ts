/**
 * CPU pinning and per-process readings from /proc. On 2 shared cores, pinning the process under
 * test to one core and everything else to the other is what makes runs comparable.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { cpus } from 'node:os';

let tasksetPath: string | null | undefined;

/** Path of taskset, or null when it is not installed. */
export function taskset(): string | null {
  if (tasksetPath === undefined) {
    tasksetPath = ['/usr/bin/taskset', '/bin/taskset'].find((p) => existsSync(p)) ?? null;
  }
  return tasksetPath;
}

/** True when there are two cores to split and taskset to do it. */
export function canPin(): boolean {
  return taskset() !== null && cpus().length >= 2;
}

/** [command, args] that run `command args` on the given core (unchanged when pinning is unavailable). */
export function pinned(core: number | undefined, command: string, args: string[]): [string, string[]] {
  const ts = taskset();
  if (core === undefined || !ts || !canPin()) return [command, args];
  return [ts, ['-c', String(core), command, ...args]];
}

/**
 * Moves every thread of a running process to one core; children it forks later inherit it
 * (how the bench puts Postgres, Redis and itself on the load-generator core).
 */
export function pinProcess(pid: number, core: number): boolean {
  const ts = taskset();
  if (!ts || !canPin()) return false;
  try {
    execFileSync(ts, ['-a', '-p', '-c', String(core), String(pid)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Resident set size of a process in MB (10^6 bytes, as the targets are stated), NaN when it is gone. */
export function rssMB(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const match = /^VmRSS:\s+(\d+) kB/m.exec(status);
    return match ? (Number(match[1]) * 1024) / 1e6 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

const CLOCK_TICKS = 100;

/** User + system CPU time a process has used, in ms (from /proc/<pid>/stat), NaN when gone. */
export function cpuTimeMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the `(comm)` part; comm may hold spaces, so split after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    return ((utime + stime) * 1000) / CLOCK_TICKS;
  } catch {
    return Number.NaN;
  }
}

/** Measures a process's CPU use over a stretch of wall time: share of one core, 0..1. */
export function cpuMeter(pid: number): () => number {
  const cpu0 = cpuTimeMs(pid);
  const t0 = performance.now();
  return () => (cpuTimeMs(pid) - cpu0) / (performance.now() - t0);
}
