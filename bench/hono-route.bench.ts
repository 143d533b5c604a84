/**
 * What Hono's route capture (src/preload/hono-route.ts) costs a request: `npx tsx bench/hono-route.bench.ts`
 * after `npm run build` and `npm ci --prefix test/fixtures/routers`.
 *
 * Two copies of test/fixtures/routers' Hono in one process, one with the `Context` as it is and one with
 * the preload's subclass, each serving an app whose requests Hono composes (an app-wide middleware and
 * a route) and one whose single route it calls directly, through `app.fetch` with @hono/node-server's
 * env and a RouteCapture per request read back as the HTTP server span does. Alternated rounds of 20k
 * requests (the first two dropped); medians of ns and of heap bytes (used heap after − before, with the
 * young generation large enough that no scavenge runs in a round) per request. `--no-turbo-escape` shows
 * whether a difference in bytes is V8's escape analysis (allocations it elides in one build, not another).
 */
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { withRoutedContext } from '../dist/preload/hono-route';
import { capturedRoute, startRouteCapture } from '../dist/preload/route-capture';

setFlagsFromString('--expose-gc');
setFlagsFromString('--max-semi-space-size=512');
const gc = runInNewContext('gc') as () => void;

const FIXTURE = join(__dirname, '..', 'test', 'fixtures', 'routers');
const HONO = join(FIXTURE, 'node_modules', 'hono');
const load = createRequire(join(FIXTURE, 'package.json'));

interface App {
  use(handler: (c: unknown, next: () => Promise<void>) => unknown): App;
  get(path: string, handler: (c: { text(body: string): Response }) => Response): App;
  fetch(request: Request, env: unknown): Response | Promise<Response>;
}

/** A fresh copy of Hono, its Context replaced first when `routed`. */
function honoClass(routed: boolean): new () => App {
  for (const file of Object.keys(load.cache)) if (file.startsWith(HONO)) delete load.cache[file];
  if (routed) withRoutedContext(load(join(HONO, 'dist', 'cjs', 'context.js')));
  return (load(join(HONO, 'dist', 'cjs', 'index.js')) as { Hono: new () => App }).Hono;
}

function apps(Hono: new () => App): Record<'composed' | 'direct', App> {
  const composed = new Hono();
  composed.use(async (_c, next) => {
    await next();
  });
  composed.get('/users/:id', (c) => c.text('ok'));
  const direct = new Hono();
  direct.get('/users/:id', (c) => c.text('ok'));
  return { composed, direct };
}

const variants = { plain: apps(honoClass(false)), routed: apps(honoClass(true)) };
const request = new Request('http://localhost/users/zebediah');

async function round(app: App, n: number): Promise<{ ns: number; bytes: number; named: number }> {
  let named = 0;
  const t0 = process.hrtime.bigint();
  const h0 = getHeapStatistics().used_heap_size;
  for (let i = 0; i < n; i++) {
    const incoming = {};
    const capture = startRouteCapture(incoming);
    const response = await app.fetch(request, { incoming, outgoing: undefined });
    if (capturedRoute(capture, response.status) === '/users/:id') named++;
  }
  const bytes = (getHeapStatistics().used_heap_size - h0) / n;
  return { ns: Number(process.hrtime.bigint() - t0) / n, bytes, named };
}

async function main(): Promise<void> {
  const N = 20_000;
  type Variant = keyof typeof variants;
  const results = new Map<string, { ns: number; bytes: number; named: number }[]>();
  for (let r = 0; r < 14; r++)
    for (const variant of (r % 2 ? ['plain', 'routed'] : ['routed', 'plain']) as Variant[])
      for (const kind of ['composed', 'direct'] as const) {
        gc();
        const result = await round(variants[variant][kind], N);
        const key = `${variant} ${kind}`;
        if (r >= 2) results.set(key, [...(results.get(key) ?? []), result]);
      }
  const median = (xs: number[]) => xs.slice().sort((a, b) => a - b)[xs.length >> 1] ?? Number.NaN;
  for (const [key, rounds] of results)
    console.log(
      `${key.padEnd(16)} ${median(rounds.map((x) => x.ns)).toFixed(0)} ns/request, ` +
        `${median(rounds.map((x) => x.bytes)).toFixed(0)} B/request, named ${rounds[0]?.named}/${N}`,
    );
}

void main();
