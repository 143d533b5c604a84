/**
 * The advisor's database I/O (with table-info.ts and index-expressions.ts): for a slow or top
 * statement, read its tables' size, columns, statistics and indexes and its generic plan over a
 * read-only connection, and decide on an index.
 * Every look-up runs in `BEGIN READ ONLY` with statement and lock timeouts; the whole check has
 * a deadline; results are cached per statement. The plan: PG16+ `EXPLAIN (GENERIC_PLAN)`; PG15
 * and older `PREPARE` + `plan_cache_mode = force_generic_plan` + `EXPLAIN EXECUTE` with NULLs
 * (a generic plan is built before parameters are bound, so the NULLs do not fold the filter away).
 */
import { Client } from 'pg';
import { templateNamesInText } from '../sql/identifier-ids';
import { quoteAlways } from '../sql/quote-ident';
import { checkExpressions } from './index-expressions';
import { orGroupTable, planOrGroup } from './index-or';
import {
  displayTable,
  type IndexLimits,
  indexable,
  type PlannedUse,
  planTableIndex,
  type TableDecision,
  type TableInfo,
} from './index-plan';
import { planEvidence, rootPlan } from './plan-evidence';
import {
  extractColumns,
  type PredicateColumn,
  type StatementColumns,
  sameTable,
  type TableRef,
} from './predicate-columns';
import { loadTable } from './table-info';
import type { IndexCandidate, IndexFinding, PlanEvidence } from './types';

export interface IndexInspector {
  inspect(candidate: IndexCandidate): Promise<IndexFinding>;
  close(): Promise<void>;
}

export interface PgIndexInspectorOptions extends IndexLimits {
  url: string;
  /** statement_timeout / lock_timeout of each look-up and deadline of one statement's check (ms). */
  timeoutMs: number;
  /** Results are reused this long per statement (ms); 0 = no cache. */
  cacheMs: number;
  maxCacheEntries?: number;
  now?: () => number;
}

/** Tables of one statement looked up at most. */
const MAX_TABLES = 8;
/** After a failed check (unreachable, timeout) the database is left alone this long (ms). */
const RETRY_AFTER_MS = 30_000;

/** The finding without a database: the filtered columns from the parse tree, nothing checked. */
export function uncheckedFinding(candidate: IndexCandidate, error?: string): IndexFinding {
  const parsed = extractColumns(candidate.statement);
  return {
    service: candidate.service,
    fingerprint: candidate.fingerprint,
    columns: parsed?.columns ?? [],
    checked: false,
    ...(error ? { error } : {}),
    proposals: [],
    skipped: [],
  };
}

export class PgIndexInspector implements IndexInspector {
  private client: Client | undefined;
  private connecting: Promise<Client> | undefined;
  private serverVersion = 0;
  private readonly cache = new Map<string, { atMs: number; finding: IndexFinding }>();
  /** One check at a time: they share one connection and its transaction. */
  private queue: Promise<unknown> = Promise.resolve();
  private statementSeq = 0;
  private closed = false;
  private failure: { atMs: number; error: string } | undefined;
  private readonly now: () => number;

  constructor(private readonly options: PgIndexInspectorOptions) {
    this.now = options.now ?? Date.now;
  }

  inspect(candidate: IndexCandidate): Promise<IndexFinding> {
    const key = `${candidate.service}\n${candidate.fingerprint}\n${candidate.statement}`;
    const hit = this.cache.get(key);
    if (hit && this.now() - hit.atMs < this.options.cacheMs) return Promise.resolve(hit.finding);
    const run = this.queue.then(() => this.inspectNow(candidate));
    this.queue = run.catch(() => undefined);
    return run.then((finding) => {
      if (this.options.cacheMs > 0) this.remember(key, finding);
      return finding;
    });
  }

  /** Forgets cached results (after an index was created, to see it at once). */
  invalidate(): void {
    this.cache.clear();
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.queue;
    await this.reset();
  }

  private remember(key: string, finding: IndexFinding): void {
    this.cache.delete(key);
    this.cache.set(key, { atMs: this.now(), finding });
    const max = this.options.maxCacheEntries ?? 1_000;
    for (const oldest of this.cache.keys()) {
      if (this.cache.size <= max) break;
      this.cache.delete(oldest);
    }
  }

