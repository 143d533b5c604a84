/** Reads what index advice needs from an `EXPLAIN (FORMAT JSON)` plan: Seq Scans per table and the plan's shape. */
import type { PlanEvidence } from './types';

interface PlanNode {
  'Node Type'?: string;
  'Relation Name'?: string;
  Schema?: string;
  'Plan Rows'?: number;
  'Total Cost'?: number;
  Plans?: PlanNode[];
}

/** Nodes shown in `shape` at most. */
const MAX_SHAPE_NODES = 8;

/** The root Plan node of `EXPLAIN (FORMAT JSON)` output (`[{ Plan: … }]`), or undefined. */
export function rootPlan(explainJson: unknown): PlanNode | undefined {
  const first = Array.isArray(explainJson) ? explainJson[0] : undefined;
  const plan = first && typeof first === 'object' ? (first as { Plan?: PlanNode }).Plan : undefined;
  return plan && typeof plan === 'object' ? plan : undefined;
}

export function planEvidence(root: PlanNode, table: string, method: PlanEvidence['method']): PlanEvidence {
  const nodes: PlanNode[] = [];
  const walk = (n: PlanNode) => {
    nodes.push(n);
    for (const child of n.Plans ?? []) walk(child);
  };
  walk(root);
  const seq = nodes.find((n) => n['Node Type'] === 'Seq Scan' && n['Relation Name'] === table);
  const shape = nodes
    .slice(0, MAX_SHAPE_NODES)
    .map((n) => (n['Relation Name'] ? `${n['Node Type']} on ${n['Relation Name']}` : n['Node Type']))
    .join(' > ');
  return {
    method,
    seqScan: seq !== undefined,
    ...(seq?.['Plan Rows'] !== undefined ? { seqScanRows: seq['Plan Rows'] } : {}),
    totalCost: root['Total Cost'] ?? 0,
    shape: nodes.length > MAX_SHAPE_NODES ? `${shape} > …` : shape,
  };
}
