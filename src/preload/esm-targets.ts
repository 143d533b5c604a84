/**
 * The ES module files the preload patches, and how. A `require` hook never sees an ES module, so for the
 * few packages whose ES build an `import` loads instead of the CommonJS file the instrumentations hook
 * (postgres.js, @koa/router, hono, @graphql-tools/executor), the module loader hook (esm-hooks.ts) adds one line to that file's source:
 * a call that hands its classes to the instrumentation on the app's thread (esm-patches.ts), which
 * patches their prototypes as it does the CommonJS build's (or, for hono, returns the class to use). A file whose source does not read as
 * expected (another version) is left as it is.
 *
 * Shared by the hooks module, which runs in the loader's thread (Node 20) and must stay small: no other
 * import.
 */

/** The global the added lines call: `(id, value) => replacement | undefined` (esm-patches.ts). */
export const ESM_PATCH_GLOBAL = 'spanstat.esmPatch';

export interface EsmTarget {
  /** The id the added call names, which the instrumentation registers under. */
  id: string;
  /** The package the file is in. */
  packageName: string;
  /** The end of the file's URL. */
  urlEnd: string;
  /** The source with the call added, or undefined to leave it. */
  transform(source: string): string | undefined;
}

const CALL = `globalThis[Symbol.for(${JSON.stringify(ESM_PATCH_GLOBAL)})]?.`;

/** Appends a call handing `names` (module-scope bindings) to the instrumentation. */
function handOver(id: string, names: string, expected: RegExp): EsmTarget['transform'] {
  return (source) =>
    expected.test(source) ? `${source}\n;${CALL}(${JSON.stringify(id)}, { ${names} });\n` : undefined;
}

/**
 * Binds the module's import of `name` from `from` to what the instrumentation's patch returns for it (or to
 * the import as it is): the import is renamed and `name` declared in its place.
 */
function importThrough(id: string, name: string, from: string): EsmTarget['transform'] {
  const line = new RegExp(
    `^import \\{ ${name} \\} from ${JSON.stringify(from).replace(/\./g, '\\.')};?$`,
    'm',
  );
  const imported = `${name}$spanstatImport`;
  return (source) =>
    line.test(source)
      ? source.replace(
          line,
          () =>
            `import { ${name} as ${imported} } from ${JSON.stringify(from)};\n` +
            `const ${name} = ${CALL}(${JSON.stringify(id)}, ${imported}) ?? ${imported};`,
        )
      : undefined;
}

/** Exports `name`, the file's default export, as the instrumentation's patch returns it (or as it is). */
function defaultExport(id: string, name: string): EsmTarget['transform'] {
  const line = new RegExp(`^export default ${name}$`, 'm');
  return (source) =>
    line.test(source)
      ? source.replace(line, `export default (${CALL}('${id}', ${name}) ?? ${name})`)
      : undefined;
}

/** Adds, first in the body of the exported function `name(param)`, a call handing `param` over. */
function callAtStart(id: string, name: string, param: string): EsmTarget['transform'] {
  const line = new RegExp(`^export function ${name}\\(${param}\\) \\{$`, 'm');
  return (source) =>
    line.test(source)
      ? source.replace(line, (head) => `${head} ${CALL}(${JSON.stringify(id)}, ${param});`)
      : undefined;
}

/**
 * Adds, first in the body of each function `names` (module scope, exported or not, async or not) that
 * takes `param`, a line replacing `param` with what the instrumentation's patch returns for it (or
 * keeping it). Undefined when none of them is found.
 */
function paramThrough(id: string, names: string[], param: string): EsmTarget['transform'] {
  const lines = names.map(
    (name) =>
      new RegExp(`^(?:export )?(?:async )?function ${name}\\((?:\\w+, )*${param}(?:, \\w+)*\\) \\{$`, 'm'),
  );
  const replacement = `${param} = ${CALL}(${JSON.stringify(id)}, ${param}) ?? ${param};`;
  return (source) => {
    let changed = false;
    let out = source;
    for (const line of lines) {
      if (!line.test(out)) continue;
      out = out.replace(line, (head) => `${head} ${replacement}`);
      changed = true;
    }
    return changed ? out : undefined;
  };
}

