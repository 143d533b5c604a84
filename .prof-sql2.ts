import { scanSql, collapseLists } from './src/sql/sql-scanner';
const texts = Array.from({ length: 3000 }, (_, i) => `SELECT c${i}, name FROM t${i} WHERE id = ${i} AND status IN ('a', 'b') ORDER BY c${i} LIMIT 10`);
for (let r = 0; r < 5; r++) {
  let s = process.hrtime.bigint();
  for (let k = 0; k < 10; k++) for (const t of texts) scanSql(t, 'pg');
  console.log('scan', Number(process.hrtime.bigint() - s) / 1000 / texts.length / 10);
  s = process.hrtime.bigint();
  for (let k = 0; k < 10; k++) for (const t of texts) collapseLists(scanSql(t, 'pg'));
  console.log('scan+collapse', Number(process.hrtime.bigint() - s) / 1000 / texts.length / 10);
}
