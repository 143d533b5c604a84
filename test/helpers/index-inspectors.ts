/**
 * PgIndexInspectors for the index-advice tests against a real PostgreSQL: the limits those tests
 * assume (500 rows, 3 columns, no cache), each closed by `closeAll`.
 */
import { Client } from 'pg';
import { type LocalServer, startPostgres } from '../../scripts/lib/local-servers';
import { PgIndexInspector } from '../../src/advise/index-advisor';
import { loadParser } from '../../src/advise/predicate-columns';
import type { IndexFinding } from '../../src/advise/types';

export function indexInspectors(url: () => string) {
  const open: PgIndexInspector[] = [];
  const create = (): PgIndexInspector => {
    const inspector = new PgIndexInspector({
      url: url(),
      timeoutMs: 5_000,
      cacheMs: 0,
      minTableRows: 500,
      maxColumns: 3,
    });
    open.push(inspector);
    return inspector;
  };
  return {
    create,
    /** A fresh inspector's finding for `statement`, a slow statement of `service`. */
    inspect: (statement: string, service = 'shop'): Promise<IndexFinding> =>
      create().inspect({ service, fingerprint: statement, statement, reason: 'slow' }),
    async closeAll(): Promise<void> {
      for (const inspector of open.splice(0)) await inspector.close();
    },
  };
}

/** A real PostgreSQL for an index-advice test: the parser loaded, `setup` run by its admin client. */
export async function startAdviceDatabase(
  setup: (admin: Client) => Promise<unknown> = async () => {},
): Promise<{ pg: LocalServer; admin: Client }> {
  await loadParser();
  const pg = await startPostgres();
  const admin = new Client({ connectionString: pg.url });
  await admin.connect();
  await setup(admin);
  return { pg, admin };
}

/** Undoes startAdviceDatabase, and closes the inspectors the test opened on it. */
export async function stopAdviceDatabase(
  inspectors: ReturnType<typeof indexInspectors>,
  db: { pg?: LocalServer; admin?: Client },
): Promise<void> {
  await inspectors.closeAll();
  await db.admin?.end();
  await db.pg?.stop();
}
