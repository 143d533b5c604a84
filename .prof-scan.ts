import { scanSql } from './src/sql/sql-scanner';
const texts = Array.from({ length: 1000 }, (_, i) => `SELECT o.id, o.total FROM orders o JOIN customers c ON c.id = o.customer_id WHERE c.id = ${i} AND o.status = 'shipped' ORDER BY o.created_at DESC LIMIT ${i % 100}`);
let x = 0;
for (let k = 0; k < 2000; k++) for (const t of texts) x += scanSql(t, 'pg').length;
console.log(x);
