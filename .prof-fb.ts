import { SqlFingerprinter } from './src/sql';
(async () => {
  const f = await SqlFingerprinter.create({ cacheEntries: 100000, maxParseBytes: 65536 });
  const shapes = Array.from({ length: 30000 }, (_, i) => `SELECT c${i}, name FROM t${i} WHERE id = ${i} AND status IN ('a', 'b') ORDER BY c${i} LIMIT 10`);
  for (const t of shapes) f.fingerprint('mysql', t);
})();