  private async inspectNow(candidate: IndexCandidate): Promise<IndexFinding> {
    const parsed = extractColumns(candidate.statement);
    if (!parsed)
      return uncheckedFinding(candidate, 'the statement could not be parsed as one SELECT/UPDATE/DELETE');
    if (this.closed) return uncheckedFinding(candidate, 'the advisor is shutting down');
    // One unreachable database must not cost a timeout per statement per evaluation.
    if (this.failure && this.now() - this.failure.atMs < RETRY_AFTER_MS) {
      return uncheckedFinding(candidate, `database unavailable: ${this.failure.error}`);
    }
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`no answer within ${this.options.timeoutMs} ms`)),
        this.options.timeoutMs,
      );
      timer.unref();
    });
    try {
      const finding = await Promise.race([this.check(candidate, parsed), deadline]);
      this.failure = undefined;
      return finding;
    } catch (err) {
      // A timed-out or broken connection may be mid-transaction: start over next time.
      await this.reset();
      // Reused for every statement for a while: a name it quotes from one tenant's statement (the
      // advisor checks samples, templated-finding.ts) must not show under another's, so its id parts go.
      this.failure = { atMs: this.now(), error: templateNamesInText(describeError(err)) };
      return uncheckedFinding(candidate, this.failure.error);
    } finally {
      clearTimeout(timer);
    }
  }

  private async check(candidate: IndexCandidate, parsed: StatementColumns): Promise<IndexFinding> {
    const client = await this.connect();
    const t = this.options.timeoutMs;
    await client.query('BEGIN READ ONLY');
    try {
      await client.query(`SET LOCAL statement_timeout = ${t}`);
      await client.query(`SET LOCAL lock_timeout = ${t}`);
      const tables: { ref: TableRef; info: TableInfo }[] = [];
      for (const ref of parsed.tables.slice(0, MAX_TABLES)) {
        const info = await loadTable(client, ref);
        if (info) tables.push({ ref, info });
      }
      const columns = resolveColumns(parsed.columns, tables);
      const ors = (parsed.orGroups ?? []).map((g) =>
        orGroupTable(
          { ...g, branches: g.branches.map((b) => resolveColumns(b, tables)) },
          parsed.tables.length === 1 ? parsed.tables[0] : undefined,
        ),
      );
      const plan = await this.explain(client, candidate.statement);
      const finding: IndexFinding = {
        service: candidate.service,
        fingerprint: candidate.fingerprint,
        columns,
        checked: true,
        proposals: [],
        skipped: [],
      };
      for (const ref of parsed.tables.slice(0, MAX_TABLES)) {
        const entry = tables.find((x) => sameTable(x.ref, ref));
        const uses = columns.filter((c) => sameTable(c.table, ref));
        // An OR on this table is advised on only when the AND conditions name no =/range column of it.
        const or = uses.some((u) => u.use === 'eq' || u.use === 'range')
          ? undefined
          : ors.find((o) => sameTable(o.table, ref));
        if (uses.length === 0 && !or) continue;
        if (!entry) {
          finding.skipped.push({
            table: ref.name,
            reason: 'unknown-table',
            detail: 'not found in the database',
          });
          continue;
        }
        const scanned = [entry.info.name, ...(entry.info.partitions ?? []).map((p) => p.name)];
        const evidence = plan ? planEvidence(plan.root, scanned, plan.method) : undefined;
        // Expressions are looked up only where an index may be proposed.
        const worthIt = indexable(entry.info) && entry.info.rows >= this.options.minTableRows;
        const checked = (u: PredicateColumn[]) => (worthIt ? withExpressionChecks(client, entry.info, u) : u);
        let decisions: TableDecision[];
        if (or?.unindexable) {
          decisions = [
            { skip: { table: displayTable(entry.info), reason: 'or-branch', detail: or.unindexable } },
          ];
        } else if (or) {
          const branches: PlannedUse[][] = [];
          // One at a time: the checks share the connection's savepoints.
          for (const b of or.branches) branches.push(await checked(b));
          decisions = planOrGroup(branches, entry.info, evidence, this.options);
        } else {
          const planned = await checked(uses);
          decisions = [planTableIndex(planned, entry.info, evidence, parsed.hasLimit, this.options)];
        }
        for (const d of decisions) {
          if ('proposal' in d) finding.proposals.push(d.proposal);
          else finding.skipped.push(d.skip);
        }
      }
      return finding;
    } finally {
      await client.query('ROLLBACK').catch(() => undefined);
    }
  }

  /** The statement's generic plan, or undefined when it cannot be planned without values. */
  private async explain(
    client: Client,
    statement: string,
  ): Promise<{ root: NonNullable<ReturnType<typeof rootPlan>>; method: PlanEvidence['method'] } | undefined> {
    const text = castTypedParameters(statement.trim().replace(/;+\s*$/, ''));
    await client.query('SAVEPOINT spanstat_explain');
    try {
      let rows: { 'QUERY PLAN': unknown }[];
      let method: PlanEvidence['method'];
      if (this.serverVersion >= 160000) {
        method = 'generic-plan';
        rows = (await client.query(`EXPLAIN (GENERIC_PLAN, FORMAT JSON) ${text}`)).rows;
      } else {
        method = 'prepared-generic-plan';
        const name = `spanstat_advisor_${++this.statementSeq}`;
        const params = Math.max(0, ...[...text.matchAll(/\$(\d+)/g)].map((m) => Number(m[1])));
        await client.query('SET LOCAL plan_cache_mode = force_generic_plan');
        await client.query(`PREPARE ${name} AS ${text}`);
        try {
          const args = params ? `(${Array(params).fill('NULL').join(', ')})` : '';
          rows = (await client.query(`EXPLAIN (FORMAT JSON) EXECUTE ${name}${args}`)).rows;
        } finally {
          await client.query(`DEALLOCATE ${name}`).catch(() => undefined);
        }
      }
      await client.query('RELEASE SAVEPOINT spanstat_explain');
      const root = rootPlan(rows[0]?.['QUERY PLAN']);
      return root ? { root, method } : undefined;
    } catch {
      // Not plannable without values (unknown parameter types, …): advice goes on without a plan.
      await client.query('ROLLBACK TO SAVEPOINT spanstat_explain');
      return undefined;
    }
  }

  private async connect(): Promise<Client> {
    if (this.client) return this.client;
    this.connecting ??= (async () => {
      const client = new Client({
        connectionString: this.options.url,
        application_name: 'spanstat-advisor',
        connectionTimeoutMillis: this.options.timeoutMs,
        query_timeout: this.options.timeoutMs,
      });
      client.on('error', () => {
        if (this.client === client) this.client = undefined;
      });
      try {
        await client.connect();
        // Belt and braces: every look-up also runs in BEGIN READ ONLY.
        await client.query('SET default_transaction_read_only = on');
        const version = await client.query('SHOW server_version_num');
        this.serverVersion = Number(version.rows[0]?.server_version_num ?? 0);
      } catch (err) {
        await client.end().catch(() => undefined);
        throw err;
      }
      this.client = client;
      return client;
    })().finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  private async reset(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    if (client) await client.end().catch(() => undefined);
  }
}

