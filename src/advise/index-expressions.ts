/**
 * Asks the database about the expressions a statement filters or sorts on, before index planning:
 * PostgreSQL's own spelling of each (EXPLAIN VERBOSE writes it as pg_get_indexdef writes an index's,
 * so an existing expression index is recognised), and whether every function, operator and cast in
 * it is IMMUTABLE — CREATE INDEX refuses anything else ("functions in index expression must be
 * marked IMMUTABLE"), e.g. date() of a timestamptz, which depends on the session's TimeZone.
 * Runs inside the caller's read-only transaction; each look-up under a savepoint.
 */
import type { Client } from 'pg';
import type { ExpressionCall } from '../sql/deparse-expression';
import type { ExpressionCheck } from './index-plan';
import type { PredicateExpression } from './predicate-columns';

const VOLATILITY: Record<string, string> = { i: 'IMMUTABLE', s: 'STABLE', v: 'VOLATILE' };

/** What one function, operator or cast resolved to: its volatility and signature when known. */
interface Resolved {
  volatility?: string;
  signature?: string;
}

/** The check of each expression (by its SQL) of one table. */
export async function checkExpressions(
  client: Client,
  table: string,
  expressions: Map<string, PredicateExpression>,
): Promise<Map<string, ExpressionCheck>> {
  const out = new Map<string, ExpressionCheck>();
  for (const [sql, ex] of expressions) {
    if (ex.hasParameter) {
      out.set(sql, {
        unindexable:
          `${sql} holds a parameter: a value bound per call, or a literal spanstat does not keep, ` +
          'which an index expression would have to spell out (index it with that constant if it never changes)',
      });
      continue;
    }
    out.set(sql, await underSavepoint(client, sql, () => checkOne(client, table, sql, ex.calls)));
  }
  return out;
}

async function checkOne(
  client: Client,
  table: string,
  sql: string,
  calls: ExpressionCall[],
): Promise<ExpressionCheck> {
  const plan = await client.query(`EXPLAIN (VERBOSE, FORMAT JSON) SELECT ${sql} FROM ${table}`);
  const canonical = (plan.rows[0]?.['QUERY PLAN']?.[0]?.Plan?.Output as string[] | undefined)?.[0];
  // The type of every argument, as PostgreSQL resolves them (no row is read).
  const parts = [...new Set(calls.flatMap(argumentsOf))];
  const typed = parts.length
    ? await client.query(`SELECT ${parts.join(', ')} FROM ${table} LIMIT 0`)
    : { fields: [] };
  const typeOf = new Map(parts.map((p, i) => [p, String(typed.fields[i]?.dataTypeID)]));
  for (const call of calls) {
    const r = await resolve(client, call, typeOf);
    if (r.volatility === 'i') continue;
    const what = r.signature ?? describeCall(call);
    const why =
      r.volatility === undefined
        ? `could not tell which ${what} it calls, so not whether it is IMMUTABLE`
        : `${what} is ${VOLATILITY[r.volatility]}`;
    const hint = /timestamp with time zone/.test(what)
      ? ' (a fixed zone makes it immutable: `(col AT TIME ZONE …)` in both the index and the query)'
      : '';
    return {
      ...(canonical ? { canonical } : {}),
      unindexable: `${sql}: ${why}, and PostgreSQL indexes only IMMUTABLE expressions${hint}`,
    };
  }
  return canonical ? { canonical } : { unindexable: `${sql}: PostgreSQL did not spell it back` };
}

function argumentsOf(call: ExpressionCall): string[] {
  if (call.kind === 'function') return call.args;
  if (call.kind === 'cast') return [call.arg, call.sql];
  return call.left === undefined ? [call.right] : [call.left, call.right];
}

function describeCall(call: ExpressionCall): string {
  if (call.kind === 'function') return `${call.name.join('.')}()`;
  if (call.kind === 'operator') return `operator ${call.name}`;
  return `cast ${call.sql}`;
}

