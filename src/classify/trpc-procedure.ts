/**
 * Endpoint names for tRPC procedures: a request that called one is named by its route and the
 * procedure, `/trpc (query orders.list)`, from the preload's `spanstat.trpc.*` attributes on its SERVER
 * span (preload/trpc-procedure.ts), bounded per route as GraphQL operations are (OperationRoutes, with
 * this file's templating). The preload sends only procedures the app's router has, but another sender
 * could send anything: a path is kept when each `.`-separated part is a name, with id-like parts as `:id`.
 *
 * A batch is named by its procedures, `/trpc (batch: orders.list, user.me)`, a row of its own under
 * the cap, not one `(batch)` row as GraphQL's: tRPC's clients batch by default (httpBatchLink), so
 * most of a browser's requests are batches, and a page's batch is the same set on every load.
 */
import { OperationRoutes, templateOperationName } from './graphql-operation';

/** Longest procedure path kept (paths are the router's keys; a longer one is cut). */
const MAX_PATH_CHARS = 100;
/** Longest list of a batch's procedures kept: whole names up to it, then `…`. */
const MAX_BATCH_CHARS = 300;

/** `orders.byId` as it is, `users.u_4711` → `users.u_:id`; undefined for a path with a part that is not a name. */
export function templateProcedurePath(path: string): string | undefined {
  const parts = (path.length > MAX_PATH_CHARS ? path.slice(0, MAX_PATH_CHARS) : path).split('.');
  for (let i = 0; i < parts.length; i++) {
    const templated = templateOperationName(parts[i]);
    if (templated === undefined) return undefined;
    parts[i] = templated;
  }
  return parts.join('.');
}

/**
 * A batch's procedures (the preload sends them comma-separated) as its row shows them: each templated,
 * distinct, sorted, `, `-joined, whole names up to MAX_BATCH_CHARS and then `…`; undefined when one is
 * not a procedure path.
 */
export function templateProcedureBatch(list: string): string | undefined {
  const paths = new Set<string>();
  for (const path of list.split(',')) {
    const templated = templateProcedurePath(path);
    if (templated === undefined) return undefined;
    paths.add(templated);
  }
  let out = '';
  for (const path of [...paths].sort()) {
    const next = out === '' ? path : `${out}, ${path}`;
    if (next.length > MAX_BATCH_CHARS) return `${out}, …`;
    out = next;
  }
  return out;
}

/** tRPC requests' endpoint names, at most `maxPerRoute` distinct procedures (or batches) per service and route. */
export function procedureRoutes(maxPerRoute: number): OperationRoutes {
  return new OperationRoutes(maxPerRoute, { name: templateProcedurePath, batch: templateProcedureBatch });
}
