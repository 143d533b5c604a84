/**
 * The result every bench hands back: one row per target (figure, target, measured, pass/fail)
 * plus the raw numbers, printed as a table and written as JSON under bench/results/.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join, resolve } from 'node:path';

export const BENCH_ROOT = resolve(__dirname, '..');
export const RESULTS_DIR = join(BENCH_ROOT, 'results');
/** Issue 5's memory target for the sidecar: steady ingest (memory bench) and overload alike (MB of RSS). */
export const SIDECAR_RSS_TARGET_MB = 150;

export interface Figure {
  /** Stable id, e.g. `preload.throughput-loss`. */
  id: string;
  /** What was measured, as the table prints it. */
  figure: string;
  /** Human-readable target, e.g. `≤ 10%`. */
  target: string;
  /** Human-readable measured value. */
  measured: string;
  /** null when the figure is informational (no target) or could not be measured. */
  pass: boolean | null;
  /** Why a figure could not be measured, or what limited it. */
  note?: string;
}

export interface BenchResult {
  name: string;
  figures: Figure[];
  /** Everything measured, for latest.json. */
  raw: Record<string, unknown>;
  durationMs: number;
}

export function figure(
  id: string,
  name: string,
  target: string,
  measured: string,
  pass: boolean | null,
  note?: string,
): Figure {
  return note === undefined
    ? { id, figure: name, target, measured, pass }
    : { id, figure: name, target, measured, pass, note };
}

/** A figure that could not be measured (the piece it needs is missing or failed). */
export function notMeasured(id: string, name: string, target: string, reason: string): Figure {
  return { id, figure: name, target, measured: 'n/a', pass: false, note: reason };
}

function verdict(pass: boolean | null): string {
  if (pass === null) return 'info';
  return pass ? 'PASS' : 'FAIL';
}

/** Plain-text table: figure | target | measured | pass/fail. */
export function formatTable(figures: readonly Figure[]): string {
  const rows = [
    ['figure', 'target', 'measured', 'result'],
    ...figures.map((f) => [f.figure, f.target, f.measured, verdict(f.pass)]),
  ];
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  const line = (r: string[]) =>
    r
      .map((cell, c) => cell.padEnd(widths[c]))
      .join('  ')
      .trimEnd();
  const out = [line(rows[0]), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.slice(1).map(line)];
  const notes = figures.filter((f) => f.note).map((f) => `  * ${f.figure}: ${f.note}`);
  return [...out, ...(notes.length ? ['', 'notes:', ...notes] : [])].join('\n');
}

/** Markdown table for BENCHMARKS.md. */
export function formatMarkdown(figures: readonly Figure[]): string {
  const esc = (s: string) => s.replace(/\|/g, '\\|');
  const lines = ['| figure | target | measured | result |', '| --- | --- | --- | --- |'];
  for (const f of figures)
    lines.push(`| ${esc(f.figure)} | ${esc(f.target)} | ${esc(f.measured)} | ${verdict(f.pass)} |`);
  return lines.join('\n');
}

export function machineInfo(): Record<string, unknown> {
  const cpu = cpus();
  return {
    node: process.version,
    cpus: cpu.length,
    cpuModel: cpu[0]?.model ?? 'unknown',
    platform: process.platform,
  };
}

/** Writes bench/results/<file> (the directory is git-ignored). */
export function writeResults(file: string, data: unknown): string {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const path = join(RESULTS_DIR, file);
  writeFileSync(path, `${JSON.stringify(data, null, 2)}\n`);
  return path;
}

/** Prints the table and writes bench/results/<name>.json; for a bench run on its own. */
export function reportStandalone(result: BenchResult): void {
  console.log(`\n${result.name} (${(result.durationMs / 1000).toFixed(0)} s)\n`);
  console.log(formatTable(result.figures));
  const path = writeResults(`${result.name}.json`, {
    ...result,
    machine: machineInfo(),
    at: new Date().toISOString(),
  });
  console.log(`\nraw numbers: ${path}`);
  if (result.figures.some((f) => f.pass === false)) process.exitCode = 1;
}

/** Formats a number with k/M suffix: 123456 → `123k`. */
export function si(n: number, digits = 0): string {
  if (!Number.isFinite(n)) return String(n);
  if (Math.abs(n) >= 1e6) return `${(n / 1e6).toFixed(digits || 2)}M`;
  if (Math.abs(n) >= 1e3) return `${(n / 1e3).toFixed(digits)}k`;
  return n.toFixed(digits);
}

export function pct(ratio: number, digits = 1): string {
  return `${(ratio * 100).toFixed(digits)}%`;
}
