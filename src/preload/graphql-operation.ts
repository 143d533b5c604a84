/**
 * The GraphQL operation a request ran, on its SERVER span: `graphql.operation.type` (`query`,
 * `mutation`, `subscription`) and `graphql.operation.name` (absent for an anonymous operation), as
 * OpenTelemetry's GraphQL conventions name them, so the sidecar can split `POST /graphql` into one
 * endpoint row per operation (classify/graphql-operation.ts). `http.route` and the span's name stay
 * the framework's (`/graphql`): a backend the traces are forwarded to sees an honest route, and the
 * operation beside it. A request that executed more than one distinct operation (Apollo Server's
 * batched requests) also gets `spanstat.graphql.operations`, their count; its type and name are the
 * first operation's. A request that executed none (a parse or validation error, a persisted query not
 * found, the GraphiQL page) gets neither and keeps its route. Never the document or the variables.
 *
 * Four seams:
 * - graphql 14–16 (CommonJS): `execute` and `subscribe` of `graphql/execution/execute.js` and
 *   `subscribe.js` are wrapped (14–15 keep `subscribe` in `graphql/subscription/`, unwrapped: the
 *   `execute` it runs per event still names the request). Everything reaches them through those exports (`graphql/index.js`
 *   re-exports with getters, `graphql()` calls `_execute.execute`), so Apollo Server, graphql-http,
 *   express-graphql, Mercurius without JIT and Nest's Apollo driver are covered. The wrapper finds the
 *   operation as `execute` will (the one named `operationName`, else the document's only one): a scan
 *   of the document's top-level definitions, before calling through.
 * - GraphQL Yoga 5 runs operations with its own executor, `@graphql-tools/executor` 1–2, whose
 *   `normalizedExecutor` calls `execute`/`subscribe` of `cjs/execution/execute.js` through the module
 *   (wrapped as graphql's are); its ES build's `normalizedExecutor` hands each call's arguments over
 *   (esm-targets.ts).
 * - Mercurius with `jit` runs a query it compiled with graphql-jit (`compileQuery(schema, document,
 *   operationName)`) instead of `execute`: the compiled query's `query` notes the operation found once
 *   at compile time.
 * - graphql 17 publishes `graphql:execute` and `graphql:subscribe` tracing channels (its `src/diagnostics.ts`)
 *   whatever way it is loaded (CommonJS, ES module, `require` of its `module-sync` build), with the
 *   operation's type and name resolved: their `start` event is subscribed, no patch. Before 17 those
 *   channels are never published to.
 *
 * The operation is written to the unit of work in whose context `execute` runs: the request's SERVER
 * span (LeanSpan.unitRoot, or the root of the span active in it). Job runs and work outside a request
 * (a WebSocket subscription) are left alone. Never throws into the app.
 *
 * Cost: the wrapper's scan and two attributes, per execution. graphql 16 `execute` of a one-field
 * query inside a SERVER span (span start and end included), 100k calls a round, 7 alternated rounds,
 * two runs on the 2-core VM: 1.3–1.4 µs a call without the wrapper, +70 and +130 ns (medians) with it —
 * against the tens to hundreds of µs an Apollo Server request takes.
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import {
  InstrumentationNodeModuleDefinition,
  InstrumentationNodeModuleFile,
} from '@opentelemetry/instrumentation';
import { GRAPHQL_ATTR } from '../model/attributes';
import { registerEsmPatch } from './esm-patches';
import { activeRequestSpan } from './lean-tracer';
import { withExportWrapped } from './module-exports';
import { PreloadInstrumentation } from './module-hooks';
import { markPatched } from './patch-mark';

/** graphql 17's tracing channels' `start` events (Node's `tracing:<name>:start`). */
export const GRAPHQL_START_CHANNELS = ['tracing:graphql:execute:start', 'tracing:graphql:subscribe:start'];