async function resolve(client: Client, call: ExpressionCall, typeOf: Map<string, string>): Promise<Resolved> {
  if (call.kind === 'function') {
    const [schema, name] = call.name.length > 1 ? call.name : [null, call.name[0]];
    const { rows } = await client.query(
      `SELECT p.oid::regprocedure::text AS signature, p.provolatile::text AS volatility, p.proargtypes::text AS args
         FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE p.proname = $1 AND CASE WHEN $2::text IS NULL THEN pg_function_is_visible(p.oid) ELSE n.nspname = $2 END`,
      [name, schema],
    );
    return pick(rows, call.args.map((a) => typeOf.get(a)).join(' '));
  }
  if (call.kind === 'operator') {
    const { rows } = await client.query(
      `SELECT o.oid::regoperator::text AS signature, p.provolatile::text AS volatility,
              concat_ws(' ', NULLIF(o.oprleft, 0)::text, o.oprright::text) AS args
         FROM pg_operator o JOIN pg_proc p ON p.oid = o.oprcode
        WHERE o.oprname = $1 AND pg_operator_is_visible(o.oid) AND (o.oprleft = 0) = $2`,
      [call.name, call.left === undefined],
    );
    const args = [call.left, call.right].filter((a) => a !== undefined).map((a) => typeOf.get(a));
    return pick(rows, args.join(' '));
  }
  return castVolatility(client, typeOf.get(call.arg), typeOf.get(call.sql));
}

/**
 * The candidate whose argument types are exactly the given ones; else, when every candidate with
 * as many arguments has one volatility (lower(varchar) → lower(text), lower(anyrange)…), that one.
 */
function pick(rows: { signature: string; volatility: string; args: string }[], args: string): Resolved {
  const exact = rows.find((r) => r.args === args);
  if (exact) return exact;
  const count = (a: string) => (a === '' ? 0 : a.split(' ').length);
  const same = rows.filter((r) => count(r.args) === count(args));
  if (same.length === 0 || same.some((r) => r.volatility !== same[0].volatility)) return {};
  return { volatility: same[0].volatility, ...(same.length === 1 ? { signature: same[0].signature } : {}) };
}

/** A cast's volatility: its function's, none for a binary one, the types' I/O functions' for an I/O one. */
async function castVolatility(client: Client, source?: string, target?: string): Promise<Resolved> {
  if (!source || !target) return {};
  if (source === target) return { volatility: 'i' }; // a length coercion (varchar(20)) at most
  const { rows } = await client.query(
    `SELECT format_type(s.oid, NULL) || ' to ' || format_type(t.oid, NULL) AS types, c.castmethod::text AS method,
            f.oid::regprocedure::text AS signature, f.provolatile::text AS volatility,
            CASE WHEN o.provolatile = 'i' AND i.provolatile = 'i' THEN 'i'
                 WHEN 'v' IN (o.provolatile, i.provolatile) THEN 'v' ELSE 's' END AS io_volatility
       FROM pg_type s CROSS JOIN pg_type t
       LEFT JOIN pg_cast c ON c.castsource = s.oid AND c.casttarget = t.oid
       LEFT JOIN pg_proc f ON f.oid = c.castfunc
       JOIN pg_proc o ON o.oid = s.typoutput JOIN pg_proc i ON i.oid = t.typinput
      WHERE s.oid = $1 AND t.oid = $2`,
    [source, target],
  );
  const r = rows[0];
  if (!r) return {};
  if (r.method === 'f') return { volatility: r.volatility, signature: r.signature };
  if (r.method === 'b') return { volatility: 'i' };
  return { volatility: r.io_volatility, signature: `the cast from ${r.types} (through text)` };
}

async function underSavepoint(
  client: Client,
  sql: string,
  run: () => Promise<ExpressionCheck>,
): Promise<ExpressionCheck> {
  await client.query('SAVEPOINT spanstat_expression');
  try {
    const result = await run();
    await client.query('RELEASE SAVEPOINT spanstat_expression');
    return result;
  } catch (err) {
    await client.query('ROLLBACK TO SAVEPOINT spanstat_expression');
    const e = err as { code?: string; message?: string };
    return {
      unindexable: `${sql}: PostgreSQL rejected it on this table (${e.code ?? '?'} ${e.message ?? err})`,
    };
  }
}
