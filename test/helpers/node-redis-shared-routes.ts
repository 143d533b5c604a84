/**
 * The requests both node-redis tests (preload-node-redis, preload-legacy-redis) send to the routes
 * their apps share (test/fixtures/node-redis-routes.js), and the exact figures the sidecar must
 * report for them: one source for redis 5 and redis 4.
 */
import { expect } from 'vitest';

/** Each user id is read twice: a miss (then a SET … EX 60) on the first request, a hit on the second. */
export const USER_IDS = [1, 2, 3, 4];
export const CONCURRENT = 5;
/** How many requests sendSharedRequests sends. */
export const SHARED_REQUESTS = USER_IDS.length * 2 + 3 + 1 + 1 + 1;

interface Client {
  request: (path: string, init?: RequestInit) => Promise<number>;
  all: (paths: string[]) => Promise<number[]>;
}

/** Sends the shared routes' requests under `prefix` ('' or '/nr'), each expected to succeed. */
export async function sendSharedRequests({ request, all }: Client, prefix: string): Promise<void> {
  const users = USER_IDS.map((id) => `${prefix}/users/${id}`);
  // Concurrent: a command under the wrong request would change the per-request figures.
  expect(await all(users)).toEqual(users.map(() => 200)); // misses, then a SET … EX 60 each
  expect(await all(users)).toEqual(users.map(() => 200)); // hits
  expect(await request(`${prefix}/items/5`)).toBe(200); // MGET: two misses
  expect(await request(`${prefix}/items/5`, { method: 'PUT' })).toBe(204); // SET without expiry
  expect(await request(`${prefix}/items/5`)).toBe(200); // MGET: a hit and a miss
  expect(await request(`${prefix}/multi`)).toBe(200);
  expect(await request(`${prefix}/wrongtype/1`)).toBe(200);
  expect(await request(`${prefix}/concurrent/${CONCURRENT}`)).toBe(200);
}

/** Endpoint rows (`METHOD route`, requests, errors, cache calls per request) of the shared routes under `prefix`. */
export function sharedEndpointRows(prefix: string): (string | number)[][] {
  return [
    [`GET ${prefix}/users/:id`, USER_IDS.length * 2, 0, 1.5],
    [`GET ${prefix}/items/:id`, 2, 0, 1],
    [`PUT ${prefix}/items/:id`, 1, 0, 1],
    // multi, GET, SET, exec, then the pipeline's two GETs.
    [`GET ${prefix}/multi`, 1, 0, 6],
    // SET, HGET, then multi, HGET, GET, exec.
    [`GET ${prefix}/wrongtype/:id`, 1, 0, 6],
    [`GET ${prefix}/concurrent/:n`, 1, 0, CONCURRENT],
  ];
}

/** Cache rows of the shared routes, as cacheFigures (redis-fixture-run.ts) gives them. */
export const SHARED_CACHE_ROWS: (string | number | null)[][] = [
  ['user:*', USER_IDS.length, USER_IDS.length, USER_IDS.length * 2, USER_IDS.length, 0, 60, 60, 0],
  // MGET item:<id> item:<id>:old, before and after the PUT: each key counts in its own namespace.
  ['item:*', 1, 1, 2, 1, 0, null, null, 1],
  ['item:*:old', 0, 2, 2, 0, 0, null, null, 0],
  ['multi:missing:*', 0, 1, 1, 0, 0, null, null, 0],
  ['multi:ttl:*', 1, 0, 1, 1, 0, 90, 90, 0],
  ['pipe:none:*', 0, 1, 1, 0, 0, null, null, 0],
  // HGET's WRONGTYPE alone and as its entry of EXEC's reply; the GET beside it in MULTI a hit.
  ['wrong:*', 1, 0, 3, 1, 2, 30, 30, 0],
  ['conc:*', 0, CONCURRENT, CONCURRENT, 0, 0, null, null, 0],
];
