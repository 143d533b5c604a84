import { fingerprintSync, normalizeSync, parseSync, loadModule } from 'libpg-query';
import { scanSql, collapseLists } from './src/sql/sql-scanner';
(async () => {
  await loadModule();
  console.log('rss after load', process.memoryUsage().rss/2**20);
  const texts = Array.from({ length: 3000 }, (_, i) => `SELECT c${i}, name FROM t${i} WHERE id = ${i} AND status IN ('a', 'b') ORDER BY c${i} LIMIT 10`);
  for (const [name, fn] of [['fp', fingerprintSync], ['norm', normalizeSync], ['parse', parseSync], ['scan', (t: string) => collapseLists(scanSql(t, 'pg'))], ['fp', fingerprintSync]] as const) {
    const s = process.hrtime.bigint();
    for (const t of texts) (fn as (t: string) => unknown)(t);
    console.log(name, Number(process.hrtime.bigint() - s) / 1000 / texts.length, 'µs', 'rss', (process.memoryUsage().rss/2**20).toFixed(0));
  }
})();