/** The uses with what the database says of their expressions (spelling, IMMUTABLE or not). */
async function withExpressionChecks(
  client: Client,
  info: TableInfo,
  uses: PredicateColumn[],
): Promise<PlannedUse[]> {
  const expressions = new Map(uses.flatMap((u) => (u.expression ? [[u.column, u.expression]] : [])));
  if (expressions.size === 0) return uses;
  const checks = await checkExpressions(
    client,
    `${quoteAlways(info.schema)}.${quoteAlways(info.name)}`,
    expressions,
  );
  return uses.map((u) =>
    u.expression ? { ...u, expression: { ...u.expression, ...checks.get(u.column) } } : u,
  );
}

/** Gives unqualified columns of multi-table statements the one table (of those found) that has them. */
function resolveColumns(
  columns: PredicateColumn[],
  tables: { ref: TableRef; info: TableInfo }[],
): PredicateColumn[] {
  return columns.map((c) => {
    if (c.table || !c.candidates) return c;
    const owners = tables.filter(
      (t) =>
        c.candidates?.some((x) => sameTable(x, t.ref)) &&
        (c.expression?.columns ?? [c.column]).every((x) => t.info.columns.has(x)),
    );
    if (owners.length !== 1) return c;
    const { candidates: _, ...use } = c;
    return { ...use, table: owners[0].ref };
  });
}

/**
 * Typed literals normalize to a type name before a parameter (`interval '30 days'` → `interval $3`),
 * which neither EXPLAIN nor PREPARE accepts; as casts (`$3::interval`) the statement plans.
 */
const TYPED_PARAMETER =
  /(?<![\w$."])(interval|date|time(?:stamp)?(?:tz)?|(?:timestamp|time)\s+with(?:out)?\s+time\s+zone|uuid|jsonb?|inet|cidr|macaddr|bytea|numeric|decimal|smallint|integer|bigint|int[248]?|real|double\s+precision|float[48]?|bool(?:ean)?|text|varchar|money|xml)\s+\$(\d+)(?![\d])/gi;

export function castTypedParameters(statement: string): string {
  return statement.replace(TYPED_PARAMETER, (_m, type: string, n: string) => `$${n}::${type}`);
}

export function describeError(err: unknown): string {
  const e = err as { code?: string; message?: string };
  return e.code ? `${e.code} ${e.message}` : String(e.message ?? err);
}
