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

/** `table`: the table's name, and a partitioned table's partitions too (the plan scans those). */
export function planEvidence(
  root: PlanNode,
  table: string | readonly string[],
  method: PlanEvidence['method'],
): PlanEvidence {
  const names = typeof table === 'string' ? [table] : table;
  const nodes: PlanNode[] = [];
  const walk = (n: PlanNode) => {
    nodes.push(n);
    for (const child of n.Plans ?? []) walk(child);
  };
  walk(root);
  const seqScans = nodes.filter(
    (n) => n['Node Type'] === 'Seq Scan' && names.includes(n['Relation Name'] as string),
  );
  const seqScanRows = seqScans.reduce<number | undefined>(
    (sum, n) => (n['Plan Rows'] === undefined ? sum : (sum ?? 0) + n['Plan Rows']),
    undefined,
  );
  const shape = nodes
    .slice(0, MAX_SHAPE_NODES)
    .map((n) => (n['Relation Name'] ? `${n['Node Type']} on ${n['Relation Name']}` : n['Node Type']))
    .join(' > ');
  return {
    method,
    seqScan: seqScans.length > 0,
    ...(seqScanRows !== undefined ? { seqScanRows } : {}),
    totalCost: root['Total Cost'] ?? 0,
    shape: nodes.length > MAX_SHAPE_NODES ? `${shape} > …` : shape,
  };
}