/** The id tRPC's adapters hand their options over under (trpc-procedure.ts). */
export const TRPC_ADAPTER_OPTIONS_ESM_ID = '@trpc/server/adapters';

/**
 * tRPC's HTTP adapters (10 and 11): the function of each that takes the adapter options, whose
 * `responseMeta` the instrumentation wraps. v11's standalone server builds every handler with
 * `createHandler`, v10's with `createHTTPHandler`.
 */
const TRPC_ADAPTERS: [file: string, functions: string[]][] = [
  ['express', ['createExpressMiddleware']],
  ['standalone', ['createHandler', 'createHTTPHandler']],
  ['next', ['createNextApiHandler']],
  ['fetch/index', ['fetchRequestHandler']],
  ['fastify/index', ['fastifyRequestHandler']],
];

export const ESM_TARGETS: readonly EsmTarget[] = [
  {
    id: 'postgres/src/query.js',
    packageName: 'postgres',
    urlEnd: '/node_modules/postgres/src/query.js',
    transform: handOver('postgres/src/query.js', 'Query', /^export class Query extends Promise/m),
  },
  {
    // The factory is the default export: it is exported wrapped (the instrumentation notes each
    // instance's connection), or as it is when nothing is registered.
    id: 'postgres',
    packageName: 'postgres',
    urlEnd: '/node_modules/postgres/src/index.js',
    transform: defaultExport('postgres', 'Postgres'),
  },
  {
    // The Connection factory, which the instrumentation wraps to note each instance's connection queues
    // (postgres-js-pool.ts); exported as it is when nothing is registered.
    id: 'postgres/src/connection.js',
    packageName: 'postgres',
    urlEnd: '/node_modules/postgres/src/connection.js',
    transform: defaultExport('postgres/src/connection.js', 'Connection'),
  },
  {
    id: '@koa/router',
    packageName: '@koa/router',
    urlEnd: '/node_modules/@koa/router/dist/index.mjs',
    transform: handOver('@koa/router', 'Router', /^export \{\s*Router,/m),
  },
  {
    // The dispatch builds each request's Context from the class it imports: it is imported through the
    // patch, which subclasses it to capture the route (hono-route.ts).
    id: 'hono/context',
    packageName: 'hono',
    urlEnd: '/node_modules/hono/dist/hono-base.js',
    transform: importThrough('hono/context', 'Context', './context.js'),
  },
  {
    // GraphQL Yoga's engine: every operation it runs passes through normalizedExecutor, which hands its
    // arguments (document, operationName) over to note the operation (graphql-operation.ts).
    id: '@graphql-tools/executor',
    packageName: '@graphql-tools/executor',
    urlEnd: '/node_modules/@graphql-tools/executor/esm/execution/normalizedExecutor.js',
    transform: callAtStart('@graphql-tools/executor', 'normalizedExecutor', 'args'),
  },
  ...TRPC_ADAPTERS.map(
    ([file, functions]): EsmTarget => ({
      id: TRPC_ADAPTER_OPTIONS_ESM_ID,
      packageName: '@trpc/server',
      urlEnd: `/node_modules/@trpc/server/dist/adapters/${file}.mjs`,
      transform: paramThrough(TRPC_ADAPTER_OPTIONS_ESM_ID, functions, 'opts'),
    }),
  ),
];

/** The target `url` names, if any. */
export function esmTargetOf(url: string): EsmTarget | undefined {
  if (!url.startsWith('file:')) return undefined;
  for (const target of ESM_TARGETS) if (url.endsWith(target.urlEnd)) return target;
  return undefined;
}
