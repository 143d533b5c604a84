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

/** CPU time this process has used (all threads), ms. */
export function selfCpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/**
 * A throughput measured two ways: per wall-clock second, and per CPU-second the measured process
 * actually got. On a quiet machine with the process alone on its core they agree; when other work
 * steals the core, the CPU-normalised rate is the per-core figure the targets mean.
 */
export interface Rate {
  wall: number;
  perCpuSecond: number;
  /** CPU share of one core the process had during the measurement, 0..1+. */
  cpuShare: number;
}

/** Below this share of its core the process was starved, and the CPU-normalised rate is the one to judge. */
export const STARVED_SHARE = 0.85;

export function rate(count: number, wallMs: number, cpuMs: number): Rate {
  return {
    wall: (count * 1000) / wallMs,
    perCpuSecond: cpuMs > 0 ? (count * 1000) / cpuMs : Number.NaN,
    cpuShare: cpuMs / wallMs,
  };
}

/** The rate to judge: wall-clock when the process had its core, else CPU-normalised. */
export function judged(r: Rate): { value: number; normalised: boolean } {
  return r.cpuShare >= STARVED_SHARE || !Number.isFinite(r.perCpuSecond)
    ? { value: r.wall, normalised: false }
    : { value: r.perCpuSecond, normalised: true };
}

/** Busy and total jiffies per core from /proc/stat (empty when unreadable). */
function coreTicks(): { busy: number; total: number }[] {
  try {
    return readFileSync('/proc/stat', 'utf8')
      .split('\n')
      .filter((l) => /^cpu\d+ /.test(l))
      .map((l) => {
        const v = l.trim().split(/\s+/).slice(1).map(Number);
        const idle = v[3] + (v[4] ?? 0); // idle + iowait
        const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
        return { busy: total - idle, total };
      });
  } catch {
    return [];
  }
}

/** Measures how busy each core was (0..1, all processes) over a stretch of time. */
export function coreMeter(): () => number[] {
  const before = coreTicks();
  return () =>
    coreTicks().map((after, i) => {
      const b = before[i];
      const total = after.total - (b?.total ?? 0);
      return total > 0 ? (after.busy - (b?.busy ?? 0)) / total : Number.NaN;
    });
}