const GRAPHQL_VERSIONS = ['>=14.0.0 <17'];
/** GraphQL Yoga 5's executor (1.x; 2.x from Yoga 5.22): both keep `cjs/execution/execute.js`. */
const TOOLS_EXECUTOR_VERSIONS = ['>=1.0.0 <3'];
const TOOLS_EXECUTOR_ESM_ID = '@graphql-tools/executor';
/** Mercurius 14–16's (0.8.x); its exports are esbuild's getters, so the hook hands out a copy. */
const GRAPHQL_JIT_VERSIONS = ['>=0.7.0 <1'];

/** Longest operation name sent: GraphQL names have no length limit; the sidecar keeps 100 characters. */
const MAX_NAME_CHARS = 200;
/** GraphQL's operation types; tRPC's procedure types are the same three (trpc-procedure.ts). */
export const OPERATION_TYPES: ReadonlySet<string> = new Set(['query', 'mutation', 'subscription']);

type Method = (this: unknown, ...args: unknown[]) => unknown;

interface OperationNode {
  kind?: unknown;
  operation?: unknown;
  name?: { value?: unknown } | null;
}

interface DocumentLike {
  definitions?: unknown;
}

export class GraphqlOperationInstrumentation extends PreloadInstrumentation {
  private subscribed = false;

  constructor() {
    super('spanstat-graphql-operation', '1.0.0');
  }

  protected init() {
    const graphqlFiles = ['execute', 'subscribe'].map((name) =>
      this.namingFile(`graphql/execution/${name}.js`, GRAPHQL_VERSIONS, [name]),
    );
    // The ES build of Yoga's executor hands each call's arguments over as it starts (esm-targets.ts).
    registerEsmPatch(TOOLS_EXECUTOR_ESM_ID, (args) => {
      noteCallOperation([args]);
      return undefined;
    });
    return [
      // Mercurius with `jit`: a query it runs often is compiled by graphql-jit and then runs without `execute`.
      new InstrumentationNodeModuleDefinition(
        'graphql-jit',
        GRAPHQL_JIT_VERSIONS,
        (exports: Record<string, unknown>) => withCompiledQueriesNaming(exports),
        () => {},
      ),
      new InstrumentationNodeModuleDefinition(
        'graphql',
        GRAPHQL_VERSIONS,
        undefined,
        undefined,
        graphqlFiles,
      ),
      // GraphQL Yoga's default engine: its own executor, whose normalizedExecutor calls these through the module.
      new InstrumentationNodeModuleDefinition(
        '@graphql-tools/executor',
        TOOLS_EXECUTOR_VERSIONS,
        undefined,
        undefined,
        [
          this.namingFile('@graphql-tools/executor/cjs/execution/execute.js', TOOLS_EXECUTOR_VERSIONS, [
            'execute',
            'subscribe',
          ]),
        ],
      ),
    ];
  }

  /** A file whose exported `names` (execute, subscribe) are wrapped to note the operation they run. */
  private namingFile(file: string, versions: string[], names: string[]): InstrumentationNodeModuleFile {
    const wrappers = Object.fromEntries(names.map((name) => [name, namingOperation]));
    const { patch, unpatch } = this.methodsPatch((exports) => exports as object | undefined, wrappers);
    return new InstrumentationNodeModuleFile(file, versions, patch, unpatch);
  }

  /** Also subscribes to graphql 17's channels; a second call does nothing. */
  override enable(): void {
    super.enable();
    if (this.subscribed) return;
    for (const channel of GRAPHQL_START_CHANNELS) subscribe(channel, onOperationStart);
    this.subscribed = true;
  }

  override disable(): void {
    super.disable();
    if (!this.subscribed) return;
    for (const channel of GRAPHQL_START_CHANNELS) unsubscribe(channel, onOperationStart);
    this.subscribed = false;
  }
}

/**
 * Exported for tests: graphql 14–16's `execute` or `subscribe` (one `args` object, or positional
 * `schema, document, rootValue, contextValue, variableValues, operationName`) noting its operation.
 */
export function namingOperation(original: Method): Method {
  return function spanstatGraphqlOperation(this: unknown) {
    // biome-ignore lint/complexity/noArguments: both call forms pass through unchanged
    noteCallOperation(arguments);
    // biome-ignore lint/complexity/noArguments: see above
    return original.apply(this, arguments as unknown as unknown[]);
  };
}

