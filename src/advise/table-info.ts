/**
 * The catalog read of one table for index advice: size, columns, statistics and indexes (with
 * their key directions and expressions), over the advisor's read-only connection.
 */
import type { Client } from 'pg';
import { deparseExpression } from '../sql/deparse-expression';
import { parseStatements } from '../sql/parse-tree';
import { quoteAlways } from '../sql/quote-ident';
import type { ExistingIndex, TableInfo } from './index-plan';
import type { TableRef } from './predicate-columns';

/**
 * SQL: the collation `oid` sorts bytewise ("C"/"POSIX", or the default one of a libc database
 * created with one), so a plain btree index serves LIKE 'prefix%' (the planner's lc_collate_is_c).
 */
const C_COLLATION = (oid: string) =>
  `(${oid} IN (SELECT oid FROM pg_collation WHERE collname IN ('C', 'POSIX') AND collnamespace = 'pg_catalog'::regnamespace)
    OR (${oid} = (SELECT oid FROM pg_collation WHERE collname = 'default' AND collnamespace = 'pg_catalog'::regnamespace)
        AND (SELECT d.datcollate IN ('C', 'POSIX') AND COALESCE(to_jsonb(d) ->> 'datlocprovider', 'c') = 'c'
               FROM pg_database d WHERE d.datname = current_database())))`;

export async function loadTable(client: Client, ref: TableRef): Promise<TableInfo | undefined> {
  const qualified = ref.schema
    ? `${quoteAlways(ref.schema)}.${quoteAlways(ref.name)}`
    : quoteAlways(ref.name);
  const rel = await client.query(
    `SELECT c.oid::int8 AS oid, n.nspname AS schema, c.relname AS name, c.relkind::text AS relkind,
            c.reltuples::float8 AS reltuples, COALESCE(s.n_live_tup, 0)::float8 AS live,
            EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm') AS trigram
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       LEFT JOIN pg_stat_all_tables s ON s.relid = c.oid
      WHERE c.oid = to_regclass($1)`,
    [qualified],
  );
  const r = rel.rows[0];
  if (!r) return undefined;
  const attrs = await client.query(
    `SELECT attnum::int AS num, attname AS name,
            CASE atttypid WHEN 'text'::regtype THEN 'text_pattern_ops' WHEN 'varchar'::regtype THEN 'varchar_pattern_ops'
                          WHEN 'bpchar'::regtype THEN 'bpchar_pattern_ops' END AS pattern_ops,
            ${C_COLLATION('attcollation')} AS c_collation,
            CASE WHEN atttypid = 'jsonb'::regtype THEN 'jsonb'
                 WHEN (SELECT typcategory FROM pg_type WHERE oid = atttypid) = 'A' THEN 'array' END AS container
       FROM pg_attribute WHERE attrelid = $1 AND attnum > 0 AND NOT attisdropped`,
    [r.oid],
  );
  const names = new Map<number, string>(attrs.rows.map((a) => [a.num, a.name]));
  const idx = await client.query(
    `SELECT ic.relname AS name, i.indisunique AS unique, i.indisvalid AS valid, i.indpred IS NOT NULL AS partial,
            am.amname AS method, string_to_array(i.indkey::text, ' ')::int[] AS keys, i.indnkeyatts::int AS nkeys,
            string_to_array(i.indoption::text, ' ')::int[] AS options,
            ARRAY(SELECT pg_get_indexdef(i.indexrelid, k, false) FROM generate_series(1, i.indnkeyatts) AS k) AS defs,
            ARRAY(SELECT CASE WHEN o.opcdefault THEN NULL ELSE o.opcname::text END
                    FROM unnest(i.indclass::oid[]) WITH ORDINALITY AS k(opc, n) JOIN pg_opclass o ON o.oid = k.opc
                   ORDER BY k.n) AS opclasses,
            ARRAY(SELECT o.opcname LIKE '%\\_pattern\\_ops' OR (o.opcdefault AND ${C_COLLATION('k.coll')})
                    FROM unnest(i.indclass::oid[], i.indcollation::oid[]) WITH ORDINALITY AS k(opc, coll, n)
                    JOIN pg_opclass o ON o.oid = k.opc ORDER BY k.n) AS like_prefix
       FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_am am ON am.oid = ic.relam
      WHERE i.indrelid = $1 ORDER BY ic.relname`,
    [r.oid],
  );
  const partitioned = r.relkind === 'p' ? await loadPartitions(client, r.oid) : undefined;
  // A partitioned table's own statistics exist only once it was ANALYZEd itself (autovacuum never
  // does): else its largest partition's stand for it.
  const statsOf = async (schema: string, name: string) =>
    (
      await client.query(
        `SELECT DISTINCT ON (attname) attname AS name, n_distinct::float8 AS n_distinct, null_frac::float8 AS null_frac,
            CASE WHEN most_common_vals::text IN ('{t}', '{f}', '{t,f}', '{f,t}') THEN most_common_vals::text END AS bool_vals,
            most_common_freqs::float8[] AS freqs
       FROM pg_stats WHERE schemaname = $1 AND tablename = $2 ORDER BY attname, inherited DESC`,
        [schema, name],
      )
    ).rows;
  let statRows = await statsOf(r.schema, r.name);
  if (statRows.length === 0 && partitioned?.largest)
    statRows = await statsOf(partitioned.largest.schema, partitioned.largest.name);
  // reltuples is -1 before the first ANALYZE and stale after fast growth; n_live_tup fills in.
  const rows = partitioned?.rows ?? Math.max(r.reltuples, r.live, 0);
  return {
    schema: r.schema,
    name: r.name,
    relkind: r.relkind,
    rows,
    columns: new Set(names.values()),
    trigramInstalled: r.trigram === true,
    prefixOpclass: new Map(
      attrs.rows.filter((a) => a.pattern_ops).map((a) => [a.name, a.c_collation ? null : a.pattern_ops]),
    ),
    containers: new Map(attrs.rows.filter((a) => a.container).map((a) => [a.name, a.container])),
    ...(partitioned ? { partitions: partitioned.listed, partitionCount: partitioned.count } : {}),
    stats: new Map(
      statRows.map((s) => [
        s.name,
        {
          distinct: s.n_distinct >= 0 ? s.n_distinct : -s.n_distinct * rows,
          nullFrac: s.null_frac,
          ...(s.bool_vals ? { trueFrac: trueShare(s.bool_vals, s.freqs, s.null_frac) } : {}),
        },
      ]),
    ),
    indexes: idx.rows.map((ix) => {
      // indoption bits per key: 1 = DESC, 2 = NULLS FIRST.
      const options = (ix.options as number[]).slice(0, ix.nkeys);
      const keys = (ix.keys as number[]).slice(0, ix.nkeys);
      return {
        name: ix.name,
        columns: keys.map((k) => (k === 0 ? null : (names.get(k) ?? null))),
        expressions: keys.map((k, i) => (k === 0 ? indexExpression(ix.defs[i]) : null)),
        unique: ix.unique,
        method: ix.method,
        partial: ix.partial,
        valid: ix.valid,
        desc: options.map((o) => (o & 1) !== 0),
        nullsFirst: options.map((o) => (o & 2) !== 0),
        opclasses: (ix.opclasses as (string | null)[]).slice(0, ix.nkeys),
        likePrefix: (ix.like_prefix as boolean[]).slice(0, ix.nkeys),
      };
    }),
  };
}

