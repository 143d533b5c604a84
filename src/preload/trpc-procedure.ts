/**
 * The tRPC procedure a request called, on its SERVER span (TRPC_ATTR: `spanstat.trpc.type` `query`,
 * `mutation` or `subscription`, `spanstat.trpc.procedure` its path, `orders.list`), so the sidecar can
 * split the one route a tRPC endpoint answers on (`/trpc`) into a row per procedure
 * (classify/trpc-procedure.ts), as it does GraphQL operations. `http.route` and the span's name stay
 * the framework's. A request that called several distinct procedures (a batch) gets them all, sorted
 * and comma-separated, in `spanstat.trpc.procedure`, and their count in `spanstat.trpc.procedures`. A request that called none the router has (an unknown path,
 * a malformed request) gets nothing and keeps its route: a path a client makes up is never sent.
 * Never the input.
 *
 * The seam: tRPC answers every HTTP request through `resolveResponse` (v11; `resolveHTTPResponse` in
 * v10), which calls the adapter options' `responseMeta({ info, paths, type, … })` once per response,
 * with each call's path and — in v11 — the procedure the router resolved it to (lazy routers loaded).
 * That function lives in a chunk whose file name is hashed per release, so the hook is one step out:
 * each HTTP adapter's entry point (stable, public file names) gets options whose `responseMeta` notes the
 * procedures and then calls the app's own, if any. v10 passes the paths only: they are checked against
 * the router's `_def.procedures`. Covered: Express (`createExpressMiddleware`), the standalone server
 * (`createHTTPServer`, `createHTTPHandler`, `createHTTP2Handler`), Fastify (`fastifyTRPCPlugin`,
 * `fastifyRequestHandler`), Next.js's pages API (`createNextApiHandler`), the fetch adapter
 * (`fetchRequestHandler`: Next.js's app router, Hono, …) and `nodeHTTPRequestHandler`; under `require`,
 * and — except `nodeHTTPRequestHandler`, which v11's ES build re-exports from a hashed chunk — under
 * `import` (esm-targets.ts). WebSocket subscriptions and AWS Lambda are not HTTP requests here.
 *
 * Cost: per tRPC response, one more function call and a scan of its calls, and where the options come
 * with each request (the fetch adapter; Fastify's per-request handler in an ES module app) a shallow copy
 * of them; nothing per procedure run, nothing outside tRPC.
 */
import {
  InstrumentationNodeModuleDefinition,
  InstrumentationNodeModuleFile,
} from '@opentelemetry/instrumentation';
import { TRPC_ATTR } from '../model/attributes';
import { registerEsmPatch } from './esm-patches';
import { TRPC_ADAPTER_OPTIONS_ESM_ID } from './esm-targets';
import { OPERATION_TYPES } from './graphql-operation';
import { activeRequestSpan } from './lean-tracer';
import { PreloadInstrumentation } from './module-hooks';
import { isPatched, markPatched } from './patch-mark';

/** tRPC 10 (`dist/adapters/*.js`) and 11 (`*.cjs`). */
const TRPC_VERSIONS = ['>=10.0.0 <12'];
/** Longest procedure path sent (the router's keys; the sidecar keeps 100 characters). */
const MAX_PATH_CHARS = 200;
/** Longest list of a batch's procedures sent (whole paths; the sidecar keeps 300 characters of it). */
const MAX_BATCH_CHARS = 1000;
const HTTP_ROUTE = 'http.route';

type Method = (this: unknown, ...args: unknown[]) => unknown;

/** Each adapter file's exports that take the adapter options, and where: `[export, argument, property?]`. */
const ADAPTERS: [file: string, exports: [name: string, argument: number, property?: string][]][] = [
  ['express', [['createExpressMiddleware', 0]]],
  [
    'standalone',
    [
      ['createHTTPHandler', 0],
      ['createHTTPServer', 0],
      ['createHTTP2Handler', 0],
    ],
  ],
  ['next', [['createNextApiHandler', 0]]],
  ['fetch/index', [['fetchRequestHandler', 0]]],
  [
    'fastify/index',
    [
      ['fastifyRequestHandler', 0],
      ['fastifyTRPCPlugin', 1, 'trpcOptions'],
    ],
  ],
  ['node-http/index', [['nodeHTTPRequestHandler', 0]]],
];

export class TrpcProcedureInstrumentation extends PreloadInstrumentation {
  constructor() {
    super('spanstat-trpc-procedure', '1.0.0');
  }

  protected init() {
    // The ES builds' adapters hand their options over as each function starts (esm-targets.ts).
    registerEsmPatch(TRPC_ADAPTER_OPTIONS_ESM_ID, (options) => withProcedureNaming(options));
    const files = ADAPTERS.flatMap(([file, names]) => {
      const wrappers = Object.fromEntries(
        names.map(([name, argument, property]) => [name, namingOptionsAt(argument, property)]),
      );
      const { patch, unpatch } = this.methodsPatch((exports) => exports as object | undefined, wrappers);
      return ['cjs', 'js'].map(
        (extension) =>
          new InstrumentationNodeModuleFile(
            `@trpc/server/dist/adapters/${file}.${extension}`,
            TRPC_VERSIONS,
            patch,
            unpatch,
          ),
      );
    });
    return new InstrumentationNodeModuleDefinition(
      '@trpc/server',
      TRPC_VERSIONS,
      undefined,
      undefined,
      files,
    );
  }
}