/**
 * Exported for tests: graphql-jit's exports with `compileQuery(schema, document, operationName, …)`
 * returning a compiled query whose `query(…)` notes the operation it was compiled for (found once).
 */
export function withCompiledQueriesNaming(exports: Record<string, unknown>): Record<string, unknown> {
  return withExportWrapped(exports, 'compileQuery', (original) =>
    markPatched(function compileQuery(
      this: unknown,
      _schema: unknown,
      document: unknown,
      operationName: unknown,
    ) {
      // biome-ignore lint/complexity/noArguments: passed through unchanged
      const compiled = original.apply(this, arguments as unknown as unknown[]);
      try {
        const operation = operationOf(document, operationName);
        const query = (compiled as { query?: unknown } | null)?.query;
        if (operation !== undefined && typeof query === 'function') {
          (compiled as { query: Method }).query = function namingQuery(this: unknown) {
            noteOperation(operation.operation, operation.name?.value);
            // biome-ignore lint/complexity/noArguments: passed through unchanged
            return (query as Method).apply(this, arguments as unknown as unknown[]);
          };
        }
      } catch {
        // Its requests keep their route.
      }
      return compiled;
    }),
  );
}

/** Notes the operation of an `execute`-style call's arguments (one object, or positional); never throws. */
function noteCallOperation(args: ArrayLike<unknown>): void {
  try {
    const first = args[0] as { document?: unknown; operationName?: unknown } | undefined;
    const byObject = args.length === 1 && first !== null && typeof first === 'object';
    const document = byObject ? first.document : args[1];
    const operation = operationOf(document, byObject ? first.operationName : args[5]);
    if (operation !== undefined) noteOperation(operation.operation, operation.name?.value);
  } catch {
    // The request keeps its route.
  }
}

/**
 * The operation `execute` will run: the one named `operationName`, else the document's only one
 * (several without a name is an error execute reports; none named so, too): undefined then.
 */
export function operationOf(document: unknown, operationName: unknown): OperationNode | undefined {
  const definitions = (document as DocumentLike | null | undefined)?.definitions;
  if (!Array.isArray(definitions)) return undefined;
  let only: OperationNode | undefined;
  for (const definition of definitions as (OperationNode | null)[]) {
    if (definition?.kind !== 'OperationDefinition') continue;
    if (operationName === undefined || operationName === null) {
      if (only !== undefined) return undefined;
      only = definition;
    } else if (definition.name?.value === operationName) return definition;
  }
  return only;
}

/** graphql 17's `start` event: its context carries the resolved operation's type and name. */
function onOperationStart(message: unknown): void {
  try {
    const context = message as { operationType?: unknown; operationName?: unknown };
    noteOperation(context.operationType, context.operationName);
  } catch {
    // An error thrown by a subscriber reaches the app as an uncaught exception: never.
  }
}

/**
 * Writes the operation on the SERVER span of the request in whose context it runs. The span's own
 * attributes are the state: the first operation's type and name stay, and each later execution of
 * another operation (a batch) raises the count, so a subscription's events or a retry of the same
 * operation do not make a batch. Exported for tests.
 */
export function noteOperation(type: unknown, name: unknown): void {
  if (typeof type !== 'string' || !OPERATION_TYPES.has(type)) return;
  const request = activeRequestSpan();
  if (request === undefined) return;
  const operationName = typeof name === 'string' && name !== '' ? name.slice(0, MAX_NAME_CHARS) : undefined;
  const firstType = request.attribute(GRAPHQL_ATTR.operationType);
  if (firstType === undefined) {
    request.setAttribute(GRAPHQL_ATTR.operationType, type);
    if (operationName !== undefined) request.setAttribute(GRAPHQL_ATTR.operationName, operationName);
  } else if (firstType !== type || request.attribute(GRAPHQL_ATTR.operationName) !== operationName) {
    const count = request.attribute(GRAPHQL_ATTR.operations);
    request.setAttribute(GRAPHQL_ATTR.operations, (typeof count === 'number' ? count : 1) + 1);
  }
}
