/**
 * Terminal output of `spanstat advise`: a table of recommendations (most severe first), then,
 * unless `brief`, one block per recommendation with its evidence, action and example trace.
 */
import { type Column, formatTable } from '../reports/format-table';
import type { Evidence, Recommendation } from './types';

export interface FormatOptions {
  /** Table only. */
  brief?: boolean;
  /** Reference time for "seen … ago" (ms); default Date.now(). */
  nowMs?: number;
  /** Wrap width of action text. */
  width?: number;
}

interface Line {
  id: string;
  severity: string;
  kind: string;
  service: string;
  finding: string;
  state: string;
  seen: string;
}

const COLUMNS: Column<Line>[] = [
  { key: 'id', title: 'ID' },
  { key: 'severity', title: 'SEVERITY' },
  { key: 'kind', title: 'KIND' },
  { key: 'service', title: 'SERVICE', maxWidth: 24 },
  { key: 'finding', title: 'FINDING', maxWidth: 110 },
  { key: 'state', title: 'STATE' },
  { key: 'seen', title: 'LAST SEEN' },
];

export function formatRecommendations(recs: readonly Recommendation[], options: FormatOptions = {}): string {
  if (recs.length === 0) return 'No recommendations: nothing crossed a threshold in the window.';
  const now = options.nowMs ?? Date.now();
  const lines: Line[] = recs.map((r) => ({
    id: shortId(r.id),
    severity: r.severity,
    kind: r.kind,
    service: r.service,
    finding: r.title,
    state: r.state,
    seen: ago(now - r.lastSeenMs),
  }));
  const table = formatTable(lines, COLUMNS);
  if (options.brief) return table;
  const width = options.width ?? 100;
  const blocks = recs.map((r) => formatDetails(r, width, now));
  return [table, ...blocks].join('\n\n');
}

function formatDetails(r: Recommendation, width: number, now: number): string {
  // First seen survives a sidecar restart (state.file): how long a problem has stood.
  const state =
    r.state === 'resolved' && r.resolvedAtMs !== undefined
      ? `resolved ${ago(now - r.resolvedAtMs)}`
      : r.state;
  const header = `${shortId(r.id)} [${r.severity}] ${r.kind} · ${r.service} · ${state}, first seen ${ago(now - r.firstSeenMs)}`;
  const out = [header, `  ${r.title}`];
  out.push(...wrap(`evidence: ${formatEvidence(r.evidence)}`, width, '  '));
  out.push(...wrap(`action: ${r.action}`, width, '  '));
  if (r.exampleTraceId) out.push(`  example trace: ${r.exampleTraceId}`);
  return out.join('\n');
}

/** `key=value` pairs; lists joined with ` | `. */
export function formatEvidence(evidence: Evidence): string {
  return Object.entries(evidence)
    .map(([k, v]) => `${k}=${Array.isArray(v) ? `[${v.join(' | ')}]` : v === null ? '-' : String(v)}`)
    .join(' ');
}

function shortId(id: string): string {
  return id.slice(0, 8);
}

/** 42_000 → `42s ago`; 5_400_000 → `2h ago`. */
export function ago(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.round(s / 60)}m ago`;
  if (s < 86_400) return `${Math.round(s / 3600)}h ago`;
  return `${Math.round(s / 86_400)}d ago`;
}

/** Greedy word wrap; continuation lines indented two more spaces. */
function wrap(text: string, width: number, indent: string): string[] {
  const words = text.replace(/\s+/g, ' ').trim().split(' ');
  const lines: string[] = [];
  let line = indent;
  for (const word of words) {
    if (line.trim() !== '' && line.length + 1 + word.length > width) {
      lines.push(line);
      line = `${indent}  ${word}`;
    } else {
      line = line.trim() === '' ? `${line}${word}` : `${line} ${word}`;
    }
  }
  if (line.trim() !== '') lines.push(line);
  return lines;
}
