/**
 * Endpoint names for tRPC procedures: a request that called one is named by its route and the
 * procedure, `/trpc (query orders.list)`, from the preload's `spanstat.trpc.*` attributes on its SERVER
 * span (preload/trpc-procedure.ts), bounded per route as GraphQL operations are (OperationRoutes, with
 * this file's templating). The preload sends only procedures the app's router has, but another sender
 * could send anything: a path is kept when each `.`-separated part is a name, with id-like parts as `:id`.
 */
import { OperationRoutes, templateOperationName } from './graphql-operation';

/** Longest procedure path kept (paths are the router's keys; a longer one is cut). */
const MAX_PATH_CHARS = 100;

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

/** tRPC requests' endpoint names, at most `maxPerRoute` distinct procedures per service and route. */
export function procedureRoutes(maxPerRoute: number): OperationRoutes {
  return new OperationRoutes(maxPerRoute, templateProcedurePath);
}
