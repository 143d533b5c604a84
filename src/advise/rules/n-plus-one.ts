/**
 * N+1 queries, per (service, route, fingerprint), from the endpoint-query rows. Sentry's detector
 * (one statement ≥5 times in a request, ≥50 ms together) makes a warning; repeats that are still
 * cheap (under minTotalMs) are reported as info, like perf-sentinel does — the pattern grows with
 * the data. The aggregator counts requests over its repeat threshold; time is judged on their mean.
 * Transaction control and session statements repeat by design and are never N+1; the advice depends
 * on the statement's shape, since `= ANY($1)` keeps a plain row look-up's result but not a LIMIT's,
 * an aggregate's or an INSERT's.
 */
import type { EndpointQueryRow } from '../../reports/types';
import type { Target } from '../types';
import {
  endpointLabel,
  fmtMs,
  fmtPct,
  OVERFLOW,
  type RuleContext,
  round,
  shortStatement,
  unitNoun,
} from './context';
import {
  PRISMA_INCLUDE_ADVICE,
  prismaBatchAdvice,
  prismaCountAdvice,
  prismaRead,
  prismaTable,
} from './prisma-shape';
import {
  TYPEORM_PAGED_FETCH_ADVICE,
  typeormAlias,
  typeormFindByIn,
  typeormPagedFetch,
  typeormRelationLoad,
  typeormSaveLoad,
} from './typeorm-shape';

export function nPlusOneRule(ctx: RuleContext): void {
  const t = ctx.t.nPlusOne;
  for (const row of ctx.input.endpointQueries) {
    if (row.route === OVERFLOW || row.statement === OVERFLOW || row.statement === '') continue;
    if (NOT_A_LOOKUP.test(row.statement)) continue;
    const route = endpointLabel(row.method, row.route);
    const target: Target = { type: 'fingerprint', value: row.fingerprint, route, statement: row.statement };
    if (row.requestsWithQuery >= t.minAffectedRequests) ctx.observe('n-plus-one', row.service, target);
    const affected = row.requestsOverThreshold;
    if (affected < t.minAffectedRequests || row.maxCallsPerRequest < t.minRepeats) continue;
    // Repeats that run concurrently (Promise.all) sum to more than they cost the request: bound them
    // by the route's wall time in the database, all of it counted against the affected requests.
    const endpoint = ctx.endpoint(row.service, route);
    const wallBound = endpoint
      ? (endpoint.dbMsPerRequest * endpoint.requests) / affected
      : Number.POSITIVE_INFINITY;
    const repeatMsPerRequest = Math.min(row.overThresholdMs / affected, wallBound);
    const share = row.requests > 0 ? affected / row.requests : 0;
    const slo = ctx.sloFor(row.method, row.route);
    const query = ctx.query(row.service, row.fingerprint);
    const table = query?.table;
    // Severity with hysteresis (advisor.clearMargin): repeat time hovering at a line keeps its severity.
    const raised = ctx.raised('n-plus-one', row.service, target);
    const critical =
      slo !== undefined &&
      (repeatMsPerRequest >= slo || ctx.holds(repeatMsPerRequest, slo, raised === 'critical'));
    const warning =
      repeatMsPerRequest >= t.minTotalMs ||
      ctx.holds(repeatMsPerRequest, t.minTotalMs, raised === 'warning' || raised === 'critical');
    ctx.emit({
      kind: 'n-plus-one',
      severity: critical ? 'critical' : warning ? 'warning' : 'info',
      service: row.service,
      target: table ? { ...target, table } : target,
      title: `N+1 in ${route}: ${shortStatement(row.statement)} runs up to ${row.maxCallsPerRequest}× per ${unitNoun(row.method)}`,
      evidence: {
        routeRequests: row.requests,
        requestsWithQuery: row.requestsWithQuery,
        requestsAffected: affected,
        shareOfRequestsAffected: round(share, 4),
        meanCallsPerRequest: round(row.meanCallsPerRequest),
        maxCallsPerRequest: row.maxCallsPerRequest,
        repeatMsPerAffectedRequest: round(repeatMsPerRequest),
        msPerRequest: round(row.msPerRequest),
        routeSloMs: slo ?? null,
        ...(query ? { shareOfDbTime: round(query.shareOfDbTime, 4) } : {}),
      },
      action: nPlusOneAction(row, share, repeatMsPerRequest),
      exampleTraceId: row.exampleTraceId || undefined,
    });
  }
}

