import { SqlFingerprinter } from './src/sql';
import { scanSql, collapseLists } from './src/sql/sql-scanner';
const cpu = () => { const u = process.cpuUsage(); return u.user + u.system; };
(async () => {
  const f = await SqlFingerprinter.create({ cacheEntries: 50000, maxParseBytes: 65536 });
  const texts = Array.from({ length: 1000 }, (_, i) => `SELECT o.id, o.total FROM orders o JOIN customers c ON c.id = o.customer_id WHERE c.id = ${i} AND o.status = 'shipped' ORDER BY o.created_at DESC LIMIT ${i % 100}`);
  const m = new Map<string, number>(); for (const t of texts) m.set(collapseLists(scanSql(t, 'pg')), 1);
  for (let r = 0; r < 4; r++) {
    let s = cpu();
    for (let k = 0; k < 200; k++) for (const t of texts) scanSql(t, 'pg');
    const scan = (cpu() - s) / 200000;
    s = cpu();
    for (let k = 0; k < 200; k++) for (const t of texts) collapseLists(scanSql(t, 'pg'));
    const sc = (cpu() - s) / 200000;
    s = cpu();
    for (let k = 0; k < 200; k++) for (const t of texts) m.get(collapseLists(scanSql(t, 'pg')));
    const sm = (cpu() - s) / 200000;
    s = cpu();
    for (let k = 0; k < 200; k++) for (const t of texts) f.fingerprint('postgresql', t);
    const full = (cpu() - s) / 200000;
    console.log(`text ${texts[0].length} chars (CPU µs): scan ${scan.toFixed(2)}, +collapse ${sc.toFixed(2)}, +map.get ${sm.toFixed(2)}, fingerprint(hit) ${full.toFixed(2)}`);
  }
})();
