/**
 * SQL fingerprinting cost: `npx tsx bench/sql.bench.ts [texts] [--tier-up]`.
 * (Under tsx the process RSS includes the TypeScript loader; compile to JS for RSS figures.)
 *
 * - cold: µs per call when every text is a new shape (cache miss → libpg-query parse ×3);
 * - warm: µs per call for texts already cached;
 * - literal-varying: N (default 1M) distinct raw texts from a dozen templates that differ only
 *   in literals, IN-list length and sqlcommenter comments — cache entries and heap they need.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { seededRandom as rng } from '../scripts/lib/seeded-random';
import { SqlFingerprinter } from '../src/sql';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const rand = rng(42);
const int = (max: number): number => Math.floor(rand() * max);
const hex = (len: number): string => {
  let s = '';
  while (s.length < len) s += int(0x100000000).toString(16).padStart(8, '0');
  return s.slice(0, len);
};
const list = (): string => Array.from({ length: 1 + int(20) }, () => int(1e6)).join(', ');

/** Realistic application statements with inline literals. */
const TEMPLATES: Array<() => string> = [
  () => `SELECT id, name, email FROM users WHERE id = ${int(1e9)}`,
  () =>
    `SELECT o.id, o.total FROM orders o JOIN customers c ON c.id = o.customer_id WHERE c.id = ${int(1e7)} AND o.status = 'shipped' ORDER BY o.created_at DESC LIMIT ${1 + int(100)}`,
  () => `SELECT * FROM products WHERE id IN (${list()})`,
  () =>
    `INSERT INTO events (user_id, kind, payload, created_at) VALUES (${int(1e7)}, 'click', '{"x":${int(1e4)}}', '2026-11-${String(1 + int(28)).padStart(2, '0')}')`,
  () => `UPDATE sessions SET last_seen = now(), data = E'it\\'s ${hex(6)}' WHERE token = '${hex(32)}'`,
  () =>
    `/*traceparent='00-${hex(32)}-${hex(16)}-01'*/ SELECT count(*) FROM cart_items WHERE cart_id = ${int(1e6)}`,
  () => `DELETE FROM cart_items WHERE cart_id = ${int(1e6)} AND sku = 'SKU-${int(1e5)}'`,
  () => `SELECT * FROM accounts WHERE email = '${hex(8)}@example.com' AND balance > -${int(1000)}.5`,
  () =>
    `INSERT INTO line_items (order_id, sku, qty) VALUES ${Array.from({ length: 1 + int(10) }, () => `(${int(1e6)}, 'S${int(1e4)}', ${1 + int(9)})`).join(', ')}`,
  () => `SELECT * FROM audit_log WHERE at BETWEEN '2026-01-01' AND '2026-0${1 + int(9)}-15' AND actor = $1`,
  () => `SELECT $1::int + ${int(100)} AS n, $$raw ${hex(4)}$$ AS tag`,
  () =>
    `WITH recent AS (SELECT * FROM orders WHERE created_at > now() - interval '${int(30)} days') SELECT count(*) FROM recent WHERE total > ${int(1000)}`,
];

/** CPU µs per call (user + system of this process: other load on the machine inflates it less). */
function cpuMicros(calls: number, fn: (i: number) => void): number {
  const start = process.cpuUsage();
  for (let i = 0; i < calls; i++) fn(i);
  const used = process.cpuUsage(start);
  return (used.user + used.system) / calls;
}

const mib = (bytes: number): string => (bytes / 2 ** 20).toFixed(1);