/** Statements a request repeats by design (transactions, savepoints, session settings, locks). */
const NOT_A_LOOKUP =
  /^\s*(?:BEGIN|START\s+TRANSACTION|COMMIT|END|ROLLBACK|ABORT|SAVEPOINT|RELEASE|SET|RESET|SHOW|DISCARD|LISTEN|UNLISTEN|NOTIFY|PREPARE|DEALLOCATE|LOCK|SELECT\s+pg_advisory)/i;

/** Clauses after which one `= ANY($1)` query no longer returns what the per-item queries did. */
const PER_ITEM_RESULT =
  /\b(?:LIMIT|OFFSET|FETCH\s+(?:FIRST|NEXT)|GROUP\s+BY|DISTINCT|HAVING|EXISTS)\b|\b(?:count|sum|avg|min|max|array_agg|string_agg|json_agg|jsonb_agg|bool_and|bool_or|OVER)\s*\(/i;

function nPlusOneAction(row: EndpointQueryRow, share: number, repeatMs: number): string {
  const unit = unitNoun(row.method);
  return (
    `${fmtPct(share)} of ${unit}s run \`${shortStatement(row.statement, 200)}\` once per item ` +
    `(${fmtMs(repeatMs)} per affected ${unit}). ${batchAdvice(row.statement, unit)}`
  );
}

/** How to make the repeated statement one round trip, by its shape; `unit`: a request or a job run. */
export function batchAdvice(statement: string, unit: 'request' | 'run' = 'request'): string {
  const loader = `or batch the look-ups per ${unit} with a loader (e.g. DataLoader).`;
  if (/^\s*INSERT\b/i.test(statement))
    return (
      'Insert the rows in one statement: a multi-row VALUES list, ' +
      '`INSERT … SELECT * FROM unnest($1::type[], $2::type[])` (one array per column), or COPY for large batches.'
    );
  if (/=\s*ANY\s*\(|\bIN\s*\(\s*\$/i.test(statement)) {
    // An ORM's lazy relation sends a one-id list per entity: the list does not make it batched.
    const relation = typeormRelationLoad(statement);
    const typeorm = typeormPagedFetch(statement)
      ? TYPEORM_PAGED_FETCH_ADVICE
      : relation
        ? `TypeORM reads a lazy relation with this shape, one entity's id per call: if \`${relation}\` is one ` +
          `(\`await entity.${relation}\` in a loop), load it with the parent rows — ` +
          `\`find({ relations: { ${relation}: true } })\`, or \`leftJoinAndSelect('parent.${relation}', '${relation}')\` ` +
          'in a QueryBuilder. Otherwise: '
        : prismaTable(statement) !== undefined
          ? PRISMA_INCLUDE_ADVICE
          : '';
    return (
      `${typeorm}It takes a list (\`= ANY\` / \`IN\`) yet runs several times per ${unit}, once per item or per ` +
      `small batch: collect the ids of the whole ${unit} into one call — one loader per ${unit} rather than ` +
      'per item or per tick.'
    );
  }
  if (/^\s*UPDATE\b/i.test(statement) && /\bSET\b[\s\S]*?=\s*\$\d+[\s\S]*\bWHERE\b/i.test(statement))
    return (
      'Update the rows in one statement with their own values: ' +
      '`UPDATE t SET col = v.col FROM unnest($1::type[], $2::type[]) AS v(id, col) WHERE t.id = v.id`.'
    );
  const prisma = prismaAdvice(statement, loader);
  if (prisma) return prisma;
  if (PER_ITEM_RESULT.test(statement)) {
    if (!/=\s*\$\d+/.test(statement) && /[<>]=?\s*\$\d+/.test(statement))
      return 'It pages through rows in a loop: fetch larger pages, or read them in one query (a cursor for large sets).';
    const single = singleRowLookup(statement);
    return (
      (typeormPagedFetch(statement) ? TYPEORM_PAGED_FETCH_ADVICE : '') +
      (prismaCountAdvice(statement) ?? '') +
      (single
        ? `If the LIMIT is an ORM's one-row fetch (Knex \`first()\`, Sequelize \`findOne\`, TypeORM \`findOneBy\`, Drizzle \`findFirst\`) ` +
          `on a unique column such as the id, drop it and run once for all ids: ${single.statement} ` +
          `(one array parameter; ${ormBatchHint(statement, single.column)}). Otherwise: `
        : '') +
      PER_ID_FORMS +
      loader
    );
  }
  const one = batched(statement);
  const batch = one
    ? `run it once for all ids: ${one.statement} (pass the collected ids as one array parameter` +
      (typeormAlias(statement) !== undefined
        ? `; in TypeORM: \`${typeormFindByIn(one.column)}\`)`
        : `; in an ORM: ${ORM_LIST_CALLS})`) +
      (typeormSaveLoad(statement)
        ? '; if it is `save()` in a loop (TypeORM reads each entity it saves this way first), pass them all to one `save([...])`, which reads them in one query'
        : '')
    : 'run it once for all ids with `= ANY($1)` on the looked-up column (one array parameter)';
  return `Collect the ids first and ${batch}; or JOIN the rows into the query that produced the ids; ${loader}`;
}

const PER_ID_FORMS =
  'Run it once for all ids while keeping one result per id — `= ANY($1)` alone would merge them: ' +
  'GROUP BY the looked-up column for a count or sum, `DISTINCT ON (col) … ORDER BY col, …` for the first ' +
  'row per id, or a LATERAL join over `unnest($1::type[])` for the top rows per id; ';

/**
 * Prisma's look-up by one column (findUnique, findFirst, findMany per id): its take/skip and
 * findUnique's ` AND 1=1` are no per-item result, so it gets `findMany` with `{ in: ids }` and the
 * `= ANY($1)` form without them. undefined for other SQL, and for Prisma reads that order or
 * aggregate per item (those keep the per-id forms).
 */
function prismaAdvice(statement: string, loader: string): string | undefined {
  const read = prismaRead(statement);
  const table = prismaTable(statement);
  if (!read || table === undefined) return undefined;
  if (PER_ITEM_RESULT.test(read.core) || /\bORDER\s+BY\b/i.test(read.core)) return undefined;
  const one = batched(read.core);
  if (!one) return undefined;
  const advice = prismaBatchAdvice(read, table, one.column, one.statement);
  return read.limited && !read.unique ? `${advice} Otherwise: ${PER_ID_FORMS}${loader}` : advice;
}

/**
 * `… WHERE col = $1 LIMIT $2` (an ORM's `first()`/`findOne`, whose LIMIT is 1) as one batched statement
 * without the LIMIT; undefined when anything else makes the result per item.
 */
function singleRowLookup(statement: string): Batched | undefined {
  const rest = statement.replace(/\s+LIMIT\s+\$\d+\s*;?\s*$/i, '');
  // With ORDER BY it is a top-N per item, which only the per-id forms below keep.
  if (rest === statement || PER_ITEM_RESULT.test(rest) || /\bORDER\s+BY\b/i.test(rest)) return undefined;
  return batched(rest);
}

/** The ORM calls that fetch many rows by key: TypeORM's alone when the statement is TypeORM's. */
function ormBatchHint(statement: string, column: string): string {
  if (typeormAlias(statement) !== undefined)
    return `in TypeORM: \`${typeormFindByIn(column)}\`, or \`relations\` / \`leftJoinAndSelect\` to load it with the rows that hold the ids`;
  return `in the ORM: ${ORM_LIST_CALLS}, or eager loading`;
}

/** The calls of the ORMs (other than TypeORM and Prisma, told by their SQL) that take a list of keys. */
const ORM_LIST_CALLS = 'Knex `whereIn`, Sequelize `findAll` with an array, Drizzle `inArray(table.col, ids)`';

interface Batched {
  statement: string;
  /** The looked-up column, unquoted and without its table or alias. */
  column: string;
}

/** `… WHERE t.col = $1` → `… WHERE t.col = ANY($1)` when the statement has exactly one `= $n`. */
export function batchedStatement(statement: string): string | undefined {
  return batched(statement)?.statement;
}

function batched(statement: string): Batched | undefined {
  const pattern = /((?:"[^"]+"|[A-Za-z_][\w$]*)(?:\.("[^"]+"|[A-Za-z_][\w$]*))?)\s*=\s*(\$\d+)(?![\d])/g;
  const matches = [...statement.matchAll(pattern)];
  if (matches.length !== 1) return undefined;
  const m = matches[0];
  const flat = `${statement.slice(0, m.index)}${m[1]} = ANY(${m[3]})${statement.slice((m.index ?? 0) + m[0].length)}`;
  const column = (m[2] ?? m[1]).replace(/^"|"$/g, '');
  return { statement: flat.replace(/\s+/g, ' ').trim(), column };
}
