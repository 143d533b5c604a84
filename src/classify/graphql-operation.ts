/**
 * Endpoint names for GraphQL operations: a request that ran one is named by its route and the
 * operation, `/graphql (query GetOrders)` (so the row reads `POST /graphql (query GetOrders)`, as
 * Sentry names such a transaction), from OpenTelemetry's `graphql.operation.type` and
 * `graphql.operation.name` on its SERVER span (the preload's, preload/graphql-operation.ts).
 *
 * Operation names are chosen by clients, so they are bounded like paths: id-like parts become `:id`
 * (`GetUser_4711` → `GetUser_:id`), a name that is not a GraphQL name at all is not kept, and each
 * service's route keeps at most `maxPerRoute` distinct operations — later ones (a client inventing a
 * name per request) share one row, `(other operation)`, so the endpoint report and the metrics' route
 * label stay bounded and the operations seen first keep their rows (the last half of the rows only for
 * operations seen twice, OperationRoutes). Anonymous operations are
 * `(anonymous query)` / `(anonymous mutation)` / `(anonymous subscription)`; a request that ran several
 * distinct operations (a batch) `(batch)`. These and the overflow do not count against the cap.
 */

export const OTHER_OPERATION = '(other operation)';
export const BATCH_OPERATION = '(batch)';

/** Longest operation name kept (names are code constants; a longer one is cut). */
const MAX_NAME_CHARS = 100;
/** Routes remembered with their operations (a bound against senders inventing routes or services). */
const MAX_ROUTES = 10_000;

const OPERATION_TYPES = new Set(['query', 'mutation', 'subscription']);
/** A GraphQL Name (spec, 2.1.9). */
const GRAPHQL_NAME = /^[_A-Za-z][_0-9A-Za-z]*$/;
const DIGITS = /^\d+$/;
const HEX_ID = /^(?=[0-9a-f]*\d)[0-9a-f]{8,}$/i;
const LONG_DIGIT_RUN = /\d{4,}/g;

/** A name as its row shows it (id-like parts as `:id`), or undefined for one that is not kept. */
export type NameTemplate = (name: string) => string | undefined;

/**
 * How a kind of operation is named: each name by `name`; a batch, when `batch` is given, by the list
 * of names the span sends for it (`batch: a, b`, a row of its own under the cap), else `(batch)`.
 */
export interface OperationNaming {
  name: NameTemplate;
  batch?: NameTemplate;
}

const GRAPHQL_NAMING: OperationNaming = { name: (name) => templateOperationName(name) };

/**
 * An operation name with its id-like parts as `:id`: a `_`-separated part that is all digits or 8+ hex
 * characters with a digit, and any run of 4+ digits (`GetUser12345` → `GetUser:id`); `GetOrdersV2`,
 * `Top100Products` stay. Undefined for text that is no GraphQL name.
 */
export function templateOperationName(name: string): string | undefined {
  const cut = name.length > MAX_NAME_CHARS ? name.slice(0, MAX_NAME_CHARS) : name;
  if (!GRAPHQL_NAME.test(cut)) return undefined;
  const parts = cut.split('_');
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i];
    if (DIGITS.test(part) || HEX_ID.test(part)) parts[i] = ':id';
    else parts[i] = part.replace(LONG_DIGIT_RUN, ':id');
  }
  return parts.join('_');
}

/**
 * The operation part of an endpoint name, without the cap: `query GetOrders`, `(anonymous query)`,
 * `(batch)` (or, with `naming.batch`, `batch: a, b`). Exported for tests.
 */
export function operationLabel(
  type: string,
  name: string | undefined,
  operations: number | undefined,
  naming: OperationNaming = GRAPHQL_NAMING,
): string {
  if (operations !== undefined && operations > 1) {
    if (naming.batch === undefined || name === undefined || name === '') return BATCH_OPERATION;
    const list = naming.batch(name);
    return list === undefined ? OTHER_OPERATION : `batch: ${list}`;
  }
  if (name === undefined || name === '') return `(anonymous ${type})`;
  const templated = naming.name(name);
  return templated === undefined ? OTHER_OPERATION : `${type} ${templated}`;
}

/** Whether `type` is one of GraphQL's operation types (lower case, as the conventions send it). */
export function isOperationType(type: string): boolean {
  return OPERATION_TYPES.has(type);
}

/** One route's operations: those with a row of their own, and those seen once while only repeats get one. */
interface RouteOperations {
  admitted: Set<string>;
  seenOnce: Set<string>;
}

/**
 * Names each GraphQL request's endpoint, keeping distinct operations per service and route bounded.
 * The first half of a route's rows go to operations as they come; the second half only to an operation
 * seen before (remembered among the last 4 × maxPerRoute names seen once): an app's operations repeat,
 * a scanner's or fuzzer's invented names mostly do not, so a burst of them — at start-up, before the
 * app's own clients — cannot take every row.
 */
export class OperationRoutes {
  /** `service \0 method route` → its operations. */
  private readonly known = new Map<string, RouteOperations>();
  /** The last request named: requests repeat a few operations, and each name costs a few strings. */
  private last = { service: '', method: '', route: '', type: '', name: '', operations: 0, named: '' };

  /** `naming`: GraphQL operation names by default; tRPC procedure paths (trpc-procedure.ts) have their own. */
  constructor(
    private readonly maxPerRoute: number,
    private readonly naming: OperationNaming = GRAPHQL_NAMING,
  ) {}

  /** `route (operation)` for a request of `service` that ran the operation (type validated by the caller). */
  name(
    service: string,
    method: string,
    route: string,
    type: string,
    name: string | undefined,
    operations: number | undefined,
  ): string {
    const last = this.last;
    if (
      last.service === service &&
      last.method === method &&
      last.route === route &&
      last.type === type &&
      last.name === (name ?? '') &&
      last.operations === (operations ?? 0)
    )
      return last.named;
    const label = this.admit(service, method, route, operationLabel(type, name, operations, this.naming));
    const named = label.charCodeAt(0) === 40 /* ( */ ? `${route} ${label}` : `${route} (${label})`;
    // An overflow is not remembered: the same operation again may be admitted, seen twice.
    if (label === OTHER_OPERATION) return named;
    this.last = {
      service,
      method,
      route,
      type,
      name: name ?? '',
      operations: operations ?? 0,
      named,
    };
    return named;
  }

  /** The label itself while the route has room (or already has it), else OTHER_OPERATION. */
  private admit(service: string, method: string, route: string, label: string): string {
    // Bounded already, and never counted: anonymous operations, batches, the overflow.
    if (label.charCodeAt(0) === 40 /* ( */) return label;
    const key = `${service}\u0000${method} ${route}`;
    let operations = this.known.get(key);
    if (operations === undefined) {
      if (this.known.size >= MAX_ROUTES) return OTHER_OPERATION;
      operations = { admitted: new Set(), seenOnce: new Set() };
      this.known.set(key, operations);
    }
    const { admitted, seenOnce } = operations;
    if (admitted.has(label)) return label;
    if (admitted.size >= this.maxPerRoute) return OTHER_OPERATION;
    if (admitted.size >= Math.ceil(this.maxPerRoute / 2) && !seenOnce.delete(label)) {
      if (seenOnce.size >= 4 * this.maxPerRoute) seenOnce.clear();
      seenOnce.add(label);
      return OTHER_OPERATION;
    }
    admitted.add(label);
    return label;
  }
}