/** Partitions (leaves and sub-partitioned ones) listed in advice at most (index-naming.ts spells out fewer). */
const MAX_PARTITIONS = 64;

interface PartitionRow {
  schema: string;
  name: string;
  oid: string;
  parent: string;
  leaf: boolean;
  rows: number;
}

/**
 * A partitioned table's partitions, top-down (each after the one it is a partition of, by name
 * among siblings): the leaves' rows summed and counted, and the largest leaf. A sub-partitioned
 * partition is listed too, as its own index must be attached to its parent's and its leaves' to it.
 */
async function loadPartitions(client: Client, oid: string) {
  const tree = await client.query(
    `SELECT n.nspname AS schema, c.relname AS name, t.relid::oid::int8::text AS oid,
            t.parentrelid::oid::int8::text AS parent, t.isleaf AS leaf,
            GREATEST(c.reltuples::float8, COALESCE(s.n_live_tup, 0)::float8, 0) AS rows
       FROM pg_partition_tree($1::regclass) t JOIN pg_class c ON c.oid = t.relid
       JOIN pg_namespace n ON n.oid = c.relnamespace LEFT JOIN pg_stat_all_tables s ON s.relid = c.oid
      WHERE t.level > 0 ORDER BY n.nspname, c.relname`,
    [oid],
  );
  const rows = tree.rows as PartitionRow[];
  const children = new Map<string, PartitionRow[]>();
  for (const row of rows) children.set(row.parent, [...(children.get(row.parent) ?? []), row]);
  const ordered: PartitionRow[] = [];
  const visit = (parent: string) => {
    for (const child of children.get(parent) ?? []) {
      ordered.push(child);
      if (!child.leaf) visit(child.oid);
    }
  };
  visit(String(oid));
  const leaves = ordered.filter((p) => p.leaf);
  const largest = leaves.reduce<PartitionRow | undefined>(
    (a, b) => (a === undefined || b.rows > a.rows ? b : a),
    undefined,
  );
  const byOid = new Map(ordered.map((p) => [p.oid, p]));
  return {
    rows: leaves.reduce((n, leaf) => n + leaf.rows, 0),
    count: leaves.length,
    listed: ordered.slice(0, MAX_PARTITIONS).map(({ schema, name, leaf, parent }) => {
      const of = byOid.get(parent);
      return {
        schema,
        name,
        ...(leaf ? {} : { partitioned: true as const }),
        ...(of ? { of: { schema: of.schema, name: of.name } } : {}),
      };
    }),
    largest,
  };
}

/**
 * An index's expression key: pg_get_indexdef's text without the parentheses it adds around what
 * is not a function call (so it reads as EXPLAIN VERBOSE spells the expression), and, when it holds
 * no literal, the expression as the advisor writes it, to show.
 */
function indexExpression(def: string): NonNullable<ExistingIndex['expressions']>[number] {
  const canonical = def.startsWith('(') && def.endsWith(')') ? def.slice(1, -1) : def;
  let shown: string | undefined;
  try {
    const select = parseStatements(`SELECT ${canonical}`)[0]?.stmt.SelectStmt as
      | { targetList?: { ResTarget?: { val?: Record<string, unknown> } }[] }
      | undefined;
    const val = select?.targetList?.[0]?.ResTarget?.val;
    shown = val ? deparseExpression(val)?.sql : undefined;
  } catch {
    // Not parsable here: shown as (expression).
  }
  return { canonical, ...(shown ? { shown } : {}) };
}

/** A boolean column's share of true rows from its most common values (`{t,f}` and their frequencies). */
function trueShare(values: string, freqs: number[] | null, nullFrac: number): number | undefined {
  const list = values.slice(1, -1).split(',');
  const t = list.indexOf('t');
  if (t >= 0) return freqs?.[t];
  const f = list.indexOf('f');
  return f >= 0 && freqs?.[f] !== undefined ? Math.max(0, 1 - nullFrac - freqs[f]) : undefined;
}