async function main(): Promise<void> {
  const texts = Number(process.argv.slice(2).find((a) => /^\d+$/.test(a)) ?? 1_000_000);
  const opts = {
    cacheEntries: 50_000,
    maxParseBytes: 64 * 1024,
    wasmTierUp: process.argv.includes('--tier-up'),
  };
  const loadStart = process.hrtime.bigint();
  const lit = await SqlFingerprinter.create(opts);
  console.log(`module load: ${(Number(process.hrtime.bigint() - loadStart) / 1e6).toFixed(1)} ms`);

  // 1. Literal-varying texts first, on a fresh heap, so RSS reflects only them.
  gc();
  const heapBefore = process.memoryUsage().heapUsed;
  const fingerprints = new Set<string>();
  let sample = 0;
  const gen = cpuMicros(100_000, (i) => {
    sample += TEMPLATES[i % TEMPLATES.length]().length;
  });
  const perCall = cpuMicros(texts, (i) => {
    const shape = lit.fingerprint('postgresql', TEMPLATES[i % TEMPLATES.length]());
    fingerprints.add(shape.fingerprint);
  });
  gc();
  const mem = process.memoryUsage();
  const stats = lit.stats();
  console.log(
    `${texts} distinct literal-varying texts (${TEMPLATES.length} templates, mean ${(sample / 100_000).toFixed(0)} chars):`,
  );
  console.log(
    `  ${(perCall - gen).toFixed(2)} CPU µs per fingerprint (text generation, ${gen.toFixed(2)} µs, excluded)`,
  );
  console.log(
    `  cache entries ${stats.cacheEntries}, raw-text entries ${lit.exactEntries()}, parses ${stats.misses}, fingerprints ${fingerprints.size}`,
  );
  console.log(
    `  heap retained ${((mem.heapUsed - heapBefore) / 1024).toFixed(0)} KiB; process rss ${mib(mem.rss)} MiB, heap ${mib(mem.heapUsed)} MiB, wasm/external ${mib(mem.external + mem.arrayBuffers)} MiB`,
  );

  // 2. Cold (every text a new shape) and warm (cached) costs.
  const fp = await SqlFingerprinter.create(opts);
  const shapes = Array.from(
    { length: 5_000 },
    (_, i) =>
      `SELECT c${i}, name FROM t${i} WHERE id = ${i} AND status IN ('a', 'b') ORDER BY c${i} LIMIT 10`,
  );
  const params = shapes.map(
    (_, i) => `SELECT c${i}, name FROM t${i} WHERE id = $1 AND status = ANY($2) LIMIT $3`,
  );
  const cold = cpuMicros(shapes.length, (i) => fp.fingerprint('postgresql', shapes[i]));
  const warm = cpuMicros(shapes.length * 20, (i) => fp.fingerprint('postgresql', shapes[i % shapes.length]));
  cpuMicros(params.length, (i) => fp.fingerprint('postgresql', params[i]));
  const warmParam = cpuMicros(params.length * 20, (i) =>
    fp.fingerprint('postgresql', params[i % params.length]),
  );
  const fallbackCold = cpuMicros(shapes.length, (i) => fp.fingerprint('mysql', shapes[i]));
  console.log(`cold, PostgreSQL parse (cache miss):       ${cold.toFixed(1)} CPU µs`);
  console.log(
    `warm, inline literals (scan + cache hit):  ${warm.toFixed(2)} CPU µs (${shapes[0].length} chars)`,
  );
  console.log(`warm, $n parameters (raw-text hit):        ${warmParam.toFixed(2)} CPU µs`);
  console.log(`cold, fallback normalizer (mysql):         ${fallbackCold.toFixed(1)} CPU µs`);

  // 3. Worst case memory: the cache full of distinct shapes.
  const full = await SqlFingerprinter.create(opts);
  gc();
  const fullBefore = process.memoryUsage().heapUsed;
  for (let i = 0; i < 50_000; i++) {
    full.fingerprint(
      'postgresql',
      `SELECT id, c${i} FROM t${i % 97} WHERE a${i} = ${i} AND b = 'x' LIMIT 10`,
    );
  }
  gc();
  const fullHeap = process.memoryUsage().heapUsed - fullBefore;
  console.log(
    `50000 distinct shapes cached: ${mib(fullHeap)} MiB heap (${(fullHeap / 50_000).toFixed(0)} B/entry), rss ${mib(process.memoryUsage().rss)} MiB`,
  );
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
