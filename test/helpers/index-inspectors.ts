/**
 * PgIndexInspectors for the index-advice tests against a real PostgreSQL: the limits those tests
 * assume (500 rows, 3 columns, no cache), each closed by `closeAll`.
 */
import { PgIndexInspector } from '../../src/advise/index-advisor';
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