/** An adapter function whose argument `argument` (or that argument's `property`) is the adapter options. */
function namingOptionsAt(argument: number, property: string | undefined) {
  return (original: Method): Method =>
    function spanstatTrpcAdapter(this: unknown) {
      // biome-ignore lint/complexity/noArguments: every call form passes through, one argument replaced
      const args = Array.prototype.slice.call(arguments);
      try {
        if (property === undefined) args[argument] = withProcedureNaming(args[argument]);
        else {
          const holder = args[argument] as Record<string, unknown> | null | undefined;
          if (holder !== null && typeof holder === 'object')
            args[argument] = { ...holder, [property]: withProcedureNaming(holder[property]) };
        }
      } catch {
        // The app's options as they were.
      }
      return original.apply(this, args);
    };
}

/**
 * Exported for tests: adapter options whose `responseMeta` notes the request's procedures before
 * calling the app's own (a copy; the options as they are when they are not an object or already ours).
 */
export function withProcedureNaming(options: unknown): unknown {
  if (options === null || typeof options !== 'object') return options;
  const own = (options as { responseMeta?: unknown }).responseMeta;
  if (isPatched(own) || (own !== undefined && typeof own !== 'function')) return options;
  const router = (options as { router?: unknown }).router;
  const responseMeta = markPatched(function responseMeta(this: unknown, meta: unknown) {
    noteProcedures(meta, router);
    // biome-ignore lint/complexity/noArguments: passed through unchanged
    return own === undefined ? undefined : (own as Method).apply(this, arguments as unknown as unknown[]);
  });
  return { ...options, responseMeta };
}

interface CallLike {
  path?: unknown;
  procedure?: { _def?: { type?: unknown } } | null;
}
interface ResponseMetaLike {
  /** v11: each call's path and resolved procedure (null when the router has none). */
  info?: { calls?: unknown; url?: unknown } | null;
  /** v10: the paths, and the request's type. */
  paths?: unknown;
  type?: unknown;
}
interface RouterLike {
  _def?: {
    procedures?: Record<string, { _def?: Record<string, unknown> } | undefined>;
    _config?: { pathSeparator?: unknown };
  };
}

/**
 * Writes the procedures `responseMeta` reports (those the router has) on the SERVER span of the
 * request in whose context it runs: their type (a batch's calls share one), their paths, and their
 * count when more than one distinct. Exported for tests; never throws.
 */
export function noteProcedures(meta: unknown, router: unknown): void {
  try {
    const request = activeRequestSpan();
    if (request === undefined || meta === null || typeof meta !== 'object') return;
    const called = calledProcedures(meta as ResponseMetaLike, router as RouterLike | undefined);
    if (called.length === 0) return;
    const paths: string[] = [];
    for (const [, path] of called) {
      const cut = path.length > MAX_PATH_CHARS ? path.slice(0, MAX_PATH_CHARS) : path;
      if (!paths.includes(cut)) paths.push(cut);
    }
    request.setAttribute(TRPC_ATTR.type, called[0][0]);
    request.setAttribute(TRPC_ATTR.procedure, paths.length === 1 ? paths[0] : batchList(paths));
    if (paths.length > 1) request.setAttribute(TRPC_ATTR.procedures, paths.length);
    // With no framework to route it (the standalone server, a bare fetch handler), the request's route
    // is tRPC's endpoint: the URL's path without the procedure part. A framework's route, written as
    // the response ends, replaces it.
    const url = (meta as ResponseMetaLike).info?.url;
    if (url instanceof URL && request.attribute(HTTP_ROUTE) === undefined && dotSeparated(router)) {
      const pathname = url.pathname;
      const cut = pathname.lastIndexOf('/');
      request.setAttribute(HTTP_ROUTE, cut > 0 ? pathname.slice(0, cut) : '/');
    }
  } catch {
    // The request keeps its route.
  }
}

/** A batch's distinct procedures, sorted (a page's batch is one set, in whatever order its calls came), comma-joined and bounded. */
function batchList(paths: string[]): string {
  let list = '';
  for (const path of paths.sort()) {
    if (list.length + path.length + 1 > MAX_BATCH_CHARS) break;
    list = list === '' ? path : `${list},${path}`;
  }
  return list;
}

/**
 * Whether the router's procedure paths take one URL segment (tRPC's default `.` separator; v11.x's
 * `pathSeparator: '/'` spreads them over several, and the endpoint is not then the URL's last cut).
 */
function dotSeparated(router: unknown): boolean {
  const separator = (router as RouterLike | undefined)?._def?._config?.pathSeparator;
  return separator === undefined || separator === '.';
}

/** `[type, path]` of each call the router has a procedure for, in the request's order. */
function calledProcedures(meta: ResponseMetaLike, router: RouterLike | undefined): [string, string][] {
  const called: [string, string][] = [];
  const calls = meta.info?.calls;
  if (Array.isArray(calls)) {
    for (const call of calls as (CallLike | null)[]) {
      const type = call?.procedure?._def?.type;
      const path = call?.path;
      if (typeof path === 'string' && typeof type === 'string' && OPERATION_TYPES.has(type))
        called.push([type, path]);
    }
    return called;
  }
  // v10: no resolved procedures; the router's flat map has each (no lazy routers before v11).
  const { paths, type } = meta;
  const procedures = router?._def?.procedures;
  if (!Array.isArray(paths) || typeof type !== 'string' || !OPERATION_TYPES.has(type) || !procedures)
    return called;
  for (const path of paths) {
    if (typeof path !== 'string' || !Object.hasOwn(procedures, path)) continue;
    if (procedures[path]?._def?.[type] === true) called.push([type, path]);
  }
  return called;
}
