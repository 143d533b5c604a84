/** Types for routes.js (the app is plain CommonJS; the load driver and tests are TypeScript). */
export interface Dataset {
  readonly customers: number;
  readonly ordersTotal: number;
  readonly itemsPerOrder: number;
  readonly products: number;
}

export interface RouteExpectation {
  /** DB queries per request (on a cache miss for cache-aside routes). */
  readonly queries: number;
  /** Redis commands per request (on a cache miss for cache-aside routes). */
  readonly cacheOps: number;
  /** Cache-aside routes only: queries and commands on a hit. */
  readonly queriesOnHit?: number;
  readonly cacheOpsOnHit?: number;
  /** Status expected for a path this route's `path()` generates. */
  status(path: string): number;
}

export interface DemoRoute {
  readonly name: string;
  /** `METHOD route`, as the endpoint report prints it. */
  readonly key: string;
  /** Relative share of the demo load. */
  readonly weight: number;
  /** A request path; `rng` returns numbers in [0, 1). */
  path(rng: () => number): string;
  readonly expect: RouteExpectation;
}

export declare const DATASET: Dataset;
export declare const RECENT_ORDERS: number;
export declare const FAIL_EVERY: number;
export declare const PRODUCT_TTL_S: number;
export declare const QUOTE_TTL_S: number;
export declare const QUOTE_CODES: number;
export declare const POOL_MAX_DEFAULT: number;
export declare const DIGEST_EVERY_MS_DEFAULT: number;
export declare const SQL: {
  readonly customerById: string;
  readonly recentOrders: string;
  readonly itemsOfOrder: string;
  readonly orderByReference: string;
  readonly productById: string;
  readonly quotePrice: string;
  readonly digestCustomer: string;
  readonly digestTotals: string;
  invoice(id: number): string;
};
export declare const CACHE: {
  productKey(id: number | string): string;
  quoteKey(code: string): string;
  digestKey(customerId: number | string): string;
};
export declare const DIGEST_JOB: {
  readonly name: string;
  /** `JOB <name>`, as the endpoint report prints it. */
  readonly key: string;
  readonly expect: { readonly queries: number; readonly cacheOps: number };
};
export declare const ROUTES: readonly DemoRoute[];
export declare const HEALTH_ROUTE: { readonly name: string; readonly key: string; path(): string };
export declare function quoteCode(n: number): string;
export declare function quoteCustomer(code: string): number;
export declare function orderReference(orderId: number): string;
