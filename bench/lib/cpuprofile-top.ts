/**
 * Reads a V8 .cpuprofile (node --cpu-prof) and lists the heaviest functions by self time and by
 * total (inclusive) time: `npx tsx bench/lib/cpuprofile-top.ts FILE [rows]`.
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  samples?: number[];
  timeDeltas?: number[];
}

export interface FrameCost {
  frame: string;
  selfShare: number;
  totalShare: number;
}

function frameName(n: ProfileNode): string {
  const file = n.callFrame.url.replace(/^.*\/(src|node_modules|bench|dist)\//, '$1/');
  return `${n.callFrame.functionName || '(anonymous)'} ${file}:${n.callFrame.lineNumber + 1}`;
}

/** Self and inclusive sample shares per function (recursion counted once per stack). */
export function topFrames(
  profile: Profile,
  rows = 25,
): { bySelf: FrameCost[]; byTotal: FrameCost[]; samples: number } {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map<string, number>();
  const total = new Map<string, number>();
  let samples = 0;
  const counts = new Map<number, number>();
  if (profile.samples) for (const id of profile.samples) counts.set(id, (counts.get(id) ?? 0) + 1);
  else for (const n of profile.nodes) counts.set(n.id, n.hitCount ?? 0);
  for (const [id, count] of counts) {
    const node = byId.get(id);
    if (!node || count === 0) continue;
    const name = frameName(node);
    if (name.startsWith('(idle)')) continue;
    samples += count;
    self.set(name, (self.get(name) ?? 0) + count);
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const n = byId.get(cur);
      if (!n) break;
      const f = frameName(n);
      if (seen.has(f)) continue;
      seen.add(f);
      total.set(f, (total.get(f) ?? 0) + count);
    }
  }
  const list = (m: Map<string, number>) =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, rows)
      .map(([frame]) => ({
        frame,
        selfShare: (self.get(frame) ?? 0) / samples,
        totalShare: (total.get(frame) ?? 0) / samples,
      }));
  return { bySelf: list(self), byTotal: list(total), samples };
}

if (require.main === module) {
  const file = process.argv[2];
  const rows = Number(process.argv[3] ?? 25);
  const { bySelf, byTotal, samples } = topFrames(JSON.parse(readFileSync(file, 'utf8')) as Profile, rows);
  const show = (c: FrameCost) =>
    `${(c.selfShare * 100).toFixed(1).padStart(5)}% self ${(c.totalShare * 100).toFixed(1).padStart(5)}% total  ${c.frame}`;
  console.log(`${samples} samples\n-- by self time --`);
  for (const c of bySelf) console.log(show(c));
  console.log('-- by total time --');
  for (const c of byTotal) console.log(show(c));
}
