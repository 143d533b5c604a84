import { scanSql } from './src/sql/sql-scanner';
import { collapseLists } from './src/sql/sql-statement';
const list = (k: number) => Array.from({ length: k }, (_, i) => i * 7).join(', ');
const t = [
  `SELECT * FROM products WHERE id IN (${list(1)})`, `SELECT * FROM products WHERE id IN (${list(5)})`,
  `INSERT INTO line_items (order_id, sku, qty) VALUES (1, 'S1', 2)`, `INSERT INTO line_items (order_id, sku, qty) VALUES (1, 'S1', 2), (3, 'S2', 4)`,
];
for (const x of t) console.log(JSON.stringify(collapseLists(scanSql(x, 'pg'))));
